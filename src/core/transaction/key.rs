//! Transaction matching keys, RFC 3261 §17.1.3 (client) and §17.2.3 (server), with the
//! RFC 2543 fallback for requests whose top Via has no `z9hG4bK` branch.
//!
//! Owns: turning a parsed message into the key of the transaction it belongs to, so that the
//! transaction table is one hash map per side. A key owns its bytes in a small inline buffer
//! (no heap for ordinary branches) and compares and hashes as bytes. Must not: panic on any
//! message (a message that lacks what its key needs gives `None`), or decide what to do with
//! a message that matches nothing (the layer above: a stray response is dropped, RFC 6026
//! §7.1.1; a new request creates a transaction).
//!
//! - Client (§17.1.3): the top Via branch and the CSeq method. CANCEL and ACK share the
//!   INVITE's branch yet are other methods, so their keys differ from the INVITE's.
//! - Server, RFC 3261 branch (§17.2.3): the branch, the top Via sent-by (host compared
//!   case-insensitively, IP addresses by value, the port as written) and the method, except
//!   that an ACK has the key of the INVITE it acknowledges; a CANCEL is a transaction of its
//!   own, and [`ServerKey::cancel_target`] gives the key of the INVITE it cancels (§9.2).
//! - Server, RFC 2543 (§17.2.3, §9.2): Request-URI, From tag, Call-ID, CSeq number, the top
//!   Via and the method class. For INVITE, ACK and CANCEL the To tag is left out of the key:
//!   an ACK carries the tag of the response, which its INVITE had not. The layer above
//!   completes the match of such an ACK by comparing its To tag with the tag of the response
//!   the transaction sent. For other methods the To tag is part of the key.

use std::fmt;

use smallvec::SmallVec;

use crate::core::sip::headers::{CSeq, NameAddr, Via, Vias, BRANCH_COOKIE};
use crate::core::sip::text::trim;
use crate::core::sip::uri::Host;
use crate::core::sip::validate::Checked;
use crate::core::sip::{HeaderName, Message, Method};

/// Bytes kept inline; longer keys move to the heap.
const INLINE: usize = 48;

type KeyBytes = SmallVec<[u8; INLINE]>;

/// The key of a client transaction (§17.1.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Method code, then the branch.
    bytes: KeyBytes,
}

/// The key of a server transaction (§17.2.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    /// Kind (3261 or 2543), method code, then the kind's fields.
    bytes: KeyBytes,
}

const KIND_3261: u8 = 1;
const KIND_2543: u8 = 2;

impl ClientKey {
    /// The key of a request Drongo sends: its top Via branch and its method.
    pub fn of_request(request: &Message<'_>) -> Option<ClientKey> {
        let method = request.method()?;
        ClientKey::build(request, method)
    }

    /// The key of the client transaction a response belongs to: its top Via branch and its
    /// CSeq method.
    pub fn of_response(response: &Message<'_>) -> Option<ClientKey> {
        if response.is_request() {
            return None;
        }
        let cseq = CSeq::parse(response.header(HeaderName::CSeq)?).ok()?;
        ClientKey::build(response, cseq.method)
    }

    fn build(msg: &Message<'_>, method: Method<'_>) -> Option<ClientKey> {
        Some(ClientKey::new(method, top_via_branch(msg)?))
    }

    /// The key of a request Drongo writes itself, from the method and the branch it put in
    /// its top Via: what [`ClientKey::of_request`] reads back, without parsing the request.
    pub fn new(method: Method<'_>, branch: &[u8]) -> ClientKey {
        let mut bytes = KeyBytes::new();
        push_method(&mut bytes, method);
        bytes.extend_from_slice(branch);
        ClientKey { bytes }
    }

    /// The branch this key was made from.
    pub fn branch(&self) -> &[u8] {
        &self.bytes[method_len(&self.bytes)..]
    }
}

