//! Whole shards on the simulator's virtual network and clock: what Drongo answers to OPTIONS,
//! to requests it cannot serve, and to malformed input, with 1 and 2 shards.

use std::net::SocketAddr;
use std::time::Duration;

use drongo::core::shard::ShardConfig;
use drongo::core::sip::headers::Vias;
use drongo::core::sip::{DropReason, Framing, HeaderName, Message};
use drongo::core::transaction::TimerConfig;
use drongo::sim::{Datagram, Sim};

const SERVER: &str = "127.0.0.1:5060";
const PHONE: &str = "192.0.2.10:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn sim() -> Sim {
    Sim::new(1, Sim::template(addr(SERVER)), 7)
}

/// A request with the headers RFC 3261 §8.1.1 requires; `extra` lines go before the blank line.
fn request(method: &str, uri: &str, via: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: {via}\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <{uri}>\r\n\
         Call-ID: sim-{method}-1@example.com\r\n\
         CSeq: 1 {method}\r\n\
         Max-Forwards: 70\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn options(extra: &str) -> Vec<u8> {
    request(
        "OPTIONS",
        "sip:127.0.0.1:5060",
        "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-o1;rport",
        extra,
    )
}

/// Sends one datagram from the phone and returns the single answer, parsed.
fn answer(sim: &mut Sim, bytes: &[u8]) -> Datagram {
    sim.send(addr(PHONE), addr(SERVER), bytes);
    let mut got = sim.take(addr(PHONE));
    assert_eq!(got.len(), 1, "one answer expected, got {got:?}");
    got.remove(0)
}

fn header(d: &Datagram, name: HeaderName) -> Option<&[u8]> {
    Message::parse(&d.bytes, Framing::Stream)
        .expect("answers parse")
        .header(name)
}

fn assert_silent(sim: &mut Sim, bytes: &[u8], reason: DropReason) {
    let before = sim.shards()[0].stats().dropped(reason);
    sim.send(addr(PHONE), addr(SERVER), bytes);
    assert!(sim.take_all().is_empty(), "no answer expected");
    assert_eq!(
        sim.shards()[0].stats().dropped(reason),
        before + 1,
        "{reason:?} counted"
    );
}

#[test]
fn options_to_drongo_gets_200_with_allow_accept_and_supported() {
    let mut sim = sim();
    let d = answer(&mut sim, &options(""));
    assert_eq!(d.status(), Some(200));
    assert_eq!(d.from, addr(SERVER));
    let allow = header(&d, HeaderName::Allow).unwrap();
    for m in ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"] {
        assert!(
            allow.windows(m.len()).any(|w| w == m.as_bytes()),
            "Allow lists {m}"
        );
    }
    assert_eq!(
        header(&d, HeaderName::Accept),
        Some(&b"application/sdp"[..])
    );
    assert!(header(&d, HeaderName::Supported).is_some());
    assert_eq!(
        header(&d, HeaderName::Server),
        None,
        "no fingerprint by default"
    );
    assert_eq!(
        header(&d, HeaderName::CallId),
        Some(&b"sim-OPTIONS-1@example.com"[..])
    );
    assert_eq!(header(&d, HeaderName::CSeq), Some(&b"1 OPTIONS"[..]));
}

#[test]
fn the_answer_fills_rport_and_received_and_tags_the_to() {
    let mut sim = sim();
    let d = answer(&mut sim, &options(""));
    let via = header(&d, HeaderName::Via).unwrap();
    assert_eq!(
        via,
        b"SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-o1;rport=40000;received=192.0.2.10"
    );
    let to = header(&d, HeaderName::To).unwrap();
    assert!(
        to.starts_with(b"<sip:127.0.0.1:5060>;tag="),
        "{}",
        String::from_utf8_lossy(to)
    );
    // A retransmission gets the same answer, To tag included.
    let again = answer(&mut sim, &options(""));
    assert_eq!(header(&again, HeaderName::To), Some(to));
}

