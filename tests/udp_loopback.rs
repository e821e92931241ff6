//! Real shards on real loopback sockets (1 and 2 shards, IPv4 and IPv6): OPTIONS answered from
//! the address it reached, malformed input answered with the codec's status, every torture
//! vector graded as in the simulator, and the shards alive after each. Every wait is bounded.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use drongo::config::Config;
use drongo::core::sip::{Framing, Message};
use drongo::core::transaction::ServerKey;
use drongo::shell::{self, RunningShards};
use drongo::sim::Datagram;

mod common;
use common::{grade, manifest, vector};

fn start(listen: &str, shards: usize) -> RunningShards {
    let cpus = shell::process_cpus().expect("affinity mask");
    let mut config = Config::default();
    config.sip.listen = vec![listen.parse().unwrap()];
    config.shards.cores = (0..shards).map(|i| cpus[i % cpus.len()]).collect();
    config.udp.recv_buffer = 1 << 20;
    config.udp.send_buffer = 1 << 20;
    shell::start(config).expect("shards start")
}

fn options(to: SocketAddr, from: SocketAddr, n: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK-lo-{n};rport\r\n\
         From: <sip:probe@{from}>;tag=p{n}\r\n\
         To: <sip:{to}>\r\n\
         Call-ID: loopback-{n}\r\n\
         CSeq: {n} OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn socket_for(server: SocketAddr) -> UdpSocket {
    let any = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let s = UdpSocket::bind(any).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

/// Everything that arrives on `s` within `wait`.
fn collect(s: &UdpSocket, wait: Duration) -> Vec<Datagram> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            let to = s.local_addr().unwrap();
            got.push(Datagram {
                at: Duration::ZERO,
                from,
                to,
                bytes: buf[..n].to_vec(),
            });
        }
    }
    got
}

/// Sends an OPTIONS and waits for its 200, which must come from the server's address.
fn ping(server: SocketAddr, n: usize) {
    let s = socket_for(server);
    let me = s.local_addr().unwrap();
    s.send_to(&options(server, me, n), server).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            Instant::now() < deadline,
            "no answer to OPTIONS #{n} from {server}"
        );
        let Ok((len, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        assert_eq!(
            from, server,
            "the answer leaves from the address the request reached"
        );
        assert!(
            buf[..len].starts_with(b"SIP/2.0 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&buf[..len])
        );
        return;
    }
}

#[test]
fn one_shard_answers_options() {
    let running = start("127.0.0.1:0", 1);
    let server = running.local_addrs()[0];
    for n in 0..20 {
        ping(server, n);
    }
    running.stop().unwrap();
}

#[test]
fn two_shards_answer_options_from_many_sources() {
    let running = start("127.0.0.1:0", 2);
    let server = running.local_addrs()[0];
    for n in 0..100 {
        ping(server, n);
    }
    let stats = running.stats();
    assert_eq!(stats.len(), 2);
    running.stop().unwrap();
}

#[test]
fn ipv6_loopback_answers_options() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this host; the IPv4 tests cover the path");
        return;
    }
    let running = start("[::1]:0", 1);
    let server = running.local_addrs()[0];
    ping(server, 1);
    running.stop().unwrap();
}

/// Splits vectors into rounds in which no two share a server transaction key: several RFC
/// 4475 messages reuse one branch and sent-by, and a stateful server rightly treats the later
/// ones as retransmissions of the first (§17.2.3). Each round gets a fresh server.
fn rounds(corpus: &str, rows: &[(String, String)]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<(Vec<usize>, Vec<ServerKey>)> = Vec::new();
    for (i, (name, _)) in rows.iter().enumerate() {
        let bytes = vector(corpus, name);
        let key = Message::parse(&bytes, Framing::Datagram)
            .ok()
            .and_then(|m| ServerKey::of_request(&m));
        let slot = rounds
            .iter()
            .position(|(_, keys)| key.as_ref().is_none_or(|k| !keys.contains(k)));
        let slot = slot.unwrap_or_else(|| {
            rounds.push((Vec::new(), Vec::new()));
            rounds.len() - 1
        });
        rounds[slot].0.push(i);
        rounds[slot].1.extend(key);
    }
    rounds.into_iter().map(|(r, _)| r).collect()
}

