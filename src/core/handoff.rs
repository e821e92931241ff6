//! Cross-shard handoff, the core's side (DESIGN §3): which shard owns a message, and the owned
//! message that carries it there.
//!
//! Every id Drongo mints names the shard that minted it: the Via branch of a request it sends
//! ([`ids::write_branch`]) and the tag it adds to To in its answers ([`ids::write_tag`]). A
//! message carrying one of those ids belongs to that shard's transactions and dialogs,
//! whichever shard the kernel's SO_REUSEPORT hash of the 4-tuple delivered it to:
//!
//! - a response whose top Via branch Drongo minted belongs to the shard that holds the client
//!   transaction (RFC 3261 §17.1.3 matches a response by that branch);
//! - a request whose To tag Drongo minted belongs to the shard that answered with that tag: the
//!   ACK of a non-2xx final, which the server transaction there absorbs (§17.2.3), and every
//!   request inside a dialog (§12.2.2), the ACK of a 2xx among them.
//!
//! Everything else is owned by the shard that received it: initial requests, a CANCEL (its To
//! is the INVITE's, without a tag, §9.1; it comes from the INVITE's 4-tuple, so the kernel
//! picks the INVITE's shard), ids other elements minted, and ids naming a shard this process
//! does not run (another node's, or a run with more shards).
//!
//! The receiving shard decides once the message has parsed and validated (a broken message is
//! answered or dropped where it arrived: no transaction could match it anyway) and before it
//! does anything else with it. A message owned by another shard becomes a [`Handoff`]: its
//! bytes copied into a buffer from the shard's pool, the flow, both addresses and the arrival
//! instant. The shell carries it to the owner, which handles it through
//! [`Shard::handle_handoff`](crate::core::shard::Shard::handle_handoff) exactly as if it had
//! arrived there, without deciding ownership again, so a message crosses at most once. Its
//! answers leave from the owner: over UDP through the owner's own socket on the same local
//! address (every shard has one on each address, SO_REUSEPORT); on a connection another shard
//! owns through that shard, which the shell finds from the connection id.
//!
//! Accounting (see `ShardStats::accounted`): the receiving shard counts the message in
//! `received` and, having handed it off, in `handed_off`; that is its fate there. The owner
//! counts it in `received` and `handed_in` and then its fate (answered, absorbed, dropped) as
//! for any message. So `accounted() == received` holds on every shard after every input, and
//! over all shards `received - handed_in` is what came from the network. A handoff the shell
//! cannot deliver (the channel to the owner is full, or the owner has stopped) comes back
//! through `Shard::handoff_undelivered`, which moves it from `handed_off` to a drop by reason.
//!
//! The buffer travels with the message and the owner keeps it in its own pool once handled,
//! so traffic that crosses both ways circulates buffers without allocating.

use std::net::SocketAddr;
use std::time::Instant;

use crate::core::ids;
use crate::core::shard::Flow;
use crate::core::sip::message::Message;
use crate::core::sip::validate::Checked;

/// A message on its way to the shard that owns it.
#[derive(Debug)]
pub struct Handoff {
    /// The owner shard, which handles it.
    pub to: u16,
    /// The shard that received it.
    pub from: u16,
    /// How it arrived: a datagram, or a message framed on a connection (whose id names the
    /// shard that owns the connection).
    pub flow: Flow,
    /// The address it reached.
    pub local: SocketAddr,
    /// The address it came from.
    pub remote: SocketAddr,
    /// When the receiving shard took it in. The owner handles it at its own `now`; this is
    /// for figures on how long the crossing took.
    pub received: Instant,
    /// The whole message, in a buffer from the receiving shard's pool.
    pub bytes: Vec<u8>,
}

/// The shard that owns a parsed and validated message, when that is not `here`: the shard a
/// Drongo-minted id in it names (the top Via branch of a response, the To tag of a request),
/// if the process runs that shard.
pub fn owner(here: u16, shard_count: u16, msg: &Message<'_>, checked: &Checked<'_>) -> Option<u16> {
    let minted = if msg.is_request() {
        checked.to.tag().and_then(ids::tag_shard)
    } else {
        checked.top_via.branch().and_then(ids::branch_shard)
    };
    minted.filter(|&shard| shard != here && shard < shard_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::message::Framing;
    use crate::core::sip::validate;

    fn owner_of(here: u16, shards: u16, text: &str) -> Option<u16> {
        let msg = Message::parse(text.as_bytes(), Framing::Datagram).expect("parses");
        let checked = validate::message(&msg).expect("validates");
        owner(here, shards, &msg, &checked)
    }

    fn request(method: &str, to_tag: &str) -> String {
        format!(
            "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r\r\n\
             From: <sip:alice@example.com>;tag=a\r\n\
             To: <sip:bob@127.0.0.1>{to_tag}\r\n\
             Call-ID: c\r\n\
             CSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    fn response(branch: &str) -> String {
        format!(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK0001-0000000000000001\r\n\
             From: <sip:alice@example.com>;tag=a\r\n\
             To: <sip:bob@example.com>;tag=01-0000000000000002\r\n\
             Call-ID: c\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    #[test]
    fn a_request_with_a_to_tag_drongo_minted_belongs_to_that_shard() {
        let mut buf = [0u8; ids::TAG_LEN];
        let tag = String::from_utf8(ids::write_tag(1, 42, &mut buf).to_vec()).unwrap();
        let ack = request("ACK", &format!(";tag={tag}"));
        assert_eq!(owner_of(0, 2, &ack), Some(1));
        assert_eq!(owner_of(1, 2, &ack), None, "already on its owner");
        assert_eq!(owner_of(0, 1, &ack), None, "no shard 1 in this process");
        let bye = request("BYE", &format!(";tag={tag}"));
        assert_eq!(owner_of(0, 4, &bye), Some(1));
    }

    #[test]
    fn requests_without_a_minted_tag_stay_where_they_arrived() {
        assert_eq!(owner_of(0, 2, &request("INVITE", "")), None);
        assert_eq!(owner_of(0, 2, &request("BYE", ";tag=their-own")), None);
    }

    #[test]
    fn a_response_is_owned_by_the_shard_its_top_branch_names() {
        let mut buf = [0u8; ids::BRANCH_LEN];
        let branch = String::from_utf8(ids::write_branch(3, 7, &mut buf).to_vec()).unwrap();
        assert_eq!(owner_of(0, 4, &response(&branch)), Some(3));
        assert_eq!(owner_of(3, 4, &response(&branch)), None);
        assert_eq!(owner_of(0, 3, &response(&branch)), None, "shard 3 not run");
        // Only the top Via counts, and the To tag of a response names nothing.
        assert_eq!(owner_of(0, 4, &response("z9hG4bK-theirs")), None);
    }
}
