//! Cross-shard handoff on the simulator (DESIGN §3): a message whose ids Drongo minted name
//! another shard than the one the kernel's hash picked reaches its owner and is handled there
//! as if it had arrived there; a full channel drops and counts; every shard accounts for every
//! message once.

use std::net::SocketAddr;
use std::time::Duration;

use drongo::core::ids;
use drongo::core::sip::{DropReason, Framing, HeaderName, Message};
use drongo::sim::{Datagram, Sim};

const SERVER: &str = "127.0.0.1:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn phone(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], port))
}

fn invite(from: SocketAddr, branch: &str) -> String {
    format!(
        "INVITE sip:nobody@example.org SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch={branch};rport\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:nobody@example.org>\r\n\
         Call-ID: {branch}@example.com\r\n\
         CSeq: 1 INVITE\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The ACK of a non-2xx final (RFC 3261 §17.1.1.3): the INVITE's Via, From, Call-ID and
/// request line, the To of the response.
fn ack(invite: &str, response: &Datagram) -> String {
    let to = String::from_utf8_lossy(header(response, HeaderName::To)).into_owned();
    invite
        .replace("INVITE sip:", "ACK sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace("To: <sip:nobody@example.org>", &format!("To: {to}"))
}

fn header(d: &Datagram, name: HeaderName) -> &[u8] {
    Message::parse(&d.bytes, Framing::Datagram)
        .expect("answers parse")
        .header(name)
        .expect("header present")
}

/// The shard named by the To tag of a response Drongo sent.
fn tag_shard(d: &Datagram) -> usize {
    let to = header(d, HeaderName::To);
    usize::from(ids::tag_shard(&to[to.len() - ids::TAG_LEN..]).expect("a minted tag"))
}

/// A phone port, from `from` on, that the kernel's hash sends to shard `shard`.
fn port_on(sim: &Sim, shard: usize, from: u16) -> u16 {
    (from..from + 1000)
        .find(|&p| sim.shard_for(phone(p), addr(SERVER)) == shard)
        .expect("some port hashes to every shard")
}

fn assert_accounted(sim: &Sim) {
    for (i, shard) in sim.shards().iter().enumerate() {
        let s = shard.stats();
        assert_eq!(s.accounted(), s.received, "shard {i}: {s:?}");
    }
}

/// An INVITE answered 404 by shard `owner`, from a port that hashes there.
fn invite_on(sim: &mut Sim, owner: usize, port: u16, branch: &str) -> (String, Datagram) {
    let from = phone(port_on(sim, owner, port));
    let invite = invite(from, branch);
    sim.send(from, addr(SERVER), invite.as_bytes());
    let mut got = sim.take(from);
    assert_eq!(got.len(), 1);
    let answer = got.remove(0);
    assert_eq!(answer.status(), Some(404));
    assert_eq!(
        tag_shard(&answer),
        owner,
        "the To tag names the shard that answered"
    );
    (invite, answer)
}

/// RFC 3261 §17.2.1: the ACK of a 404 stops Timer G. A phone that sends its ACK from another
/// port (a NAT that rebinds, a UA with separate sockets) reaches another shard; the To tag
/// sends it on to the shard whose server transaction sent the 404, which absorbs it.
#[test]
fn an_ack_on_the_wrong_shard_reaches_the_transaction_that_sent_the_404() {
    let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 11);
    let (invite, answer) = invite_on(&mut sim, 1, 30000, "z9hG4bK-cross-1");
    let from = answer.to;
    sim.advance(Duration::from_millis(600));
    assert_eq!(sim.take(from).len(), 1, "Timer G resent the 404 once");

    let other = phone(port_on(&sim, 0, 31000));
    sim.send(other, addr(SERVER), ack(&invite, &answer).as_bytes());
    assert!(sim.take_all().is_empty(), "an ACK is never answered");
    let (s0, s1) = (sim.shards()[0].stats(), sim.shards()[1].stats());
    assert_eq!((s0.received, s0.handed_off, s0.absorbed), (1, 1, 0));
    assert_eq!((s1.received, s1.handed_in, s1.absorbed), (2, 1, 1));
    assert_eq!(s0.dropped(DropReason::StrayAck), 0);
    assert_accounted(&sim);

    sim.advance(Duration::from_secs(40));
    assert!(sim.take(from).is_empty(), "the ACK stopped Timer G");
    assert_eq!(sim.shards()[1].server_transactions().invite(), 0);
}

/// Without the handoff the same ACK would be a stray on shard 0 and the 404 would go on until
/// Timer H: shown by an ACK whose To tag is not one Drongo minted.
#[test]
fn an_ack_with_a_foreign_tag_stays_on_the_shard_that_got_it() {
    let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 11);
    let (invite, answer) = invite_on(&mut sim, 1, 30000, "z9hG4bK-cross-2");
    let to = String::from_utf8_lossy(header(&answer, HeaderName::To)).into_owned();
    let forged = ack(&invite, &answer).replace(&to, "<sip:nobody@example.org>;tag=theirs");
    let other = phone(port_on(&sim, 0, 31000));
    sim.send(other, addr(SERVER), forged.as_bytes());
    let s0 = sim.shards()[0].stats();
    assert_eq!((s0.handed_off, s0.dropped(DropReason::StrayAck)), (0, 1));
    sim.advance(Duration::from_secs(40));
    assert!(
        sim.take(answer.to).len() > 5,
        "Timer G ran on until Timer H"
    );
    assert_accounted(&sim);
}

/// A request inside a dialog whose To tag Drongo minted is answered by the owner, from the
/// address it reached, to the address it came from.
#[test]
fn an_in_dialog_request_is_answered_by_its_owner() {
    let mut sim = Sim::new(4, Sim::template(addr(SERVER)), 5);
    let (invite, answer) = invite_on(&mut sim, 3, 30000, "z9hG4bK-cross-3");
    let to = String::from_utf8_lossy(header(&answer, HeaderName::To)).into_owned();
    let other = phone(port_on(&sim, 1, 31000));
    // In-dialog, to Drongo's own address (the remote target it would have given).
    let bye = invite
        .replace("INVITE sip:nobody@example.org ", "BYE sip:127.0.0.1:5060 ")
        .replace("CSeq: 1 INVITE", "CSeq: 2 BYE")
        .replace("branch=z9hG4bK-cross-3", "branch=z9hG4bK-cross-3-bye")
        .replace("To: <sip:nobody@example.org>", &format!("To: {to}"));
    sim.send(other, addr(SERVER), bye.as_bytes());
    let got = sim.take(other);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].status(),
        Some(481),
        "§12.2.2: no dialog is kept yet; the owner says so"
    );
    assert_eq!(got[0].from, addr(SERVER));
    let (s1, s3) = (sim.shards()[1].stats(), sim.shards()[3].stats());
    assert_eq!((s1.handed_off, s1.answered(4)), (1, 0));
    assert_eq!((s3.handed_in, s3.answered(4)), (1, 2));
    assert_accounted(&sim);
}

