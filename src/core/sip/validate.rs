//! The checks that make a parsed message usable (RFC 3261 §8.1.1, §8.2, §16.3 step 1): the
//! headers every request and response needs are present once and follow their grammar, the
//! CSeq method matches the request method, and the Request-URI is a URI. Strict where the RFC
//! is: RFC 4475 §3.1.2 and §3.3 list what an element must refuse.

use super::error::ParseError;
use super::header::HeaderName;
use super::headers::{CSeq, CallId, MaxForwards, Method, NameAddr, OptionTags, Via};
use super::message::{Headers, Message};
use super::uri::Uri;

/// Headers without which no response can be matched or built (§8.1.1).
const REQUIRED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

/// Headers that may appear once at most besides the required ones, in the order they are
/// checked.
const SINGLES: [HeaderName; 3] = [
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::ContentLength,
];

/// How many headers [`message`] counts: the required ones, the singles, Require,
/// Proxy-Require, Route and User-Agent.
const SLOTS: usize = REQUIRED.len() + SINGLES.len() + 4;

/// Each header name's counter in [`message`], by the name's discriminant; `SLOTS` for the
/// names not counted. The required headers come first, in their order.
static SLOT: [u8; 256] = {
    let mut t = [SLOTS as u8; 256];
    let mut i = 0;
    while i < REQUIRED.len() {
        t[REQUIRED[i] as usize] = i as u8;
        i += 1;
    }
    let mut k = 0;
    while k < SINGLES.len() {
        t[SINGLES[k] as usize] = (REQUIRED.len() + k) as u8;
        k += 1;
    }
    t[HeaderName::Require as usize] = (SLOTS - 4) as u8;
    t[HeaderName::ProxyRequire as usize] = (SLOTS - 3) as u8;
    t[HeaderName::Route as usize] = (SLOTS - 2) as u8;
    t[HeaderName::UserAgent as usize] = (SLOTS - 1) as u8;
    t
};

/// The value of the first line named `name`, one of the counted headers, given where the
/// first line of each is; empty if there is none.
#[inline(always)]
fn first_value<'a>(h: &Headers<'a>, first: &[usize; SLOTS], name: HeaderName) -> &'a [u8] {
    let at = first[usize::from(SLOT[name as usize])];
    match h.fields().get(at) {
        Some(f) => h.buf().get(f.value.range()).unwrap_or_default(),
        None => b"",
    }
}

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
    /// Whether a Route header is present (its values are not checked here).
    pub has_route: bool,
    /// The first User-Agent value (not checked here), if any.
    pub user_agent: Option<&'a [u8]>,
}

impl Checked<'_> {
    /// Nothing decoded yet, for [`check`] to fill.
    pub(crate) const fn placeholder() -> Self {
        Checked {
            top_via: Via::placeholder(),
            from: NameAddr::placeholder(),
            to: NameAddr::placeholder(),
            call_id: b"",
            cseq: CSeq {
                seq: 0,
                method: Method::Ack,
            },
            max_forwards: None,
            request_uri: None,
            has_require: false,
            has_proxy_require: false,
            has_route: false,
            user_agent: None,
        }
    }
}

/// Validates a parsed message. The first failure found is returned; on success, the headers
/// it decoded.
pub fn message<'a>(msg: &Message<'a>) -> Result<Checked<'a>, ParseError> {
    let mut checked = Checked::placeholder();
    check(msg, &mut checked)?;
    Ok(checked)
}

