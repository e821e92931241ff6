//! SIP over TCP on loopback shards: Drongo started in-process on `127.0.0.1:0`, plain std
//! `TcpStream` clients, answers read back from the same connection, counters checked, clean
//! stop. Every read and write has a timeout, so no test can hang.

use drongo::config::Config;
use drongo::core::sip::framer::FrameError;
use drongo::shell::{self, RunningShards, ShardStats};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// `n` shards on the CPUs this process may use (wrapping if it has fewer than `n`), listening
/// on `127.0.0.1:0` with a one-second header timeout.
fn config(shards: usize) -> Config {
    let cpus = shell::process_cpus().expect("affinity mask");
    let mut config = Config::default();
    config.sip.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.shards.cores = (0..shards).map(|i| cpus[i % cpus.len()]).collect();
    config.udp.recv_buffer = 256 << 10;
    config.udp.send_buffer = 256 << 10;
    config.tcp.header_timeout_secs = 1;
    config
}

fn start(shards: usize) -> (RunningShards, SocketAddr) {
    let running = shell::start(config(shards)).expect("start");
    let addr = running.local_addrs()[0];
    assert_ne!(addr.port(), 0);
    (running, addr)
}

/// Stops the shards on another thread so a hang fails the test instead of stalling it.
fn stop_within(running: RunningShards) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(running.stop());
    });
    match rx.recv_timeout(WAIT) {
        Ok(result) => result.expect("shards stop cleanly"),
        Err(_) => panic!("shards did not stop within {WAIT:?}"),
    }
}

