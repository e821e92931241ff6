//! The checks that make a parsed message usable (RFC 3261 §8.1.1, §8.2, §16.3 step 1): the
//! headers every request and response needs are present once and follow their grammar, the
//! CSeq method matches the request method, and the Request-URI is a URI. Strict where the RFC
//! is: RFC 4475 §3.1.2 and §3.3 list what an element must refuse.

use super::error::ParseError;
use super::header::HeaderName;
use super::headers::{CSeq, CallId, MaxForwards, NameAddr, OptionTags, Via, Vias};
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

/// What validation decoded, handed on so that matching and answering never decode a header
/// a second time.
#[derive(Debug, Clone, Copy)]
pub struct Checked<'a> {
    /// The first value of the first Via line.
    pub top_via: Via<'a>,
    pub from: NameAddr<'a>,
    pub to: NameAddr<'a>,
    pub call_id: &'a [u8],
    pub cseq: CSeq<'a>,
    /// `None` when the message has no Max-Forwards.
    pub max_forwards: Option<u8>,
    /// A request's Request-URI; `None` for a response.
    pub request_uri: Option<Uri<'a>>,
    /// Whether a Require header is present (its tags are valid option tags).
    pub has_require: bool,
    /// Whether a Proxy-Require header is present (its tags are valid option tags).
    pub has_proxy_require: bool,
}

/// Validates a parsed message. The first failure found is returned; on success, the headers
/// it decoded.
pub fn message<'a>(msg: &Message<'a>) -> Result<Checked<'a>, ParseError> {
    let h = msg.headers();
    // One pass over the index: counts of the headers that matter.
    let mut seen = [0u8; REQUIRED.len()];
    let mut singles = [0u8; 3]; // Max-Forwards, Content-Type, Content-Length
    let (mut has_require, mut has_proxy_require) = (false, false);
    for f in h.fields() {
        if let Some(i) = REQUIRED.iter().position(|n| *n == f.name) {
            seen[i] = seen[i].saturating_add(1);
        }
        match f.name {
            HeaderName::MaxForwards => singles[0] = singles[0].saturating_add(1),
            HeaderName::ContentType => singles[1] = singles[1].saturating_add(1),
            HeaderName::ContentLength => singles[2] = singles[2].saturating_add(1),
            HeaderName::Require => has_require = true,
            HeaderName::ProxyRequire => has_proxy_require = true,
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
    let mut top_via = None;
    for v in h.all(HeaderName::Via) {
        for via in Vias::new(v) {
            let via = via.map_err(|_| ParseError::Invalid(HeaderName::Via))?;
            top_via.get_or_insert(via);
        }
    }
    let top_via = top_via.ok_or(ParseError::Invalid(HeaderName::Via))?;
    // NOTE: presence of each REQUIRED header was checked above.
    let get = |n| h.get(n).unwrap_or_default();
    let from = NameAddr::parse(get(HeaderName::From))
        .map_err(|_| ParseError::Invalid(HeaderName::From))?;
    let to =
        NameAddr::parse(get(HeaderName::To)).map_err(|_| ParseError::Invalid(HeaderName::To))?;
    let call_id = CallId::parse(get(HeaderName::CallId))
        .map_err(|_| ParseError::Invalid(HeaderName::CallId))?;
    let cseq =
        CSeq::parse(get(HeaderName::CSeq)).map_err(|_| ParseError::Invalid(HeaderName::CSeq))?;
    let max_forwards = match h.get(HeaderName::MaxForwards) {
        Some(mf) => Some(
            MaxForwards::parse(mf)
                .map_err(|_| ParseError::Invalid(HeaderName::MaxForwards))?
                .0,
        ),
        None => None,
    };
    let present = [
        (HeaderName::Require, has_require),
        (HeaderName::ProxyRequire, has_proxy_require),
    ];
    for name in present.into_iter().filter(|p| p.1).map(|p| p.0) {
        for v in h.all(name) {
            for tag in OptionTags::new(v) {
                tag.map_err(|_| ParseError::Invalid(name))?;
            }
        }
    }
    let mut request_uri = None;
    if let Some(r) = msg.request() {
        if cseq.method != r.method {
            return Err(ParseError::CSeqMethod);
        }
        request_uri = Some(Uri::parse(r.uri).map_err(|_| ParseError::RequestUri)?);
    }
    Ok(Checked {
        top_via,
        from,
        to,
        call_id: call_id.as_bytes(),
        cseq,
        max_forwards,
        request_uri,
        has_require,
        has_proxy_require,
    })
}