impl ServerKey {
    /// The key of the server transaction a request belongs to: by its RFC 3261 branch when
    /// the top Via has one, else by the RFC 2543 fields. An ACK gets the key of its INVITE.
    pub fn of_request(request: &Message<'_>) -> Option<ServerKey> {
        let method = request.method()?;
        let via = Vias::new(request.header(HeaderName::Via)?).next()?.ok()?;
        let uri = request.request()?.uri;
        let call_id = trim(request.header(HeaderName::CallId)?);
        let cseq = CSeq::parse(request.header(HeaderName::CSeq)?).ok()?;
        let from = NameAddr::parse(request.header(HeaderName::From)?).ok()?;
        let to = NameAddr::parse(request.header(HeaderName::To)?).ok()?;
        Some(ServerKey::build(
            method,
            &via,
            Fallback2543 {
                uri,
                call_id,
                seq: cseq.seq,
                from_tag: from.tag().unwrap_or_default(),
                to_tag: to.tag().unwrap_or_default(),
            },
        ))
    }

    /// [`ServerKey::of_request`] from the headers validation already decoded.
    pub fn of_checked(request: &Message<'_>, checked: &Checked<'_>) -> Option<ServerKey> {
        let method = request.method()?;
        Some(ServerKey::build(
            method,
            &checked.top_via,
            Fallback2543 {
                uri: request.request()?.uri,
                call_id: checked.call_id,
                seq: checked.cseq.seq,
                from_tag: checked.from.tag().unwrap_or_default(),
                to_tag: checked.to.tag().unwrap_or_default(),
            },
        ))
    }

    fn build(method: Method<'_>, via: &Via<'_>, old: Fallback2543<'_>) -> ServerKey {
        let method = match method {
            Method::Ack => Method::Invite,
            m => m,
        };
        match ServerKey::build_3261_inline(method, via) {
            Some(key) => key,
            None => ServerKey::build_pushed(method, via, old),
        }
    }

    /// [`ServerKey::build`] a byte at a time, for any request.
    fn build_pushed(method: Method<'_>, via: &Via<'_>, old: Fallback2543<'_>) -> ServerKey {
        let mut bytes = KeyBytes::new();
        if via.is_rfc3261_branch() {
            bytes.push(KIND_3261);
            push_method(&mut bytes, method);
            push_host(&mut bytes, via.host());
            match via.port() {
                Some(p) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&p.to_be_bytes());
                }
                None => bytes.push(0),
            }
            // NOTE: is_rfc3261_branch checked that the branch is present.
            bytes.extend_from_slice(via.branch().unwrap_or_default());
            return ServerKey { bytes };
        }
        bytes.push(KIND_2543);
        push_method(&mut bytes, method);
        push_field(&mut bytes, old.uri);
        push_field(&mut bytes, old.from_tag);
        push_field(&mut bytes, old.call_id);
        bytes.extend_from_slice(&old.seq.to_be_bytes());
        push_field(&mut bytes, via.as_bytes());
        if !matches!(method, Method::Invite | Method::Cancel) {
            push_field(&mut bytes, old.to_tag);
        }
        ServerKey { bytes }
    }

    /// The RFC 3261 key of most requests (a method Drongo knows, a sent-by host shorter than
    /// 128 bytes, a key that fits inline), written into an array and taken whole: the bytes
    /// [`ServerKey::build`] pushes one at a time. `None` for any other request.
    #[inline]
    fn build_3261_inline(method: Method<'_>, via: &Via<'_>) -> Option<ServerKey> {
        if matches!(method, Method::Other(_)) || !via.is_rfc3261_branch() {
            return None;
        }
        let branch = via.branch()?;
        let mut key = [0u8; INLINE];
        key[0] = KIND_3261;
        key[1] = method_code(method);
        let mut len = match via.host() {
            Host::V4(a) => {
                key[2] = 4;
                key[3..7].copy_from_slice(&a.octets());
                7
            }
            Host::V6(a) => {
                key[2] = 6;
                key[3..19].copy_from_slice(&a.octets());
                19
            }
            Host::Domain(name) if name.len() < 0x80 => {
                // A one-byte LEB128 length, then the name in lower case.
                key[2] = 0;
                key[3] = name.len() as u8;
                let at = key.get_mut(4..4 + name.len())?;
                for (k, b) in at.iter_mut().zip(name) {
                    *k = b.to_ascii_lowercase();
                }
                4 + name.len()
            }
            Host::Domain(_) => return None,
        };
        match via.port() {
            Some(p) => {
                let at = key.get_mut(len..len + 3)?;
                at[0] = 1;
                at[1..].copy_from_slice(&p.to_be_bytes());
                len += 3;
            }
            None => {
                *key.get_mut(len)? = 0;
                len += 1;
            }
        }
        let end = len + branch.len();
        key.get_mut(len..end)?.copy_from_slice(branch);
        Some(ServerKey {
            bytes: KeyBytes::from_buf_and_len(key, end),
        })
    }

    /// For the key of a CANCEL, the key of the INVITE it cancels (§9.2: the same matching
    /// with the method INVITE); `None` for any other key.
    pub fn cancel_target(&self) -> Option<ServerKey> {
        let cancel = method_code(Method::Cancel);
        if self.bytes.get(1) != Some(&cancel) {
            return None;
        }
        let mut bytes = self.bytes.clone();
        // NOTE: index 1 was just read.
        bytes[1] = method_code(Method::Invite);
        Some(ServerKey { bytes })
    }

    /// True when the request carried an RFC 3261 branch; false for the RFC 2543 fallback,
    /// whose ACKs the layer above must also match by To tag.
    pub fn is_rfc3261(&self) -> bool {
        self.bytes.first() == Some(&KIND_3261)
    }
}

