//! Token lists: Require (RFC 3261 §20.32), Supported (§20.37), Unsupported (§20.40),
//! Proxy-Require (§20.29), all `option-tag` lists, and Allow (§20.5), a list of methods.
//!
//! An empty header value is an empty list (`Supported:` is legal, §20.37); an empty element
//! (`a,,b`) or a non-token element is an error. Option tags are compared byte for byte by
//! callers; methods are case-sensitive.

use crate::core::sip::text::{is_token, CommaSplit, Invalid};

use super::method::Method;

/// The option tags of one Require, Supported, Unsupported or Proxy-Require header field. A
/// malformed element yields one `Err` and ends the iteration.
#[derive(Debug, Clone)]
pub struct OptionTags<'a> {
    elements: CommaSplit<'a>,
    failed: bool,
}

impl<'a> OptionTags<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        OptionTags {
            elements: CommaSplit::new(value),
            failed: false,
        }
    }
}

impl<'a> Iterator for OptionTags<'a> {
    type Item = Result<&'a [u8], Invalid>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let e = self.elements.next()?;
        self.failed = !is_token(e);
        Some(if self.failed { Err(Invalid) } else { Ok(e) })
    }
}

/// The methods of one Allow header field. A malformed element yields one `Err` and ends the
/// iteration.
#[derive(Debug, Clone)]
pub struct Allow<'a> {
    tags: OptionTags<'a>,
}

impl<'a> Allow<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        Allow {
            tags: OptionTags::new(value),
        }
    }
}

impl<'a> Iterator for Allow<'a> {
    type Item = Result<Method<'a>, Invalid>;

    fn next(&mut self) -> Option<Self::Item> {
        self.tags.next().map(|t| t.map(Method::from_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn option_tags() {
        // RFC 4475 §3.3.5 bext01.
        let tags: Result<Vec<_>, _> =
            OptionTags::new(b"nothingSupportsThis, nothingSupportsThisEither").collect();
        assert_eq!(
            tags,
            Ok(vec![
                &b"nothingSupportsThis"[..],
                b"nothingSupportsThisEither"
            ])
        );
        let tags: Result<Vec<_>, _> = OptionTags::new(b" 100rel ,\r\n timer,replaces").collect();
        assert_eq!(tags, Ok(vec![&b"100rel"[..], b"timer", b"replaces"]));
        assert_eq!(OptionTags::new(b"").count(), 0);
        assert_eq!(OptionTags::new(b"  ").count(), 0);
        for bad in [&b"a,,b"[..], b"a,", b",a", b"a b", b"\"a\"", b"a;b"] {
            let r: Result<Vec<_>, _> = OptionTags::new(bad).collect();
            assert_eq!(r, Err(Invalid), "{bad:?}");
        }
        let mut it = OptionTags::new(b"x,,y");
        assert_eq!(it.next(), Some(Ok(&b"x"[..])));
        assert_eq!(it.next(), Some(Err(Invalid)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn allow() {
        let m: Result<Vec<_>, _> =
            Allow::new(b"INVITE, ACK, OPTIONS, CANCEL, BYE, PRACK, UPDATE, foo").collect();
        assert_eq!(
            m,
            Ok(vec![
                Method::Invite,
                Method::Ack,
                Method::Options,
                Method::Cancel,
                Method::Bye,
                Method::Prack,
                Method::Update,
                Method::Other(b"foo"),
            ])
        );
        assert_eq!(Allow::new(b"").count(), 0);
        assert!(Allow::new(b"INVITE,,BYE").any(|m| m.is_err()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = (OptionTags::new(&s).count(), Allow::new(&s).count());
        }
    }
}
