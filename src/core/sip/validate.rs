//! The checks that make a parsed message usable (RFC 3261 §8.1.1, §8.2, §16.3 step 1): the
//! headers every request and response needs are present once and follow their grammar, the
//! CSeq method matches the request method, and the Request-URI is a URI. Strict where the RFC
//! is: RFC 4475 §3.1.2 and §3.3 list what an element must refuse.

use super::error::ParseError;
use super::header::HeaderName;
use super::headers::{CSeq, CallId, MaxForwards, NameAddr, OptionTags, Vias};
use super::message::Message;
use super::uri::Uri;

/// Headers without which no response can be matched or built (§8.1.1).
const REQUIRED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

/// Validates a parsed message. The first failure found is returned.
pub fn message(msg: &Message<'_>) -> Result<(), ParseError> {
    let h = msg.headers();
    // One pass over the index: counts of the headers that matter.
    let mut seen = [0u8; REQUIRED.len()];
    let mut singles = [0u8; 3]; // Max-Forwards, Content-Type, Content-Length
    for f in h.fields() {
        if let Some(i) = REQUIRED.iter().position(|n| *n == f.name) {
            seen[i] = seen[i].saturating_add(1);
        }
        match f.name {
            HeaderName::MaxForwards => singles[0] = singles[0].saturating_add(1),
            HeaderName::ContentType => singles[1] = singles[1].saturating_add(1),
            HeaderName::ContentLength => singles[2] = singles[2].saturating_add(1),
            _ => {}
        }
    }
    for (i, name) in REQUIRED.iter().enumerate() {
        match seen[i] {
            0 => return Err(ParseError::Missing(*name)),
            1 => {}
            _ if *name == HeaderName::Via => {}
            _ => return Err(ParseError::Duplicate(*name)),
        }
    }
    for (count, name) in singles.iter().zip([
        HeaderName::MaxForwards,
        HeaderName::ContentType,
        HeaderName::ContentLength,
    ]) {
        if *count > 1 {
            return Err(ParseError::Duplicate(name));
        }
    }
    for v in h.all(HeaderName::Via) {
        for via in Vias::new(v) {
            via.map_err(|_| ParseError::Invalid(HeaderName::Via))?;
        }
    }
    // NOTE: presence of each REQUIRED header was checked above.
    let get = |n| h.get(n).unwrap_or_default();
    NameAddr::parse(get(HeaderName::From)).map_err(|_| ParseError::Invalid(HeaderName::From))?;
    NameAddr::parse(get(HeaderName::To)).map_err(|_| ParseError::Invalid(HeaderName::To))?;
    CallId::parse(get(HeaderName::CallId)).map_err(|_| ParseError::Invalid(HeaderName::CallId))?;
    let cseq =
        CSeq::parse(get(HeaderName::CSeq)).map_err(|_| ParseError::Invalid(HeaderName::CSeq))?;
    if let Some(mf) = h.get(HeaderName::MaxForwards) {
        MaxForwards::parse(mf).map_err(|_| ParseError::Invalid(HeaderName::MaxForwards))?;
    }
    for name in [HeaderName::Require, HeaderName::ProxyRequire] {
        for v in h.all(name) {
            for tag in OptionTags::new(v) {
                tag.map_err(|_| ParseError::Invalid(name))?;
            }
        }
    }
    if let Some(r) = msg.request() {
        if cseq.method != r.method {
            return Err(ParseError::CSeqMethod);
        }
        Uri::parse(r.uri).map_err(|_| ParseError::RequestUri)?;
    }
    Ok(())
}
