//! The host check: every CPU in `shards.cores` must be one this process may run on
//! (sched_getaffinity(2)), or pinning a shard to it would fail at startup. systemd's
//! `CPUAffinity=`, `taskset` and cgroup cpusets all narrow this mask.

use super::validate::MAX_CPUS;
use super::{Config, ConfigError, ShardsConfig};
use std::io;

/// The CPUs this process may run on, ascending.
pub fn affinity_mask() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread,
    // which at startup carries the process's mask.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: every index is below CPU_SETSIZE, the number of bits in `set`.
    Ok((0..MAX_CPUS)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

impl Config {
    /// Checks the configuration against this host: the CPUs in `shards.cores` are in the
    /// process's affinity mask.
    pub fn check_host(&self) -> Result<(), ConfigError> {
        let allowed = affinity_mask().map_err(ConfigError::Affinity)?;
        self.shards.check_cpus(&allowed)?;
        self.registrar.load_credentials().map(drop)
    }
}

impl ShardsConfig {
    /// Checks that every configured CPU is in `allowed` (ascending), and that there is at
    /// least one CPU to run on.
    pub fn check_cpus(&self, allowed: &[usize]) -> Result<(), ConfigError> {
        if allowed.is_empty() {
            return Err(ConfigError::key(
                "shards.cores",
                "this process's affinity mask is empty",
            ));
        }
        match self
            .cores
            .iter()
            .enumerate()
            .find(|(_, cpu)| allowed.binary_search(cpu).is_err())
        {
            Some((i, cpu)) => Err(ConfigError::key(
                format!("shards.cores[{i}]"),
                format!(
                    "CPU {cpu} is not in this process's affinity mask ({})",
                    cpu_list(allowed)
                ),
            )),
            None => Ok(()),
        }
    }
}

/// `[0, 1, 2, 5]` -> `"0-2,5"`, the notation of `taskset -c` and `CPUAffinity=`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_mask() {
        let mask = affinity_mask().unwrap();
        assert!(!mask.is_empty());
        assert!(mask.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Config::default().check_host().ok(), Some(()));
    }

    #[test]
    fn cores_outside_the_mask_name_the_key() {
        let shards = ShardsConfig { cores: vec![1, 99] };
        let err = shards.check_cpus(&[0, 1]).unwrap_err();
        assert_eq!(err.key_path(), Some("shards.cores[1]"));
        assert_eq!(
            err.to_string(),
            "shards.cores[1]: CPU 99 is not in this process's affinity mask (0-1)"
        );
        assert!(shards.check_cpus(&[0, 1, 99]).is_ok());
        assert!(ShardsConfig::default().check_cpus(&[3]).is_ok());
        assert!(ShardsConfig::default().check_cpus(&[]).is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list(&[]), "");
        assert_eq!(cpu_list(&[0]), "0");
        assert_eq!(cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }
}