/// [`message`] into a [`Checked`] fresh from [`Checked::placeholder`], decoded where the
/// caller keeps it rather than built aside and moved. On error `checked` is left unusable.
pub(crate) fn check<'a>(msg: &Message<'a>, checked: &mut Checked<'a>) -> Result<(), ParseError> {
    let h = msg.headers();
    let fields = h.fields();
    // One pass over the index: which headers that matter are present, which are repeated
    // (one bit each, by slot), and where the first one of each is.
    let (mut seen, mut repeated) = (0u32, 0u32);
    let mut first = [0usize; SLOTS];
    for (i, f) in fields.iter().enumerate() {
        let slot = usize::from(SLOT[f.name as usize]);
        if slot < SLOTS {
            let bit = 1 << slot;
            if seen & bit == 0 {
                first[slot] = i;
            } else {
                repeated |= bit;
            }
            seen |= bit;
        }
    }
    let slot_bit = |name: HeaderName| 1u32 << SLOT[name as usize];
    for name in REQUIRED {
        let bit = slot_bit(name);
        if seen & bit == 0 {
            return Err(ParseError::Missing(name));
        }
        if repeated & bit != 0 && name != HeaderName::Via {
            return Err(ParseError::Duplicate(name));
        }
    }
    for name in SINGLES {
        if repeated & slot_bit(name) != 0 {
            return Err(ParseError::Duplicate(name));
        }
    }
    let has_require = seen & slot_bit(HeaderName::Require) != 0;
    let has_proxy_require = seen & slot_bit(HeaderName::ProxyRequire) != 0;
    let has_route = seen & slot_bit(HeaderName::Route) != 0;
    checked.has_require = has_require;
    checked.has_proxy_require = has_proxy_require;
    checked.has_route = has_route;
    if seen & slot_bit(HeaderName::UserAgent) != 0 {
        checked.user_agent = Some(first_value(h, &first, HeaderName::UserAgent));
    }
    // NOTE: every REQUIRED header is present (checked above), so its first index is one of
    // the fields'.
    // Every element of every Via line is checked, as `Vias` reads them; the first one is kept.
    let invalid_via = |_| ParseError::Invalid(HeaderName::Via);
    let mut rest;
    let mut have_top = false;
    let first_via = first[usize::from(SLOT[HeaderName::Via as usize])];
    // One Via line (the usual case) is the only line to read; with more, the rest of the
    // index is searched for them.
    let via_fields = match repeated & slot_bit(HeaderName::Via) {
        0 => fields.get(first_via..first_via + 1),
        _ => fields.get(first_via..),
    }
    .unwrap_or_default();
    for f in via_fields.iter().filter(|f| f.name == HeaderName::Via) {
        let value = h.value(f);
        let mut at = 0;
        loop {
            let via = if have_top {
                rest = Via::placeholder();
                &mut rest
            } else {
                &mut checked.top_via
            };
            let end = via.read_element(value, at).map_err(invalid_via)?;
            have_top = true;
            // `end` is a `,` (another element must follow) or the end of the value.
            if end >= value.len() {
                break;
            }
            at = end + 1;
        }
    }
    if !have_top {
        return Err(ParseError::Invalid(HeaderName::Via));
    }
    checked
        .from
        .parse_in_place(first_value(h, &first, HeaderName::From))
        .map_err(|_| ParseError::Invalid(HeaderName::From))?;
    checked
        .to
        .parse_in_place(first_value(h, &first, HeaderName::To))
        .map_err(|_| ParseError::Invalid(HeaderName::To))?;
    let call_id = CallId::parse(first_value(h, &first, HeaderName::CallId))
        .map_err(|_| ParseError::Invalid(HeaderName::CallId))?;
    let cseq = CSeq::parse(first_value(h, &first, HeaderName::CSeq))
        .map_err(|_| ParseError::Invalid(HeaderName::CSeq))?;
    let max_forwards = match seen & slot_bit(HeaderName::MaxForwards) {
        0 => None,
        _ => Some(
            MaxForwards::parse(first_value(h, &first, HeaderName::MaxForwards))
                .map_err(|_| ParseError::Invalid(HeaderName::MaxForwards))?
                .0,
        ),
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
    if let Some(r) = msg.request() {
        if cseq.method != r.method {
            return Err(ParseError::CSeqMethod);
        }
        checked.request_uri = Some(Uri::parse(r.uri).map_err(|_| ParseError::RequestUri)?);
    }
    checked.call_id = call_id.as_bytes();
    checked.cseq = cseq;
    checked.max_forwards = max_forwards;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::message::Framing;

    const HEAD: &str = "OPTIONS sip:a@b SIP/2.0\r\n";
    const GOOD: [&str; 5] = [
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n",
        "From: <sip:a@b>;tag=1\r\n",
        "To: <sip:c@d>\r\n",
        "Call-ID: x\r\n",
        "CSeq: 1 OPTIONS\r\n",
    ];

    fn check(lines: &[&str]) -> Result<(), ParseError> {
        let text = format!("{HEAD}{}\r\n", lines.concat());
        let msg = Message::parse(text.as_bytes(), Framing::Datagram).unwrap();
        message(&msg).map(|_| ())
    }

    #[test]
    fn missing_and_repeated_headers_are_reported_in_order() {
        assert_eq!(check(&GOOD), Ok(()));
        // Missing From is reported before the repeated To, whatever the line order.
        let lines = [GOOD[2], GOOD[0], GOOD[2], GOOD[3], GOOD[4]];
        assert_eq!(check(&lines), Err(ParseError::Missing(HeaderName::From)));
        let lines = [GOOD[0], GOOD[1], GOOD[2], GOOD[2], GOOD[3], GOOD[4]];
        assert_eq!(check(&lines), Err(ParseError::Duplicate(HeaderName::To)));
        let mut lines = GOOD.to_vec();
        lines.extend(["Content-Type: a/b\r\n", "Max-Forwards: 1\r\n"]);
        lines.extend(["Content-Type: a/b\r\n", "Max-Forwards: 2\r\n"]);
        assert_eq!(
            check(&lines),
            Err(ParseError::Duplicate(HeaderName::MaxForwards))
        );
        // Any number of Via lines; every one of them is checked.
        let mut lines = GOOD.to_vec();
        lines.push("v: SIP/2.0/TCP h2, SIP/2.0/UDP h3\r\n");
        assert_eq!(check(&lines), Ok(()));
        lines.push("Via: SIP/2.0/UDP h4;;\r\n");
        assert_eq!(check(&lines), Err(ParseError::Invalid(HeaderName::Via)));
        let mut lines = GOOD.to_vec();
        lines.push("Max-Forwards: 256\r\n");
        assert_eq!(
            check(&lines),
            Err(ParseError::Invalid(HeaderName::MaxForwards))
        );
        let mut lines = GOOD.to_vec();
        lines.push("Require: a, ,b\r\n");
        assert_eq!(check(&lines), Err(ParseError::Invalid(HeaderName::Require)));
    }

    #[test]
    fn the_top_via_and_the_first_of_each_header_are_decoded() {
        let mut lines = vec!["Via: SIP/2.0/TCP top;branch=z9hG4bKt\r\n"];
        lines.extend(GOOD);
        lines.push("Max-Forwards: 7\r\nRequire: timer\r\n");
        let text = format!("{HEAD}{}\r\n", lines.concat());
        let msg = Message::parse(text.as_bytes(), Framing::Datagram).unwrap();
        let c = message(&msg).unwrap();
        assert_eq!(c.top_via.branch(), Some(&b"z9hG4bKt"[..]));
        assert_eq!(c.from.tag(), Some(&b"1"[..]));
        assert_eq!(c.call_id, b"x");
        assert_eq!((c.cseq.seq, c.max_forwards), (1, Some(7)));
        assert!(c.has_require && !c.has_proxy_require && !c.has_route);
        let text = format!("{HEAD}{}Route: <sip:p;lr>\r\n\r\n", GOOD.concat());
        let msg = Message::parse(text.as_bytes(), Framing::Datagram).unwrap();
        assert!(message(&msg).unwrap().has_route);
    }
}
