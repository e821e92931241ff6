//! Replaces (RFC 3891 §6.1): the dialog an INVITE replaces.
//!
//! `Replaces = callid *( SEMI replaces-param )`, with exactly one `to-tag` and one `from-tag`
//! (both required for dialog matching, §6.1) and an optional valueless `early-only`. The header
//! often arrives escaped inside a Refer-To URI (`?Replaces=...`); callers unescape it into a
//! buffer (`text::unescape_into`) and parse the result.

use crate::core::sip::text::{is_lws, is_token, trim, Invalid, Params};

use super::scalar::CallId;

/// A decoded Replaces header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaces<'a> {
    call_id: CallId<'a>,
    to_tag: &'a [u8],
    from_tag: &'a [u8],
    early_only: bool,
    params: &'a [u8],
}

impl<'a> Replaces<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let v = trim(value);
        let end = v
            .iter()
            .position(|&b| b == b';' || is_lws(b))
            .unwrap_or(v.len());
        // NOTE: end <= v.len().
        let (call_id, params) = v.split_at(end);
        let call_id = CallId::parse(call_id)?;
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for p in Params::new(params) {
            let p = p?;
            let is = |name: &[u8]| p.name.eq_ignore_ascii_case(name);
            match p.value {
                Some(t) if is(b"to-tag") && is_token(t) && to_tag.is_none() => to_tag = Some(t),
                Some(t) if is(b"from-tag") && is_token(t) && from_tag.is_none() => {
                    from_tag = Some(t)
                }
                None if is(b"early-only") => early_only = true,
                _ if is(b"to-tag") || is(b"from-tag") || is(b"early-only") => return Err(Invalid),
                _ => {}
            }
        }
        Ok(Replaces {
            call_id,
            to_tag: to_tag.ok_or(Invalid)?,
            from_tag: from_tag.ok_or(Invalid)?,
            early_only,
            params,
        })
    }

    pub fn call_id(&self) -> CallId<'a> {
        self.call_id
    }

    pub fn to_tag(&self) -> &'a [u8] {
        self.to_tag
    }

    pub fn from_tag(&self) -> &'a [u8] {
        self.from_tag
    }

    /// `early-only`: replace the dialog only while it is early (RFC 3891 §3).
    pub fn early_only(&self) -> bool {
        self.early_only
    }

    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params).find(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::text::unescape_into;
    use crate::core::sip::uri::Uri;
    use proptest::prelude::*;

    #[test]
    fn rfc3891_examples() {
        let r = Replaces::parse(b"425928@bobster.example.org;to-tag=7743;from-tag=6472").unwrap();
        assert_eq!(r.call_id().as_bytes(), b"425928@bobster.example.org");
        assert_eq!(
            (r.to_tag(), r.from_tag(), r.early_only()),
            (&b"7743"[..], &b"6472"[..], false)
        );
        let r = Replaces::parse(
            b"98732@sip.example.com\r\n ;from-tag=r33th4x0r\r\n ;to-tag=ff87ff ; early-only",
        )
        .unwrap();
        assert_eq!(
            (r.to_tag(), r.from_tag(), r.early_only()),
            (&b"ff87ff"[..], &b"r33th4x0r"[..], true)
        );
    }

    #[test]
    fn escaped_inside_refer_to() {
        // RFC 3891 §7.3 style: Replaces carried in a Refer-To URI header.
        let u = Uri::parse(b"sips:bob@phone.example.com?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994").unwrap();
        let (name, value) = u.header_fields().next().unwrap();
        assert_eq!(name, b"Replaces");
        let mut buf = [0u8; 128];
        let n = unescape_into(value, &mut buf).unwrap();
        let r = Replaces::parse(&buf[..n]).unwrap();
        assert_eq!(r.call_id().as_bytes(), b"12345@192.168.118.3");
        assert_eq!(
            (r.to_tag(), r.from_tag()),
            (&b"12345"[..], &b"5FFE-3994"[..])
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b"abc",
            b"abc;to-tag=1",
            b"abc;from-tag=1",
            b"abc;to-tag=1;from-tag=2;to-tag=3",
            b"abc;to-tag;from-tag=2",
            b"abc;to-tag=1;from-tag=2;early-only=yes",
            b"a b;to-tag=1;from-tag=2",
            b"abc;to-tag=1;;from-tag=2",
            b"abc;to-tag=\"1\";from-tag=2",
        ] {
            assert!(
                Replaces::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..60)) {
            let _ = Replaces::parse(&s);
        }
    }
}
