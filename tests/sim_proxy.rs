//! The stateful proxy on the simulator (RFC 3261 §16): a call to a registered AoR forks to
//! every binding, the first 2xx wins and the other branches are cancelled, all-fail sends the
//! best response, no answer times out, a CANCEL from the caller ends every branch, and the
//! ACK for a 2xx follows the Record-Route.

use std::net::SocketAddr;
use std::time::Duration;

use drongo::core::sip::{Framing, HeaderName, Message};
use drongo::sim::{Datagram, Sim};

const SERVER: &str = "127.0.0.1:5060";
const CALLER: &str = "198.51.100.5:5060";
const PHONE_A: &str = "192.0.2.10:40000";
const PHONE_B: &str = "192.0.2.11:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn register(sim: &mut Sim, phone: &str, n: u32) {
    let req = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {phone};branch=z9hG4bK-reg{n};rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=r{n}\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: reg-{n}@{phone}\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@{phone}>;expires=3600\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sim.send(addr(phone), addr(SERVER), req.as_bytes());
    let got = sim.take(addr(phone));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].status(), Some(200));
}

fn invite(method: &str, uri: &str) -> Vec<u8> {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bK-call1\r\n\
         From: <sip:carol@example.net>;tag=c1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: call-1@198.51.100.5\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:carol@198.51.100.5>\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A UA's response to a request it received: every Via, From, To (with `tag`), Call-ID and
/// CSeq copied.
fn reply(request: &Datagram, status: u16, reason: &str, tag: &str) -> Vec<u8> {
    let msg = Message::parse(&request.bytes, Framing::Datagram).unwrap();
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for f in msg.headers().fields() {
        let line = String::from_utf8_lossy(&msg.buf()[f.line.range()]).into_owned();
        match f.name {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                out.push_str(&line);
                out.push_str("\r\n");
            }
            HeaderName::To => {
                out.push_str(&line);
                if status > 100 {
                    out.push_str(&format!(";tag={tag}"));
                }
                out.push_str("\r\n");
            }
            _ => {}
        }
    }
    if (200..300).contains(&status) {
        out.push_str("Contact: <sip:alice@192.0.2.10:40000>\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

fn method_of(d: &Datagram) -> String {
    d.text().split(' ').next().unwrap_or_default().to_string()
}

fn statuses(got: &[Datagram]) -> Vec<u16> {
    got.iter().filter_map(Datagram::status).collect()
}

fn setup() -> Sim {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
    register(&mut sim, PHONE_A, 1);
    register(&mut sim, PHONE_B, 2);
    sim
}

/// The INVITE each phone received.
fn forked(sim: &mut Sim) -> (Datagram, Datagram) {
    let mut a = sim.take(addr(PHONE_A));
    let mut b = sim.take(addr(PHONE_B));
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(b.len(), 1, "{b:?}");
    (a.remove(0), b.remove(0))
}

#[test]
fn a_call_forks_and_the_first_2xx_cancels_the_other_branch() {
    let mut sim = setup();
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    assert_eq!(
        statuses(&sim.take(addr(CALLER))),
        [100],
        "§16.2: 100 at once"
    );
    let (to_a, to_b) = forked(&mut sim);
    for (d, phone) in [(&to_a, PHONE_A), (&to_b, PHONE_B)] {
        let text = d.text();
        assert!(
            text.starts_with(&format!("INVITE sip:alice@{phone} SIP/2.0\r\n")),
            "{text}"
        );
        assert!(text.contains("Max-Forwards: 69\r\n"));
        assert!(text.contains("Record-Route: <sip:127.0.0.1:5060;lr>\r\n"));
        let msg = Message::parse(&d.bytes, Framing::Datagram).unwrap();
        assert_eq!(msg.headers().all(HeaderName::Via).count(), 2);
    }
    sim.send(
        addr(PHONE_A),
        addr(SERVER),
        &reply(&to_a, 180, "Ringing", "a"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [180]);
    sim.send(addr(PHONE_B), addr(SERVER), &reply(&to_b, 200, "OK", "b"));
    let up = sim.take(addr(CALLER));
    assert_eq!(statuses(&up), [200]);
    let msg = Message::parse(&up[0].bytes, Framing::Datagram).unwrap();
    assert_eq!(
        msg.headers().all(HeaderName::Via).count(),
        1,
        "Drongo's Via comes off"
    );
    // Phone A, which rang, gets a CANCEL; its 487 is ACKed by Drongo and goes no further.
    let to_a2 = sim.take(addr(PHONE_A));
    assert_eq!(to_a2.iter().map(method_of).collect::<Vec<_>>(), ["CANCEL"]);
    sim.send(
        addr(PHONE_A),
        addr(SERVER),
        &reply(&to_a2[0], 200, "OK", "a"),
    );
    sim.send(
        addr(PHONE_A),
        addr(SERVER),
        &reply(&to_a, 487, "Request Terminated", "a"),
    );
    let to_a3 = sim.take(addr(PHONE_A));
    assert_eq!(to_a3.iter().map(method_of).collect::<Vec<_>>(), ["ACK"]);
    assert!(sim.take(addr(CALLER)).is_empty(), "the 487 stays here");
    let stats = sim.shards()[0].stats();
    assert_eq!(stats.accounted(), stats.received);
    assert_eq!(sim.shards()[0].proxied_calls(), 0, "the call is over");
}

#[test]
fn when_every_branch_fails_the_best_response_goes_up() {
    let mut sim = setup();
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    sim.take(addr(CALLER));
    let (to_a, to_b) = forked(&mut sim);
    sim.send(
        addr(PHONE_A),
        addr(SERVER),
        &reply(&to_a, 486, "Busy Here", "a"),
    );
    assert!(
        sim.take(addr(CALLER)).is_empty(),
        "one branch is still pending"
    );
    sim.send(
        addr(PHONE_B),
        addr(SERVER),
        &reply(&to_b, 404, "Not Found", "b"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [486]);
    for phone in [PHONE_A, PHONE_B] {
        let acks = sim.take(addr(phone));
        assert_eq!(acks.iter().map(method_of).collect::<Vec<_>>(), ["ACK"]);
    }
}

#[test]
fn a_6xx_ends_the_call_at_once() {
    let mut sim = setup();
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    sim.take(addr(CALLER));
    let (to_a, to_b) = forked(&mut sim);
    sim.send(
        addr(PHONE_B),
        addr(SERVER),
        &reply(&to_b, 180, "Ringing", "b"),
    );
    sim.take(addr(CALLER));
    sim.send(
        addr(PHONE_A),
        addr(SERVER),
        &reply(&to_a, 603, "Decline", "a"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [603]);
    let to_b2 = sim.take(addr(PHONE_B));
    assert_eq!(to_b2.iter().map(method_of).collect::<Vec<_>>(), ["CANCEL"]);
}

/// No branch answers at all: Timer B ends each after 64*T1 and the caller gets 408.
#[test]
fn no_answer_times_out_with_408() {
    let mut sim = setup();
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    sim.take(addr(CALLER));
    sim.advance(Duration::from_secs(31));
    assert!(sim.take(addr(CALLER)).is_empty());
    assert!(
        sim.take(addr(PHONE_A)).len() >= 6,
        "the INVITE was retransmitted on Timer A"
    );
    sim.advance(Duration::from_millis(1_200));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [408]);
    // Never ACKed by the caller, it is resent on Timer G like any final to an INVITE.
    sim.advance(Duration::from_millis(500));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [408]);
}

/// §16.10: the caller's CANCEL is answered 200 and cancels each ringing branch; their 487s
/// make the INVITE's answer.
#[test]
fn the_callers_cancel_ends_every_branch() {
    let mut sim = setup();
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    sim.take(addr(CALLER));
    let (to_a, to_b) = forked(&mut sim);
    sim.send(
        addr(PHONE_A),
        addr(SERVER),
        &reply(&to_a, 180, "Ringing", "a"),
    );
    sim.send(
        addr(PHONE_B),
        addr(SERVER),
        &reply(&to_b, 180, "Ringing", "b"),
    );
    sim.take(addr(CALLER));
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("CANCEL", "sip:alice@127.0.0.1"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [200]);
    for (phone, to) in [(PHONE_A, &to_a), (PHONE_B, &to_b)] {
        let got = sim.take(addr(phone));
        assert_eq!(got.iter().map(method_of).collect::<Vec<_>>(), ["CANCEL"]);
        sim.send(addr(phone), addr(SERVER), &reply(&got[0], 200, "OK", "x"));
        sim.send(
            addr(phone),
            addr(SERVER),
            &reply(to, 487, "Request Terminated", "x"),
        );
    }
    assert_eq!(statuses(&sim.take(addr(CALLER))), [487]);
}

/// The ACK for a 2xx comes back through Drongo (it Record-Routed) and goes to the callee.
#[test]
fn the_ack_for_a_2xx_follows_the_route() {
    let mut sim = setup();
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    sim.take(addr(CALLER));
    let (to_a, _to_b) = forked(&mut sim);
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 200, "OK", "a"));
    sim.take(addr(CALLER));
    sim.take(addr(PHONE_B));
    let ack = String::from_utf8(invite("ACK", "sip:alice@192.0.2.10:40000"))
        .unwrap()
        .replace("z9hG4bK-call1", "z9hG4bK-ack1")
        .replace(
            "To: <sip:alice@127.0.0.1>",
            "To: <sip:alice@127.0.0.1>;tag=a\r\nRoute: <sip:127.0.0.1:5060;lr>",
        );
    sim.send(addr(CALLER), addr(SERVER), ack.as_bytes());
    let got = sim.take(addr(PHONE_A));
    assert_eq!(
        got.iter().map(method_of).collect::<Vec<_>>(),
        ["ACK"],
        "{got:?}"
    );
    assert!(!got[0].text().contains("Route:"), "Drongo's Route came off");
}

#[test]
fn a_call_to_an_aor_without_bindings_gets_404() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [404]);
}

