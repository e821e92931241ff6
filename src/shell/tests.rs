//! The shard loop end to end on loopback, driving test shards that answer, arm timers and
//! panic on cue (the core shard's own behaviour is tested in `core` and `sim`).

use super::shard_driver::SansIo;
use super::*;
use crate::core::handoff::Handoff;
use crate::core::shard::{ConnId, Flow, Transmit};
use crate::core::sip::DropReason;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};

const WAIT: Duration = Duration::from_secs(10);

/// Echoes every datagram, and every message framed on a connection, on the flow it came on.
/// A command in the datagram (or the first line of a stream message): `timer:<ms>` arms a
/// timer that answers `fired`; `flood:<n>` answers with `n` buffers of 64 KiB; `panic` panics;
/// `who` answers `shard <id>`; `handoff:<n>` hands the message to shard `n`, which answers
/// `from <id> on <n>` on the flow it came on.
struct Echo {
    id: u16,
    out: VecDeque<Transmit>,
    pool: Vec<Vec<u8>>,
    timers: Vec<(Instant, Flow, SocketAddr, SocketAddr)>,
    handoffs: VecDeque<Handoff>,
}

impl Echo {
    fn new(config: ShardConfig, _: u64) -> Self {
        Echo {
            id: config.id,
            out: VecDeque::new(),
            pool: Vec::new(),
            timers: Vec::new(),
            handoffs: VecDeque::new(),
        }
    }

    fn send(&mut self, flow: Flow, local: SocketAddr, remote: SocketAddr, bytes: &[u8]) {
        let mut payload = self.pool.pop().unwrap_or_default();
        payload.extend_from_slice(bytes);
        self.out.push_back(Transmit {
            flow,
            local,
            remote,
            payload,
            token: 0,
        });
    }

    fn handle(
        &mut self,
        now: Instant,
        flow: Flow,
        local: SocketAddr,
        remote: SocketAddr,
        command: &[u8],
        bytes: &[u8],
    ) {
        if command == b"panic" {
            panic!("test shard told to panic");
        }
        if let Some(ms) = command.strip_prefix(b"timer:") {
            let ms: u64 = std::str::from_utf8(ms).unwrap().parse().unwrap();
            self.timers
                .push((now + Duration::from_millis(ms), flow, local, remote));
            return;
        }
        if command == b"who" {
            let me = format!("shard {}", self.id);
            return self.send(flow, local, remote, me.as_bytes());
        }
        if let Some(to) = command.strip_prefix(b"handoff:") {
            let to: u16 = std::str::from_utf8(to).unwrap().parse().unwrap();
            return self.handoffs.push_back(Handoff {
                to,
                from: self.id,
                flow,
                local,
                remote,
                received: now,
                bytes: bytes.to_vec(),
            });
        }
        if let Some(n) = command.strip_prefix(b"flood:") {
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            for _ in 0..n {
                self.send(flow, local, remote, &[b'x'; 64 << 10]);
            }
            return;
        }
        self.send(flow, local, remote, bytes);
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
        self.handle(now, Flow::Udp, local, remote, bytes, bytes);
    }

