//! The TCP transport end to end on loopback: outbound connections and their pool, the
//! §18.2.2 fallback, keep-alives on kept flows, the per-address cap. A test shard stands in for
//! the core and is driven by commands; the tests play the peers with std sockets, every read
//! with a timeout.

use super::super::shard_driver::SansIo;
use super::super::{process_cpus, start_with, RunningShards, ShardStats};
use crate::config::Config;
use crate::core::flow::{ConnCommand, TransportError};
use crate::core::handoff::Handoff;
use crate::core::shard::{ConnId, Flow, ShardConfig, Transmit};
use crate::core::sip::DropReason;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// A test shard. Commands, as a datagram or as the first line of a stream message:
/// - `send <addr> <token>`: a message `hello <token>` over TCP to `addr`;
/// - `keep` / `alias <addr>`: the connection command for the connection it came on;
/// - `later <ms> <addr>`: after `ms`, `fired` on the flow it came on, with `addr` as the
///   transmit's remote (what the core puts there for §18.2.2);
/// - anything else is echoed on its flow.
///
/// Transport errors go as datagrams (`undelivered <token>`, `flow failed`) to the last
/// address that sent a datagram.
struct Relay {
    out: VecDeque<Transmit>,
    commands: VecDeque<ConnCommand>,
    timers: Vec<(Instant, Flow, SocketAddr, SocketAddr)>,
    reporter: Option<(SocketAddr, SocketAddr)>,
}

impl Relay {
    fn new(_: ShardConfig, _: u64) -> Self {
        Relay {
            out: VecDeque::new(),
            commands: VecDeque::new(),
            timers: Vec::new(),
            reporter: None,
        }
    }

    fn send(
        &mut self,
        flow: Flow,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        token: u64,
    ) {
        self.out.push_back(Transmit {
            flow,
            local,
            remote,
            payload: bytes.to_vec(),
            token,
        });
    }

    fn handle(
        &mut self,
        now: Instant,
        flow: Flow,
        local: SocketAddr,
        remote: SocketAddr,
        line: &str,
        bytes: &[u8],
    ) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match (words.as_slice(), flow) {
            (["send", addr, token], _) => {
                let to: SocketAddr = addr.parse().unwrap();
                let token: u64 = token.parse().unwrap();
                self.send(
                    Flow::Tcp,
                    local,
                    to,
                    &framed(&format!("hello {token}")),
                    token,
                );
            }
            (["keep"], Flow::Stream(conn)) => {
                self.commands.push_back(ConnCommand::KeepAlive(conn));
                self.send(flow, local, remote, &framed("kept"), 0);
            }
            (["alias", addr], Flow::Stream(conn)) => {
                let sent_by = addr.parse().unwrap();
                self.commands
                    .push_back(ConnCommand::Alias { conn, sent_by });
                self.send(flow, local, remote, &framed("aliased"), 0);
            }
            (["later", ms, addr], _) => {
                let at = now + Duration::from_millis(ms.parse().unwrap());
                self.timers.push((at, flow, local, addr.parse().unwrap()));
            }
            _ => self.send(flow, local, remote, bytes, 0),
        }
    }
}

impl SansIo for Relay {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        self.reporter = Some((local, remote));
        let line = String::from_utf8_lossy(bytes).to_string();
        self.handle(now, Flow::Udp, local, remote, &line, bytes);
    }

    fn handle_stream_message(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        let text = String::from_utf8_lossy(bytes).to_string();
        let line = text.lines().next().unwrap_or_default();
        self.handle(now, Flow::Stream(conn), local, remote, line, bytes);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<_> = self.timers.iter().copied().filter(|t| t.0 <= now).collect();
        self.timers.retain(|t| t.0 > now);
        for (_, flow, local, remote) in due {
            self.send(flow, local, remote, &framed("fired"), 0);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.0).min()
    }

    fn recycle(&mut self, _: Vec<u8>) {}

    fn handle_transport_error(&mut self, _: Instant, error: TransportError) {
        let Some((local, remote)) = self.reporter else {
            return;
        };
        let text = match error {
            TransportError::Undelivered { token, .. } => format!("undelivered {token}"),
            TransportError::FlowFailed { .. } => "flow failed".to_owned(),
        };
        self.send(Flow::Udp, local, remote, text.as_bytes(), 0);
    }

    fn poll_conn_command(&mut self) -> Option<ConnCommand> {
        self.commands.pop_front()
    }

    // One shard: nothing is handed between shards.
    fn handle_handoff(&mut self, _: Instant, _: Handoff) {}

    fn poll_handoff(&mut self) -> Option<Handoff> {
        None
    }

    fn handoff_undelivered(&mut self, _: Handoff, _: DropReason) {}

    fn absorbed(&self) -> Option<u64> {
        None
    }
}