/// §8.2.6.2: every Via value goes back, in order, the later values of the top line too, with
/// `rport` and `received` set in the first one only (§18.2.1, RFC 3581 §4); header lines in
/// their compact forms are copied as they came.
#[test]
fn the_answer_keeps_every_via_value_and_compact_forms() {
    let mut sim = sim();
    let req = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-c1;rport , SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-p1\r\n\
Via: SIP/2.0/UDP edge.example.com;branch=z9hG4bK-e1\r\n\
f: <sip:alice@example.com>;tag=a1\r\n\
t: <sip:127.0.0.1>\r\n\
i: compact-1@example.com\r\n\
CSeq: 7 OPTIONS\r\n\
l: 0\r\n\r\n";
    let d = answer(&mut sim, req);
    assert_eq!(d.status(), Some(200));
    let msg = Message::parse(&d.bytes, Framing::Stream).unwrap();
    let vias: Vec<Vec<u8>> = msg
        .headers()
        .all(HeaderName::Via)
        .flat_map(Vias::new)
        .map(|v| v.unwrap().as_bytes().to_vec())
        .collect();
    assert_eq!(
        vias,
        [
            &b"SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-c1;rport=40000;received=192.0.2.10"[..],
            b"SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-p1",
            b"SIP/2.0/UDP edge.example.com;branch=z9hG4bK-e1",
        ]
    );
    let to = msg.header(HeaderName::To).unwrap();
    assert!(to.starts_with(b"<sip:127.0.0.1>;tag="), "{to:?}");
    assert_eq!(
        msg.header(HeaderName::From),
        Some(&b"<sip:alice@example.com>;tag=a1"[..])
    );
    assert_eq!(
        msg.header(HeaderName::CallId),
        Some(&b"compact-1@example.com"[..])
    );
    assert_eq!(msg.header(HeaderName::CSeq), Some(&b"7 OPTIONS"[..]));
    // A retransmission gets the same bytes.
    let again = answer(&mut sim, req);
    assert_eq!(again.bytes, d.bytes);
}

#[test]
fn received_is_added_when_the_sent_by_is_not_the_source() {
    let mut sim = sim();
    let req = request(
        "OPTIONS",
        "sip:127.0.0.1",
        "SIP/2.0/UDP phone.example.com;branch=z9hG4bK-x",
        "",
    );
    let d = answer(&mut sim, &req);
    assert_eq!(
        header(&d, HeaderName::Via),
        Some(&b"SIP/2.0/UDP phone.example.com;branch=z9hG4bK-x;received=192.0.2.10"[..])
    );
    // Symmetric by default: back to the source port although the Via says 5060.
    assert_eq!(d.to, addr(PHONE));
}

#[test]
fn plain_rfc3261_response_routing_when_configured() {
    let template = ShardConfig {
        symmetric_response: false,
        ..Sim::template(addr(SERVER))
    };
    let mut sim = Sim::new(1, template, 7);
    let req = request(
        "OPTIONS",
        "sip:127.0.0.1",
        "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-p",
        "",
    );
    sim.send(addr(PHONE), addr(SERVER), &req);
    let got = sim.take_all();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].to,
        addr("192.0.2.10:5070"),
        "§18.2.2: received address, sent-by port"
    );
    // rport asks for the source port (RFC 3581).
    let req = request(
        "OPTIONS",
        "sip:127.0.0.1",
        "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-q;rport",
        "",
    );
    sim.send(addr(PHONE), addr(SERVER), &req);
    assert_eq!(sim.take_all()[0].to, addr(PHONE));
}

#[test]
fn requests_drongo_cannot_serve_yet_get_final_answers() {
    let mut sim = sim();
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-i1";
    let d = answer(
        &mut sim,
        &request("INVITE", "sip:nobody@127.0.0.1", &fresh(via), ""),
    );
    assert_eq!(d.status(), Some(404));
    assert!(header(&d, HeaderName::To)
        .unwrap()
        .windows(5)
        .any(|w| w == b";tag="));
    let d = answer(
        &mut sim,
        &request("REGISTER", "sip:127.0.0.1", &fresh(via), ""),
    );
    assert_eq!(d.status(), Some(404));
    let d = answer(&mut sim, &request("FROB", "sip:127.0.0.1", &fresh(via), ""));
    assert_eq!(d.status(), Some(501));
    assert!(header(&d, HeaderName::Allow).is_some(), "501 lists Allow");
    let d = answer(
        &mut sim,
        &request("CANCEL", "sip:nobody@127.0.0.1", &fresh(via), ""),
    );
    assert_eq!(d.status(), Some(481), "§9.2: CANCEL matching nothing");
    // A CANCEL for an INVITE already answered gets 200 and changes nothing (§9.2).
    let invite_via = fresh(via);
    let d = answer(
        &mut sim,
        &request("INVITE", "sip:nobody@127.0.0.1", &invite_via, ""),
    );
    assert_eq!(d.status(), Some(404));
    let d = answer(
        &mut sim,
        &request("CANCEL", "sip:nobody@127.0.0.1", &invite_via, ""),
    );
    assert_eq!(d.status(), Some(200));
}

