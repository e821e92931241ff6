//! glommio shell: the only code that names the runtime.
//!
//! Owns the sockets, the clock, the OS RNG and the threads. [`start`] binds every listen
//! address once per shard (SO_REUSEPORT), for UDP and, with `tcp.enabled`, for TCP on the same
//! port, spawns one glommio executor per shard pinned to its CPU, and hands each a [`Shard`]
//! to drive (`shard_driver.rs` describes the loop, `tcp/` the connections, `mesh.rs` the
//! bounded channels that carry owned messages between every pair of shards). [`run`] is
//! [`start`] plus waiting for SIGINT/SIGTERM.
//!
//! Must not: hold SIP logic (that is `core`), share mutable state between shards (each shard
//! only writes its own counters; work crosses only as owned messages over the mesh), or let
//! bad network input end a shard.

mod addrs;
mod affinity;
pub mod mesh;
mod shard_driver;
mod signals;
mod stats;
mod tcp;
mod udp;

pub use affinity::process_cpus;
pub use stats::{ShardStats, FRAME_ERRORS};

use crate::config::Config;
use crate::core::proxy::RouterFactory;
use crate::core::shard::{Shard, ShardConfig};
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};
use shard_driver::{MakeShard, SansIo, ShardPlan};
use stats::ShardCounters;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tcp::TcpSettings;
use tracing::{debug, error, info, warn};
use udp::{BufferSizes, Granted};

/// How long [`start`] waits for every shard to report that it runs.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many fresh ports a listen address given with port 0 tries before giving up, when the
/// port its UDP socket got is taken for TCP.
const PORT_ATTEMPTS: usize = 8;

/// How often a shard's executor checks for preemption while tasks are runnable: under a
/// sustained flood on one socket, the other sockets and the timer are served at least this
/// often (glommio's default is 100 ms).
const PREEMPT_TIMER: Duration = Duration::from_millis(10);

/// Runs the signalling shards until SIGINT or SIGTERM, then stops them and returns. A second
/// signal during shutdown exits the process at once.
pub fn run(config: Config) -> io::Result<()> {
    // Blocked before any thread exists, so every shard thread inherits the mask and the
    // signals can only be taken here.
    let signals = signals::BlockedSignals::termination()?;
    let running = match start(config) {
        Ok(running) => running,
        Err(e) => {
            signals.restore();
            return Err(e);
        }
    };
    let sig = signals.wait()?;
    info!(signal = signals::name(sig), "stopping the shards");
    let set = signals.set();
    std::thread::Builder::new()
        .name("drongo-signals".into())
        .spawn(move || {
            if let Ok(sig) = signals::BlockedSignals::wait_set(&set) {
                error!(
                    signal = signals::name(sig),
                    "second signal during shutdown; exiting now"
                );
                std::process::exit(128 + sig);
            }
        })?;
    running.stop()
}

/// Binds the listen addresses and starts one shard per configured core; returns once every
/// shard runs. Stop them with [`RunningShards::stop`] (dropping the handle stops them too).
pub fn start(config: Config) -> io::Result<RunningShards> {
    start_with(config, Shard::new)
}

/// [`start`], with a router made for each shard by `router`: code that decides where initial
/// requests go before the location service and the static routes (see
/// [`crate::core::proxy::Router`]).
pub fn start_with_router(config: Config, router: RouterFactory) -> io::Result<RunningShards> {
    start_routed(config, Shard::new, Some(router))
}

/// [`start`] with shards made by `make`.
fn start_with<S: SansIo + 'static>(
    config: Config,
    make: MakeShard<S>,
) -> io::Result<RunningShards> {
    start_routed(config, make, None)
}

