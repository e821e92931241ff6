//! The registrar on the simulator (RFC 3261 §10.3): REGISTER adds, refreshes, lists and
//! removes bindings through a whole shard, retransmissions get the same answer, and bindings
//! expire on the virtual clock.

use std::net::SocketAddr;
use std::time::Duration;

use drongo::core::sip::{Framing, HeaderName, Message};
use drongo::sim::{Datagram, Sim};

const SERVER: &str = "127.0.0.1:5060";
const PHONE: &str = "192.0.2.10:40000";
const AOR: &[u8] = b"sip:alice@127.0.0.1";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A REGISTER for alice; `branch` and `cseq` make each one a new transaction.
fn register(branch: &str, cseq: u32, extra: &str) -> Vec<u8> {
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK-{branch};rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=r1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: reg-alice@192.0.2.10\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Max-Forwards: 70\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn answer(sim: &mut Sim, bytes: &[u8]) -> Datagram {
    sim.send(addr(PHONE), addr(SERVER), bytes);
    let mut got = sim.take(addr(PHONE));
    assert_eq!(got.len(), 1, "one answer expected, got {got:?}");
    got.remove(0)
}

fn contacts(d: &Datagram) -> Vec<String> {
    let msg = Message::parse(&d.bytes, Framing::Stream).expect("answers parse");
    msg.headers()
        .all(HeaderName::Contact)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

fn bindings(sim: &Sim) -> usize {
    sim.shards()[0].location().map_or(0, |l| l.len())
}

#[test]
fn register_binds_lists_refreshes_and_removes() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
    let d = answer(
        &mut sim,
        &register(
            "r1",
            1,
            "Contact: <sip:alice@192.0.2.10:40000>;expires=600\r\n",
        ),
    );
    assert_eq!(d.status(), Some(200));
    assert_eq!(contacts(&d), ["<sip:alice@192.0.2.10:40000>;expires=600"]);
    assert_eq!(bindings(&sim), 1);

    // A query (no Contact) lists the binding with the time it has left.
    sim.advance(Duration::from_secs(100));
    let d = answer(&mut sim, &register("r2", 2, ""));
    assert_eq!(d.status(), Some(200));
    assert_eq!(contacts(&d), ["<sip:alice@192.0.2.10:40000>;expires=500"]);

    // A second contact with a q-value; both are listed, higher q first.
    let d = answer(
        &mut sim,
        &register(
            "r3",
            3,
            "Contact: <sip:alice@198.51.100.7>;q=0.5, <sip:alice@192.0.2.10:40000>;q=0.9\r\nExpires: 300\r\n",
        ),
    );
    assert_eq!(
        contacts(&d),
        [
            "<sip:alice@192.0.2.10:40000>;expires=300;q=0.9",
            "<sip:alice@198.51.100.7>;expires=300;q=0.5"
        ]
    );

    // Contact: * with Expires: 0 removes every binding.
    let d = answer(&mut sim, &register("r4", 4, "Contact: *\r\nExpires: 0\r\n"));
    assert_eq!(d.status(), Some(200));
    assert!(contacts(&d).is_empty());
    assert_eq!(bindings(&sim), 0);
    let events: Vec<_> = std::iter::from_fn(|| sim.shard_mut(0).poll_registration())
        .map(|e| e.kind)
        .collect();
    use drongo::core::registrar::RegEventKind::{Added, Refreshed, Removed};
    assert_eq!(events, [Added, Added, Refreshed, Removed, Removed]);
}

/// The answer to a REGISTER depends on the bindings, so its transaction keeps it: a
/// retransmission gets the same bytes, not a 400 for a CSeq already seen.
#[test]
fn a_retransmitted_register_gets_the_same_answer() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
    let req = register("rt", 1, "Contact: <sip:alice@192.0.2.10:40000>\r\n");
    let first = answer(&mut sim, &req);
    sim.advance(Duration::from_millis(500));
    let again = answer(&mut sim, &req);
    assert_eq!(first.bytes, again.bytes);
    assert_eq!(first.status(), Some(200));
    // A new transaction with the old CSeq is out of order.
    let d = answer(
        &mut sim,
        &register("rt2", 1, "Contact: <sip:alice@192.0.2.10:40000>\r\n"),
    );
    assert_eq!(d.status(), Some(400));
}

#[test]
fn refusals_follow_section_10_3() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
    // Shorter than the minimum: 423 with Min-Expires.
    let d = answer(
        &mut sim,
        &register(
            "t1",
            1,
            "Contact: <sip:alice@192.0.2.10:40000>;expires=20\r\n",
        ),
    );
    assert_eq!(d.status(), Some(423));
    let msg = Message::parse(&d.bytes, Framing::Stream).unwrap();
    assert_eq!(msg.header(HeaderName::MinExpires), Some(&b"60"[..]));
    // `*` with a nonzero expiry.
    let d = answer(
        &mut sim,
        &register("t2", 2, "Contact: *\r\nExpires: 60\r\n"),
    );
    assert_eq!(d.status(), Some(400));
    // An AoR of a domain not served here.
    let foreign = String::from_utf8(register("t3", 3, "Contact: <sip:a@192.0.2.10>\r\n"))
        .unwrap()
        .replace("To: <sip:alice@127.0.0.1>", "To: <sip:alice@example.org>");
    let d = answer(&mut sim, foreign.as_bytes());
    assert_eq!(d.status(), Some(404));
    assert_eq!(bindings(&sim), 0, "nothing was bound");
}

