//! Where the signalling shards run, and the locked memory their io_uring rings need.
//!
//! Owns: reading the process's CPU affinity mask, turning `shards.cores` into one CPU per
//! shard (never a CPU outside the mask), and raising `RLIMIT_MEMLOCK` when it is too low for
//! the shards' rings. Must not: pin anything itself (glommio's `Placement::Fixed` does).

use std::io;
use tracing::{debug, info, warn};

/// Bytes of io_uring-registered memory each shard asks glommio for (`io_memory`). The shell
/// receives and sends with `recvmmsg`/`sendmmsg` into its own buffers, so glommio's buffers
/// only carry the readiness probe and the rare send that met a full socket buffer; glommio's
/// own default (10 MiB) is for storage I/O that Drongo does not do.
pub(crate) const IO_MEMORY: usize = 512 << 10;

/// glommio refuses to start an executor below this `RLIMIT_MEMLOCK` (512 KiB).
pub(crate) const GLOMMIO_MIN_MEMLOCK: u64 = 512 << 10;

/// Locked memory one shard may pin: the registered buffer is pinned once per ring (glommio has
/// three: main, latency, poll), plus the rings themselves on kernels that still charge them
/// to `RLIMIT_MEMLOCK` (before 5.12).
pub(crate) const MEMLOCK_PER_SHARD: u64 = 3 * IO_MEMORY as u64 + (256 << 10);

/// CPUs in the calling thread's affinity mask, ascending. Called before any shard thread is
/// spawned, so this is the mask the process was started with (`taskset`, systemd
/// `CPUAffinity=`, a cgroup cpuset).
pub fn process_cpus() -> io::Result<Vec<usize>> {
    // NOTE: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET only reads `set`; every index is below the set's bit size.
    Ok((0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// One CPU per shard: the configured list, each checked against the affinity mask, or (when
/// the list is empty) every CPU in the mask.
pub(crate) fn shard_cpus(configured: &[usize], allowed: &[usize]) -> io::Result<Vec<usize>> {
    if allowed.is_empty() {
        return Err(io::Error::other("the process's CPU affinity mask is empty"));
    }
    if configured.is_empty() {
        return Ok(allowed.to_vec());
    }
    if let Some(cpu) = configured.iter().find(|c| !allowed.contains(c)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "shards.cores names CPU {cpu}, which is not in this process's affinity mask {}",
                cpu_list(allowed)
            ),
        ));
    }
    let mut seen = Vec::with_capacity(configured.len());
    for &cpu in configured {
        if seen.contains(&cpu) {
            warn!(
                cpu,
                "shards.cores lists CPU {cpu} more than once; those shards share the core"
            );
        }
        seen.push(cpu);
    }
    Ok(configured.to_vec())
}

/// `0-3,6` style rendering for log lines.
pub(crate) fn cpu_list(cpus: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

/// What [`ensure_memlock`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Memlock {
    /// The soft limit already covers `want`.
    Enough,
    /// The soft limit was raised to cover `want`.
    Raised,
    /// The limit stays below `want` but above glommio's minimum: the rings start, and the
    /// buffers that cannot be registered come from the ordinary allocator (slower).
    Short,
}

/// Makes sure `RLIMIT_MEMLOCK` covers `shards` executors: raises the soft limit up to the hard
/// limit, or both when the process may (CAP_SYS_RESOURCE). Fails only below glommio's own
/// minimum, where no executor could start.
pub(crate) fn ensure_memlock(shards: usize) -> io::Result<Memlock> {
    let want = (shards as u64)
        .saturating_mul(MEMLOCK_PER_SHARD)
        .max(GLOMMIO_MIN_MEMLOCK);
    let (cur, max) = memlock_limit()?;
    if cur == libc::RLIM_INFINITY || cur >= want {
        debug!(limit = cur, want, "RLIMIT_MEMLOCK is enough");
        return Ok(Memlock::Enough);
    }
    let hard_ok = max == libc::RLIM_INFINITY || max >= want;
    let attempt = if hard_ok { (want, max) } else { (want, want) };
    match set_memlock_limit(attempt.0, attempt.1) {
        Ok(()) => {
            info!(
                from = cur,
                to = want,
                "raised RLIMIT_MEMLOCK for the io_uring rings"
            );
            Ok(Memlock::Raised)
        }
        Err(e) if cur >= GLOMMIO_MIN_MEMLOCK => {
            warn!(
                limit_kib = cur >> 10,
                want_kib = want >> 10,
                error = %e,
                "RLIMIT_MEMLOCK is below what {shards} shard(s) want and could not be raised; \
                 shards run with unregistered io_uring buffers. Raise it with \
                 LimitMEMLOCK= (systemd) or `ulimit -l`, or grant CAP_IPC_LOCK"
            );
            Ok(Memlock::Short)
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!(
                "RLIMIT_MEMLOCK is {} KiB and could not be raised to {} KiB ({e}); glommio \
                 needs at least {} KiB per process to create io_uring rings. Raise it with \
                 LimitMEMLOCK= (systemd) or `ulimit -l`, or grant CAP_IPC_LOCK",
                cur >> 10,
                want >> 10,
                GLOMMIO_MIN_MEMLOCK >> 10
            ),
        )),
    }
}

fn memlock_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

fn set_memlock_limit(cur: u64, max: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: `lim` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpus_is_not_empty_and_sorted() {
        let cpus = process_cpus().expect("sched_getaffinity");
        assert!(!cpus.is_empty());
        assert!(cpus.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn empty_config_takes_every_allowed_cpu() {
        assert_eq!(shard_cpus(&[], &[2, 3, 7]).unwrap(), vec![2, 3, 7]);
    }

    #[test]
    fn configured_cpu_outside_the_mask_is_refused() {
        let e = shard_cpus(&[2, 9], &[2, 3]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("CPU 9"), "{e}");
    }

    #[test]
    fn configured_cpus_keep_their_order() {
        assert_eq!(shard_cpus(&[3, 2], &[2, 3]).unwrap(), vec![3, 2]);
    }

    #[test]
    fn cpu_list_renders_ranges() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn memlock_for_one_shard_is_satisfied_or_reported() {
        // Whatever the test host's limit, one shard either fits, gets a raise, or runs short
        // above glommio's minimum; an error means no executor could start at all.
        match ensure_memlock(1) {
            Ok(_) => {}
            Err(e) => assert!(e.to_string().contains("RLIMIT_MEMLOCK"), "{e}"),
        }
    }
}
