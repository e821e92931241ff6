//! Single-value headers: CSeq (RFC 3261 §20.16), RAck and RSeq (RFC 3262 §7), Call-ID
//! (§20.8), Max-Forwards (§20.22), Content-Length (§20.14), Expires (§20.19), Min-Expires
//! (§20.23) and Content-Type (§20.15), grammar in §25.1.
//!
//! Numbers are decimal and bounded: a value past the type's range is an error, never wrapped
//! or clamped (RFC 4475 §3.1.2.4, §3.1.2.3). LWS between the parts of CSeq and RAck may be
//! folded (RFC 4475 §3.1.1.1).

use crate::core::sip::text::{
    digits_u32_from, is_lws, is_quoted_string, is_token, parse_u32, skip_lws, span, span_from,
    trim, trimmed_u32, trimmed_u8, Invalid, Params, TOKEN, WORD,
};

use super::method::Method;

/// `CSeq = 1*DIGIT LWS Method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method<'a>,
}

/// `RAck = response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RAck<'a> {
    pub rseq: u32,
    pub cseq: u32,
    pub method: Method<'a>,
}

/// `RSeq = response-num`, 1 to 2^31-1 (RFC 3262 §3, §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RSeq(pub u32);

/// `callid = word [ "@" word ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallId<'a>(&'a [u8]);

/// `Max-Forwards = 1*DIGIT`, 0 to 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxForwards(pub u8);

/// `Content-Length = 1*DIGIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLength(pub u32);

/// `Expires = delta-seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expires(pub u32);

/// `Min-Expires = delta-seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinExpires(pub u32);

/// `media-type = m-type SLASH m-subtype *( SEMI m-parameter )`.
#[derive(Debug, Clone, Copy)]
pub struct ContentType<'a> {
    raw: &'a [u8],
    media_type: &'a [u8],
    subtype: &'a [u8],
    params: &'a [u8],
}

/// Leading digits of `s`, parsed, and what follows them.
#[inline]
fn number(s: &[u8]) -> Result<(u32, &[u8]), Invalid> {
    let (n, end) = digits_u32_from(s, 0)?;
    // NOTE: end <= s.len() (digits_u32_from).
    Ok((n, &s[end..]))
}

/// `LWS` that must be present: at least one white-space byte.
#[inline]
fn lws(s: &[u8]) -> Result<&[u8], Invalid> {
    match s.first() {
        Some(&b) if is_lws(b) => Ok(skip_lws(s)),
        _ => Err(Invalid),
    }
}

impl<'a> CSeq<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        // The common form: the number, one SP and the method, no other LWS. Anything else,
        // a value that does not parse this way included, is read by the grammar below.
        if let Ok((seq, end)) = digits_u32_from(value, 0) {
            if let Some([b' ', first, ..]) = value.get(end..) {
                if !is_lws(*first) {
                    if let Ok(method) = Method::parse(&value[end + 1..]) {
                        return Ok(CSeq { seq, method });
                    }
                }
            }
        }
        let (seq, rest) = number(trim(value))?;
        let method = Method::parse(lws(rest)?)?;
        Ok(CSeq { seq, method })
    }
}

impl<'a> RAck<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let (rseq, rest) = number(trim(value))?;
        let (cseq, rest) = number(lws(rest)?)?;
        let method = Method::parse(lws(rest)?)?;
        Ok(RAck { rseq, cseq, method })
    }
}

impl RSeq {
    pub fn parse(value: &[u8]) -> Result<Self, Invalid> {
        match parse_u32(trim(value))? {
            n @ 1..=0x7fff_ffff => Ok(RSeq(n)),
            _ => Err(Invalid),
        }
    }
}