#[test]
fn bindings_expire_on_the_clock() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
    answer(
        &mut sim,
        &register(
            "e1",
            1,
            "Contact: <sip:alice@192.0.2.10:40000>;expires=60\r\n",
        ),
    );
    sim.advance(Duration::from_secs(59));
    assert_eq!(bindings(&sim), 1);
    sim.advance(Duration::from_secs(2));
    assert_eq!(bindings(&sim), 0);
    let loc = sim.shards()[0].location().unwrap();
    assert_eq!(loc.bindings(AOR).count(), 0);
}

/// More bindings than one expiry call removes, all due at one instant: the shard's deadline
/// stays past until every one is gone, so its driver keeps calling it.
#[test]
fn a_mass_expiry_finishes_through_the_shard() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
    let users = 2_500;
    for i in 0..users {
        let req = String::from_utf8(register(
            &format!("m{i}"),
            1,
            &format!("Contact: <sip:u{i}@192.0.2.10:40000>;expires=60\r\n"),
        ))
        .unwrap()
        .replace("sip:alice@127.0.0.1>", &format!("sip:u{i}@127.0.0.1>"));
        assert_eq!(answer(&mut sim, req.as_bytes()).status(), Some(200));
    }
    assert_eq!(bindings(&sim), users);
    sim.advance(Duration::from_secs(61));
    assert_eq!(bindings(&sim), 0);
    let expired = std::iter::from_fn(|| sim.shard_mut(0).poll_registration())
        .filter(|e| e.kind == drongo::core::registrar::RegEventKind::Expired)
        .count();
    assert_eq!(expired, users);
}

mod auth {
    use super::*;
    use drongo::core::auth::{Algorithm, AuthSetup};
    use std::sync::Arc;

    fn sim_with_users() -> Sim {
        let mut template = Sim::template(addr(SERVER));
        template.auth = Some(Arc::new(AuthSetup {
            realm: b"drongo".to_vec(),
            users: vec![
                (b"alice".to_vec(), b"wonderland".to_vec()),
                (b"bob".to_vec(), b"builder".to_vec()),
            ],
            key: 7,
        }));
        Sim::new(1, template, 3)
    }

    fn challenge_nonce(d: &Datagram) -> String {
        let text = d.text();
        let line = text
            .lines()
            .find(|l| l.starts_with("WWW-Authenticate: ") && l.contains("SHA-256"))
            .expect("a SHA-256 challenge");
        let at = line.find("nonce=\"").unwrap() + 7;
        let end = line[at..].find('"').unwrap();
        line[at..at + end].to_string()
    }

    fn authorization(user: &str, password: &str, nonce: &str) -> String {
        let alg = Algorithm::Sha256;
        let uri = "sip:127.0.0.1";
        let ha1 = alg.hex(&[user.as_bytes(), b"drongo", password.as_bytes()]);
        let ha2 = alg.hex(&[b"REGISTER", uri.as_bytes()]);
        let response = alg.hex(&[
            ha1.as_bytes(),
            nonce.as_bytes(),
            b"00000001",
            b"abc",
            b"auth",
            ha2.as_bytes(),
        ]);
        format!(
            "Authorization: Digest username=\"{user}\", realm=\"drongo\", nonce=\"{nonce}\", \
             uri=\"{uri}\", response=\"{}\", algorithm=SHA-256, qop=auth, nc=00000001, \
             cnonce=\"abc\"\r\n",
            String::from_utf8_lossy(response.as_bytes())
        )
    }

    const CONTACT: &str = "Contact: <sip:alice@192.0.2.10:40000>\r\n";

    #[test]
    fn register_needs_digest_credentials() {
        let mut sim = sim_with_users();
        let d = answer(&mut sim, &register("a1", 1, CONTACT));
        assert_eq!(d.status(), Some(401));
        let challenges = d
            .text()
            .lines()
            .filter(|l| l.starts_with("WWW-Authenticate: Digest realm=\"drongo\""))
            .count();
        assert_eq!(challenges, 2, "SHA-256 and MD5");
        assert_eq!(bindings(&sim), 0);
        let nonce = challenge_nonce(&d);
        let extra = format!("{CONTACT}{}", authorization("alice", "wonderland", &nonce));
        let d = answer(&mut sim, &register("a2", 2, &extra));
        assert_eq!(d.status(), Some(200), "{}", d.text());
        assert_eq!(bindings(&sim), 1);
        // The same nonce again: stale, so the phone retries without asking its user.
        let d = answer(&mut sim, &register("a3", 3, &extra));
        assert_eq!(d.status(), Some(401));
        assert!(d.text().contains("stale=true"));
    }

    /// A wrong password and an unknown user get the same answer; a known user may not
    /// change another user's AoR.
    #[test]
    fn refusals_reveal_nothing_and_users_keep_to_their_own_aor() {
        let mut sim = sim_with_users();
        let nonce = challenge_nonce(&answer(&mut sim, &register("b1", 1, CONTACT)));
        let wrong = format!(
            "{CONTACT}{}",
            authorization("alice", "looking-glass", &nonce)
        );
        let unknown = format!("{CONTACT}{}", authorization("mallory", "x", &nonce));
        let a = answer(&mut sim, &register("b2", 2, &wrong));
        let b = answer(&mut sim, &register("b3", 3, &unknown));
        assert_eq!((a.status(), b.status()), (Some(401), Some(401)));
        assert!(!a.text().contains("stale") && !b.text().contains("stale"));
        let as_bob = format!("{CONTACT}{}", authorization("bob", "builder", &nonce));
        assert_eq!(
            answer(&mut sim, &register("b4", 4, &as_bob)).status(),
            Some(403)
        );
        assert_eq!(bindings(&sim), 0);
    }
}