/// With two shards, a callee's responses may arrive on the shard that does not hold the
/// call (another source port, another 4-tuple hash): Drongo's branch names the owner, the
/// response crosses to it and is matched to its client transaction there. The REGISTER and
/// the INVITE themselves go to the shard that holds the AoR, wherever they arrive.
#[test]
fn a_response_on_the_other_shard_reaches_its_transaction() {
    let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 11);
    let server = addr(SERVER);
    register(&mut sim, PHONE_A, 1);
    let holds = |sim: &Sim, i: usize| sim.shards()[i].location().map_or(0, |l| l.len());
    let owner = (0..2)
        .find(|&i| holds(&sim, i) == 1)
        .expect("one shard holds alice");
    assert_eq!(holds(&sim, 1 - owner), 0);
    sim.send(
        addr(CALLER),
        server,
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [100]);
    assert_eq!(
        sim.shards()[owner].proxied_calls(),
        1,
        "the call is on the AoR's shard"
    );
    let to_phone = sim.take(addr(PHONE_A));
    assert_eq!(to_phone.len(), 1);
    // The phone answers from a port whose datagrams reach the other shard.
    let phone_other = (30_000..40_000)
        .map(|p| SocketAddr::new("192.0.2.10".parse().unwrap(), p))
        .find(|a| sim.shard_for(*a, server) != owner)
        .unwrap();
    let before = (
        sim.shards()[1 - owner].stats().handed_off,
        sim.shards()[owner].stats().matched,
    );
    sim.send(
        phone_other,
        server,
        &reply(&to_phone[0], 180, "Ringing", "a"),
    );
    sim.send(phone_other, server, &reply(&to_phone[0], 200, "OK", "a"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [180, 200]);
    let after = (
        sim.shards()[1 - owner].stats().handed_off,
        sim.shards()[owner].stats().matched,
    );
    assert_eq!(after.0 - before.0, 2, "both crossed");
    assert_eq!(
        after.1 - before.1,
        2,
        "both matched the branch's transaction"
    );
    for s in sim.shards() {
        let s = s.stats();
        assert_eq!(s.accounted(), s.received, "{s:?}");
    }
}

