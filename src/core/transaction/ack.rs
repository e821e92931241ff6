//! The requests a client transaction builds from its own request: the ACK for a non-2xx final
//! response (RFC 3261 §17.1.1.3) and CANCEL (§9.1).
//!
//! Owns: copying exactly the header fields those sections name, with the codec's writer, into
//! a caller-owned buffer. Must not: decide when to send them (the machines and the layer
//! above do), or panic on a response from the network: a message that lacks a field gives
//! [`BuildError`] and leaves the buffer as it was.

use crate::core::sip::headers::{CSeq, Vias};
use crate::core::sip::writer::Writer;
use crate::core::sip::{HeaderName, Message, Method};

/// Why an ACK or CANCEL could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildError {
    /// The request is not an INVITE (only an INVITE is ACKed by its transaction or
    /// cancelled, §9.1).
    NotAnInvite,
    /// The message given as the response is a request.
    NotAResponse,
    /// A header the request needs is missing.
    Missing(HeaderName),
    /// A header the request needs does not decode.
    Invalid(HeaderName),
}

/// The pieces both requests copy from the INVITE.
struct Copied<'a> {
    uri: &'a [u8],
    top_via: &'a [u8],
    from: &'a [u8],
    call_id: &'a [u8],
    seq: u32,
}

fn copied<'a>(request: &Message<'a>) -> Result<Copied<'a>, BuildError> {
    let line = request.request().ok_or(BuildError::NotAnInvite)?;
    if line.method != Method::Invite {
        return Err(BuildError::NotAnInvite);
    }
    let header = |name| request.header(name).ok_or(BuildError::Missing(name));
    let top_via = match Vias::new(header(HeaderName::Via)?).next() {
        Some(Ok(via)) => via.as_bytes(),
        _ => return Err(BuildError::Invalid(HeaderName::Via)),
    };
    let cseq = CSeq::parse(header(HeaderName::CSeq)?)
        .map_err(|_| BuildError::Invalid(HeaderName::CSeq))?;
    Ok(Copied {
        uri: line.uri,
        top_via,
        from: header(HeaderName::From)?,
        call_id: header(HeaderName::CallId)?,
        seq: cseq.seq,
    })
}

/// Writes a request of `method` for `request`: the same Request-URI, the request's top Via
/// value only, its Route fields, Max-Forwards 70, From and Call-ID as in the request, `to`
/// as given, CSeq with the request's number and `method`, no body.
fn write(request: &Message<'_>, c: &Copied<'_>, method: Method<'_>, to: &[u8], out: &mut Vec<u8>) {
    let mut w = Writer::request(out, method, c.uri);
    w.header("Via", c.top_via);
    let headers = request.headers();
    for f in headers
        .fields()
        .iter()
        .filter(|f| f.name == HeaderName::Route)
    {
        w.copy_field(headers, f);
    }
    w.header("Max-Forwards", b"70")
        .header("From", c.from)
        .header("To", to)
        .header("Call-ID", c.call_id)
        .header_fmt(
            "CSeq",
            format_args!("{} {}", c.seq, method.as_bytes().escape_ascii()),
        );
    w.finish(b"");
}

/// The ACK for a non-2xx final `response` to the INVITE `request` (§17.1.1.3): Request-URI,
/// Call-ID and From of the request, To of the response (with its tag), one Via equal to the
/// request's top Via, the request's CSeq number with method ACK, its Route fields,
/// Max-Forwards 70, Content-Length 0. Build it once; resend the same bytes.
pub fn build_ack_for_non2xx(
    request: &Message<'_>,
    response: &Message<'_>,
    out: &mut Vec<u8>,
) -> Result<(), BuildError> {
    let c = copied(request)?;
    if response.is_request() {
        return Err(BuildError::NotAResponse);
    }
    let to = response
        .header(HeaderName::To)
        .ok_or(BuildError::Missing(HeaderName::To))?;
    write(request, &c, Method::Ack, to, out);
    Ok(())
}

