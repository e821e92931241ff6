//! Loopback shards: Drongo started in-process on `127.0.0.1:0` (and `[::1]:0` where the host
//! has IPv6), datagrams sent from plain std sockets, counters read back, clean stop.
//! Every wait is bounded; only loopback addresses are bound.

use drongo::config::Config;
use drongo::shell::{self, RunningShards, ShardStats};
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// `n` shards on the CPUs this process may use (wrapping if it has fewer than `n`).
fn config(listen: &[&str], shards: usize) -> Config {
    let cpus = shell::process_cpus().expect("affinity mask");
    let mut config = Config::default();
    config.sip.listen = listen.iter().map(|a| a.parse().unwrap()).collect();
    config.shards.cores = (0..shards).map(|i| cpus[i % cpus.len()]).collect();
    config.udp.recv_buffer = 256 << 10;
    config.udp.send_buffer = 256 << 10;
    config
}

fn has_ipv6_loopback() -> bool {
    UdpSocket::bind("[::1]:0").is_ok()
}

/// Stops the shards on another thread so a hang fails the test instead of stalling it.
fn stop_within(running: RunningShards, limit: Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(running.stop());
    });
    match rx.recv_timeout(limit) {
        Ok(result) => result.expect("shards stop cleanly"),
        Err(_) => panic!("shards did not stop within {limit:?}"),
    }
}

/// Waits until the shards together counted `want` received datagrams.
fn wait_received(running: &RunningShards, want: u64) -> Vec<ShardStats> {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = running.stats();
        let total = ShardStats::total(&stats);
        if total.rx_datagrams >= want || Instant::now() > deadline {
            assert_eq!(total.rx_datagrams, want, "received datagrams: {stats:?}");
            return stats;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn send_from_fresh_sockets(to: SocketAddr, count: usize, payload: &[u8]) {
    let any: SocketAddr = if to.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .unwrap();
    for _ in 0..count {
        let peer = UdpSocket::bind(any).unwrap();
        peer.send_to(payload, to).unwrap();
    }
}

const OPTIONS: &[u8] = b"OPTIONS sip:drongo@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-shell-test\r\n\
Max-Forwards: 70\r\nTo: <sip:drongo@127.0.0.1>\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\n\
Call-ID: shell-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

#[test]
fn one_shard_receives_and_stops() {
    let running = shell::start(config(&["127.0.0.1:0"], 1)).expect("start");
    assert_eq!(running.shard_count(), 1);
    let addrs = running.local_addrs().to_vec();
    assert_eq!(addrs.len(), 1);
    assert_ne!(addrs[0].port(), 0, "port 0 is resolved to the bound port");

    send_from_fresh_sockets(addrs[0], 5, OPTIONS);
    let stats = wait_received(&running, 5);
    assert_eq!(stats[0].rx_bytes, 5 * OPTIONS.len() as u64);
    assert_eq!((stats[0].rx_truncated, stats[0].panics), (0, 0));
    stop_within(running, WAIT);
}

#[test]
fn two_shards_share_one_port() {
    let running = shell::start(config(&["127.0.0.1:0"], 2)).expect("start");
    assert_eq!(running.shard_count(), 2);
    let addr = running.local_addrs()[0];
    assert_eq!(
        running.local_addrs().len(),
        1,
        "both shards bound the same address and port"
    );

    // The port is taken: a socket without SO_REUSEPORT cannot bind it.
    assert!(UdpSocket::bind(addr).is_err());

    // Many source ports, so SO_REUSEPORT's hash spreads them over both shards.
    send_from_fresh_sockets(addr, 64, OPTIONS);
    let stats = wait_received(&running, 64);
    assert_eq!(stats.len(), 2);
    stop_within(running, WAIT);

    // After stop every socket is closed and the port is free again.
    wait_port_free(addr);
}

#[test]
fn burst_larger_than_a_batch_is_all_counted() {
    let mut config = config(&["127.0.0.1:0"], 1);
    config.udp.batch = 8;
    let running = shell::start(config).expect("start");
    let addr = running.local_addrs()[0];
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..200u32 {
        peer.send_to(&i.to_be_bytes(), addr).unwrap();
    }
    wait_received(&running, 200);
    stop_within(running, WAIT);
}

#[test]
fn empty_and_largest_datagrams_are_received_whole() {
    let running = shell::start(config(&["127.0.0.1:0"], 1)).expect("start");
    let addr = running.local_addrs()[0];
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(&[], addr).unwrap();
    peer.send_to(&vec![b'x'; 65_507], addr).unwrap();
    let stats = wait_received(&running, 2);
    assert_eq!(stats[0].rx_bytes, 65_507);
    assert_eq!(stats[0].rx_truncated, 0);
    stop_within(running, WAIT);
}

#[test]
fn ipv4_and_ipv6_loopback_together() {
    if !has_ipv6_loopback() {
        eprintln!("no IPv6 loopback on this host; checking IPv4 only");
    }
    let listen: &[&str] = if has_ipv6_loopback() {
        &["127.0.0.1:0", "[::1]:0"]
    } else {
        &["127.0.0.1:0"]
    };
    let running = shell::start(config(listen, 2)).expect("start");
    let addrs = running.local_addrs().to_vec();
    assert_eq!(addrs.len(), listen.len());
    for &addr in &addrs {
        send_from_fresh_sockets(addr, 10, OPTIONS);
    }
    wait_received(&running, 10 * addrs.len() as u64);
    stop_within(running, WAIT);
}

#[test]
fn stop_without_traffic_and_start_again() {
    for _ in 0..3 {
        let running = shell::start(config(&["127.0.0.1:0"], 2)).expect("start");
        stop_within(running, WAIT);
    }
}

#[test]
fn dropping_the_handle_stops_the_shards() {
    let running = shell::start(config(&["127.0.0.1:0"], 1)).expect("start");
    let addr = running.local_addrs()[0];
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(running);
        let _ = tx.send(());
    });
    rx.recv_timeout(WAIT)
        .expect("drop stops the shards in time");
    wait_port_free(addr);
}

#[test]
fn explicit_address_that_cannot_bind_is_an_error() {
    // A plain socket (no SO_REUSEPORT) holds the port, so Drongo's bind must fail.
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    let err = shell::start(config(&[taken.as_str()], 1))
        .err()
        .expect("start must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains(&taken), "{err}");
}

#[test]
fn core_outside_the_affinity_mask_is_refused() {
    let cpus = shell::process_cpus().unwrap();
    let outside = (0..4096).find(|c| !cpus.contains(c)).unwrap();
    let mut config = config(&["127.0.0.1:0"], 1);
    config.shards.cores = vec![outside];
    let err = shell::start(config).err().expect("start must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}

/// After a stop the port must be free again: every socket of every shard is closed. Retried
/// briefly because a loaded host may finish tearing down the shard threads' io_uring
/// instances a moment after they exit.
fn wait_port_free(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match UdpSocket::bind(addr) {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => {
                panic!("port {addr} still in use after stop: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}