/// A phone behind NAT registers a private Contact: calls go to the address its REGISTER came
/// from, with the Contact as Request-URI. A phone whose Contact names its own IP is reached
/// at the Contact, even when it registered from another port.
#[test]
fn calls_reach_natted_phones_at_their_source_address() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
    let natted = String::from_utf8(Vec::from(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-nat1;rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=n1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: nat-1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@10.0.0.5:5060>\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
    ))
    .unwrap();
    sim.send(addr(PHONE_A), addr(SERVER), natted.as_bytes());
    assert_eq!(statuses(&sim.take(addr(PHONE_A))), [200]);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    let got = sim.take(addr(PHONE_A));
    assert_eq!(got.len(), 1, "sent to the REGISTER's source address");
    assert!(got[0]
        .text()
        .starts_with("INVITE sip:alice@10.0.0.5:5060 SIP/2.0\r\n"));
}

/// A registration that expires: the next call finds nobody (404), and the registrar said so
/// with an event.
#[test]
fn a_call_after_the_registration_expired_gets_404_and_an_event_tells() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
    let req = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE_A};branch=z9hG4bK-exp1;rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=e1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: exp-1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@{PHONE_A}>;expires=60\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sim.send(addr(PHONE_A), addr(SERVER), req.as_bytes());
    assert_eq!(statuses(&sim.take(addr(PHONE_A))), [200]);
    sim.advance(Duration::from_secs(61));
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("INVITE", "sip:alice@127.0.0.1"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [404]);
    assert!(sim.take(addr(PHONE_A)).is_empty());
    let events: Vec<_> = std::iter::from_fn(|| sim.shard_mut(0).poll_registration()).collect();
    use drongo::core::registrar::RegEventKind::{Added, Expired};
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [Added, Expired]
    );
    assert_eq!(&*events[1].aor, b"sip:alice@127.0.0.1");
    assert_eq!(
        events[1].contact,
        format!("sip:alice@{PHONE_A}").into_bytes().into()
    );
}