/// The branch of the first value of the first Via line, if it carries the magic cookie
/// (client keys exist only for requests Drongo sent, which always do).
fn top_via_branch<'a>(msg: &Message<'a>) -> Option<&'a [u8]> {
    let via = Vias::new(msg.header(HeaderName::Via)?).next()?.ok()?;
    let branch = via.branch()?;
    branch.starts_with(BRANCH_COOKIE).then_some(branch)
}

/// The fields of an RFC 2543 request's key besides its method and top Via; a missing tag is
/// empty (RFC 2543 requests may lack one).
struct Fallback2543<'a> {
    uri: &'a [u8],
    call_id: &'a [u8],
    seq: u32,
    from_tag: &'a [u8],
    to_tag: &'a [u8],
}

/// One byte per method Drongo knows; 0xFF, a length and the bytes for any other.
fn method_code(method: Method<'_>) -> u8 {
    match method {
        Method::Invite => 1,
        Method::Ack => 2,
        Method::Bye => 3,
        Method::Cancel => 4,
        Method::Options => 5,
        Method::Register => 6,
        Method::Prack => 7,
        Method::Update => 8,
        Method::Refer => 9,
        Method::Notify => 10,
        Method::Subscribe => 11,
        Method::Message => 12,
        Method::Info => 13,
        Method::Publish => 14,
        Method::Other(_) => 0xFF,
    }
}

fn push_method(bytes: &mut KeyBytes, method: Method<'_>) {
    let code = method_code(method);
    bytes.push(code);
    if let Method::Other(name) = method {
        push_len(bytes, name.len());
        bytes.extend_from_slice(name);
    }
}

/// Length of the method encoding at the start of a client key.
fn method_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(0xFF) => {
            let (len, used) = read_len(bytes.get(1..).unwrap_or_default());
            (1 + used + len).min(bytes.len())
        }
        Some(_) => 1,
        None => 0,
    }
}

