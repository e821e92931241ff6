//! The shard loop end to end on loopback, driving test shards that answer, arm timers and
//! panic on cue (the core shard's own behaviour is tested in `core` and `sim`).

use super::shard_driver::SansIo;
use super::*;
use crate::core::shard::Transmit;
use std::collections::VecDeque;
use std::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(10);

/// Echoes every datagram from the address it reached; `timer:<ms>` arms a timer that answers
/// `fired`; `panic` panics.
struct Echo {
    out: VecDeque<Transmit>,
    pool: Vec<Vec<u8>>,
    timers: Vec<(Instant, SocketAddr, SocketAddr)>,
}

impl Echo {
    fn new(_: ShardConfig, _: u64) -> Self {
        Echo {
            out: VecDeque::new(),
            pool: Vec::new(),
            timers: Vec::new(),
        }
    }

    fn send(&mut self, local: SocketAddr, remote: SocketAddr, bytes: &[u8]) {
        let mut payload = self.pool.pop().unwrap_or_default();
        payload.extend_from_slice(bytes);
        self.out.push_back(Transmit {
            flow: crate::core::shard::Flow::Udp,
            local,
            remote,
            payload,
        });
    }
}

impl SansIo for Echo {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        if bytes == b"panic" {
            panic!("test shard told to panic");
        }
        if let Some(ms) = bytes.strip_prefix(b"timer:") {
            let ms: u64 = std::str::from_utf8(ms).unwrap().parse().unwrap();
            self.timers
                .push((now + Duration::from_millis(ms), local, remote));
            return;
        }
        self.send(local, remote, bytes);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<_> = self.timers.iter().copied().filter(|t| t.0 <= now).collect();
        self.timers.retain(|t| t.0 > now);
        for (_, local, remote) in due {
            self.send(local, remote, b"fired");
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.0).min()
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.pool.push(buf);
    }
}

fn loopback_config(shards: usize, batch: usize) -> Config {
    let cpus = process_cpus().unwrap();
    let mut config = Config::default();
    config.sip.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.shards.cores = (0..shards).map(|i| cpus[i % cpus.len()]).collect();
    config.udp.batch = batch;
    config.udp.recv_buffer = 256 << 10;
    config.udp.send_buffer = 256 << 10;
    config
}

fn client() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c
}

fn stop_within(running: RunningShards) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(running.stop());
    });
    rx.recv_timeout(WAIT)
        .expect("shards stop in time")
        .expect("shards stop cleanly");
}

/// The summed counters once `done` holds for them, or after `WAIT`.
fn settled_total(running: &RunningShards, done: impl Fn(&ShardStats) -> bool) -> ShardStats {
    let deadline = Instant::now() + WAIT;
    loop {
        let total = ShardStats::total(&running.stats());
        if done(&total) || Instant::now() > deadline {
            return total;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn replies_leave_from_the_address_the_request_reached() {
    let running = start_with(loopback_config(2, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let mut buf = [0u8; 64];
    for i in 0..20 {
        let c = client();
        let msg = format!("hello {i}");
        c.send_to(msg.as_bytes(), addr).unwrap();
        let (n, from) = c.recv_from(&mut buf).expect("echo");
        assert_eq!((from, &buf[..n]), (addr, msg.as_bytes()));
    }
    // The echo can arrive before the shard has counted its send.
    let total = settled_total(&running, |t| t.tx_datagrams >= 20);
    assert_eq!(
        (total.rx_datagrams, total.tx_datagrams, total.tx_errors),
        (20, 20, 0)
    );
    stop_within(running);
}

#[test]
fn a_burst_larger_than_the_batch_is_answered_in_full() {
    let running = start_with(loopback_config(1, 4), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let c = client();
    for i in 0..100u32 {
        c.send_to(&i.to_be_bytes(), addr).unwrap();
    }
    let mut buf = [0u8; 16];
    let mut got: Vec<u32> = (0..100)
        .map(|_| {
            let (n, _) = c.recv_from(&mut buf).expect("echo");
            u32::from_be_bytes(buf[..n].try_into().unwrap())
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    stop_within(running);
}

#[test]
fn a_panic_costs_one_datagram_not_the_shard() {
    let running = start_with(loopback_config(1, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let c = client();
    c.send_to(b"panic", addr).unwrap();
    c.send_to(b"still here", addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = c.recv_from(&mut buf).expect("the shard kept answering");
    assert_eq!(&buf[..n], b"still here");
    let total = settled_total(&running, |t| t.rx_datagrams >= 2);
    assert_eq!((total.panics, total.rx_datagrams), (1, 2));
    stop_within(running);
}

#[test]
fn an_earlier_deadline_rearms_the_timer() {
    let running = start_with(loopback_config(1, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let c = client();
    let t0 = Instant::now();
    // The first timer leaves the timer task asleep for a minute; the second must wake it.
    c.send_to(b"timer:60000", addr).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    c.send_to(b"timer:50", addr).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = c.recv_from(&mut buf).expect("timer fired");
    assert_eq!((from, &buf[..n]), (addr, &b"fired"[..]));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(70),
        "fired early: {waited:?}"
    );
    assert!(waited < WAIT, "fired late: {waited:?}");
    // The minute-long timer is still armed; stopping must not wait for it.
    stop_within(running);
}

#[test]
fn no_listen_address_is_an_error() {
    let mut config = loopback_config(1, 32);
    config.sip.listen.clear();
    let err = start_with(config, Echo::new)
        .err()
        .expect("nothing to listen on");
    assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
}