    fn handle_stream_message(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        let line = bytes.split(|&b| b == b'\r').next().unwrap_or_default();
        self.handle(now, Flow::Stream(conn), local, remote, line, bytes);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<_> = self.timers.iter().copied().filter(|t| t.0 <= now).collect();
        self.timers.retain(|t| t.0 > now);
        for (_, flow, local, remote) in due {
            self.send(flow, local, remote, b"fired");
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

    fn handle_handoff(&mut self, _: Instant, handoff: Handoff) {
        let answer = format!("from {} on {}", handoff.from, self.id);
        self.send(
            handoff.flow,
            handoff.local,
            handoff.remote,
            answer.as_bytes(),
        );
        self.recycle(handoff.bytes);
    }

    fn poll_handoff(&mut self) -> Option<Handoff> {
        self.handoffs.pop_front()
    }

    fn handoff_undelivered(&mut self, handoff: Handoff, _: DropReason) {
        self.recycle(handoff.bytes);
    }

    fn absorbed(&self) -> Option<u64> {
        None
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

fn tcp_client(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.set_write_timeout(Some(WAIT)).unwrap();
    c
}

/// `command` as a message the framer cuts out whole.
fn framed(command: &str) -> Vec<u8> {
    format!("{command}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

/// Reads exactly `want.len()` bytes and checks them.
fn expect_bytes(c: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    c.read_exact(&mut got).expect("answer");
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

/// True once the server has closed `c` (end of file or reset) within `WAIT`, reading and
/// discarding whatever comes first.
fn closed_by_server(c: &mut TcpStream) -> bool {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 64 << 10];
    while Instant::now() < deadline {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn tcp_messages_are_answered_on_their_connection() {
    let running = start_with(loopback_config(2, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    for i in 0..10 {
        let mut c = tcp_client(addr);
        let msg = framed(&format!("hello {i}"));
        c.write_all(&msg).unwrap();
        expect_bytes(&mut c, &msg);
    }
    let total = settled_total(&running, |t| t.tcp_closed >= 10);
    assert_eq!(
        (total.tcp_accepted, total.tcp_closed, total.tcp_rx_messages),
        (10, 10, 10)
    );
    assert_eq!(total.tcp_tx_bytes, total.tcp_rx_bytes);
    stop_within(running);
}

#[test]
fn a_panic_costs_one_message_not_the_connection() {
    let running = start_with(loopback_config(1, 32), Echo::new).unwrap();
    let mut c = tcp_client(running.local_addrs()[0]);
    c.write_all(&framed("panic")).unwrap();
    c.write_all(&framed("still here")).unwrap();
    expect_bytes(&mut c, &framed("still here"));
    assert_eq!(settled_total(&running, |t| t.panics >= 1).panics, 1);
    stop_within(running);
}

#[test]
fn a_timer_answers_on_the_connection_or_counts_it_gone() {
    let running = start_with(loopback_config(1, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let mut c = tcp_client(addr);
    c.write_all(&framed("timer:10")).unwrap();
    expect_bytes(&mut c, b"fired");

    let mut gone = tcp_client(addr);
    gone.write_all(&framed("timer:300")).unwrap();
    drop(gone);
    let total = settled_total(&running, |t| t.tcp_tx_dropped >= 1);
    assert_eq!((total.tcp_tx_dropped, total.tcp_closed), (1, 1));
    stop_within(running);
}

#[test]
fn a_peer_that_does_not_read_loses_its_connection_not_the_shard() {
    let running = start_with(loopback_config(1, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), WAIT).unwrap();
    let mut slow: TcpStream = socket.into();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    // Answers to one message worth twice the kernel's largest send buffer: more than the
    // kernel and the queue cap hold together.
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(16 << 20);
    let buffers = 2 * wmem_max / (64 << 10) + 16;
    slow.write_all(&framed(&format!("flood:{buffers}")))
        .unwrap();
    let total = settled_total(&running, |t| t.tcp_send_overflows >= 1);
    assert_eq!((total.tcp_send_overflows, total.tcp_closed), (1, 1));
    assert!(total.tcp_tx_dropped > 0, "{total:?}");
    assert!(closed_by_server(&mut slow));

    let mut other = tcp_client(addr);
    other.write_all(&framed("next")).unwrap();
    expect_bytes(&mut other, &framed("next"));
    stop_within(running);
}

#[test]
fn connections_past_the_cap_are_closed_at_once() {
    let mut config = loopback_config(1, 32);
    config.tcp.max_connections = 2;
    let running = start_with(config, Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let mut held: Vec<TcpStream> = (0..2).map(|_| tcp_client(addr)).collect();
    for c in &mut held {
        c.write_all(&framed("in")).unwrap();
        expect_bytes(c, &framed("in"));
    }
    let mut extra = tcp_client(addr);
    assert!(closed_by_server(&mut extra));
    let total = settled_total(&running, |t| t.tcp_refused >= 1);
    assert_eq!((total.tcp_accepted, total.tcp_refused), (2, 1));
    // A place frees up when one of the two goes.
    drop(held.pop());
    settled_total(&running, |t| t.tcp_closed >= 1);
    let mut again = tcp_client(addr);
    again.write_all(&framed("in")).unwrap();
    expect_bytes(&mut again, &framed("in"));
    stop_within(running);
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let mut config = loopback_config(1, 32);
    config.tcp.idle_timeout_secs = 1;
    config.tcp.header_timeout_secs = 1;
    let running = start_with(config, Echo::new).unwrap();
    let mut c = tcp_client(running.local_addrs()[0]);
    c.write_all(&framed("hi")).unwrap();
    expect_bytes(&mut c, &framed("hi"));
    let t0 = Instant::now();
    assert!(closed_by_server(&mut c));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed early: {waited:?}"
    );
    let total = settled_total(&running, |t| t.tcp_closed >= 1);
    assert_eq!((total.tcp_idle_timeouts, total.tcp_header_timeouts), (1, 0));
    stop_within(running);
}

#[test]
fn stopping_closes_open_connections_promptly() {
    let running = start_with(loopback_config(2, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let mut clients: Vec<TcpStream> = (0..8).map(|_| tcp_client(addr)).collect();
    for c in &mut clients {
        c.write_all(&framed("x")).unwrap();
        expect_bytes(c, &framed("x"));
    }
    // Half a message on one: its task is mid-frame when the stop comes.
    clients[0].write_all(b"OPTIONS sip:a SIP/2.0\r\n").unwrap();
    let t0 = Instant::now();
    stop_within(running);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    for c in &mut clients {
        assert!(closed_by_server(c));
    }
    // The listeners are gone too.
    assert!(TcpStream::connect_timeout(&addr, WAIT).is_err());
}

#[test]
fn with_tcp_off_no_listener_is_bound() {
    let mut config = loopback_config(1, 32);
    config.tcp.enabled = false;
    let running = start_with(config, Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let err = TcpStream::connect_timeout(&addr, WAIT).expect_err("nothing listens");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    stop_within(running);
}

/// The shard index an Echo shard names in its answer to `who`.
fn shard_of(answer: &[u8]) -> u16 {
    let text = std::str::from_utf8(answer).unwrap();
    text.strip_prefix("shard ").unwrap().parse().unwrap()
}

/// A client socket the kernel's hash sends to shard `shard`.
fn client_on(addr: SocketAddr, shard: u16) -> UdpSocket {
    let mut buf = [0u8; 64];
    for _ in 0..256 {
        let c = client();
        c.send_to(b"who", addr).unwrap();
        let (n, _) = c.recv_from(&mut buf).expect("who");
        if shard_of(&buf[..n]) == shard {
            return c;
        }
    }
    panic!("no client port reached shard {shard}");
}

#[test]
fn a_handoff_is_answered_by_its_shard_from_the_address_it_reached() {
    let running = start_with(loopback_config(2, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let mut buf = [0u8; 64];
    for (on, to) in [(0u16, 1u16), (1, 0)] {
        let c = client_on(addr, on);
        c.send_to(format!("handoff:{to}").as_bytes(), addr).unwrap();
        let (n, from) = c.recv_from(&mut buf).expect("answer from the owner");
        assert_eq!(from, addr);
        assert_eq!(&buf[..n], format!("from {on} on {to}").as_bytes());
    }
    settled_total(&running, |t| t.handoff_out == 2 && t.handoff_in == 2);
    let stats = running.stats();
    for s in &stats {
        assert_eq!((s.handoff_out, s.handoff_in), (1, 1), "{s:?}");
        assert_eq!((s.handoff_full, s.handoff_closed), (0, 0));
    }
    stop_within(running);
}

/// A message framed on shard A's connection, handed to shard B: B's answer names A's
/// connection, so it goes back to A, which writes it.
#[test]
fn an_answer_for_another_shards_connection_is_written_by_that_shard() {
    let running = start_with(loopback_config(2, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let mut c = tcp_client(addr);
    c.write_all(&framed("who")).unwrap();
    let mut who = [0u8; 7];
    c.read_exact(&mut who).expect("who");
    let on = shard_of(&who);
    let to = 1 - on;
    c.write_all(&framed(&format!("handoff:{to}"))).unwrap();
    expect_bytes(&mut c, format!("from {on} on {to}").as_bytes());
    // The counters are published after the write the client just read: let them settle.
    settled_total(&running, |t| t.handoff_out == 2 && t.handoff_in == 2);
    let stats = running.stats();
    let (a, b) = (stats[usize::from(on)], stats[usize::from(to)]);
    assert_eq!((a.handoff_out, a.handoff_in), (1, 1), "{a:?}");
    assert_eq!((b.handoff_out, b.handoff_in), (1, 1), "{b:?}");
    stop_within(running);
}

#[test]
fn a_handoff_to_a_shard_that_is_not_running_is_dropped_and_counted() {
    let running = start_with(loopback_config(2, 32), Echo::new).unwrap();
    let addr = running.local_addrs()[0];
    let c = client();
    c.send_to(b"handoff:7", addr).unwrap();
    c.send_to(b"still here", addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = c.recv_from(&mut buf).expect("echo");
    assert_eq!(&buf[..n], b"still here");
    let total = settled_total(&running, |t| t.handoff_closed >= 1);
    assert_eq!((total.handoff_closed, total.handoff_out), (1, 0));
    stop_within(running);
}