fn push_host(bytes: &mut KeyBytes, host: Host<'_>) {
    match host {
        Host::Domain(name) => {
            bytes.push(0);
            push_len(bytes, name.len());
            bytes.extend(name.iter().map(u8::to_ascii_lowercase));
        }
        Host::V4(a) => {
            bytes.push(4);
            bytes.extend_from_slice(&a.octets());
        }
        Host::V6(a) => {
            bytes.push(6);
            bytes.extend_from_slice(&a.octets());
        }
    }
}

/// A length-prefixed field, so that adjacent fields cannot run into each other.
fn push_field(bytes: &mut KeyBytes, field: &[u8]) {
    push_len(bytes, field.len());
    bytes.extend_from_slice(field);
}

/// LEB128.
fn push_len(bytes: &mut KeyBytes, mut n: usize) {
    loop {
        let low = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

/// Reads a LEB128 length: (value, bytes used). Stops at the end of `bytes`.
fn read_len(bytes: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    for (i, b) in bytes.iter().enumerate().take(10) {
        n |= usize::from(b & 0x7F).checked_shl(7 * i as u32).unwrap_or(0);
        if b & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    (n, bytes.len().min(10))
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientKey({})", self.bytes.escape_ascii())
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerKey({})", self.bytes.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::Framing;
    use proptest::prelude::*;

    fn parse(b: &[u8]) -> Message<'_> {
        Message::parse(b, Framing::Datagram).unwrap()
    }

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds8\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";

    /// `INVITE` with its method and CSeq method replaced, and optionally the To tag set.
    fn request(method: &str, to_tag: Option<&str>) -> Vec<u8> {
        let text = String::from_utf8(INVITE.to_vec()).unwrap();
        let text = text
            .replace("INVITE sip:", &format!("{method} sip:"))
            .replace("314159 INVITE", &format!("314159 {method}"));
        match to_tag {
            Some(t) => text.replace(
                "To: Bob <sip:bob@biloxi.example.com>",
                &format!("To: Bob <sip:bob@biloxi.example.com>;tag={t}"),
            ),
            None => text,
        }
        .into_bytes()
    }

    fn server(b: &[u8]) -> ServerKey {
        ServerKey::of_request(&parse(b)).unwrap()
    }

    #[test]
    fn client_key_is_branch_and_cseq_method() {
        let inv = ClientKey::of_request(&parse(INVITE)).unwrap();
        assert_eq!(inv.branch(), b"z9hG4bKnashds8");
        let ok = b"SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds8;received=192.0.2.1\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";
        assert_eq!(ClientKey::of_response(&parse(ok)), Some(inv.clone()));
        // The 200 to the CANCEL shares the branch but not the transaction (§17.1.3).
        let cancel_ok = String::from_utf8(ok.to_vec())
            .unwrap()
            .replace("314159 INVITE", "314159 CANCEL")
            .into_bytes();
        let cancel = ClientKey::of_response(&parse(&cancel_ok)).unwrap();
        assert_ne!(cancel, inv);
        assert_eq!(cancel.branch(), inv.branch());
        assert_eq!(
            ClientKey::of_request(&parse(&request("CANCEL", None))),
            Some(cancel)
        );
        // A request is not a response and vice versa.
        assert_eq!(ClientKey::of_response(&parse(INVITE)), None);
        // The key Drongo makes for a request it writes is the one the request reads back.
        assert_eq!(ClientKey::new(Method::Invite, b"z9hG4bKnashds8"), inv);
    }

    #[test]
    fn client_key_of_an_extension_method() {
        let req = request("FOO", None);
        let k = ClientKey::of_request(&parse(&req)).unwrap();
        assert_eq!(k.branch(), b"z9hG4bKnashds8");
        let other = request("FOOBAR", None);
        assert_ne!(ClientKey::of_request(&parse(&other)), Some(k));
    }

    #[test]
    fn server_ack_matches_its_invite_cancel_is_its_own() {
        let inv = server(INVITE);
        assert!(inv.is_rfc3261());
        assert_eq!(server(&request("ACK", Some("a6c85cf"))), inv);
        let cancel = server(&request("CANCEL", None));
        assert_ne!(cancel, inv);
        assert_eq!(cancel.cancel_target(), Some(inv.clone()));
        assert_eq!(inv.cancel_target(), None);
        assert_ne!(server(&request("BYE", None)), inv);
    }

    #[test]
    fn server_sent_by_compares_host_case_insensitively_and_port_as_written() {
        let inv = server(INVITE);
        let upper = String::from_utf8(INVITE.to_vec()).unwrap().replace(
            "pc33.atlanta.example.com:5060",
            "PC33.Atlanta.example.COM:5060",
        );
        assert_eq!(server(upper.as_bytes()), inv);
        let other_port = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace(":5060;", ":5070;");
        assert_ne!(server(other_port.as_bytes()), inv);
        let other_host = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("pc33.atlanta", "pc34.atlanta");
        assert_ne!(server(other_host.as_bytes()), inv);
        let v6a = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("pc33.atlanta.example.com", "[2001:db8::1]");
        let v6b = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("pc33.atlanta.example.com", "[2001:DB8:0::1]");
        assert_eq!(server(v6a.as_bytes()), server(v6b.as_bytes()));
    }

    #[test]
    fn rfc_2543_fallback() {
        let old = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace(";branch=z9hG4bKnashds8", ";branch=1234");
        let inv = server(old.as_bytes());
        assert!(!inv.is_rfc3261());
        // The ACK carries the response's To tag and still matches (§17.2.3).
        let ack = old
            .replace("INVITE sip:", "ACK sip:")
            .replace("314159 INVITE", "314159 ACK")
            .replace(
                "To: Bob <sip:bob@biloxi.example.com>",
                "To: Bob <sip:bob@biloxi.example.com>;tag=x",
            );
        assert_eq!(server(ack.as_bytes()), inv);
        let cancel = old
            .replace("INVITE sip:", "CANCEL sip:")
            .replace("314159 INVITE", "314159 CANCEL");
        assert_eq!(server(cancel.as_bytes()).cancel_target(), Some(inv.clone()));
        // Another CSeq, Call-ID, From tag or Request-URI is another transaction.
        for (from, to) in [
            ("314159 INVITE", "314160 INVITE"),
            ("a84b4c76e66710", "a84b4c76e66711"),
            ("tag=1928301774", "tag=1928301775"),
            ("INVITE sip:bob@", "INVITE sip:carol@"),
        ] {
            assert_ne!(server(old.replace(from, to).as_bytes()), inv, "{to}");
        }
        // Without any branch too.
        let none = old.replace(";branch=1234", "");
        assert!(!server(none.as_bytes()).is_rfc3261());
        // Non-INVITE: the To tag is part of the key.
        let bye = old
            .replace("INVITE sip:", "BYE sip:")
            .replace("314159 INVITE", "314159 BYE");
        let bye_tagged = bye.replace(
            "To: Bob <sip:bob@biloxi.example.com>",
            "To: Bob <sip:bob@biloxi.example.com>;tag=y",
        );
        assert_ne!(server(bye.as_bytes()), server(bye_tagged.as_bytes()));
    }

    #[test]
    fn the_bare_cookie_is_not_an_rfc_3261_branch() {
        // RFC 4475 §3.2.1: `branch=z9hG4bK` alone falls back to RFC 2543 matching.
        let bare = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("z9hG4bKnashds8", "z9hG4bK");
        assert!(!server(bare.as_bytes()).is_rfc3261());
    }

    #[test]
    fn missing_pieces_give_none() {
        let no_via = String::from_utf8(INVITE.to_vec()).unwrap().replace(
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds8\r\n",
            "",
        );
        assert_eq!(ServerKey::of_request(&parse(no_via.as_bytes())), None);
        assert_eq!(ClientKey::of_request(&parse(no_via.as_bytes())), None);
        let bad_via = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("SIP/2.0/UDP pc33", "SIP/2.0/UDP ;;pc33");
        assert_eq!(ServerKey::of_request(&parse(bad_via.as_bytes())), None);
        let foreign = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("branch=z9hG4bKnashds8", "branch=abc");
        assert_eq!(ClientKey::of_request(&parse(foreign.as_bytes())), None);
        let no_cseq = String::from_utf8(foreign.into_bytes())
            .unwrap()
            .replace("CSeq: 314159 INVITE\r\n", "");
        assert_eq!(ServerKey::of_request(&parse(no_cseq.as_bytes())), None);
    }

    #[test]
    fn keys_written_whole_are_the_keys_pushed_a_byte_at_a_time() {
        let old = || Fallback2543 {
            uri: b"sip:x",
            call_id: b"c",
            seq: 1,
            from_tag: b"f",
            to_tag: b"",
        };
        let long_branch = format!("z9hG4bK{}", "x".repeat(40));
        let long_host = format!("h{}.example.com", "o".repeat(140));
        let mut inline = 0;
        for sent_by in [
            "192.0.2.1",
            "192.0.2.1:5060",
            "[2001:db8::1]:5062",
            "[2001:db8::1]",
            "Phone.Example.COM",
            "phone.example.com:0",
            &long_host,
        ] {
            for branch in ["z9hG4bK-1", "z9hG4bKnashds8", "abc", &long_branch] {
                let value = format!("SIP/2.0/UDP {sent_by};branch={branch}");
                let via = Via::parse(value.as_bytes()).unwrap();
                for method in [Method::Invite, Method::Options, Method::Other(b"FOO")] {
                    let pushed = ServerKey::build_pushed(method, &via, old());
                    if let Some(whole) = ServerKey::build_3261_inline(method, &via) {
                        assert_eq!(whole, pushed, "{value} {method:?}");
                        assert!(!whole.bytes.spilled());
                        inline += 1;
                    }
                    assert_eq!(ServerKey::build(method, &via, old()), pushed);
                }
            }
        }
        assert_eq!(
            inline,
            6 * 2 * 2,
            "IP and short domain sent-bys, short branches"
        );
    }

    #[test]
    fn keys_of_ordinary_requests_stay_inline() {
        let k = server(INVITE);
        assert!(!k.bytes.spilled(), "{} bytes", k.bytes.len());
        let c = ClientKey::of_request(&parse(INVITE)).unwrap();
        assert!(!c.bytes.spilled());
        println!(
            "size_of ClientKey = {}, ServerKey = {}",
            std::mem::size_of::<ClientKey>(),
            std::mem::size_of::<ServerKey>()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        /// Any bytes that parse never make a key panic.
        #[test]
        fn keys_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..400) {
            let mut buf = INVITE.to_vec();
            let at = cut.min(buf.len());
            buf.truncate(at);
            buf.extend_from_slice(&tail);
            if let Ok(m) = Message::parse(&buf, Framing::Datagram) {
                let _ = ServerKey::of_request(&m).map(|k| k.cancel_target());
                let _ = ClientKey::of_request(&m).map(|k| k.branch().len());
                let _ = ClientKey::of_response(&m);
            }
        }

        /// Header values of any shape: mutate the Via, CSeq, From and To values.
        #[test]
        fn keys_never_panic_on_odd_values(
            via in "[ -~]{0,60}",
            cseq in "[ -~]{0,20}",
            from in "[ -~]{0,40}",
        ) {
            let text = format!(
                "INVITE sip:b@x SIP/2.0\r\nVia: {via}\r\nTo: <sip:b@x>\r\nFrom: {from}\r\n\
    Call-ID: c\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
            );
            if let Ok(m) = Message::parse(text.as_bytes(), Framing::Datagram) {
                let _ = ServerKey::of_request(&m);
                let _ = ClientKey::of_request(&m);
            }
        }
    }
}