/// GRUUs (RFC 5627 §6.1): a request to one reaches its instance and no other.
mod gruu {
    use super::*;

    const UUID_A: &str = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    const UUID_B: &str = "urn:uuid:0a0b0c0d-7dec-11d0-a765-00a0c91e6bf6";

    /// Registers `phone` as an instance with `Supported: gruu`; returns its public and
    /// temporary GRUU from the 200.
    fn register_instance(sim: &mut Sim, phone: &str, uuid: &str, expires: u32) -> (String, String) {
        let branch = phone.replace(['.', ':'], "");
        let req = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {phone};branch=z9hG4bK-g{branch};rport\r\n\
             From: <sip:alice@127.0.0.1>;tag=g\r\n\
             To: <sip:alice@127.0.0.1>\r\n\
             Call-ID: gruu@{phone}\r\n\
             CSeq: 1 REGISTER\r\n\
             Supported: gruu\r\n\
             Contact: <sip:alice@{phone}>;expires={expires};+sip.instance=\"<{uuid}>\"\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        sim.send(addr(phone), addr(SERVER), req.as_bytes());
        let got = sim.take(addr(phone));
        assert_eq!(statuses(&got), [200]);
        let msg = Message::parse(&got[0].bytes, Framing::Datagram).unwrap();
        let mine = msg
            .headers()
            .all(HeaderName::Contact)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .find(|c| c.contains(phone))
            .expect("the phone's contact");
        let param = |name: &str| {
            let at = mine.find(&format!(";{name}=\"")).expect(name) + name.len() + 3;
            let end = mine[at..].find('"').unwrap();
            mine[at..at + end].to_string()
        };
        (param("pub-gruu"), param("temp-gruu"))
    }

    /// An INVITE from `caller` to `uri`; `n` makes it a new call.
    fn call(sim: &mut Sim, caller: SocketAddr, uri: &str, n: u32) -> Vec<u16> {
        let req = String::from_utf8(invite("INVITE", uri))
            .unwrap()
            .replace("z9hG4bK-call1", &format!("z9hG4bK-gcall{n}"))
            .replace("call-1@", &format!("gcall-{n}@"))
            .replace("198.51.100.5:5060", &caller.to_string());
        sim.send(caller, addr(SERVER), req.as_bytes());
        statuses(&sim.take(caller))
    }

    /// A phone ends the call it was sent with 486.
    fn decline(sim: &mut Sim, phone: &str, request: &Datagram) {
        sim.send(
            addr(phone),
            addr(SERVER),
            &reply(request, 486, "Busy Here", "x"),
        );
        assert_eq!(statuses(&sim.take(addr(CALLER))), [486]);
        sim.take(addr(phone)); // the ACK
    }

