//! Session-Expires and Min-SE (RFC 4028 §4, grammar §4 ABNF).
//!
//! `Session-Expires = delta-seconds *( SEMI se-params )` with `refresher = "uas" / "uac"`;
//! `Min-SE = delta-seconds *( SEMI generic-param )`. The 90-second floor (§4) is a policy
//! check for the caller (422 Session Interval Too Small), not a syntax error.

use crate::core::sip::text::{parse_u32, trim, Invalid, Params};

/// Which side refreshes the session (RFC 4028 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

/// A decoded Session-Expires header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    pub delta: u32,
    pub refresher: Option<Refresher>,
    params: &'a [u8],
}

/// A decoded Min-SE header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSE<'a> {
    pub delta: u32,
    params: &'a [u8],
}

/// Leading delta-seconds and the parameter tail after it.
fn delta_and_params(value: &[u8]) -> Result<(u32, &[u8]), Invalid> {
    let v = trim(value);
    let n = v.iter().take_while(|b| b.is_ascii_digit()).count();
    // NOTE: n <= v.len().
    Ok((parse_u32(&v[..n])?, &v[n..]))
}

impl<'a> SessionExpires<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let (delta, params) = delta_and_params(value)?;
        let mut refresher = None;
        for p in Params::new(params) {
            let p = p?;
            if p.name.eq_ignore_ascii_case(b"refresher") {
                let r = match p.value {
                    Some(v) if v.eq_ignore_ascii_case(b"uac") => Refresher::Uac,
                    Some(v) if v.eq_ignore_ascii_case(b"uas") => Refresher::Uas,
                    _ => return Err(Invalid),
                };
                refresher.get_or_insert(r);
            }
        }
        Ok(SessionExpires {
            delta,
            refresher,
            params,
        })
    }

    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params).find(name)
    }
}

impl<'a> MinSE<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let (delta, params) = delta_and_params(value)?;
        Params::new(params).validate()?;
        Ok(MinSE { delta, params })
    }

    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params).find(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn session_expires() {
        let s = SessionExpires::parse(b"4000;refresher=uac").unwrap();
        assert_eq!((s.delta, s.refresher), (4000, Some(Refresher::Uac)));
        let s = SessionExpires::parse(b" 1800 ; refresher = UAS ;x").unwrap();
        assert_eq!(
            (s.delta, s.refresher, s.param(b"x")),
            (1800, Some(Refresher::Uas), Some(None))
        );
        assert_eq!(SessionExpires::parse(b"90").unwrap().refresher, None);
        for bad in [
            &b""[..],
            b"x",
            b"-1",
            b"4294967296",
            b"90;refresher",
            b"90;refresher=me",
            b"90 x",
            b"90;;",
        ] {
            assert!(SessionExpires::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn min_se() {
        assert_eq!(MinSE::parse(b"90").map(|m| m.delta), Ok(90));
        assert_eq!(
            MinSE::parse(b"120;x=y").unwrap().param(b"x"),
            Some(Some(&b"y"[..]))
        );
        for bad in [&b""[..], b"abc", b"90;", b"90 1"] {
            assert!(MinSE::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = (SessionExpires::parse(&s), MinSE::parse(&s));
        }
    }
}