fn start_routed<S: SansIo + 'static>(
    config: Config,
    make: MakeShard<S>,
    router: Option<RouterFactory>,
) -> io::Result<RunningShards> {
    let allowed = affinity::process_cpus()?;
    let cpus = affinity::shard_cpus(&config.shards.cores, &allowed)?;
    let shard_count = u16::try_from(cpus.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "more than 65535 shards"))?;
    affinity::ensure_memlock(cpus.len())?;

    let batch = config.udp.batch.clamp(1, udp::MAX_BATCH);
    if batch != config.udp.batch {
        warn!(
            configured = config.udp.batch,
            used = batch,
            "udp.batch clamped to 1..={}",
            udp::MAX_BATCH
        );
    }
    let sizes = BufferSizes {
        recv: config.udp.recv_buffer,
        send: config.udp.send_buffer,
    };
    let tcp_settings = TcpSettings::new(&config.tcp);
    let auth = registrar_auth(&config)?;
    let routes = Arc::new(
        config
            .static_routes()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
    );
    let (timers, timer_tick) = config.sip.timers.to_timer_config_and_tick();
    let Bound {
        local_addrs,
        mut per_shard,
    } = bind_all(&config.sip.listen, cpus.len(), sizes, config.tcp.enabled)?;
    info!(
        shards = shard_count,
        cpus = affinity::cpu_list(&cpus),
        addresses = ?local_addrs,
        batch,
        tcp = config.tcp.enabled,
        "starting signalling shards"
    );

    let mut meshes = mesh::plans(cpus.len(), mesh::channel_capacity(cpus.len())).into_iter();
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut running = RunningShards {
        shards: Vec::with_capacity(cpus.len()),
        local_addrs: local_addrs.clone(),
    };
    for (index, (&cpu, bound)) in cpus.iter().zip(per_shard.drain(..)).enumerate() {
        let id = index as u16; // NOTE: index < shard_count, which fits u16 (checked above).
        let counters = Arc::new(ShardCounters::default());
        let plan = ShardPlan {
            id,
            cpu,
            sockets: bound.udp,
            listeners: bound.tcp,
            tcp: tcp_settings,
            config: ShardConfig {
                id,
                shard_count,
                local_addrs: local_addrs.clone(),
                domains: config.sip.domains.clone(),
                symmetric_response: config.sip.symmetric_response,
                server_header: config.sip.server_header.clone(),
                drop_scanners: config.sip.drop_scanners,
                timers,
                timer_tick,
                registrar: config.registrar.to_core(),
                auth: auth.clone(),
                routes: routes.clone(),
                router: router.clone(),
            },
            seed: seed(id),
            batch,
            pace: Duration::from_micros(config.udp.pace_us),
            counters: counters.clone(),
            // NOTE: one plan per shard, in shard order.
            mesh: meshes.next().unwrap_or_default(),
        };
        let (stop, stop_peer) = UnixStream::pair()?;
        let ready = ready_tx.clone();
        let spawned = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("drongo-s{id}"))
            .io_memory(affinity::IO_MEMORY)
            .preempt_timer(PREEMPT_TIMER)
            .spawn(move || shard_driver::run(plan, make, stop_peer, ready));
        match spawned {
            Ok(join) => running.shards.push(ShardHandle {
                id,
                cpu,
                stop: Some(stop),
                join: Some(join),
                counters,
            }),
            Err(e) => {
                let _ = running.shutdown();
                return Err(io::Error::other(format!(
                    "starting shard {id} on CPU {cpu}: {e}"
                )));
            }
        }
    }
    drop(ready_tx);

    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut ready = 0;
    while ready < running.shards.len() {
        match ready_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(_) => ready += 1,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // A shard ended before reporting: its join result says why.
                let err = running.shutdown().err();
                return Err(
                    err.unwrap_or_else(|| io::Error::other("a shard stopped during startup"))
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = running.shutdown();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "shards did not start in time",
                ));
            }
        }
    }
    Ok(running)
}

/// The running shards. Dropping it stops them, like [`RunningShards::stop`].
pub struct RunningShards {
    shards: Vec<ShardHandle>,
    local_addrs: Vec<SocketAddr>,
}

struct ShardHandle {
    id: u16,
    cpu: usize,
    /// Shutting down or closing this end stops the shard.
    stop: Option<UnixStream>,
    join: Option<ExecutorJoinHandle<io::Result<()>>>,
    counters: Arc<ShardCounters>,
}

impl RunningShards {
    /// Every address the shards listen on, with the actual port (resolved when the config
    /// said port 0). Every shard has a socket on each of them.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// A snapshot of every shard's counters, by shard index.
    pub fn stats(&self) -> Vec<ShardStats> {
        self.shards
            .iter()
            .map(|s| s.counters.snapshot(s.id, s.cpu))
            .collect()
    }