impl<'a> CallId<'a> {
    /// A Call-ID is compared byte for byte (§8.1.1.4); no LWS inside.
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let v = trim(value);
        // `word` holds no `@`, so one scan finds the end of the left word.
        let at = span(v, WORD);
        let ok = at > 0
            && match v.get(at) {
                None => true,
                Some(b'@') => {
                    let right = at + 1;
                    right < v.len() && span_from(v, right, WORD) == v.len()
                }
                Some(_) => false,
            };
        if ok {
            Ok(CallId(v))
        } else {
            Err(Invalid)
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl MaxForwards {
    pub fn parse(value: &[u8]) -> Result<Self, Invalid> {
        trimmed_u8(value).map(MaxForwards)
    }
}

impl ContentLength {
    pub fn parse(value: &[u8]) -> Result<Self, Invalid> {
        trimmed_u32(value).map(ContentLength)
    }
}

impl Expires {
    pub fn parse(value: &[u8]) -> Result<Self, Invalid> {
        trimmed_u32(value).map(Expires)
    }
}

impl MinExpires {
    pub fn parse(value: &[u8]) -> Result<Self, Invalid> {
        trimmed_u32(value).map(MinExpires)
    }
}

impl<'a> ContentType<'a> {
    /// Parameter values must be tokens or quoted strings (`m-value`).
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let raw = trim(value);
        let n = span(raw, TOKEN);
        // NOTE: n <= raw.len() (span).
        let (media_type, rest) = raw.split_at(n);
        let rest = skip_lws(rest).strip_prefix(b"/").ok_or(Invalid)?;
        let rest = skip_lws(rest);
        let n = span(rest, TOKEN);
        let (subtype, params) = rest.split_at(n);
        if media_type.is_empty() || subtype.is_empty() {
            return Err(Invalid);
        }
        for p in Params::new(params) {
            match p?.value {
                Some(v) if is_token(v) || is_quoted_string(v) => {}
                _ => return Err(Invalid),
            }
        }
        Ok(ContentType {
            raw,
            media_type,
            subtype,
            params: skip_lws(params),
        })
    }

    pub fn media_type(&self) -> &'a [u8] {
        self.media_type
    }

