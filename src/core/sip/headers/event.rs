//! Event and Subscription-State (RFC 6665 §8.2.1, §8.2.3, grammar §8.4).
//!
//! `Event = event-type *( SEMI event-param )` where `event-type = event-package
//! *( "." event-template )` and `id` is a token. `Subscription-State = substate-value
//! *( SEMI subexp-params )` with `reason` (token), `expires` and `retry-after`
//! (delta-seconds).

use crate::core::sip::text::{is_token, parse_u32, span, trim, Invalid, Param, Params, TOKEN};

/// A decoded Event header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    event_type: &'a [u8],
    id: Option<&'a [u8]>,
    params: &'a [u8],
}

/// `substate-value` (RFC 6665 §8.4), compared case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState<'a> {
    Active,
    Pending,
    Terminated,
    Other(&'a [u8]),
}

/// A decoded Subscription-State header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    state: SubState<'a>,
    reason: Option<&'a [u8]>,
    expires: Option<u32>,
    retry_after: Option<u32>,
    params: &'a [u8],
}

/// A leading token and the parameter tail after it, each parameter checked by `check`.
fn token_and_params<'a>(
    value: &'a [u8],
    mut check: impl FnMut(Param<'a>) -> Result<(), Invalid>,
) -> Result<(&'a [u8], &'a [u8]), Invalid> {
    let v = trim(value);
    let n = span(v, TOKEN);
    if n == 0 {
        return Err(Invalid);
    }
    // NOTE: n <= v.len() (span).
    let (head, params) = v.split_at(n);
    for p in Params::new(params) {
        check(p?)?;
    }
    Ok((head, params))
}

impl<'a> Event<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let mut id = None;
        let (event_type, params) = token_and_params(value, |p| {
            if p.name.eq_ignore_ascii_case(b"id") {
                match p.value {
                    Some(v) if is_token(v) => {
                        id.get_or_insert(v);
                    }
                    _ => return Err(Invalid),
                }
            }
            Ok(())
        })?;
        // token-nodot segments: no empty segment around a '.'.
        if event_type.split(|&b| b == b'.').any(<[u8]>::is_empty) {
            return Err(Invalid);
        }
        Ok(Event {
            event_type,
            id,
            params,
        })
    }

    /// The whole event type, e.g. `presence.winfo`.
    pub fn event_type(&self) -> &'a [u8] {
        self.event_type
    }

    /// The event package, the event type before any template: `presence` for
    /// `presence.winfo`.
    pub fn package(&self) -> &'a [u8] {
        self.event_type
            .split(|&b| b == b'.')
            .next()
            .unwrap_or_default()
    }

    pub fn id(&self) -> Option<&'a [u8]> {
        self.id
    }

    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params).find(name)
    }
}

impl<'a> SubState<'a> {
    pub fn from_bytes(s: &'a [u8]) -> Self {
        if s.eq_ignore_ascii_case(b"active") {
            SubState::Active
        } else if s.eq_ignore_ascii_case(b"pending") {
            SubState::Pending
        } else if s.eq_ignore_ascii_case(b"terminated") {
            SubState::Terminated
        } else {
            SubState::Other(s)
        }
    }
}

impl<'a> SubscriptionState<'a> {
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let (mut reason, mut expires, mut retry_after) = (None, None, None);
        let (state, params) = token_and_params(value, |p| {
            let is = |name: &[u8]| p.name.eq_ignore_ascii_case(name);
            match p.value {
                Some(v) if is(b"reason") && is_token(v) => {
                    reason.get_or_insert(v);
                }
                Some(v) if is(b"expires") => {
                    let e = parse_u32(v)?;
                    expires.get_or_insert(e);
                }
                Some(v) if is(b"retry-after") => {
                    let r = parse_u32(v)?;
                    retry_after.get_or_insert(r);
                }
                _ if is(b"reason") || is(b"expires") || is(b"retry-after") => return Err(Invalid),
                _ => {}
            }
            Ok(())
        })?;
        Ok(SubscriptionState {
            state: SubState::from_bytes(state),
            reason,
            expires,
            retry_after,
            params,
        })
    }

    pub fn state(&self) -> SubState<'a> {
        self.state
    }

    /// `reason` (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`, `noresource`,
    /// `invariant`, or an extension).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }

    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
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
    fn event() {
        let e = Event::parse(b"refer").unwrap();
        assert_eq!(
            (e.event_type(), e.package(), e.id()),
            (&b"refer"[..], &b"refer"[..], None)
        );
        let e = Event::parse(b" presence.winfo ; id = 17;foo").unwrap();
        assert_eq!(
            (e.event_type(), e.package()),
            (&b"presence.winfo"[..], &b"presence"[..])
        );
        assert_eq!(e.id(), Some(&b"17"[..]));
        assert_eq!(e.param(b"foo"), Some(None));
        // RFC 3515 §2.4.6: the id of a refer subscription is the REFER's CSeq number.
        assert_eq!(
            Event::parse(b"refer;id=93809824").unwrap().id(),
            Some(&b"93809824"[..])
        );
        for bad in [
            &b""[..],
            b";id=1",
            b"refer;id",
            b"refer;id=\"1\"",
            b".x",
            b"x.",
            b"a..b",
            b"a b",
            b"refer;;",
        ] {
            assert!(Event::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subscription_state() {
        let s = SubscriptionState::parse(b"active;expires=3600").unwrap();
        assert_eq!(
            (s.state(), s.expires(), s.reason()),
            (SubState::Active, Some(3600), None)
        );
        let s = SubscriptionState::parse(b"terminated; reason=timeout ;retry-after=30").unwrap();
        assert_eq!(s.state(), SubState::Terminated);
        assert_eq!(
            (s.reason(), s.retry_after()),
            (Some(&b"timeout"[..]), Some(30))
        );
        assert_eq!(
            SubscriptionState::parse(b"PENDING").unwrap().state(),
            SubState::Pending
        );
        let s = SubscriptionState::parse(b"waiting;x=y").unwrap();
        assert_eq!(
            (s.state(), s.param(b"x")),
            (SubState::Other(b"waiting"), Some(Some(&b"y"[..])))
        );
        for bad in [
            &b""[..],
            b"active;expires",
            b"active;expires=4294967296",
            b"active;reason=\"x\"",
            b"a b",
            b"active;retry-after=-1",
        ] {
            assert!(SubscriptionState::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = (Event::parse(&s), SubscriptionState::parse(&s));
        }
    }
}
