//! Cross-shard handoff on real loopback sockets (DESIGN §3), with 1 and 2 shards.
//!
//! A phone whose ACK leaves from another port than its INVITE (a NAT that rebinds, a UA with
//! separate sockets) may reach another shard than the one that sent the 404; the To tag of
//! the 404 names that shard, so the ACK is handed to it and absorbed by the very server
//! transaction that sent the 404, whose retransmissions then stop (RFC 3261 §17.2.1). Over
//! TCP, a request inside a dialog arriving on another shard's connection is answered by the
//! owner and written by the connection's shard. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use drongo::config::Config;
use drongo::core::ids;
use drongo::core::sip::{Framing, HeaderName, Message};
use drongo::shell::{self, RunningShards, ShardStats};

const WAIT: Duration = Duration::from_secs(10);

/// `shards` shards on `127.0.0.1:0` with T1 = 50 ms, so Timer G resends a 404 at 50, 150,
/// 350, 750 ms ... until its ACK.
fn start(shards: usize) -> (RunningShards, SocketAddr) {
    let cpus = shell::process_cpus().expect("affinity mask");
    let mut config = Config::default();
    config.sip.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.shards.cores = (0..shards).map(|i| cpus[i % cpus.len()]).collect();
    config.sip.timers.t1_ms = 50;
    config.udp.recv_buffer = 256 << 10;
    config.udp.send_buffer = 256 << 10;
    let running = shell::start(config).expect("shards start");
    let addr = running.local_addrs()[0];
    (running, addr)
}

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    s
}

fn request(method: &str, server: SocketAddr, me: SocketAddr, branch: &str, to_tag: &str) -> String {
    let cseq = if method == "ACK" { "1 ACK" } else { "1 INVITE" };
    let cseq = if method == "OPTIONS" || method == "BYE" {
        format!("2 {method}")
    } else {
        cseq.to_string()
    };
    // OPTIONS to Drongo itself; the rest to a user of a domain not served here, answered
    // 404 by whichever shard receives it (a user of Drongo's own would go to the shard that
    // holds its AoR).
    let uri = if method == "OPTIONS" {
        format!("sip:{server}")
    } else {
        "sip:nobody@example.org".to_string()
    };
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch={branch};rport\r\n\
         From: <sip:phone@{me}>;tag=ph\r\n\
         To: <{uri}>{to_tag}\r\n\
         Call-ID: {branch}\r\n\
         CSeq: {cseq}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The next datagram on `s` within `WAIT`.
fn receive(s: &UdpSocket) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            return buf[..n].to_vec();
        }
    }
    panic!("no answer within {WAIT:?}");
}

/// How many datagrams wait on `s` now (taking them).
fn take_waiting(s: &UdpSocket) -> usize {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while s.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    s.set_nonblocking(false).unwrap();
    n
}

/// The To tag of a response Drongo sent, and the shard it names.
fn to_tag(response: &[u8]) -> (String, u16) {
    let msg = Message::parse(response, Framing::Datagram).expect("answers parse");
    let to = msg.header(HeaderName::To).expect("To");
    let tag = &to[to.len() - ids::TAG_LEN..];
    let shard = ids::tag_shard(tag).expect("a tag Drongo minted");
    (String::from_utf8(tag.to_vec()).unwrap(), shard)
}

/// The shard the kernel's hash sends `s` to: the shard whose tag answers an OPTIONS from it.
fn shard_of(s: &UdpSocket, server: SocketAddr, probe: &str) -> u16 {
    let me = s.local_addr().unwrap();
    let options = request("OPTIONS", server, me, probe, "");
    s.send_to(options.as_bytes(), server).unwrap();
    let answer = receive(s);
    assert!(answer.starts_with(b"SIP/2.0 200 "));
    to_tag(&answer).1
}

/// A fresh socket whose datagrams reach shard `shard`.
fn socket_on(server: SocketAddr, shard: u16, probe: &str) -> UdpSocket {
    for attempt in 0..256 {
        let s = socket();
        if shard_of(&s, server, &format!("{probe}-{attempt}")) == shard {
            return s;
        }
    }
    panic!("no port reached shard {shard}");
}

