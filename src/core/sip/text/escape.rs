//! `%HEX HEX` escapes in URIs (RFC 3261 §19.1.2), compared per §19.1.4 and decoded without
//! allocating.

use super::class::{in_class, RESERVED};
use super::{copy_into, Invalid};

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[inline]
pub(crate) fn valid_escape_at(s: &[u8], i: usize) -> bool {
    decode_escape_at(s, i).is_some()
}

/// The octet encoded by `%HEX HEX` at `s[i]`, if there is a valid escape there.
#[inline]
fn decode_escape_at(s: &[u8], i: usize) -> Option<u8> {
    match s.get(i..i + 3)? {
        [b'%', h, l] => Some(hex_val(*h)? << 4 | hex_val(*l)?),
        _ => None,
    }
}

/// Octets of an escaped string, each tagged with whether it is an escaped `reserved` char.
///
/// RFC 3261 §19.1.4: characters outside the reserved set are equivalent to their `%HEX HEX`
/// encoding, reserved ones are not (`%3B` is not `;`). An invalid escape passes as a literal.
#[derive(Debug, Clone)]
struct Units<'a> {
    s: &'a [u8],
    i: usize,
}

impl Iterator for Units<'_> {
    type Item = (u8, bool);

    fn next(&mut self) -> Option<(u8, bool)> {
        let b = *self.s.get(self.i)?;
        if b == b'%' {
            if let Some(d) = decode_escape_at(self.s, self.i) {
                self.i += 3;
                return Some((d, in_class(d, RESERVED)));
            }
        }
        self.i += 1;
        Some((b, false))
    }
}

fn units(s: &[u8]) -> Units<'_> {
    Units { s, i: 0 }
}

/// Equality of two escaped URI components per RFC 3261 §19.1.4, case-sensitive (userinfo):
/// `%75se%72` equals `user`, `%3B` does not equal `;`, `%00` is one octet. No allocation.
pub fn escaped_eq(a: &[u8], b: &[u8]) -> bool {
    if no_escapes(a) && no_escapes(b) {
        return a == b;
    }
    units(a).eq(units(b))
}

/// As [`escaped_eq`], ignoring ASCII case (host, parameter names and values).
pub fn escaped_eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    if no_escapes(a) && no_escapes(b) {
        return a.eq_ignore_ascii_case(b);
    }
    units(a)
        .map(|(c, r)| (c.to_ascii_lowercase(), r))
        .eq(units(b).map(|(c, r)| (c.to_ascii_lowercase(), r)))
}

#[inline]
fn no_escapes(s: &[u8]) -> bool {
    memchr::memchr(b'%', s).is_none()
}

/// The octets of an escaped string with every valid `%HEX HEX` decoded.
pub fn unescape(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    units(s).map(|(b, _)| b)
}

/// Writes `s` unescaped into `out` and returns the length written. A `%` that does not start a
/// valid escape, or an `out` too small, is an error. `%00` decodes to a NUL octet: the result
/// is never shortened (RFC 4475 §3.1.1.4).
pub fn unescape_into(s: &[u8], out: &mut [u8]) -> Result<usize, Invalid> {
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'%', &s[i..]) {
        // NOTE: i <= s.len(): it only moves past a checked escape.
        if !valid_escape_at(s, i + off) {
            return Err(Invalid);
        }
        i += off + 3;
    }
    copy_into(unescape(s), out)
}