/// `text` as a message the framer cuts out whole.
fn framed(text: &str) -> Vec<u8> {
    format!("{text}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

/// One shard on loopback with one-second keep-alives and connect timeout.
fn config() -> Config {
    let cpus = process_cpus().unwrap();
    let mut config = Config::default();
    config.sip.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.shards.cores = vec![cpus[0]];
    config.udp.recv_buffer = 256 << 10;
    config.udp.send_buffer = 256 << 10;
    config.tcp.keepalive_interval_secs = 1;
    config.tcp.keepalive_timeout_secs = 1;
    config.tcp.connect_timeout_secs = 1;
    config
}

fn start(config: Config) -> (RunningShards, SocketAddr) {
    let running = start_with(config, Relay::new).unwrap();
    let addr = running.local_addrs()[0];
    (running, addr)
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
fn settled(running: &RunningShards, done: impl Fn(&ShardStats) -> bool) -> ShardStats {
    let deadline = Instant::now() + WAIT;
    loop {
        let total = ShardStats::total(&running.stats());
        if done(&total) || Instant::now() > deadline {
            return total;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A UDP socket to give the shard commands and hear its reports on.
fn control() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c
}

fn datagram(c: &UdpSocket) -> String {
    let mut buf = [0u8; 256];
    let (n, _) = c.recv_from(&mut buf).expect("a datagram from the shard");
    String::from_utf8_lossy(&buf[..n]).to_string()
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// The next connection on `l` within `within`.
fn accept(l: &TcpListener, within: Duration) -> Option<TcpStream> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                return Some(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    c.set_read_timeout(Some(WAIT)).unwrap();
    c
}

/// Reads from `s` until what was read contains `want` (or the peer closes, or `WAIT` passes);
/// returns everything read.
fn read_until(s: &mut TcpStream, want: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !contains(&got, want) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// True once the server has closed `s` within `WAIT`; bytes before the close are ignored.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn sends_to_a_new_address_share_one_connection() {
    let (running, addr) = start(config());
    let (l, to) = listener();
    let c = control();
    // One burst: all five are routed while the connection is still being opened.
    for token in 1..=5 {
        c.send_to(format!("send {to} {token}").as_bytes(), addr)
            .unwrap();
    }
    let mut s = accept(&l, WAIT).expect("Drongo connects");
    let got = read_until(&mut s, b"hello 5");
    for token in 1..=5 {
        assert_eq!(
            count(&got, format!("hello {token}\r\n").as_bytes()),
            1,
            "{token}"
        );
    }
    // The connection stays in the pool: the next message takes it too.
    c.send_to(format!("send {to} 6").as_bytes(), addr).unwrap();
    assert!(contains(&read_until(&mut s, b"hello 6"), b"hello 6"));
    assert!(
        accept(&l, Duration::from_millis(200)).is_none(),
        "one connection only"
    );
    // It is a connection like any other: what the peer sends on it reaches the shard.
    s.write_all(&framed("echo me")).unwrap();
    assert!(contains(&read_until(&mut s, b"echo me"), b"echo me"));
    let total = settled(&running, |t| t.tcp_rx_messages >= 1);
    assert_eq!(
        (
            total.tcp_connects,
            total.tcp_accepted,
            total.tcp_connect_failures
        ),
        (1, 0, 0)
    );
    stop_within(running);
}

#[test]
fn a_refused_connect_reports_every_queued_message() {
    let (running, addr) = start(config());
    let (l, to) = listener();
    drop(l);
    let c = control();
    c.send_to(format!("send {to} 7").as_bytes(), addr).unwrap();
    c.send_to(format!("send {to} 8").as_bytes(), addr).unwrap();
    let mut reports = vec![datagram(&c), datagram(&c)];
    reports.sort();
    assert_eq!(reports, ["undelivered 7", "undelivered 8"]);
    let total = settled(&running, |t| t.tcp_tx_dropped >= 2);
    assert_eq!(
        (
            total.tcp_connect_failures,
            total.tcp_tx_unconnected,
            total.tcp_tx_dropped,
            total.tcp_connects
        ),
        (1, 2, 2, 0)
    );
    // The failed connection left nothing behind: the next message tries again.
    c.send_to(format!("send {to} 9").as_bytes(), addr).unwrap();
    assert_eq!(datagram(&c), "undelivered 9");
    assert_eq!(
        settled(&running, |t| t.tcp_connect_failures >= 2).tcp_connect_failures,
        2
    );
    stop_within(running);
}

#[test]
fn a_connect_that_gets_no_answer_times_out() {
    let (running, addr) = start(config());
    // A listener that never accepts, with its queue full: the kernel drops further SYNs.
    let full = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    full.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    full.listen(0).unwrap();
    let to = full.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&to, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(_) => break,
        }
    }
    let c = control();
    let t0 = Instant::now();
    c.send_to(format!("send {to} 11").as_bytes(), addr).unwrap();
    assert_eq!(datagram(&c), "undelivered 11");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "gave up early: {waited:?}"
    );
    assert_eq!(
        settled(&running, |t| t.tcp_connect_failures >= 1).tcp_connect_failures,
        1
    );
    stop_within(running);
}

#[test]
fn an_inbound_connection_from_the_address_is_reused() {
    let (running, addr) = start(config());
    let mut s = connect(addr);
    s.write_all(&framed("hi")).unwrap();
    read_until(&mut s, b"hi");
    let from = s.local_addr().unwrap();
    let c = control();
    c.send_to(format!("send {from} 12").as_bytes(), addr)
        .unwrap();
    assert!(contains(&read_until(&mut s, b"hello 12"), b"hello 12"));
    let total = settled(&running, |t| t.tcp_tx_bytes > 0);
    assert_eq!((total.tcp_connects, total.tcp_accepted), (0, 1));
    stop_within(running);
}

#[test]
fn an_aliased_connection_takes_requests_for_its_sent_by() {
    let (running, addr) = start(config());
    let (l, sent_by) = listener();
    let mut s = connect(addr);
    s.write_all(&framed(&format!("alias {sent_by}"))).unwrap();
    read_until(&mut s, b"aliased");
    let c = control();
    c.send_to(format!("send {sent_by} 13").as_bytes(), addr)
        .unwrap();
    assert!(contains(&read_until(&mut s, b"hello 13"), b"hello 13"));
    assert!(
        accept(&l, Duration::from_millis(200)).is_none(),
        "no new connection"
    );
    // Once the aliased connection is gone, the address gets a connection of its own.
    drop(s);
    settled(&running, |t| t.tcp_closed >= 1);
    c.send_to(format!("send {sent_by} 14").as_bytes(), addr)
        .unwrap();
    let mut own = accept(&l, WAIT).expect("a new connection");
    assert!(contains(&read_until(&mut own, b"hello 14"), b"hello 14"));
    stop_within(running);
}

#[test]
fn a_response_whose_connection_closed_goes_to_its_fallback_address() {
    let (running, addr) = start(config());
    let (l, sent_by) = listener();
    let mut s = connect(addr);
    s.write_all(&framed(&format!("later 200 {sent_by}")))
        .unwrap();
    drop(s);
    let mut fallback = accept(&l, WAIT).expect("Drongo connects to the Via address");
    assert!(contains(&read_until(&mut fallback, b"fired"), b"fired"));
    let total = settled(&running, |t| t.tcp_connects >= 1);
    assert_eq!((total.tcp_connects, total.tcp_tx_dropped), (1, 0));
    stop_within(running);
}

#[test]
fn a_kept_flow_is_pinged_and_closed_once_it_stops_answering() {
    let (running, addr) = start(config());
    let c = control();
    c.send_to(b"report to me", addr).unwrap();
    datagram(&c);
    let mut s = connect(addr);
    s.write_all(&framed("keep")).unwrap();
    read_until(&mut s, b"kept");
    // Answered pings keep it open past the idle timeout of a connection nobody keeps.
    for _ in 0..2 {
        assert_eq!(read_until(&mut s, b"\r\n\r\n"), b"\r\n\r\n");
        s.write_all(b"\r\n").unwrap();
    }
    let t0 = Instant::now();
    assert!(closed_by_server(&mut s), "an unanswered ping ends the flow");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(datagram(&c), "flow failed");
    let total = settled(&running, |t| t.tcp_keepalive_timeouts >= 1);
    assert_eq!(
        (total.tcp_keepalive_timeouts, total.tcp_idle_timeouts),
        (1, 0)
    );
    assert!(total.tcp_pings >= 3, "{total:?}");
    stop_within(running);
}

#[test]
fn an_outbound_connection_is_pinged_and_dropped_when_silent() {
    let (running, addr) = start(config());
    let (l, to) = listener();
    let c = control();
    c.send_to(format!("send {to} 15").as_bytes(), addr).unwrap();
    let mut s = accept(&l, WAIT).expect("Drongo connects");
    let got = read_until(&mut s, b"hello 15\r\nContent-Length: 0\r\n\r\n\r\n\r\n");
    assert!(
        got.ends_with(b"\r\n\r\n\r\n\r\n"),
        "a ping follows: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(closed_by_server(&mut s));
    assert_eq!(datagram(&c), "flow failed");
    assert_eq!(
        settled(&running, |t| t.tcp_keepalive_timeouts >= 1).tcp_keepalive_timeouts,
        1
    );
    stop_within(running);
}

#[test]
fn connections_past_the_per_address_cap_are_refused() {
    let mut config = config();
    config.tcp.max_connections_per_ip = 2;
    let (running, addr) = start(config);
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    for s in &mut held {
        s.write_all(&framed("in")).unwrap();
        read_until(s, b"in");
    }
    let mut third = connect(addr);
    assert!(closed_by_server(&mut third));
    // Another address is not affected.
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    other
        .bind(&"127.0.0.2:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    other.connect_timeout(&addr.into(), WAIT).unwrap();
    let mut other: TcpStream = other.into();
    other.set_read_timeout(Some(WAIT)).unwrap();
    other.write_all(&framed("from elsewhere")).unwrap();
    assert!(contains(
        &read_until(&mut other, b"from elsewhere"),
        b"from elsewhere"
    ));
    let total = settled(&running, |t| t.tcp_refused_per_ip >= 1);
    assert_eq!(
        (
            total.tcp_refused_per_ip,
            total.tcp_refused,
            total.tcp_accepted
        ),
        (1, 0, 3)
    );
    stop_within(running);
}