/// The counters once `done` holds for their sum, or after `WAIT`.
fn settled(running: &RunningShards, done: impl Fn(&ShardStats) -> bool) -> Vec<ShardStats> {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = running.stats();
        if done(&ShardStats::total(&stats)) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Calls that get a 404, each ACKed from another socket: on `shards` shards, half of the ACKs
/// reach the shard that did not send the 404. Every ACK is absorbed by its transaction, the
/// 404s stop, and each crossing is counted by both shards. One more call, never ACKed, shows
/// that the 404 would otherwise have gone on in the same window.
fn acks_from_other_ports(shards: usize) {
    const CALLS: usize = 8;
    let (running, server) = start(shards);
    let mut calls = Vec::new();
    let mut crossings = vec![0u64; shards];
    for i in 0..CALLS {
        let invite_socket = socket();
        let me = invite_socket.local_addr().unwrap();
        let branch = format!("z9hG4bK-ho-{shards}-{i}");
        let invite = request("INVITE", server, me, &branch, "");
        invite_socket.send_to(invite.as_bytes(), server).unwrap();
        let answer = receive(&invite_socket);
        assert!(answer.starts_with(b"SIP/2.0 404 "));
        let (tag, owner) = to_tag(&answer);
        // Half the ACKs from a port the kernel sends to the other shard, half to the owner.
        let cross = shards > 1 && i % 2 == 0;
        let ack_shard = if cross { 1 - owner } else { owner };
        let ack_socket = socket_on(server, ack_shard, &format!("{branch}-probe"));
        if cross {
            crossings[usize::from(owner)] += 1;
        }
        let ack = request("ACK", server, me, &branch, &format!(";tag={tag}"));
        ack_socket.send_to(ack.as_bytes(), server).unwrap();
        calls.push(invite_socket);
    }
    let control = socket();
    let me = control.local_addr().unwrap();
    let invite = request("INVITE", server, me, &format!("z9hG4bK-ho-{shards}-c"), "");
    control.send_to(invite.as_bytes(), server).unwrap();
    assert!(receive(&control).starts_with(b"SIP/2.0 404 "));

    let stats = settled(&running, |t| t.absorbed >= CALLS as u64);
    let total = ShardStats::total(&stats);
    assert_eq!(
        total.absorbed, CALLS as u64,
        "every ACK found its transaction"
    );
    // Copies sent before an ACK arrived may still be on their way; none come after. The
    // unACKed control gets copies at 150, 350 and 750 ms, inside the window.
    std::thread::sleep(Duration::from_millis(100));
    for s in &calls {
        take_waiting(s);
    }
    std::thread::sleep(Duration::from_millis(900));
    let after: usize = calls.iter().map(take_waiting).sum();
    let control_copies = take_waiting(&control);
    assert_eq!(after, 0, "the 404s stopped after their ACKs");
    assert!(
        control_copies >= 1,
        "an unACKed 404 is resent in the same window"
    );
    for (shard, s) in stats.iter().enumerate() {
        let other = &stats[(shard + 1) % shards];
        let expected_in = crossings[shard];
        let expected_out = if shards > 1 {
            crossings[(shard + 1) % shards]
        } else {
            0
        };
        assert_eq!(
            (s.handoff_in, s.handoff_out),
            (expected_in, expected_out),
            "shard {shard}: {s:?}, other: {other:?}"
        );
        assert_eq!((s.handoff_full, s.handoff_closed), (0, 0));
    }
    assert_eq!(ShardStats::total(&stats).panics, 0);
    running.stop().unwrap();
}

#[test]
fn one_shard_absorbs_acks_from_other_ports() {
    acks_from_other_ports(1);
}

#[test]
fn two_shards_hand_acks_to_the_transaction_that_sent_the_404() {
    acks_from_other_ports(2);
}

/// Reads one whole SIP message (no body expected) from `c`.
fn read_message(c: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        let n = c.read(&mut byte).expect("answer");
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&got)
        );
        got.push(byte[0]);
    }
    got
}

