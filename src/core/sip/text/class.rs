//! Character classes of the SIP grammar (RFC 3261 §25.1, RFC 2396 §2) and the scanners built
//! on them.
//!
//! Every class is one bit of a 256-entry table, so a membership test is one load and one AND,
//! and a scan over a run of class characters is a tight loop with no call inside. `%HEX HEX`
//! escapes are handled by [`escaped_span_from`], not by the classes.

use super::escape::valid_escape_at;
use super::swar::{qdtext_stops, span_bytes, span_flagged};

/// `token` (§25.1): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
pub(crate) const TOKEN: u16 = 1;
/// The characters both `paramchar` and `token` hold: alphanum / "-" / "." / "!" / "*" / "_" /
/// "+" / "'" / "~". A URI parameter value made of these is a token.
pub(crate) const PARAM_TOKEN: u16 = 1 << 1;
/// `user` without escapes: unreserved / user-unreserved.
pub(crate) const USER: u16 = 1 << 2;
/// `password` without escapes: unreserved / "&" / "=" / "+" / "$" / ",".
pub(crate) const PASSWORD: u16 = 1 << 3;
/// `paramchar` without escapes: param-unreserved / unreserved.
pub(crate) const PARAM: u16 = 1 << 4;
/// `hname` / `hvalue` without escapes: hnv-unreserved / unreserved.
pub(crate) const HNV: u16 = 1 << 5;
/// `word` (§25.1, Call-ID).
pub(crate) const WORD: u16 = 1 << 6;
/// `uric` (RFC 2396 §2) without escapes, plus "[" / "]" (RFC 2732).
pub(crate) const URIC: u16 = 1 << 7;
/// Hostname and IPv4 characters: alphanum / "-" / ".".
pub(crate) const HOST: u16 = 1 << 8;
/// `scheme` characters after the first: ALPHA / DIGIT / "+" / "-" / ".".
pub(crate) const SCHEME: u16 = 1 << 9;
/// `gen-value` without quotes (§25.1): token / host, so token plus ":" / "[" / "]".
pub(crate) const GEN_VALUE: u16 = 1 << 10;
/// `reserved` (§25.1): the characters whose escapes are not equivalent to themselves.
pub(crate) const RESERVED: u16 = 1 << 11;
/// `qdtext` (§25.1): LWS, %x21, %x23-5B, %x5D-7E and UTF8-NONASCII (every octet >= 0x80).
/// CR and LF only reach a value as folding, so they count as LWS.
pub(crate) const QDTEXT: u16 = 1 << 12;
/// LWS inside a header value: SP, HT, and CR / LF from a folded line (§7.3.1).
pub(crate) const LWS: u16 = 1 << 13;
/// The characters of a hostname label: alphanum / "-".
pub(crate) const LABEL: u16 = 1 << 14;
/// `DIGIT`.
pub(crate) const DIGIT: u16 = 1 << 15;

const MARK: &[u8] = b"-_.!~*'()";
const RESERVED_CHARS: &[u8] = b";/?:@&=+$,";

/// Each class: its bit, whether it holds every alphanumeric, whether it holds every
/// `unreserved` character, and the other characters it holds.
const CLASS_TABLE: [(u16, bool, bool, &[u8]); 15] = [
    (TOKEN, true, false, b"-.!%*_+`'~"),
    (PARAM_TOKEN, true, false, b"-.!*_+'~"),
    (USER, true, true, b"&=+$,;?/"),
    (PASSWORD, true, true, b"&=+$,"),
    (PARAM, true, true, b"[]/:&+$"),
    (HNV, true, true, b"[]/?:+$"),
    (WORD, true, false, b"-.!%*_+`'~()<>:\\\"/[]?{}"),
    (URIC, true, true, b";/?:@&=+$,[]"),
    (HOST, true, false, b"-."),
    (SCHEME, true, false, b"+-."),
    (GEN_VALUE, true, false, b"-.!%*_+`'~:[]"),
    (RESERVED, false, false, RESERVED_CHARS),
    (LWS, false, false, b" \t\r\n"),
    (LABEL, true, false, b"-"),
    (DIGIT, false, false, b"0123456789"),
];

const fn contains(set: &[u8], b: u8) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == b {
            return true;
        }
        i += 1;
    }
    false
}

const fn is_qdtext(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

const fn build_classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let unreserved = alnum || contains(MARK, c);
        let mut k = 0;
        while k < CLASS_TABLE.len() {
            let (bit, with_alnum, with_unreserved, extra) = CLASS_TABLE[k];
            if (with_alnum && alnum) || (with_unreserved && unreserved) || contains(extra, c) {
                t[b] |= bit;
            }
            k += 1;
        }
        if is_qdtext(c) {
            t[b] |= QDTEXT;
        }
        b += 1;
    }
    t
}

static CLASSES: [u16; 256] = build_classes();

/// True if `b` belongs to any of the classes in `class`.
#[inline(always)]
pub(crate) fn in_class(b: u8, class: u16) -> bool {
    CLASSES[usize::from(b)] & class != 0
}