/// The CANCEL for the INVITE `request` (§9.1): Request-URI, Call-ID, To, From and the CSeq
/// number of the request with method CANCEL, one Via equal to the request's top Via (so it
/// carries the same branch), its Route fields, Max-Forwards 70, Content-Length 0.
pub fn build_cancel(request: &Message<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
    let c = copied(request)?;
    let to = request
        .header(HeaderName::To)
        .ok_or(BuildError::Missing(HeaderName::To))?;
    write(request, &c, Method::Cancel, to, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::Framing;
    use crate::core::transaction::{ClientKey, ServerKey};
    use proptest::prelude::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP sbc.example.com;branch=z9hG4bK74bf9, SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
Via: SIP/2.0/UDP older.example.com;branch=z9hG4bKold\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Max-Forwards: 69\r\n\
Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    const BUSY: &[u8] = b"SIP/2.0 486 Busy Here\r\n\
Via: SIP/2.0/UDP sbc.example.com;branch=z9hG4bK74bf9;received=192.0.2.5\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=314159\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Content-Length: 0\r\n\r\n";

    fn parse(b: &[u8]) -> Message<'_> {
        Message::parse(b, Framing::Datagram).unwrap()
    }

    fn all<'a>(m: &Message<'a>, name: HeaderName) -> Vec<&'a [u8]> {
        m.headers().all(name).collect()
    }

    #[test]
    fn ack_for_a_non_2xx_copies_what_17_1_1_3_names() {
        let (req, resp) = (parse(INVITE), parse(BUSY));
        let mut out = Vec::new();
        build_ack_for_non2xx(&req, &resp, &mut out).unwrap();
        let ack = parse(&out);
        let line = ack.request().unwrap();
        assert_eq!(line.method, Method::Ack);
        assert_eq!(line.uri, b"sip:bob@biloxi.example.com");
        assert_eq!(
            all(&ack, HeaderName::Via),
            [&b"SIP/2.0/UDP sbc.example.com;branch=z9hG4bK74bf9"[..]]
        );
        assert_eq!(
            all(&ack, HeaderName::Route),
            [
                &b"<sip:p1.example.com;lr>"[..],
                b"<sip:p2.example.com;lr>, <sip:p3.example.com;lr>"
            ]
        );
        assert_eq!(ack.header(HeaderName::MaxForwards), Some(&b"70"[..]));
        assert_eq!(ack.header(HeaderName::From), req.header(HeaderName::From));
        assert_eq!(ack.header(HeaderName::To), resp.header(HeaderName::To));
        assert_eq!(
            ack.header(HeaderName::CallId),
            req.header(HeaderName::CallId)
        );
        assert_eq!(ack.header(HeaderName::CSeq), Some(&b"2 ACK"[..]));
        assert_eq!(ack.header(HeaderName::Contact), None);
        assert_eq!(ack.header(HeaderName::ContentLength), Some(&b"0"[..]));
        assert!(ack.body().is_empty());
        // The ACK reaches the INVITE's server transaction (§17.2.3).
        assert_eq!(ServerKey::of_request(&ack), ServerKey::of_request(&req));
    }

    #[test]
    fn cancel_copies_what_9_1_names() {
        let req = parse(INVITE);
        let mut out = Vec::new();
        build_cancel(&req, &mut out).unwrap();
        let cancel = parse(&out);
        assert_eq!(cancel.method(), Some(Method::Cancel));
        assert_eq!(cancel.request().unwrap().uri, req.request().unwrap().uri);
        assert_eq!(
            all(&cancel, HeaderName::Via),
            [&b"SIP/2.0/UDP sbc.example.com;branch=z9hG4bK74bf9"[..]]
        );
        assert_eq!(all(&cancel, HeaderName::Route).len(), 2);
        assert_eq!(cancel.header(HeaderName::To), req.header(HeaderName::To));
        assert_eq!(
            cancel.header(HeaderName::From),
            req.header(HeaderName::From)
        );
        assert_eq!(
            cancel.header(HeaderName::CallId),
            req.header(HeaderName::CallId)
        );
        assert_eq!(cancel.header(HeaderName::CSeq), Some(&b"2 CANCEL"[..]));
        assert_eq!(cancel.header(HeaderName::MaxForwards), Some(&b"70"[..]));
        assert!(cancel.body().is_empty());
        // Same branch, another client transaction; its server key names the INVITE's.
        let (ck, ik) = (
            ClientKey::of_request(&cancel).unwrap(),
            ClientKey::of_request(&req).unwrap(),
        );
        assert_eq!(ck.branch(), ik.branch());
        assert_ne!(ck, ik);
        assert_eq!(
            ServerKey::of_request(&cancel).unwrap().cancel_target(),
            ServerKey::of_request(&req)
        );
    }

    #[test]
    fn refusals_leave_the_buffer_alone() {
        let (req, resp) = (parse(INVITE), parse(BUSY));
        let mut out = b"keep".to_vec();
        assert_eq!(
            build_ack_for_non2xx(&resp, &resp, &mut out),
            Err(BuildError::NotAnInvite)
        );
        assert_eq!(
            build_ack_for_non2xx(&req, &req, &mut out),
            Err(BuildError::NotAResponse)
        );
        let bye = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("INVITE sip:", "BYE sip:");
        assert_eq!(
            build_cancel(&parse(bye.as_bytes()), &mut out),
            Err(BuildError::NotAnInvite)
        );
        let no_to = String::from_utf8(BUSY.to_vec())
            .unwrap()
            .replace("To: Bob <sip:bob@biloxi.example.com>;tag=314159\r\n", "");
        assert_eq!(
            build_ack_for_non2xx(&req, &parse(no_to.as_bytes()), &mut out),
            Err(BuildError::Missing(HeaderName::To))
        );
        let bad_cseq = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("CSeq: 2 INVITE", "CSeq: two INVITE");
        assert_eq!(
            build_cancel(&parse(bad_cseq.as_bytes()), &mut out),
            Err(BuildError::Invalid(HeaderName::CSeq))
        );
        assert_eq!(out, b"keep");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        /// Whatever response comes back, building the ACK never panics and what it writes
        /// parses.
        #[test]
        fn ack_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..300) {
            let mut buf = BUSY.to_vec();
            buf.truncate(cut.min(buf.len()));
            buf.extend_from_slice(&tail);
            let req = parse(INVITE);
            if let Ok(resp) = Message::parse(&buf, Framing::Datagram) {
                let mut out = Vec::new();
                if build_ack_for_non2xx(&req, &resp, &mut out).is_ok() {
                    prop_assert!(Message::parse(&out, Framing::Datagram).is_ok());
                }
            }
        }
    }
}