fn tcp_request(method: &str, server: SocketAddr, branch: &str, to_tag: &str) -> String {
    format!(
        "{method} sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:5999;branch={branch}\r\n\
         From: <sip:phone@127.0.0.1>;tag=ph\r\n\
         To: <sip:{server}>{to_tag}\r\n\
         Call-ID: {branch}\r\n\
         CSeq: 1 {method}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A connection and the shard that accepted it (named by the tag of its OPTIONS answer).
fn connect(server: SocketAddr, n: usize) -> (TcpStream, String, u16) {
    let mut c = TcpStream::connect_timeout(&server, WAIT).expect("connect");
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.set_write_timeout(Some(WAIT)).unwrap();
    let options = tcp_request("OPTIONS", server, &format!("z9hG4bK-tcp-{n}"), "");
    c.write_all(options.as_bytes()).unwrap();
    let answer = read_message(&mut c);
    assert!(answer.starts_with(b"SIP/2.0 200 "));
    let (tag, shard) = to_tag(&answer);
    (c, tag, shard)
}

/// A BYE with a To tag shard A minted, on a connection shard B accepted: B hands it to A,
/// A's answer names B's connection, so it goes back to B, which writes it.
#[test]
fn an_in_dialog_request_on_another_shards_connection_is_answered_there() {
    let (running, server) = start(2);
    let (_a, tag, owner) = connect(server, 0);
    let mut other = None;
    for n in 1..64 {
        let (c, _, shard) = connect(server, n);
        if shard != owner {
            other = Some(c);
            break;
        }
    }
    let mut b = other.expect("a connection on the other shard");
    let bye = tcp_request("BYE", server, "z9hG4bK-tcp-bye", &format!(";tag={tag}"));
    b.write_all(bye.as_bytes()).unwrap();
    let answer = read_message(&mut b);
    assert!(
        answer.starts_with(b"SIP/2.0 481 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(to_tag(&answer).1, owner, "the tag is the owner's");
    let stats = settled(&running, |t| t.handoff_in >= 2);
    let (o, b) = (&stats[usize::from(owner)], &stats[usize::from(1 - owner)]);
    assert_eq!(
        (o.handoff_in, o.handoff_out),
        (1, 1),
        "the BYE in, its answer out"
    );
    assert_eq!(
        (b.handoff_in, b.handoff_out),
        (1, 1),
        "the BYE out, its answer in"
    );
    running.stop().unwrap();
}

/// A REGISTER over `c` for alice with an outbound flow (RFC 5626); returns the shard that
/// answered it, the one that holds alice's AoR.
fn register_flow(c: &mut TcpStream, server: SocketAddr, cseq: u32) -> u16 {
    let request = format!(
        "REGISTER sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-flow-{cseq}\r\n\
         From: <sip:alice@127.0.0.1>;tag=fl\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: flow-reg\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Supported: outbound\r\n\
         Contact: <sip:alice@127.0.0.1:5999;transport=tcp;ob>\
         ;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";reg-id=1\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    c.write_all(request.as_bytes()).unwrap();
    let answer = read_message(c);
    assert!(
        answer.starts_with(b"SIP/2.0 200 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(String::from_utf8_lossy(&answer).contains("\r\nRequire: outbound\r\n"));
    to_tag(&answer).1
}

/// An INVITE for alice from `caller`; returns the first answer's status.
fn call_alice(caller: &UdpSocket, server: SocketAddr, n: u32) -> u16 {
    let me = caller.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:alice@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-flowcall-{n};rport\r\n\
         From: <sip:carol@{me}>;tag=c{n}\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: flowcall-{n}\r\n\
         CSeq: 1 INVITE\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    caller.send_to(invite.as_bytes(), server).unwrap();
    let answer = receive(caller);
    std::str::from_utf8(&answer[8..11])
        .unwrap()
        .parse()
        .unwrap()
}

/// RFC 5626 across shards: a phone registers an outbound flow on a connection one shard
/// accepted while the other holds its AoR. The holder has the connection's shard keep it
/// open (it outlives the idle timeout), a call reaches the phone over it, and once the phone
/// closes it the holder hears that the flow failed: calls get 480, with no attempt to reach
/// the phone some other way.
#[test]
fn an_outbound_flow_on_another_shards_connection_is_kept_and_its_end_reported() {
    let cpus = shell::process_cpus().expect("affinity mask");
    let mut config = Config::default();
    config.sip.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.shards.cores = (0..2).map(|i| cpus[i % cpus.len()]).collect();
    config.tcp.idle_timeout_secs = 1;
    config.tcp.header_timeout_secs = 1;
    let running = shell::start(config).expect("shards start");
    let server = running.local_addrs()[0];
    // Connections until one lands on the shard that does not hold alice.
    let mut held = Vec::new();
    let mut flow = None;
    for n in 0..64 {
        let (mut c, _, shard) = connect(server, 100 + n);
        let holder = register_flow(&mut c, server, n as u32 + 1);
        if shard != holder {
            flow = Some(c);
            break;
        }
        held.push(c);
    }
    let mut flow = flow.expect("a connection on the other shard");
    // Longer than the idle timeout: only a kept connection is still open.
    std::thread::sleep(Duration::from_millis(1_500));
    let caller = socket();
    assert_eq!(call_alice(&caller, server, 1), 100);
    let invite = read_message(&mut flow);
    assert!(
        invite.starts_with(b"INVITE sip:alice@127.0.0.1:5999;transport=tcp;ob SIP/2.0\r\n"),
        "{}",
        String::from_utf8_lossy(&invite)
    );
    drop(flow);
    drop(held);
    let deadline = Instant::now() + WAIT;
    let mut n = 2;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let status = call_alice(&caller, server, n);
        if status == 480 {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} after {WAIT:?}");
        n += 1;
    }
    assert_eq!(ShardStats::total(&running.stats()).panics, 0);
    running.stop().unwrap();
}
