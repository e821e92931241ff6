//! Real shards on real loopback sockets (1 and 2 shards, IPv4 and IPv6): OPTIONS answered from
//! the address it reached, malformed input answered with the codec's status, every torture
//! vector graded as in the simulator, and the shards alive after each. Every wait is bounded.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use drongo::config::Config;
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

/// Every RFC 4475 and RFC 5118 vector over real UDP, graded by the manifest; a ping after
/// each batch shows the shards alive.
fn torture(shards: usize) {
    let running = start("127.0.0.1:0", shards);
    let server = running.local_addrs()[0];
    for corpus in ["rfc4475", "rfc5118"] {
        let rows = manifest(corpus);
        // One socket per vector, all sent at once, replies collected together.
        let sockets: Vec<UdpSocket> = rows.iter().map(|_| socket_for(server)).collect();
        for ((name, _), s) in rows.iter().zip(&sockets) {
            s.send_to(&vector(corpus, name), server).unwrap();
        }
        let mut failures = Vec::new();
        for ((name, expect), s) in rows.iter().zip(&sockets) {
            let replies = collect(s, Duration::from_millis(200));
            if !grade(expect, &replies) {
                let first: Vec<String> = replies
                    .iter()
                    .map(|d| d.text().lines().next().unwrap_or_default().to_string())
                    .collect();
                failures.push(format!("{corpus}/{name}: expected {expect}, got {first:?}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        ping(server, 9000);
    }
    running.stop().unwrap();
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