    #[test]
    fn a_public_gruu_reaches_its_instance_only_and_the_aor_reaches_both() {
        let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
        let (pub_a, _) = register_instance(&mut sim, PHONE_A, UUID_A, 3600);
        register_instance(&mut sim, PHONE_B, UUID_B, 3600);
        assert_eq!(call(&mut sim, addr(CALLER), &pub_a, 1), [100]);
        let to_a = sim.take(addr(PHONE_A));
        assert_eq!(to_a.len(), 1);
        assert!(
            to_a[0]
                .text()
                .starts_with(&format!("INVITE sip:alice@{PHONE_A} SIP/2.0\r\n")),
            "{}",
            to_a[0].text()
        );
        assert!(sim.take(addr(PHONE_B)).is_empty(), "never another instance");
        decline(&mut sim, PHONE_A, &to_a[0]);
        // The AoR still forks to both instances.
        assert_eq!(
            call(&mut sim, addr(CALLER), "sip:alice@127.0.0.1", 2),
            [100]
        );
        forked(&mut sim);
        // A GRUU of an instance that is not registered: 480.
        let pub_c = pub_a.replace("f81d4fae", "00000000");
        assert_eq!(call(&mut sim, addr(CALLER), &pub_c, 3), [480]);
    }

    /// A temporary GRUU reaches its instance while the registration that minted it lives,
    /// whichever shard the request reaches (it names its owner), and is unknown (404) once
    /// the registration has expired; the public GRUU is then unavailable (480).
    #[test]
    fn a_temporary_gruu_lives_as_long_as_its_registration() {
        let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 11);
        let (pub_a, temp_a) = register_instance(&mut sim, PHONE_A, UUID_A, 60);
        let (_, temp_b) = register_instance(&mut sim, PHONE_B, UUID_B, 3600);
        assert_ne!(temp_a, temp_b);
        // Callers whose datagrams reach shard 0 and shard 1.
        let callers: Vec<SocketAddr> = (0..2)
            .map(|shard| {
                (5060..6000)
                    .map(|p| SocketAddr::new("198.51.100.5".parse().unwrap(), p))
                    .find(|a| sim.shard_for(*a, addr(SERVER)) == shard)
                    .unwrap()
            })
            .collect();
        for (n, caller) in callers.iter().enumerate() {
            assert_eq!(call(&mut sim, *caller, &temp_a, 10 + n as u32), [100]);
            let to_a = sim.take(addr(PHONE_A));
            assert_eq!(to_a.len(), 1, "from shard {n}");
            assert!(sim.take(addr(PHONE_B)).is_empty());
            sim.send(
                addr(PHONE_A),
                addr(SERVER),
                &reply(&to_a[0], 486, "Busy Here", "x"),
            );
            assert_eq!(statuses(&sim.take(*caller)), [486]);
            sim.take(addr(PHONE_A));
        }
        sim.advance(Duration::from_secs(61));
        for caller in &callers {
            sim.take(*caller); // the 486s, resent until ACKed (Timer G)
        }
        for (n, caller) in callers.iter().enumerate() {
            assert_eq!(call(&mut sim, *caller, &temp_a, 20 + n as u32), [404]);
            assert_eq!(call(&mut sim, *caller, &pub_a, 30 + n as u32), [480]);
        }
        assert!(sim.take(addr(PHONE_A)).is_empty());
        // The other instance's temporary GRUU still works.
        assert_eq!(call(&mut sim, callers[0], &temp_b, 40), [100]);
        assert_eq!(sim.take(addr(PHONE_B)).len(), 1);
    }

    #[test]
    fn a_forged_temporary_gruu_is_refused() {
        let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
        let (_, temp) = register_instance(&mut sim, PHONE_A, UUID_A, 3600);
        let token_at = "sip:".len();
        for i in [token_at + 1, token_at + 10, token_at + 30, token_at + 51] {
            let mut forged = temp.clone().into_bytes();
            forged[i] = if forged[i] == b'0' { b'1' } else { b'0' };
            let forged = String::from_utf8(forged).unwrap();
            assert_eq!(
                call(&mut sim, addr(CALLER), &forged, i as u32),
                [404],
                "{forged}"
            );
        }
        assert_eq!(
            call(&mut sim, addr(CALLER), "sip:alice@127.0.0.1;gr", 99),
            [404],
            "a user name is no token"
        );
        assert!(sim.take(addr(PHONE_A)).is_empty());
        // The genuine one still works.
        assert_eq!(call(&mut sim, addr(CALLER), &temp, 100), [100]);
        assert_eq!(sim.take(addr(PHONE_A)).len(), 1);
    }
}

