//! URI equality (RFC 3261 §19.1.4, RFC 3966 §4).

use super::{Scheme, Uri};
use crate::core::sip::text::{escaped_eq, escaped_eq_ignore_case};

/// URI equality per RFC 3261 §19.1.4 (sip, sips), RFC 3966 §4 (tel), and exact comparison of
/// the opaque part for other schemes. No allocation.
///
/// For SIP: userinfo is case-sensitive, everything else case-insensitive; escapes of
/// unreserved characters equal the characters; an explicit port never equals an absent one;
/// parameters present in both must match; `user`, `ttl`, `method`, `maddr` and `transport`
/// must be in both or neither; other parameters in only one are ignored; header fields must
/// match both ways.
pub fn uri_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    if a.scheme() != b.scheme() {
        return false;
    }
    match a.scheme() {
        Scheme::Sip | Scheme::Sips => {
            opt_eq(a.user(), b.user(), escaped_eq)
                && opt_eq(a.password(), b.password(), escaped_eq)
                && a.host() == b.host()
                && a.port() == b.port()
                && sip_params_eq(a, b)
                && headers_subset(a, b)
                && headers_subset(b, a)
        }
        Scheme::Tel => tel_eq(a, b),
        Scheme::Other(_) => escaped_eq(a.body(), b.body()),
    }
}

fn opt_eq(a: Option<&[u8]>, b: Option<&[u8]>, eq: fn(&[u8], &[u8]) -> bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => eq(a, b),
        _ => false,
    }
}

fn value_eq(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    opt_eq(a, b, escaped_eq_ignore_case)
}

fn sip_params_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    const MUST_MATCH: [&[u8]; 5] = [b"user", b"ttl", b"method", b"maddr", b"transport"];
    // A repeated name is judged by its first occurrence, as lookups are.
    let both = a
        .params()
        .all(|(name, _)| match (a.param(name), b.param(name)) {
            (Some(v), Some(w)) => value_eq(v, w),
            _ => true,
        });
    both && MUST_MATCH
        .iter()
        .all(|name| a.param(name).is_some() == b.param(name).is_some())
}

fn headers_subset(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    a.header_fields().all(|(name, value)| {
        b.header_fields()
            .any(|(n, v)| escaped_eq_ignore_case(name, n) && escaped_eq(value, v))
    })
}

/// RFC 3966 §4: same kind of number, same digits ignoring visual separators, and the same set
/// of parameters with equal values, all case-insensitive.
fn tel_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    fn sig(number: &[u8]) -> impl Iterator<Item = u8> + '_ {
        number
            .iter()
            .filter(|b| !matches!(b, b'-' | b'.' | b'(' | b')'))
            .map(u8::to_ascii_lowercase)
    }
    let same_params = |x: &Uri<'_>, y: &Uri<'_>| {
        x.params().all(|(name, _)| {
            let v = x.param(name).flatten();
            y.param(name).is_some_and(|w| value_eq(v, w))
        })
    };
    sig(a.body()).eq(sig(b.body())) && same_params(a, b) && same_params(b, a)
}
