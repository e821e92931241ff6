//! The host productions of RFC 3261 §25.1: `hostname`, `IPv4address` and `IPv6address`, with
//! the three-colon form of RFC 5118 §4.10 tolerated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::class::{span_from, LABEL};
use super::Invalid;

/// Length of the `hostname` (§25.1) at the start of `s`, if one is there and the run of
/// alphanumerics, `-` and `.` that starts there is exactly that hostname.
///
/// A hostname is labels of alphanumerics and inner hyphens separated by single dots, the last
/// one starting with a letter, optionally followed by a final dot. Each label is one scan over
/// its characters; the checks on its ends and on the dots are per label, not per byte.
#[inline(always)]
pub(crate) fn hostname_prefix(s: &[u8]) -> Option<usize> {
    let (mut i, mut top) = (0, 0);
    loop {
        let start = i;
        i = span_from(s, i, LABEL);
        if i == start {
            // An empty label is only allowed as the final dot of a hostname.
            if start == 0 || s.get(i) == Some(&b'.') {
                return None;
            }
            break;
        }
        // NOTE: start < i <= s.len() (span_from found at least one byte).
        if s[start] == b'-' || s[i - 1] == b'-' {
            return None;
        }
        top = start;
        if s.get(i) != Some(&b'.') {
            break;
        }
        i += 1;
    }
    s.get(top).is_some_and(u8::is_ascii_alphabetic).then_some(i)
}

/// `hostname` (§25.1): labels of alphanumerics and inner hyphens, the last one starting with a
/// letter, optionally a final dot.
pub fn is_hostname(s: &[u8]) -> bool {
    hostname_prefix(s) == Some(s.len())
}

/// The `IPv4address` (§25.1) at the start of `s` and its length: four groups of 1 to 3 digits,
/// each at most 255, separated by dots. What follows it is not looked at.
#[inline(always)]
pub(crate) fn ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let (a, i) = octet_at(s, 0)?;
    let (b, i) = octet_at(s, dot_at(s, i)?)?;
    let (c, i) = octet_at(s, dot_at(s, i)?)?;
    let (d, i) = octet_at(s, dot_at(s, i)?)?;
    Some((Ipv4Addr::new(a, b, c, d), i))
}

/// The index after the `.` at `s[i]`.
#[inline(always)]
fn dot_at(s: &[u8], i: usize) -> Option<usize> {
    (s.get(i) == Some(&b'.')).then_some(i + 1)
}

/// The group of 1 to 3 digits at `s[i]`, at most 255, and the index after it; a fourth digit
/// is left for the caller, which expects a dot or the end there.
#[inline(always)]
fn octet_at(s: &[u8], i: usize) -> Option<(u8, usize)> {
    let digit = |k: usize| s.get(k).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9);
    let d0 = digit(i)?;
    let Some(d1) = digit(i + 1) else {
        return Some((d0, i + 1));
    };
    let Some(d2) = digit(i + 2) else {
        return Some((d0 * 10 + d1, i + 2));
    };
    let v = u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2);
    Some((u8::try_from(v).ok()?, i + 3))
}

/// `IPv4address` (§25.1): four groups of 1 to 3 digits, each at most 255. One pass.
#[inline]
pub fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    match ipv4_prefix(s) {
        Some((a, n)) if n == s.len() => Some(a),
        _ => None,
    }
}

/// `IPv6address` without brackets. Also accepts the three-colon form that the RFC 3261 ABNF
/// allows before an embedded IPv4 address (`2001:db8:::192.0.2.1`, RFC 5118 §4.10), read as
/// `2001:db8::192.0.2.1`.
pub fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    // Longest text form is 45 octets; one more for the tolerated extra colon.
    const MAX: usize = 46;
    if s.len() > MAX {
        return None;
    }
    let mut buf = [0u8; MAX];
    // NOTE: below, i + 3 <= s.len() (":::" found at i), and s.len() - 1 < MAX.
    let text = match memchr::memmem::find(s, b":::") {
        Some(i) if !s[i + 3..].contains(&b':') && s[i + 3..].contains(&b'.') => {
            buf[..i + 2].copy_from_slice(&s[..i + 2]);
            buf[i + 2..s.len() - 1].copy_from_slice(&s[i + 3..]);
            &buf[..s.len() - 1]
        }
        _ => s,
    };
    core::str::from_utf8(text).ok()?.parse().ok()
}

/// An IP address in either form a Via `received` parameter may carry: `IPv4address`,
/// `IPv6address`, or an `IPv6reference` in brackets (RFC 5118 §4.5).
pub fn parse_ip(s: &[u8]) -> Result<IpAddr, Invalid> {
    let inner = match s {
        [b'[', inner @ .., b']'] => return parse_ipv6(inner).map(IpAddr::V6).ok_or(Invalid),
        _ => s,
    };
    if let Some(a) = parse_ipv4(inner) {
        return Ok(IpAddr::V4(a));
    }
    parse_ipv6(inner).map(IpAddr::V6).ok_or(Invalid)
}