/// Index of the first byte at or after `i` that is not in `class`, or `s.len()`. An `i` past
/// the end gives `i` back.
///
/// `qdtext`, whose runs are long (display names, quoted parameter values), is scanned eight
/// bytes at a time (see [`super::swar`]); `class` is a constant at every call, so the choice
/// is made when compiling.
#[inline(always)]
pub(crate) fn span_from(s: &[u8], i: usize, class: u16) -> usize {
    if class == QDTEXT {
        span_flagged(s, i, class, qdtext_stops)
    } else {
        span_bytes(s, i, class)
    }
}

/// Length of the longest prefix of `s` whose bytes are all in `class`.
#[inline(always)]
pub(crate) fn span(s: &[u8], class: u16) -> usize {
    span_from(s, 0, class)
}

/// Index of the first byte at or after `i` that is neither in `class` nor the start of a valid
/// `%HEX HEX` escape, or `s.len()`. Escapes are taken left to right, three octets at a time.
#[inline(always)]
pub(crate) fn escaped_span_from(s: &[u8], mut i: usize, class: u16) -> usize {
    loop {
        i = span_from(s, i, class);
        if s.get(i) == Some(&b'%') && valid_escape_at(s, i) {
            i += 3;
        } else {
            return i;
        }
    }
}

/// True if every byte of `s` is in `class` or starts a valid `%HEX HEX` escape.
#[inline]
pub(crate) fn all_escaped(s: &[u8], class: u16) -> bool {
    escaped_span_from(s, 0, class) == s.len()
}

/// `token` character (RFC 3261 §25.1).
#[inline(always)]
pub fn is_token_char(b: u8) -> bool {
    in_class(b, TOKEN)
}

/// A non-empty run of `token` characters.
#[inline]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && span(s, TOKEN) == s.len()
}

/// A non-empty run of `word` characters (RFC 3261 §25.1, used by Call-ID).
#[inline]
pub fn is_word(s: &[u8]) -> bool {
    !s.is_empty() && span(s, WORD) == s.len()
}

/// True if the parameter name `name` is `lower` ignoring ASCII case (§7.3.1, §19.1.4 for
/// unescaped URI parameters): every byte ORed with 0x20 equals the known one, compared eight,
/// four, two and one bytes at a time (`lower` is a constant, so the pieces fold into
/// immediate compares).
///
/// `name` must be a run of `token` or `paramchar` characters, all printable ASCII, and `lower`
/// a known name of lower-case letters, digits, `-`, `.` and `+`: each of those has bit 5 set,
/// and the only printable bytes that `| 0x20` maps onto one are itself and, for a letter, its
/// upper case.
#[inline(always)]
pub(crate) fn name_is(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    let (mut a, mut b) = (name, lower);
    while let (Some((x, ra)), Some((y, rb))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if u64::from_le_bytes(*x) | 0x2020_2020_2020_2020 != u64::from_le_bytes(*y) {
            return false;
        }
        (a, b) = (ra, rb);
    }
    if let (Some((x, ra)), Some((y, rb))) = (a.split_first_chunk::<4>(), b.split_first_chunk::<4>())
    {
        if u32::from_le_bytes(*x) | 0x2020_2020 != u32::from_le_bytes(*y) {
            return false;
        }
        (a, b) = (ra, rb);
    }
    if let (Some((x, ra)), Some((y, rb))) = (a.split_first_chunk::<2>(), b.split_first_chunk::<2>())
    {
        if u16::from_le_bytes(*x) | 0x2020 != u16::from_le_bytes(*y) {
            return false;
        }
        (a, b) = (ra, rb);
    }
    a.iter().zip(b).all(|(&x, &y)| x | 0x20 == y)
}

/// White space inside a header value: SP, HT, and CR / LF from a folded line (§7.3.1).
#[inline(always)]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Index of the first byte at or after `i` that is not LWS, or `s.len()`. LWS is rare and
/// short where this is called, so it is one plain loop.
#[inline(always)]
pub(crate) fn skip_lws_from(s: &[u8], mut i: usize) -> usize {
    while let Some(&b) = s.get(i) {
        if !is_lws(b) {
            break;
        }
        i += 1;
    }
    i
}

/// `s` without its leading LWS.
#[inline]
pub fn skip_lws(s: &[u8]) -> &[u8] {
    let i = skip_lws_from(s, 0);
    // NOTE: i <= s.len() by construction.
    &s[i..]
}

/// `s` without its trailing LWS.
#[inline]
pub fn trim_end(s: &[u8]) -> &[u8] {
    let mut n = s.len();
    while n > 0 && is_lws(s[n - 1]) {
        // NOTE: 0 < n <= s.len().
        n -= 1;
    }
    // NOTE: n <= s.len() by construction.
    &s[..n]
}

/// `s` without LWS at either end.
#[inline]
pub fn trim(s: &[u8]) -> &[u8] {
    trim_end(skip_lws(s))
}