/// The summed counters once `done` holds for them, or after `WAIT`.
fn settled(running: &RunningShards, done: impl Fn(&ShardStats) -> bool) -> ShardStats {
    let deadline = Instant::now() + WAIT;
    loop {
        let total = ShardStats::total(&running.stats());
        if done(&total) || Instant::now() > deadline {
            return total;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn options(port: u16, call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:127.0.0.1:{port}>\r\n\
         From: <sip:tester@127.0.0.1>;tag=1\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A client connection that reads whole SIP messages back.
struct Peer {
    stream: TcpStream,
    /// Bytes read past the last message returned.
    buf: Vec<u8>,
}

impl Peer {
    fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Peer {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads more bytes into the buffer; false on end of file or error.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 << 10];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next whole message (header section plus Content-Length body).
    fn message(&mut self) -> Vec<u8> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        let name = name.trim();
                        (name.eq_ignore_ascii_case("content-length")
                            || name.eq_ignore_ascii_case("l"))
                        .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                let total = end + 4 + length;
                if self.buf.len() >= total {
                    return self.buf.drain(..total).collect();
                }
            }
            assert!(
                self.fill(),
                "connection ended before a whole message; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// The status code of the next message, which must be a response.
    fn status(&mut self) -> u16 {
        let msg = self.message();
        let text = String::from_utf8_lossy(&msg);
        let line = text.lines().next().unwrap_or_default();
        let code = line
            .strip_prefix("SIP/2.0 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|c| c.parse().ok());
        code.unwrap_or_else(|| panic!("not a response: {text:?}"))
    }

    /// True once the server closed the connection (end of file or reset) within `WAIT`; what
    /// came before the close is kept in `buf`.
    fn closed_by_server(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        let mut chunk = [0u8; 16 << 10];
        while Instant::now() < deadline {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
        false
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A fresh connection's OPTIONS gets 200: the shard still serves.
fn still_serving(addr: SocketAddr, tag: &str) {
    let mut peer = Peer::connect(addr);
    peer.send(&options(addr.port(), tag));
    assert_eq!(peer.status(), 200, "after {tag}");
}

#[test]
fn options_gets_200_on_the_same_connection() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    peer.send(&options(addr.port(), "one"));
    assert_eq!(peer.status(), 200);
    // The connection stays open for the next request.
    peer.send(&options(addr.port(), "two"));
    assert_eq!(peer.status(), 200);
    let total = settled(&running, |t| t.tcp_rx_messages >= 2);
    assert_eq!((total.tcp_accepted, total.tcp_rx_messages), (1, 2));
    assert_eq!(total.rx_datagrams, 0, "nothing came over UDP");
    stop_within(running);
}

#[test]
fn two_shards_share_the_tcp_port() {
    let (running, addr) = start(2);
    assert_eq!(running.local_addrs().len(), 1);
    let mut peers: Vec<Peer> = (0..32).map(|_| Peer::connect(addr)).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(&options(addr.port(), &format!("spread-{i}")));
    }
    for peer in &mut peers {
        assert_eq!(peer.status(), 200);
    }
    let stats = running.stats();
    let accepted: Vec<u64> = stats.iter().map(|s| s.tcp_accepted).collect();
    assert_eq!(accepted.iter().sum::<u64>(), 32);
    assert!(
        accepted.iter().all(|&n| n > 0),
        "SO_REUSEPORT spreads connections over both shards: {accepted:?}"
    );
    stop_within(running);
}

#[test]
fn two_pipelined_requests_in_one_write_get_two_answers() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    let mut both = options(addr.port(), "first");
    both.extend_from_slice(&options(addr.port(), "second"));
    peer.send(&both);
    let first = peer.message();
    let second = peer.message();
    for (msg, call_id) in [(first, "first"), (second, "second")] {
        let text = String::from_utf8_lossy(&msg);
        assert!(text.starts_with("SIP/2.0 200"), "{text}");
        assert!(text.contains(&format!("Call-ID: {call_id}")), "{text}");
    }
    stop_within(running);
}

#[test]
fn a_request_written_one_byte_at_a_time_is_answered() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    for byte in options(addr.port(), "dribble") {
        peer.send(&[byte]);
    }
    assert_eq!(peer.status(), 200);
    stop_within(running);
}

#[test]
fn a_keepalive_ping_gets_a_pong() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    peer.send(b"\r\n\r\n");
    let mut pong = [0u8; 2];
    peer.stream.read_exact(&mut pong).expect("pong");
    assert_eq!(&pong, b"\r\n");
    // A lone CRLF (a pong from the peer) is absorbed; requests still work.
    peer.send(b"\r\n");
    peer.send(&options(addr.port(), "after-ping"));
    assert_eq!(peer.status(), 200);
    stop_within(running);
}

#[test]
fn a_bad_content_length_closes_only_its_connection() {
    let (running, addr) = start(1);
    let mut good = Peer::connect(addr);
    good.send(&options(addr.port(), "good-1"));
    assert_eq!(good.status(), 200);

    let mut bad = Peer::connect(addr);
    let request = String::from_utf8(options(addr.port(), "bad"))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: -999");
    bad.send(request.as_bytes());
    assert!(bad.closed_by_server(), "the connection is closed");
    assert!(bad.buf.is_empty(), "and nothing is answered on it");

    good.send(&options(addr.port(), "good-2"));
    assert_eq!(good.status(), 200);
    let total = settled(&running, |t| t.tcp_closed >= 1);
    assert_eq!(total.tcp_frame_error(FrameError::BadContentLength), 1);
    stop_within(running);
}

#[test]
fn a_request_without_content_length_closes_the_connection() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    let request = String::from_utf8(options(addr.port(), "no-length"))
        .unwrap()
        .replace("Content-Length: 0\r\n", "");
    peer.send(request.as_bytes());
    assert!(peer.closed_by_server());
    let total = settled(&running, |t| t.tcp_closed >= 1);
    assert_eq!(total.tcp_frame_error(FrameError::MissingContentLength), 1);
    still_serving(addr, "no-length");
    stop_within(running);
}

#[test]
fn an_oversized_header_section_closes_the_connection() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    let mut request = format!("OPTIONS sip:127.0.0.1:{} SIP/2.0\r\n", addr.port()).into_bytes();
    while request.len() <= 70_000 {
        request.extend_from_slice(b"X-Padding: 0123456789abcdef0123456789abcdef\r\n");
    }
    // The server may close while the tail is still being written.
    let _ = peer.stream.write_all(&request);
    assert!(peer.closed_by_server());
    let total = settled(&running, |t| t.tcp_closed >= 1);
    assert_eq!(total.tcp_frame_error(FrameError::HeaderTooLarge), 1);
    still_serving(addr, "oversized");
    stop_within(running);
}

#[test]
fn a_header_section_that_stalls_is_cut_off_after_the_header_timeout() {
    let (running, addr) = start(1);
    let mut peer = Peer::connect(addr);
    let request = options(addr.port(), "slow");
    peer.send(&request[..request.len() / 2]);
    let t0 = Instant::now();
    assert!(peer.closed_by_server());
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "cut off early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "cut off late: {waited:?}");
    let total = settled(&running, |t| t.tcp_closed >= 1);
    assert_eq!((total.tcp_header_timeouts, total.tcp_idle_timeouts), (1, 0));
    still_serving(addr, "slow");
    stop_within(running);
}

fn rfc4475(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/rfc4475")
        .join(format!("{name}.dat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn rfc4475_vectors_over_tcp() {
    let (running, addr) = start(2);
    // Answered with the status RFC 4475 asks for, on the connection they came on.
    for (name, want) in [
        ("badinv01", 400),
        ("badvers", 505),
        ("bext01", 420),
        ("unkscm", 416),
        ("insuf", 400),
    ] {
        let mut peer = Peer::connect(addr);
        peer.send(&rfc4475(name));
        assert_eq!(peer.status(), want, "{name}");
        still_serving(addr, name);
    }
    // Well formed, however tortuous: answered, but not as malformed.
    let mut peer = Peer::connect(addr);
    peer.send(&rfc4475("wsinv"));
    let status = peer.status();
    assert_ne!(status, 400, "wsinv");
    still_serving(addr, "wsinv");
    // The framing vectors lose the stream: the connection is closed, nothing answered.
    for (name, reason) in [
        ("ncl", FrameError::BadContentLength),
        ("mcl01", FrameError::DuplicateContentLength),
        ("inv2543", FrameError::MissingContentLength),
    ] {
        let before = ShardStats::total(&running.stats()).tcp_frame_error(reason);
        let mut peer = Peer::connect(addr);
        peer.send(&rfc4475(name));
        assert!(peer.closed_by_server(), "{name}");
        assert!(peer.buf.is_empty(), "{name} is not answered");
        let total = settled(&running, |t| t.tcp_frame_error(reason) > before);
        assert_eq!(total.tcp_frame_error(reason), before + 1, "{name}");
        still_serving(addr, name);
    }
    let total = ShardStats::total(&running.stats());
    assert_eq!(total.panics, 0);
    stop_within(running);
}

#[test]
fn stopping_with_idle_connections_open_is_prompt() {
    let (running, addr) = start(2);
    let mut peers: Vec<Peer> = (0..16).map(|_| Peer::connect(addr)).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(&options(addr.port(), &format!("idle-{i}")));
        assert_eq!(peer.status(), 200);
    }
    let t0 = Instant::now();
    stop_within(running);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t0.elapsed()
    );
    for peer in &mut peers {
        assert!(peer.closed_by_server());
    }
}

#[test]
fn a_tcp_port_taken_by_another_socket_is_a_clear_error() {
    // A plain listener (no SO_REUSEPORT) holds the TCP port; the UDP port is free.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let mut config = config(1);
    config.sip.listen = vec![taken];
    let err = shell::start(config).err().expect("start must fail");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    let text = err.to_string();
    assert!(text.contains("TCP listener"), "{text}");
    assert!(text.contains(&taken.to_string()), "{text}");
}

#[test]
fn ipv6_loopback_is_served_over_udp_and_tcp() {
    let mut config = config(2);
    config.sip.listen = vec!["[::1]:0".parse().unwrap()];
    let running = shell::start(config).expect("start on ::1");
    let addr = running.local_addrs()[0];
    assert!(addr.is_ipv6() && addr.port() != 0, "{addr}");
    let request = |transport: &str, branch: &str| {
        format!(
            "OPTIONS sip:[::1]:{port} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} [::1]:5999;branch=z9hG4bK-{branch}\r\n\
             Max-Forwards: 70\r\n\
             To: <sip:[::1]:{port}>\r\n\
             From: <sip:tester@[::1]>;tag=1\r\n\
             Call-ID: {branch}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            port = addr.port()
        )
        .into_bytes()
    };
    let udp = std::net::UdpSocket::bind("[::1]:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    udp.send_to(&request("UDP", "v6-udp"), addr).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = udp.recv_from(&mut buf).expect("an answer over UDP");
    assert_eq!(from, addr);
    assert!(buf[..n].starts_with(b"SIP/2.0 200 OK\r\n"));
    // Both shards listen on the address: several connections all get answers.
    for i in 0..8 {
        let mut peer = Peer::connect(addr);
        peer.send(&request("TCP", &format!("v6-tcp-{i}")));
        assert_eq!(peer.status(), 200);
    }
    let total = settled(&running, |t| t.tcp_rx_messages >= 8);
    assert_eq!((total.tcp_accepted, total.rx_datagrams), (8, 1));
    stop_within(running);
}