    pub fn subtype(&self) -> &'a [u8] {
        self.subtype
    }

    /// True if this is `media_type/subtype`, compared case-insensitively (RFC 2045 §5.1).
    pub fn is(&self, media_type: &[u8], subtype: &[u8]) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
            && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// True for `application/sdp`.
    pub fn is_sdp(&self) -> bool {
        self.is(b"application", b"sdp")
    }

    /// Value of parameter `name` (case-insensitive); a quoted value keeps its quotes.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params).find(name)
    }

    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    pub fn params_raw(&self) -> &'a [u8] {
        self.params
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn cseq_read_either_way_is_the_same(
            v in "[ \t]?[0-9]{0,11}[ \t\r\n]{0,2}[A-Z%a-z!]{0,8}[ \t;]?",
        ) {
            let v = v.as_bytes();
            let grammar = number(trim(v)).and_then(|(seq, rest)| {
                Method::parse(lws(rest)?).map(|method| CSeq { seq, method })
            });
            prop_assert_eq!(CSeq::parse(v), grammar);
        }
    }

    #[test]
    fn cseq() {
        let c = CSeq::parse(b"4711 INVITE").unwrap();
        assert_eq!(
            c,
            CSeq {
                seq: 4711,
                method: Method::Invite
            }
        );
        // RFC 4475 §3.1.1.1 wsinv: leading zeros, folded LWS.
        let c = CSeq::parse(b" 0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        // RFC 4475 §3.1.1.5 esc02: an unknown method, not REGISTER.
        let c = CSeq::parse(b"29344 RE%47IST%45R").unwrap();
        assert_eq!(c.method, Method::Other(b"RE%47IST%45R"));
        assert_eq!(CSeq::parse(b"4294967295 ACK").unwrap().seq, u32::MAX);
        for bad in [
            // RFC 4475 §3.1.2.4 scalar02 and §3.1.2.5 scalarlg.
            &b"36893488147419103232 REGISTER"[..],
            b"9292394834772304023312 OPTIONS",
            b"4294967296 INVITE",
            b"INVITE",
            b"1INVITE",
            b"1",
            b"1 ",
            b"-1 INVITE",
            b"1 INVITE BYE",
            b"1 INVITE;",
            b"",
        ] {
            assert!(
                CSeq::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rack_and_rseq() {
        let r = RAck::parse(b"776656 1 INVITE").unwrap();
        assert_eq!(
            r,
            RAck {
                rseq: 776656,
                cseq: 1,
                method: Method::Invite
            }
        );
        assert!(RAck::parse(b"776656 INVITE").is_err());
        assert!(RAck::parse(b"776656 1").is_err());
        assert!(RAck::parse(b"1 4294967296 INVITE").is_err());
        assert_eq!(RSeq::parse(b" 988789 "), Ok(RSeq(988789)));
        assert_eq!(RSeq::parse(b"2147483647"), Ok(RSeq(0x7fff_ffff)));
        assert!(RSeq::parse(b"0").is_err());
        assert!(RSeq::parse(b"2147483648").is_err());
    }

    #[test]
    fn call_id() {
        let c = CallId::parse(b" f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com ").unwrap();
        assert_eq!(
            c.as_bytes(),
            b"f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com"
        );
        // RFC 4475 §3.1.1.2 intmeth.
        let id = b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{";
        assert_eq!(CallId::parse(id).map(|c| c.as_bytes()), Ok(&id[..]));
        assert!(CallId::parse(b"esc01.239409asdfakjkn23onasd0-3234").is_ok());
        for bad in [
            &b""[..],
            b"a b",
            b"a@b@c",
            b"@b",
            b"a@",
            b"a;b",
            b"a,b",
            b"a\x00",
        ] {
            assert!(CallId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bounded_numbers() {
        // RFC 4475 §3.1.1.1 wsinv and §3.3.11 zeromf.
        assert_eq!(MaxForwards::parse(b"0068"), Ok(MaxForwards(68)));
        assert_eq!(MaxForwards::parse(b"0"), Ok(MaxForwards(0)));
        assert_eq!(MaxForwards::parse(b"255"), Ok(MaxForwards(255)));
        // RFC 4475 §3.1.2.4 scalar02.
        assert!(MaxForwards::parse(b"300").is_err());
        let huge = [b"1".as_slice(), &[b'0'; 100]].concat();
        assert!(Expires::parse(&huge).is_err());
        assert_eq!(Expires::parse(b"3600"), Ok(Expires(3600)));
        assert_eq!(MinExpires::parse(b" 60 "), Ok(MinExpires(60)));
        assert!(Expires::parse(b"4294967296").is_err());
        // RFC 4475 §3.1.2.3 ncl.
        assert!(ContentLength::parse(b"-999").is_err());
        assert!(ContentLength::parse(b"abc").is_err());
        assert!(ContentLength::parse(b"").is_err());
        assert!(ContentLength::parse(b"1 2").is_err());
        assert_eq!(ContentLength::parse(b"9999"), Ok(ContentLength(9999)));
    }

    #[test]
    fn content_type() {
        let c = ContentType::parse(b"application/sdp").unwrap();
        assert!(c.is_sdp());
        assert_eq!(
            (c.media_type(), c.subtype()),
            (&b"application"[..], &b"sdp"[..])
        );
        let c = ContentType::parse(b"multipart/mixed;boundary=\"----=_Part\" ; charset = utf-8")
            .unwrap();
        assert!(c.is(b"Multipart", b"MIXED"));
        assert_eq!(c.param(b"boundary"), Some(Some(&b"\"----=_Part\""[..])));
        assert_eq!(c.param(b"charset"), Some(Some(&b"utf-8"[..])));
        // RFC 4475 §3.3.6 invut.
        assert!(ContentType::parse(b"application/unknownformat").is_ok());
        assert!(ContentType::parse(b"text / plain")
            .unwrap()
            .is(b"text", b"plain"));
        for bad in [
            &b"application"[..],
            b"/sdp",
            b"application/",
            b"a/b;c",
            b"a/b;c=[x]",
            b"a/b c",
            b"a b/c",
        ] {
            assert!(ContentType::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = (CSeq::parse(&s), RAck::parse(&s), RSeq::parse(&s), CallId::parse(&s));
            let _ = (MaxForwards::parse(&s), ContentLength::parse(&s), Expires::parse(&s));
            if let Ok(c) = ContentType::parse(&s) {
                let _ = c.params().count();
            }
        }

        #[test]
        fn cseq_round_trips(seq in any::<u32>(), m in "[A-Z]{1,10}", ws in "[ \t]{1,3}|\r\n[ \t]") {
            let s = format!("{seq}{ws}{m}");
            let c = CSeq::parse(s.as_bytes()).map_err(|_| TestCaseError::fail(s.clone()))?;
            prop_assert_eq!(c.seq, seq);
            prop_assert_eq!(c.method.as_bytes(), m.as_bytes());
        }
    }
}