#[test]
fn proxy_checks_before_forwarding() {
    let mut sim = sim();
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-m";
    let zero = request("OPTIONS", "sip:bob@example.com", &fresh(via), "").replace_mf(0);
    assert_eq!(answer(&mut sim, &zero).status(), Some(483));
    // Max-Forwards 0 to Drongo itself: OPTIONS is answered (RFC 3261 §16.3 step 3, §11).
    let to_us = options("").replace_mf(0);
    assert_eq!(answer(&mut sim, &to_us).status(), Some(200));
    let pr = request(
        "OPTIONS",
        "sip:bob@example.com",
        &fresh(via),
        "Proxy-Require: fooext, barext\r\n",
    );
    let d = answer(&mut sim, &pr);
    assert_eq!(d.status(), Some(420));
    assert_eq!(
        header(&d, HeaderName::Unsupported),
        Some(&b"fooext, barext"[..])
    );
    // Require is for the UAS: a proxy does not check it, Drongo as the UAS does.
    let req = request(
        "OPTIONS",
        "sip:bob@example.com",
        &fresh(via),
        "Require: fooext\r\n",
    );
    assert_eq!(answer(&mut sim, &req).status(), Some(404));
    assert_eq!(
        answer(
            &mut sim,
            &request(
                "OPTIONS",
                "sip:127.0.0.1:5060",
                &fresh(via),
                "Require: fooext\r\n"
            )
        )
        .status(),
        Some(420)
    );
    let scheme = request("OPTIONS", "mailto:bob@example.com", &fresh(via), "");
    assert_eq!(answer(&mut sim, &scheme).status(), Some(416));
}

#[test]
fn malformed_requests_get_the_codec_status() {
    let mut sim = sim();
    let ok = options("");
    let cases: [(Vec<u8>, u16); 7] = [
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace("SIP/2.0\r\n", "SIP/3.0\r\n")
                .into_bytes(),
            505,
        ),
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace("Call-ID: sim-OPTIONS-1@example.com\r\n", "")
                .into_bytes(),
            400,
        ),
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")
                .into_bytes(),
            400,
        ),
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS")
                .into_bytes(),
            400,
        ),
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace("Max-Forwards: 70", "Max-Forwards: 256")
                .into_bytes(),
            400,
        ),
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace("Content-Length: 0", "Content-Length: 10")
                .into_bytes(),
            400,
        ),
        (
            String::from_utf8(ok.clone())
                .unwrap()
                .replace(
                    "From: <sip:alice@example.com>",
                    "From: \"unterminated <sip:a@b>",
                )
                .into_bytes(),
            400,
        ),
    ];
    for (bytes, status) in cases {
        let d = answer(&mut sim, &bytes);
        assert_eq!(
            d.status(),
            Some(status),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
    assert_eq!(sim.shards()[0].stats().rejected, 7);
}

#[test]
fn what_cannot_be_answered_is_dropped_and_counted() {
    let mut sim = sim();
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-a";
    assert_silent(
        &mut sim,
        &request("ACK", "sip:nobody@127.0.0.1", via, ""),
        DropReason::StrayAck,
    );
    let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    assert_silent(&mut sim, response, DropReason::StrayResponse);
    assert_silent(
        &mut sim,
        b"SIP/2.0 999 Nope\r\n\r\n",
        DropReason::BadResponse,
    );
    assert_silent(&mut sim, b"\x16\x03\x01\x02\x00 hello", DropReason::Garbage);
    assert_silent(&mut sim, b"", DropReason::Garbage);
    let no_via = String::from_utf8(options("")).unwrap().replace(
        &format!(
            "Via: {}\r\n",
            "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-o1;rport"
        ),
        "",
    );
    assert_silent(&mut sim, no_via.as_bytes(), DropReason::Unanswerable);
    assert_silent(
        &mut sim,
        &options("User-Agent: friendly-scanner\r\n"),
        DropReason::Scanner,
    );
    let stats = sim.shards()[0].stats();
    assert_eq!(stats.accounted(), stats.received);
}

#[test]
fn the_virtual_clock_moves_only_when_told() {
    let mut sim = sim();
    assert_eq!(sim.elapsed(), Duration::ZERO);
    answer(&mut sim, &options(""));
    sim.advance(Duration::from_secs(64));
    assert_eq!(sim.elapsed(), Duration::from_secs(64));
    assert!(sim.take_all().is_empty(), "nothing is sent on its own");
}

#[test]
fn two_shards_share_the_load_and_answer_everyone() {
    let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 9);
    for port in 0..200u16 {
        let phone = SocketAddr::new(addr(PHONE).ip(), 30000 + port);
        let via = format!("SIP/2.0/UDP {phone};branch=z9hG4bK-{port};rport");
        let req = request("OPTIONS", "sip:127.0.0.1", &via, "");
        sim.send(phone, addr(SERVER), &req);
        let got = sim.take(phone);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status(), Some(200));
        let to = header(&got[0], HeaderName::To).unwrap();
        let tag = &to[to.len() - 19..];
        let shard = drongo::core::ids::tag_shard(tag).unwrap() as usize;
        assert_eq!(
            shard,
            sim.shard_for(phone, addr(SERVER)),
            "the To tag names the shard that answered"
        );
    }
    let (a, b) = (
        sim.shards()[0].stats().received,
        sim.shards()[1].stats().received,
    );
    assert_eq!(a + b, 200);
    assert!(a > 50 && b > 50, "both shards took a share: {a} / {b}");
}