    /// Stops every shard, waits for their threads to end and closes their sockets. Returns
    /// the first error a shard ended with.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        // Signal all first so the shards wind down in parallel, then join.
        for shard in &mut self.shards {
            if let Some(stop) = shard.stop.take() {
                // The shard reads EOF and stops. (No byte is written: a shard that already
                // ended has closed its end, and the join below reports why.)
                let _ = stop.shutdown(Shutdown::Both);
            }
        }
        let mut first_err = None;
        for shard in &mut self.shards {
            let Some(join) = shard.join.take() else {
                continue;
            };
            let result = match join.join() {
                Ok(result) => result,
                Err(e) => Err(io::Error::other(format!(
                    "shard {} on CPU {}: {e}",
                    shard.id, shard.cpu
                ))),
            };
            let s = shard.counters.snapshot(shard.id, shard.cpu);
            info!(
                shard = s.shard,
                rx = s.rx_datagrams,
                tx = s.tx_datagrams,
                truncated = s.rx_truncated,
                rx_errors = s.rx_errors,
                tx_errors = s.tx_errors,
                panics = s.panics,
                tcp_accepted = s.tcp_accepted,
                tcp_refused = s.tcp_refused,
                tcp_messages = s.tcp_rx_messages,
                tcp_frame_errors = s.tcp_frame_errors.iter().sum::<u64>(),
                tcp_timeouts = s.tcp_header_timeouts + s.tcp_idle_timeouts,
                tcp_tx_dropped = s.tcp_tx_dropped,
                handoff_out = s.handoff_out,
                handoff_in = s.handoff_in,
                handoff_dropped = s.handoff_full + s.handoff_closed,
                "shard counters at stop"
            );
            if let Err(e) = result {
                error!(shard = shard.id, error = %e, "shard ended with an error");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for RunningShards {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Sockets bound for every shard: `per_shard[s]` holds shard `s`'s sockets in the order of
/// `local_addrs`.
struct Bound {
    local_addrs: Vec<SocketAddr>,
    per_shard: Vec<ShardSockets>,
}

/// One shard's sockets: a UDP socket per local address and, with TCP on, a listener on each.
#[derive(Default)]
struct ShardSockets {
    udp: Vec<(SocketAddr, socket2::Socket)>,
    tcp: Vec<(SocketAddr, socket2::Socket)>,
}

/// Expands the listen list and binds each address once per shard (UDP, and TCP when `tcp`).
/// An address given in the config must bind; one that came from a wildcard is skipped with a
/// warning if it cannot.
fn bind_all(
    listen: &[SocketAddr],
    shards: usize,
    sizes: BufferSizes,
    tcp: bool,
) -> io::Result<Bound> {
    let local_ips = if listen.iter().any(|a| a.ip().is_unspecified()) {
        addrs::local_ips()?
    } else {
        Vec::new()
    };
    let mut bound = Bound {
        local_addrs: Vec::new(),
        per_shard: (0..shards).map(|_| ShardSockets::default()).collect(),
    };
    for group in addrs::expand(listen, &local_ips) {
        for ip in &group.skipped_link_local {
            info!(address = %ip, listen = %group.configured, "skipping IPv6 link-local address");
        }
        if group.addrs.is_empty() && !group.explicit {
            warn!(listen = %group.configured, "no local address of this family (is IPv6 disabled?); skipped");
        }
        // With port 0, the first socket bound in the group picks the port for the rest.
        let mut port = group.configured.port();
        for mut addr in group.addrs {
            addr.set_port(port);
            match bind_everywhere(addr, shards, sizes, tcp) {
                Ok(Everywhere {
                    actual,
                    udp,
                    tcp,
                    granted,
                }) => {
                    port = actual.port();
                    report_buffers(actual, sizes, granted);
                    for (shard, socket) in bound.per_shard.iter_mut().zip(udp) {
                        shard.udp.push((actual, socket));
                    }
                    for (shard, listener) in bound.per_shard.iter_mut().zip(tcp) {
                        shard.tcp.push((actual, listener));
                    }
                    bound.local_addrs.push(actual);
                }
                Err(e) if group.explicit => {
                    return Err(io::Error::new(e.kind(), format!("binding {addr}: {e}")));
                }
                Err(e) => {
                    warn!(address = %addr, listen = %group.configured, error = %e, "cannot bind; skipped")
                }
            }
        }
    }
    if bound.local_addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no listen address could be bound",
        ));
    }
    Ok(bound)
}

/// One address bound for every shard.
struct Everywhere {
    /// The address with its actual port.
    actual: SocketAddr,
    udp: Vec<socket2::Socket>,
    /// Empty when TCP is off.
    tcp: Vec<socket2::Socket>,
    granted: Granted,
}

/// Binds `addr` `shards` times for UDP, then (when `tcp`) as many TCP listeners on the port
/// the UDP sockets got. When `addr` says port 0, the first UDP socket learns the port; if that
/// port is taken for TCP, the whole address is tried again on a fresh port a few times.
fn bind_everywhere(
    addr: SocketAddr,
    shards: usize,
    sizes: BufferSizes,
    tcp: bool,
) -> io::Result<Everywhere> {
    let attempts = if addr.port() == 0 && tcp {
        PORT_ATTEMPTS
    } else {
        1
    };
    let mut attempt = 1;
    loop {
        let (first, granted) = udp::bind(addr, sizes)?;
        let actual = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("bound UDP socket has no IP address"))?;
        let mut udp = Vec::with_capacity(shards);
        udp.push(first);
        for _ in 1..shards {
            udp.push(udp::bind(actual, sizes)?.0);
        }
        if !tcp {
            return Ok(Everywhere {
                actual,
                udp,
                tcp: Vec::new(),
                granted,
            });
        }
        match (0..shards).map(|_| tcp::bind(actual)).collect() {
            Ok(tcp) => {
                return Ok(Everywhere {
                    actual,
                    udp,
                    tcp,
                    granted,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempt < attempts => {
                debug!(address = %actual, error = %e, "port taken for TCP; trying another");
                attempt += 1;
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("TCP listener on {actual}, the port of its UDP socket: {e}"),
                ));
            }
        }
    }
}

fn report_buffers(addr: SocketAddr, asked: BufferSizes, granted: Granted) {
    info!(address = %addr, rcvbuf = granted.recv, sndbuf = granted.send, "UDP socket buffers (kernel-reported)");
    if granted.recv_capped {
        warn!(
            address = %addr,
            asked = asked.recv,
            got = granted.recv / 2,
            "SO_RCVBUF capped by net.core.rmem_max; raise it (see tuning/) or grant CAP_NET_ADMIN"
        );
    }
    if granted.send_capped {
        warn!(
            address = %addr,
            asked = asked.send,
            got = granted.send / 2,
            "SO_SNDBUF capped by net.core.wmem_max; raise it (see tuning/) or grant CAP_NET_ADMIN"
        );
    }
}

/// Per-shard seed for the shard's RNG: the OS RNG, or the clock and shard id if that fails.
/// The registrar's digest authentication from `registrar.credentials`, logged either way: an
/// operator must see at start whether anyone may register.
fn registrar_auth(config: &Config) -> io::Result<Option<Arc<crate::core::auth::AuthSetup>>> {
    let users = config
        .registrar
        .load_credentials()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let Some(users) = users else {
        warn!("registrar without authentication: any client may register (set registrar.credentials to require digest)");
        return Ok(None);
    };
    info!(
        users = users.len(),
        realm = %config.registrar.realm,
        "registrar requires digest authentication (SHA-256, MD5)"
    );
    Ok(Some(Arc::new(crate::core::auth::AuthSetup {
        realm: config.registrar.realm.as_bytes().to_vec(),
        users: users
            .into_iter()
            .map(|(u, p)| (u.into_bytes(), p.into_bytes()))
            .collect(),
        key: seed(u16::MAX),
    })))
}

fn seed(shard: u16) -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: `bytes` is a writable 8-byte buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n == bytes.len() as isize {
        return u64::from_ne_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ u64::from(shard).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(std::process::id()) << 32
}

#[cfg(test)]
mod tests;