/// Flows (RFC 5626): a binding registered over TCP is reached over the connection it came
/// on; an outbound one over that flow only, and not at all once it has failed.
mod flows {
    use super::*;
    use drongo::core::shard::{ConnId, Flow};

    const CONTACT_ADDR: &str = "192.0.2.10:5070";

    fn register_tcp(sim: &mut Sim, conn: ConnId, outbound: bool) {
        let params = if outbound {
            ";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";reg-id=1"
        } else {
            ""
        };
        let req = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/TCP {CONTACT_ADDR};branch=z9hG4bK-tcpreg\r\n\
             From: <sip:alice@127.0.0.1>;tag=t\r\n\
             To: <sip:alice@127.0.0.1>\r\n\
             Call-ID: tcp-reg\r\n\
             CSeq: 1 REGISTER\r\n\
             Supported: outbound\r\n\
             Contact: <sip:alice@{CONTACT_ADDR};transport=tcp>{params}\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        sim.send_stream(conn, addr(PHONE_A), addr(SERVER), req.as_bytes());
        assert_eq!(statuses(&sim.take(addr(CONTACT_ADDR))), [200]);
    }

    fn invite_alice(sim: &mut Sim, n: u32) -> Vec<u16> {
        let req = String::from_utf8(invite("INVITE", "sip:alice@127.0.0.1"))
            .unwrap()
            .replace("z9hG4bK-call1", &format!("z9hG4bK-fcall{n}"))
            .replace("call-1@", &format!("fcall-{n}@"));
        sim.send(addr(CALLER), addr(SERVER), req.as_bytes());
        statuses(&sim.take(addr(CALLER)))
    }

    /// An outbound flow: the INVITE goes on its connection with the flow's own address to
    /// fall back to, never the Contact; the phone answers on it. Once the connection has
    /// closed the binding is unreachable: 480, and nothing goes to the Contact.
    #[test]
    fn an_outbound_flow_carries_calls_until_it_fails() {
        for shards in [1, 2] {
            let mut sim = Sim::new(shards, Sim::template(addr(SERVER)), 11);
            let conn = sim.connect(addr(PHONE_A), addr(SERVER));
            register_tcp(&mut sim, conn, true);
            assert_eq!(invite_alice(&mut sim, 1), [100]);
            let sent = sim.take_with_flow(addr(PHONE_A));
            assert_eq!(sent.len(), 1, "{shards} shard(s): {sent:?}");
            assert_eq!(sent[0].0, Flow::Stream(conn));
            assert!(sent[0].1.text().starts_with(&format!(
                "INVITE sip:alice@{CONTACT_ADDR};transport=tcp SIP/2.0\r\n"
            )));
            let busy = reply(&sent[0].1, 486, "Busy Here", "x");
            sim.send_stream(conn, addr(PHONE_A), addr(SERVER), &busy);
            assert_eq!(statuses(&sim.take(addr(CALLER))), [486]);
            sim.take(addr(PHONE_A));
            sim.close(conn);
            let failed: u64 = sim.shards().iter().map(|s| s.stats().flows_failed).sum();
            assert!(failed >= 1);
            assert_eq!(invite_alice(&mut sim, 2), [480], "{shards} shard(s)");
            assert!(sim.take(addr(PHONE_A)).is_empty());
            assert!(
                sim.take(addr(CONTACT_ADDR)).is_empty(),
                "no fallback to the Contact"
            );
        }
    }

    /// Without outbound, a binding over TCP is reached over its connection, with its Contact
    /// for the shell to open a new connection to once that one has closed.
    #[test]
    fn a_plain_tcp_binding_falls_back_to_its_contact() {
        let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 11);
        let conn = sim.connect(addr(PHONE_A), addr(SERVER));
        register_tcp(&mut sim, conn, false);
        sim.close(conn);
        assert_eq!(invite_alice(&mut sim, 1), [100]);
        let sent = sim.take_with_flow(addr(CONTACT_ADDR));
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, Flow::Stream(conn));
    }
}