/// A response whose top Via branch Drongo minted (the branch of a request it sent) is handled
/// by the shard that minted it, whichever shard the kernel gave it to. No shard sends requests
/// yet, so the owner counts it as a stray response; the handoff is what is shown.
#[test]
fn a_response_reaches_the_shard_its_branch_names() {
    let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 3);
    let mut buf = [0u8; ids::BRANCH_LEN];
    let branch = String::from_utf8(ids::write_branch(1, 0x5eed, &mut buf).to_vec()).unwrap();
    let response = |branch: &str| {
        format!(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
             From: <sip:drongo@127.0.0.1>;tag=01-00000000000000aa\r\n\
             To: <sip:bob@192.0.2.20>;tag=b\r\n\
             Call-ID: out-1@127.0.0.1\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let peer = SocketAddr::from(([192, 0, 2, 20], 5060));
    assert_eq!(sim.shard_for(peer, addr(SERVER)), 0);
    sim.send(peer, addr(SERVER), response(&branch).as_bytes());
    let (s0, s1) = (sim.shards()[0].stats(), sim.shards()[1].stats());
    assert_eq!((s0.responses, s0.handed_off), (0, 1));
    assert_eq!((s1.responses, s1.handed_in), (1, 1));
    assert_eq!(s1.dropped(DropReason::StrayResponse), 1);

    // A branch naming a shard this process does not run, or minted elsewhere: handled here.
    let mut buf = [0u8; ids::BRANCH_LEN];
    let stale = String::from_utf8(ids::write_branch(7, 1, &mut buf).to_vec()).unwrap();
    sim.send(peer, addr(SERVER), response(&stale).as_bytes());
    sim.send(peer, addr(SERVER), response("z9hG4bK-theirs").as_bytes());
    let s0 = sim.shards()[0].stats();
    assert_eq!((s0.responses, s0.handed_off), (2, 1));
    assert_accounted(&sim);
}

/// The channel to a busy owner holds a bounded number of messages; the next is dropped and
/// counted by the shard that could not hand it off (the phone retransmits over UDP).
#[test]
fn a_full_channel_drops_the_handoff_and_counts_it() {
    let mut sim = Sim::new(2, Sim::template(addr(SERVER)), 11);
    sim.set_mesh_capacity(2);
    let calls: Vec<(String, Datagram)> = (0..3)
        .map(|i| invite_on(&mut sim, 1, 30000 + 100 * i, &format!("z9hG4bK-full-{i}")))
        .collect();
    sim.stall(1, true);
    for (i, (invite, answer)) in calls.iter().enumerate() {
        let other = phone(port_on(&sim, 0, 40000 + 100 * i as u16));
        sim.send(other, addr(SERVER), ack(invite, answer).as_bytes());
    }
    assert_eq!(sim.waiting(1), 2);
    let s0 = sim.shards()[0].stats();
    assert_eq!((s0.handed_off, s0.dropped(DropReason::HandoffFull)), (2, 1));
    assert_accounted(&sim);

    sim.stall(1, false);
    assert_eq!(sim.waiting(1), 0);
    let s1 = sim.shards()[1].stats();
    assert_eq!((s1.handed_in, s1.absorbed), (2, 2));
    assert_eq!(sim.shards()[1].server_transactions().invite(), 3);
    // The third phone's 404 goes on until its ACK gets through.
    sim.take_all();
    sim.advance(Duration::from_secs(2));
    let resent: Vec<SocketAddr> = sim.take_all().iter().map(|d| d.to).collect();
    assert!(!resent.is_empty());
    assert!(resent.iter().all(|to| *to == calls[2].1.to), "{resent:?}");
    assert_accounted(&sim);
}

/// With one shard nothing is ever handed off: the ACK from another port finds the transaction
/// on the only shard.
#[test]
fn one_shard_hands_nothing_off() {
    let mut sim = Sim::new(1, Sim::template(addr(SERVER)), 11);
    let (invite, answer) = invite_on(&mut sim, 0, 30000, "z9hG4bK-one");
    sim.send(phone(31000), addr(SERVER), ack(&invite, &answer).as_bytes());
    let s = sim.shards()[0].stats();
    assert_eq!((s.handed_off, s.handed_in, s.absorbed), (0, 0, 1));
    assert_accounted(&sim);
}
