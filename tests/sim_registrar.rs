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

/// RFC 5627 §5.2 and RFC 5626 §6: what the 200 says about instances, GRUUs and flows.
mod gruu_and_outbound {
    use super::*;
    use drongo::core::flow::ConnCommand;
    use drongo::core::shard::Flow;

    const INSTANCE: &str = "+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";

    fn param<'a>(contact: &'a str, name: &str) -> Option<&'a str> {
        let at = contact.find(&format!(";{name}=\""))? + name.len() + 3;
        let end = contact[at..].find('"')?;
        Some(&contact[at..at + end])
    }

    #[test]
    fn gruus_come_with_supported_gruu_and_an_instance_only() {
        let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
        // An instance, but no Supported: gruu: the instance is listed, no GRUU is minted.
        let contact = format!("Contact: <sip:alice@192.0.2.10:40000>;{INSTANCE}\r\n");
        let d = answer(&mut sim, &register("g1", 1, &contact));
        assert_eq!(
            contacts(&d),
            [format!(
                "<sip:alice@192.0.2.10:40000>;expires=3600;{INSTANCE}"
            )]
        );
        // A contact without an instance, no Supported: gruu: nothing is minted.
        let plain = "Contact: <sip:alice@198.51.100.7>\r\n";
        let d = answer(&mut sim, &register("g2", 2, plain));
        let listed = contacts(&d);
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|c| !c.contains("gruu")), "{listed:?}");
        // Both: the instance's contact carries a public and a temporary GRUU.
        let both = format!("Supported: path, gruu\r\n{contact}");
        let d = answer(&mut sim, &register("g3", 3, &both));
        let listed = contacts(&d);
        let mine = listed
            .iter()
            .find(|c| c.contains("192.0.2.10"))
            .expect("the instance's contact");
        assert_eq!(
            param(mine, "pub-gruu"),
            Some("sip:alice@127.0.0.1;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
        );
        let temp = param(mine, "temp-gruu").expect("a temporary GRUU");
        assert!(
            temp.starts_with("sip:") && temp.ends_with("@127.0.0.1;gr"),
            "{temp}"
        );
        // Opaque: neither the user nor the instance shows.
        assert!(
            !temp.contains("alice") && !temp.contains("f81d4fae"),
            "{temp}"
        );
        let other = listed.iter().find(|c| c.contains("198.51.100.7")).unwrap();
        assert!(!other.contains("gruu"), "no instance, no GRUU: {other}");
        // Every 200 brings a new temporary GRUU; the public one stays.
        let d = answer(&mut sim, &register("g4", 4, &both));
        let again = contacts(&d);
        let mine_again = again.iter().find(|c| c.contains("192.0.2.10")).unwrap();
        assert_eq!(param(mine_again, "pub-gruu"), param(mine, "pub-gruu"));
        assert_ne!(param(mine_again, "temp-gruu"), Some(temp));
    }

    /// RFC 5627 §5.1: a GRUU names an instance, not an AoR, and one of Drongo's GRUUs as a
    /// contact would send its requests back to Drongo.
    #[test]
    fn a_gruu_is_no_aor_and_no_contact_here() {
        let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
        let to_gruu = String::from_utf8(register(
            "f1",
            1,
            "Contact: <sip:alice@192.0.2.10:40000>\r\n",
        ))
        .unwrap()
        .replace(
            "To: <sip:alice@127.0.0.1>",
            "To: <sip:alice@127.0.0.1;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>",
        );
        assert_eq!(answer(&mut sim, to_gruu.as_bytes()).status(), Some(403));
        let looped =
            "Contact: <sip:alice@127.0.0.1;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\r\n";
        assert_eq!(
            answer(&mut sim, &register("f2", 2, looped)).status(),
            Some(403)
        );
        assert_eq!(bindings(&sim), 0);
        // Another domain's GRUU is a contact like any other.
        let theirs =
            "Contact: <sip:bob@example.org;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\r\n";
        assert_eq!(
            answer(&mut sim, &register("f3", 3, theirs)).status(),
            Some(200)
        );
    }

    fn register_tcp(
        sim: &mut Sim,
        conn: drongo::core::shard::ConnId,
        cseq: u32,
        extra: &str,
    ) -> Datagram {
        let req = String::from_utf8(register("t", cseq, extra))
            .unwrap()
            .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
            .replace("branch=z9hG4bK-t", &format!("branch=z9hG4bK-tcp{cseq}"));
        sim.send_stream(conn, addr(PHONE), addr(SERVER), req.as_bytes());
        let mut got = sim.take_with_flow(addr(PHONE));
        assert_eq!(got.len(), 1, "{got:?}");
        let (flow, d) = got.remove(0);
        assert_eq!(
            flow,
            Flow::Stream(conn),
            "the answer goes back on the connection"
        );
        d
    }

    /// A REGISTER over TCP: the shard holding the binding asks the shell to keep the
    /// connection open with keep-alives. With an outbound flow and `Supported: outbound`,
    /// the 200 says `Require: outbound`.
    #[test]
    fn a_tcp_binding_keeps_its_connection_and_outbound_is_required_back() {
        for shards in [1, 2] {
            let mut sim = Sim::new(shards, Sim::template(addr(SERVER)), 3);
            let conn = sim.connect(addr(PHONE), addr(SERVER));
            let contact = format!(
                "Supported: outbound\r\nContact: <sip:alice@192.0.2.10:40000;transport=tcp;ob>;{INSTANCE};reg-id=1\r\n"
            );
            let d = register_tcp(&mut sim, conn, 1, &contact);
            assert_eq!(d.status(), Some(200));
            let msg = Message::parse(&d.bytes, Framing::Stream).unwrap();
            assert_eq!(msg.header(HeaderName::Require), Some(&b"outbound"[..]));
            assert_eq!(
                contacts(&d),
                [format!(
                    "<sip:alice@192.0.2.10:40000;transport=tcp;ob>;expires=3600;{INSTANCE};reg-id=1"
                )]
            );
            let owner = (0..usize::from(shards))
                .find(|&i| sim.shards()[i].location().is_some_and(|l| l.len() == 1))
                .expect("a shard holds the binding");
            assert_eq!(
                sim.take_commands(),
                [(owner, ConnCommand::KeepAlive(conn))],
                "{shards} shard(s)"
            );
            // Without Supported: outbound there is no Require; a query keeps nothing new.
            let d = register_tcp(&mut sim, conn, 2, "");
            assert_eq!(d.status(), Some(200));
            let msg = Message::parse(&d.bytes, Framing::Stream).unwrap();
            assert_eq!(msg.header(HeaderName::Require), None);
            assert_eq!(sim.take_commands(), [(owner, ConnCommand::KeepAlive(conn))]);
        }
        // Over UDP there is no connection to keep.
        let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 3);
        answer(
            &mut sim,
            &register("u1", 1, "Contact: <sip:alice@192.0.2.10:40000>\r\n"),
        );
        assert!(sim.take_commands().is_empty());
    }
}