/// Every RFC 4475 and RFC 5118 vector over real UDP, graded by the manifest; a ping after
/// each round shows the shards alive.
fn torture(shards: usize) {
    for corpus in ["rfc4475", "rfc5118"] {
        let rows = manifest(corpus);
        let mut failures = Vec::new();
        for round in rounds(corpus, &rows) {
            let running = start("127.0.0.1:0", shards);
            let server = running.local_addrs()[0];
            // One socket per vector, all sent at once, replies collected together.
            let sockets: Vec<UdpSocket> = round.iter().map(|_| socket_for(server)).collect();
            for (i, s) in round.iter().zip(&sockets) {
                s.send_to(&vector(corpus, &rows[*i].0), server).unwrap();
            }
            for (i, s) in round.iter().zip(&sockets) {
                let (name, expect) = &rows[*i];
                let replies = collect(s, Duration::from_millis(400));
                if !grade(expect, &replies) {
                    let first: Vec<String> = replies
                        .iter()
                        .map(|d| d.text().lines().next().unwrap_or_default().to_string())
                        .collect();
                    failures.push(format!("{corpus}/{name}: expected {expect}, got {first:?}"));
                }
            }
            ping(server, 9000);
            running.stop().unwrap();
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

#[test]
fn torture_vectors_over_udp_one_shard() {
    torture(1);
}

#[test]
fn torture_vectors_over_udp_two_shards() {
    torture(2);
}

#[test]
fn hostile_datagrams_leave_the_shards_alive() {
    let running = start("127.0.0.1:0", 2);
    let server = running.local_addrs()[0];
    let s = socket_for(server);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let base = options(server, s.local_addr().unwrap(), 1);
    for i in 0..2_000usize {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bytes = base.clone();
        match i % 4 {
            // Flip a few bytes.
            0 => {
                for k in 0..4 {
                    let at = (seed >> (k * 12)) as usize % bytes.len();
                    bytes[at] = (seed >> (k * 8)) as u8;
                }
            }
            // Cut short.
            1 => bytes.truncate(seed as usize % bytes.len()),
            // Random bytes.
            2 => {
                bytes = (0..(seed % 1400) as usize)
                    .map(|k| (seed >> (k % 57)) as u8)
                    .collect()
            }
            // Header lines repeated far past the index.
            _ => {
                let extra = "X-Flood: a\r\n".repeat(300);
                bytes = String::from_utf8(bytes)
                    .unwrap()
                    .replacen("Content-Length", &format!("{extra}Content-Length"), 1)
                    .into_bytes();
            }
        }
        s.send_to(&bytes, server).unwrap();
    }
    // Drain whatever came back, then the shards still answer.
    collect(&s, Duration::from_millis(300));
    ping(server, 2);
    running.stop().unwrap();
}

/// The running binary keeps a server transaction for its answers (RFC 3261 §17.2.1): an
/// INVITE for an unknown user, never ACKed, gets its 404 again at 0.5, 1.5, 3.5 s ...; the
/// ACK stops the retransmissions.
#[test]
fn invite_404_is_retransmitted_until_acked() {
    let running = start("127.0.0.1:0", 1);
    let server = running.local_addrs()[0];
    let s = socket_for(server);
    let me = s.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:nobody@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-retx-1;rport\r\n\
         From: <sip:probe@{me}>;tag=r1\r\n\
         To: <sip:nobody@{server}>\r\n\
         Call-ID: retx-1\r\n\
         CSeq: 1 INVITE\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let t0 = Instant::now();
    s.send_to(invite.as_bytes(), server).unwrap();
    let mut at = Vec::new();
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < Duration::from_millis(4_000) {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            assert!(buf[..n].starts_with(b"SIP/2.0 404 "));
            if first.is_empty() {
                first = buf[..n].to_vec();
            }
            assert_eq!(&buf[..n], &first[..], "each copy is the same response");
            at.push(t0.elapsed().as_millis() as i64);
        }
    }
    let expected = [0i64, 500, 1_500, 3_500];
    assert_eq!(at.len(), expected.len(), "copies at {at:?}");
    for (got, want) in at.iter().zip(expected) {
        assert!(
            (got - want).abs() < 250,
            "copies at {at:?}, expected about {expected:?}"
        );
    }
    let response = Message::parse(&first, Framing::Datagram).unwrap();
    let to = String::from_utf8_lossy(response.header(drongo::core::sip::HeaderName::To).unwrap())
        .into_owned();
    let ack = invite
        .replace("INVITE sip:", "ACK sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace(&format!("To: <sip:nobody@{server}>"), &format!("To: {to}"));
    s.send_to(ack.as_bytes(), server).unwrap();
    let after = collect(&s, Duration::from_millis(4_500));
    assert!(
        after.is_empty(),
        "retransmissions stop after the ACK: {} more",
        after.len()
    );
    running.stop().unwrap();
}