/// The Via with a branch no other request of the test uses.
fn fresh(via: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    via.replacen("branch=z9hG4bK", &format!("branch=z9hG4bK{n}x"), 1)
}

trait ReplaceMf {
    fn replace_mf(self, mf: u32) -> Vec<u8>;
}

impl ReplaceMf for Vec<u8> {
    fn replace_mf(self, mf: u32) -> Vec<u8> {
        String::from_utf8(self)
            .unwrap()
            .replace("Max-Forwards: 70", &format!("Max-Forwards: {mf}"))
            .into_bytes()
    }
}

/// RFC 3261 §17.2.1 on the virtual clock: a 404 to an INVITE over UDP is resent at T1, 2T1,
/// 4T1 ... capped at T2, until Timer H (64*T1) gives up; an ACK stops it.
#[test]
fn invite_final_is_retransmitted_until_ack_or_timer_h() {
    let mut sim = sim();
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-inv1";
    let invite = request("INVITE", "sip:nobody@127.0.0.1", via, "");
    sim.send(addr(PHONE), addr(SERVER), &invite);
    sim.advance(Duration::from_secs(40));
    let sent: Vec<u128> = sim
        .take(addr(PHONE))
        .iter()
        .map(|d| d.at.as_millis())
        .collect();
    assert_eq!(
        sent,
        [0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        sim.shards()[0].server_transactions().invite(),
        0,
        "Timer H ended it"
    );

    // The same again, ACKed after the second copy: nothing more is sent.
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-inv2";
    let invite = request("INVITE", "sip:nobody@127.0.0.1", via, "");
    sim.send(addr(PHONE), addr(SERVER), &invite);
    sim.advance(Duration::from_millis(600));
    let got = sim.take(addr(PHONE));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].bytes, got[1].bytes, "the same response each time");
    let counts = sim.shards()[0].server_transactions();
    assert_eq!(
        counts.iter().find(|(s, _)| *s == "invite.completed"),
        Some(("invite.completed", 1)),
        "{counts:?}"
    );
    let to = header(&got[0], HeaderName::To).unwrap().to_vec();
    let ack = String::from_utf8(request("ACK", "sip:nobody@127.0.0.1", via, ""))
        .unwrap()
        .replace(
            "To: <sip:nobody@127.0.0.1>",
            &format!("To: {}", String::from_utf8_lossy(&to)),
        );
    sim.send(addr(PHONE), addr(SERVER), ack.as_bytes());
    sim.advance(Duration::from_millis(10));
    let counts = sim.shards()[0].server_transactions();
    assert_eq!(
        counts.by_state,
        [0, 0, 1, 0, 0, 0, 0],
        "Confirmed until Timer I: {counts:?}"
    );
    sim.advance(Duration::from_secs(40));
    assert!(
        sim.take(addr(PHONE)).is_empty(),
        "the ACK stopped the retransmissions"
    );
    let stats = sim.shards()[0].stats();
    assert_eq!(stats.absorbed, 1, "the ACK went to its transaction");
    assert_eq!(stats.accounted(), stats.received);
    assert_eq!(
        sim.shards()[0].server_transactions().invite(),
        0,
        "Timer I ended it"
    );
}

/// The same ladder with `[sip.timers]` set to T1 = 100 ms and T2 = 400 ms: Timer G resends
/// at T1, 2T1, 4T1, then every T2, and Timer H gives up at 64*T1 = 6.4 s.
#[test]
fn invite_final_retransmits_follow_the_configured_t1_and_t2() {
    let template = ShardConfig {
        timers: TimerConfig {
            t1: Duration::from_millis(100),
            t2: Duration::from_millis(400),
            ..TimerConfig::RFC
        },
        timer_tick: Duration::from_millis(10),
        ..Sim::template(addr(SERVER))
    };
    let mut sim = Sim::new(1, template, 7);
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-t1-100";
    let invite = request("INVITE", "sip:nobody@127.0.0.1", via, "");
    sim.send(addr(PHONE), addr(SERVER), &invite);
    sim.advance(Duration::from_millis(1_000));
    let sent: Vec<u128> = sim
        .take(addr(PHONE))
        .iter()
        .map(|d| d.at.as_millis())
        .collect();
    assert_eq!(sent, [0, 100, 300, 700], "T1 doubling from 100 ms");
    assert_eq!(sim.shards()[0].server_transactions().invite(), 1);

    sim.advance(Duration::from_millis(5_399));
    let sent: Vec<u128> = sim
        .take(addr(PHONE))
        .iter()
        .map(|d| d.at.as_millis())
        .collect();
    let capped: Vec<u128> = (0..14).map(|i| 1_100 + 400 * i).collect();
    assert_eq!(sent, capped, "every T2 = 400 ms from then on");
    assert_eq!(
        sim.shards()[0].server_transactions().invite(),
        1,
        "alive just before Timer H"
    );
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        sim.shards()[0].server_transactions().invite(),
        0,
        "Timer H (64*T1 = 6.4 s) ended it"
    );
    sim.advance(Duration::from_secs(10));
    assert!(sim.take_all().is_empty(), "nothing after Timer H");
    let stats = sim.shards()[0].stats();
    assert_eq!(stats.resent, 17);
    assert_eq!(stats.accounted(), stats.received);
}

/// `timer_tick` is the wheel's resolution: with a 30 ms tick under T1 = 100 ms each resend
/// comes when Timer G says or up to one tick later, never earlier.
#[test]
fn a_coarser_timer_tick_delays_timer_g_by_less_than_a_tick() {
    let tick = 30;
    let template = ShardConfig {
        timers: TimerConfig {
            t1: Duration::from_millis(100),
            t2: Duration::from_millis(400),
            ..TimerConfig::RFC
        },
        timer_tick: Duration::from_millis(tick),
        ..Sim::template(addr(SERVER))
    };
    let mut sim = Sim::new(1, template, 7);
    let via = "SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-tick-30";
    let invite = request("INVITE", "sip:nobody@127.0.0.1", via, "");
    sim.send(addr(PHONE), addr(SERVER), &invite);
    sim.advance(Duration::from_millis(2_000));
    let sent: Vec<u128> = sim
        .take(addr(PHONE))
        .iter()
        .map(|d| d.at.as_millis())
        .collect();
    assert_eq!(sent, [0, 120, 330, 750, 1_170, 1_590]);
    let nominal = [100, 200, 400, 400, 400];
    for (i, pair) in sent.windows(2).take(nominal.len()).enumerate() {
        let waited = pair[1] - pair[0];
        assert!(
            (nominal[i]..nominal[i] + u128::from(tick)).contains(&waited),
            "resend {} after {waited} ms, Timer G says {} ms: {sent:?}",
            i + 1,
            nominal[i]
        );
    }
    assert!(
        sent.iter().all(|at| at % u128::from(tick) == 0),
        "every firing on a tick: {sent:?}"
    );
}

/// §17.2.2: a retransmitted request gets the very same response from its transaction, which
/// lives for Timer J (64*T1 over UDP).
#[test]
fn retransmissions_get_the_same_response_until_timer_j() {
    let mut sim = sim();
    let first = answer(&mut sim, &options(""));
    sim.advance(Duration::from_secs(5));
    let again = answer(&mut sim, &options(""));
    assert_eq!(first.bytes, again.bytes);
    let stats = sim.shards()[0].stats();
    assert_eq!(stats.absorbed, 1);
    assert_eq!(stats.resent, 1, "built again from the retransmission");
    assert_eq!(stats.answered(2), 1, "one answer, sent twice");
    assert_eq!(stats.accounted(), stats.received);
    assert_eq!(sim.shards()[0].server_transactions().non_invite(), 1);
    sim.advance(Duration::from_secs(28));
    assert_eq!(
        sim.shards()[0].server_transactions().non_invite(),
        0,
        "Timer J ended it"
    );
    assert!(
        sim.take_all().is_empty(),
        "a non-INVITE final is never resent on a timer"
    );
}
