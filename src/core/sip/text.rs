//! Lexical helpers shared by the SIP codec (RFC 3261 §25.1).
//!
//! Owns: the character classes of the grammar (token, word, the URI sets of RFC 3261 §25.1 and
//! RFC 2396), linear white space (LWS, with folding), splitting a header value at commas that
//! are not inside a quoted-string or `<...>` (§7.3.1), the `*( SEMI generic-param )` tail
//! shared by most headers (§25.1 `generic-param`), quoted-strings (`qdtext`, `quoted-pair`),
//! bounded decimal numbers, `%HEX HEX` escapes (§19.1.2, compared per §19.1.4), and the
//! host productions `hostname`, `IPv4address` and `IPv6address` (with the RFC 5118 §4.10
//! three-colon form tolerated).
//!
//! Everything works on borrowed byte slices and never allocates. Header values reach this
//! module after the message parser has found the header boundaries, so any CR or LF inside a
//! value is folding and is treated as white space. Nothing here panics on any input.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The input does not match the grammar. A header that fails to decode is a malformed request
/// (RFC 3261 §21.4.1, 400 Bad Request); a malformed response is discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed SIP element")
    }
}

impl std::error::Error for Invalid {}

// Character classes, one bit each, looked up in one 256-entry table. `%` escapes are handled
// by the code that allows them, not by the classes.

/// `token` (§25.1): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
pub(crate) const TOKEN: u16 = 1;
/// `unreserved` (§25.1): alphanum / mark.
pub(crate) const UNRESERVED: u16 = 1 << 1;
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

const MARK: &[u8] = b"-_.!~*'()";
const RESERVED_CHARS: &[u8] = b";/?:@&=+$,";

/// Each class: its bit, whether it holds every alphanumeric, whether it holds every
/// `unreserved` character, and the other characters it holds.
const CLASS_TABLE: [(u16, bool, bool, &[u8]); 12] = [
    (TOKEN, true, false, b"-.!%*_+`'~"),
    (UNRESERVED, true, true, b""),
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
        b += 1;
    }
    t
}

static CLASSES: [u16; 256] = build_classes();

/// True if `b` belongs to any of the classes in `class`.
#[inline]
pub(crate) fn in_class(b: u8, class: u16) -> bool {
    CLASSES[b as usize] & class != 0
}

/// Length of the longest prefix of `s` whose bytes are all in `class`.
#[inline]
pub(crate) fn span(s: &[u8], class: u16) -> usize {
    s.iter()
        .position(|&b| !in_class(b, class))
        .unwrap_or(s.len())
}

/// True if every byte of `s` is in `class` or starts a valid `%HEX HEX` escape.
pub(crate) fn all_escaped(s: &[u8], class: u16) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if in_class(b, class) {
            i += 1;
        } else if b == b'%' && valid_escape_at(s, i) {
            i += 3;
        } else {
            return false;
        }
    }
    true
}

/// `token` character (RFC 3261 §25.1).
#[inline]
pub fn is_token_char(b: u8) -> bool {
    in_class(b, TOKEN)
}

/// A non-empty run of `token` characters.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && span(s, TOKEN) == s.len()
}

/// A non-empty run of `word` characters (RFC 3261 §25.1, used by Call-ID).
pub fn is_word(s: &[u8]) -> bool {
    !s.is_empty() && span(s, WORD) == s.len()
}

/// White space inside a header value: SP, HT, and CR / LF from a folded line (§7.3.1).
#[inline]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` without its leading LWS.
#[inline]
pub fn skip_lws(s: &[u8]) -> &[u8] {
    let i = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    // NOTE: i <= s.len() by construction.
    &s[i..]
}

/// `s` without its trailing LWS.
#[inline]
pub fn trim_end(s: &[u8]) -> &[u8] {
    let n = s.iter().rposition(|&b| !is_lws(b)).map_or(0, |i| i + 1);
    // NOTE: n <= s.len() by construction.
    &s[..n]
}

/// `s` without LWS at either end.
#[inline]
pub fn trim(s: &[u8]) -> &[u8] {
    trim_end(skip_lws(s))
}

/// Decimal `1*DIGIT` as a u64. Empty input, any non-digit and overflow are errors; leading
/// zeros are allowed (`0068` is 68, RFC 4475 §3.1.1.1).
pub fn parse_u64(s: &[u8]) -> Result<u64, Invalid> {
    if s.is_empty() {
        return Err(Invalid);
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(Invalid);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(Invalid)?;
    }
    Ok(n)
}

/// Decimal `1*DIGIT` as a u32; values above 2^32-1 are errors (RFC 4475 §3.1.2.4).
pub fn parse_u32(s: &[u8]) -> Result<u32, Invalid> {
    u32::try_from(parse_u64(s)?).map_err(|_| Invalid)
}

/// Decimal `1*DIGIT` as a u16 (a port); values above 65535 are errors.
pub fn parse_u16(s: &[u8]) -> Result<u16, Invalid> {
    u16::try_from(parse_u64(s)?).map_err(|_| Invalid)
}

/// Decimal `1*DIGIT` as a u8 (Max-Forwards, ttl); values above 255 are errors.
pub fn parse_u8(s: &[u8]) -> Result<u8, Invalid> {
    u8::try_from(parse_u64(s)?).map_err(|_| Invalid)
}

/// Splits a header value at the commas that separate its elements (RFC 3261 §7.3.1).
///
/// A comma inside a quoted-string (with `\` quoted-pairs) or inside `<...>` is not a separator.
/// Each element comes out with LWS trimmed. Empty elements (`a,,b`, a trailing `,`) are
/// yielded as empty slices so that callers can reject them; a value that is empty or only LWS
/// yields nothing. An unterminated quote or `<` makes the rest of the value one element, which
/// the element's own parser then rejects.
#[derive(Debug, Clone)]
pub struct CommaSplit<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> CommaSplit<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        let v = trim(value);
        CommaSplit {
            rest: (!v.is_empty()).then_some(v),
        }
    }
}

/// Splits `value` at element commas; see [`CommaSplit`].
pub fn split_comma(value: &[u8]) -> CommaSplit<'_> {
    CommaSplit::new(value)
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        let mut i = 0;
        while let Some(off) = memchr::memchr3(b',', b'"', b'<', &s[i..]) {
            // NOTE: i <= s.len() holds throughout: every advance is to a found index + 1 at
            // most, or to s.len().
            let at = i + off;
            match s[at] {
                b',' => {
                    self.rest = Some(&s[at + 1..]);
                    return Some(trim(&s[..at]));
                }
                b'"' => i = quoted_end_lenient(s, at),
                _ => {
                    i = memchr::memchr(b'>', &s[at..]).map_or(s.len(), |o| at + o + 1);
                }
            }
        }
        self.rest = None;
        Some(trim(s))
    }
}

/// Index just past the quoted-string that opens at `s[open]`, or `s.len()` if unterminated.
fn quoted_end_lenient(s: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while let Some(off) = s.get(i..).and_then(|t| memchr::memchr2(b'"', b'\\', t)) {
        let at = i + off;
        // NOTE: at < s.len(): memchr2 found it in s[i..].
        if s[at] == b'"' {
            return at + 1;
        }
        i = at + 2;
    }
    s.len()
}

/// Length of the quoted-string at the start of `s`, both quotes included (§25.1).
///
/// `qdtext` is LWS, %x21, %x23-5B, %x5D-7E or UTF8-NONASCII (bytes >= 0x80); a `quoted-pair`
/// is `\` followed by any octet but CR or LF. Any other control octet, or a missing closing
/// quote, is an error.
pub fn quoted_string_len(s: &[u8]) -> Result<usize, Invalid> {
    if s.first() != Some(&b'"') {
        return Err(Invalid);
    }
    let mut i = 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'"' => return Ok(i + 1),
            b'\\' => match s.get(i + 1) {
                Some(&n) if n <= 0x7f && n != b'\r' && n != b'\n' => i += 2,
                _ => return Err(Invalid),
            },
            b' ' | b'\t' | b'\r' | b'\n' | 0x21..=0x7e | 0x80..=0xff => i += 1,
            _ => return Err(Invalid),
        }
    }
    Err(Invalid)
}

/// True if `s` is exactly one well-formed quoted-string.
pub fn is_quoted_string(s: &[u8]) -> bool {
    quoted_string_len(s) == Ok(s.len())
}

/// The content of a quoted-string with its quoted-pairs resolved, byte by byte.
///
/// `s` should be a valid quoted-string (see [`quoted_string_len`]). Given anything else it is
/// not judged: outer quotes, if both are there, are dropped and `\` pairs still resolved.
pub fn unquote(s: &[u8]) -> Unquote<'_> {
    let inner = if s.len() >= 2 && s[0] == b'"' && s[s.len() - 1] == b'"' {
        // NOTE: both ends were checked just above.
        &s[1..s.len() - 1]
    } else {
        s
    };
    Unquote { rest: inner }
}

/// Iterator returned by [`unquote`].
#[derive(Debug, Clone)]
pub struct Unquote<'a> {
    rest: &'a [u8],
}

impl Iterator for Unquote<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&b, tail) = self.rest.split_first()?;
        if b == b'\\' {
            if let Some((&n, tail2)) = tail.split_first() {
                self.rest = tail2;
                return Some(n);
            }
        }
        self.rest = tail;
        Some(b)
    }
}

/// Writes the unquoted content of the quoted-string `s` into `out`, returning its length.
/// Errors if `s` is not a quoted-string or `out` is too small.
pub fn unquote_into(s: &[u8], out: &mut [u8]) -> Result<usize, Invalid> {
    if !is_quoted_string(s) {
        return Err(Invalid);
    }
    copy_into(unquote(s), out)
}

fn copy_into(bytes: impl Iterator<Item = u8>, out: &mut [u8]) -> Result<usize, Invalid> {
    let mut n = 0;
    for b in bytes {
        *out.get_mut(n).ok_or(Invalid)? = b;
        n += 1;
    }
    Ok(n)
}

/// One `generic-param` (§25.1): `name [ = value ]`. A quoted value keeps its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// Iterator over `*( SEMI generic-param )`, the parameter tail of most header values.
///
/// The input is that tail, starting at its first `;` (or empty for no parameters). LWS is
/// allowed around `;` and `=` (SEMI and EQUAL are `SWS ";" SWS` and `SWS "=" SWS`). A name is
/// a token; a value is a quoted-string or a run of token characters, `:`, `[` and `]` (a
/// `gen-value` is token / host / quoted-string). An empty name (`;;`), an `=` with no value or
/// anything between parameters yields one `Err` and ends the iteration.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    pub fn new(tail: &'a [u8]) -> Self {
        Params { rest: tail }
    }

    /// Value of the first parameter named `name` (case-insensitive, §7.3.1): `None` if absent,
    /// `Some(None)` if present without a value. Stops at the first malformed parameter.
    pub fn find(self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.map_while(Result::ok)
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    /// Checks the whole tail.
    pub fn validate(mut self) -> Result<(), Invalid> {
        self.try_for_each(|p| p.map(|_| ()))
    }

    fn fail(&mut self) -> Option<Result<Param<'a>, Invalid>> {
        self.rest = &[];
        Some(Err(Invalid))
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, Invalid>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = skip_lws(self.rest);
        let (&first, s) = s.split_first()?;
        if first != b';' {
            return self.fail();
        }
        let s = skip_lws(s);
        let n = span(s, TOKEN);
        if n == 0 {
            return self.fail();
        }
        // NOTE: n <= s.len() (span).
        let (name, after) = s.split_at(n);
        let after_ws = skip_lws(after);
        let Some((b'=', v)) = after_ws.split_first() else {
            self.rest = after;
            return Some(Ok(Param { name, value: None }));
        };
        let v = skip_lws(v);
        let len = if v.first() == Some(&b'"') {
            match quoted_string_len(v) {
                Ok(len) => len,
                Err(Invalid) => return self.fail(),
            }
        } else {
            span(v, GEN_VALUE)
        };
        if len == 0 {
            return self.fail();
        }
        // NOTE: len <= v.len() (span, or quoted_string_len success).
        let (value, rest) = v.split_at(len);
        self.rest = rest;
        Some(Ok(Param {
            name,
            value: Some(value),
        }))
    }
}

/// `s` with one pair of surrounding double quotes removed, if it has them. Quoted-pairs are
/// left as they are; use [`unquote`] to resolve them.
pub fn strip_quotes(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn valid_escape_at(s: &[u8], i: usize) -> bool {
    decode_escape_at(s, i).is_some()
}

/// The octet encoded by `%HEX HEX` at `s[i]`, if there is a valid escape there.
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

/// `hostname` (§25.1): labels of alphanumerics and inner hyphens, the last one starting with a
/// letter, optionally a final dot. One pass, no splitting.
pub fn is_hostname(s: &[u8]) -> bool {
    let s = s.strip_suffix(b".").unwrap_or(s);
    // `prev` starts as a dot so that the first label is checked like any other.
    let (mut prev, mut top_first) = (b'.', 0u8);
    for &b in s {
        match b {
            b'.' if prev == b'.' || prev == b'-' => return false,
            b'-' if prev == b'.' => return false,
            b'.' | b'-' => {}
            _ if b.is_ascii_alphanumeric() => {
                if prev == b'.' {
                    top_first = b;
                }
            }
            _ => return false,
        }
        prev = b;
    }
    prev.is_ascii_alphanumeric() && top_first.is_ascii_alphabetic()
}

/// `IPv4address` (§25.1): four groups of 1 to 3 digits, each at most 255. One pass.
pub fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let (mut group, mut value, mut digits) = (0usize, 0u16, 0u8);
    for &b in s {
        match b {
            b'0'..=b'9' if digits < 3 => {
                value = value * 10 + u16::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && group < 3 => {
                // NOTE: group < 3 (guard).
                octets[group] = u8::try_from(value).ok()?;
                (group, value, digits) = (group + 1, 0, 0);
            }
            _ => return None,
        }
    }
    if group != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(v: &str) -> Vec<&[u8]> {
        split_comma(v.as_bytes()).collect()
    }

    #[test]
    fn token_and_word_classes_follow_rfc3261_25_1() {
        // RFC 4475 §3.1.1.2: a method made of every token character.
        assert!(is_token(b"!interesting-Method0123456789_*+`.%indeed'~"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b"\"a\""));
        // RFC 4475 §3.1.1.2 Call-ID words.
        assert!(is_word(b"intmeth.word%ZK-!.*_+'"));
        assert!(is_word(b"word`~)(><:\\/\"][?}{"));
        assert!(!is_word(b"a@b"));
        assert!(!is_word(b"a b"));
    }

    #[test]
    fn lws_trimming_covers_folding() {
        assert_eq!(trim(b" \t\r\n a b \r\n "), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(skip_lws(b"\r\n x"), b"x");
        assert_eq!(trim_end(b"x\r\n  "), b"x");
    }

    #[test]
    fn numbers_reject_overflow_instead_of_wrapping() {
        assert_eq!(parse_u32(b"0068"), Ok(68));
        assert_eq!(parse_u32(b"4294967295"), Ok(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), Err(Invalid));
        // RFC 4475 §3.1.2.4 (scalar02).
        assert_eq!(parse_u32(b"36893488147419103232"), Err(Invalid));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(Invalid));
        assert_eq!(parse_u32(b"-999"), Err(Invalid));
        assert_eq!(parse_u32(b""), Err(Invalid));
        assert_eq!(parse_u32(b"1 "), Err(Invalid));
        assert_eq!(parse_u16(b"65535"), Ok(65535));
        assert_eq!(parse_u16(b"65536"), Err(Invalid));
        assert_eq!(parse_u8(b"255"), Ok(255));
        assert_eq!(parse_u8(b"300"), Err(Invalid));
        assert_eq!(parse_u32(b"000000000000000000000000000000007"), Ok(7));
    }

    #[test]
    fn comma_split_respects_quotes_and_angle_brackets() {
        assert_eq!(
            split(r#""Bell, A." <sip:a@b>, <sip:c,d@e;x=1>  ,sip:f@g"#),
            vec![
                &br#""Bell, A." <sip:a@b>"#[..],
                b"<sip:c,d@e;x=1>",
                b"sip:f@g"
            ]
        );
        assert_eq!(split(r#""a\", b", c"#), vec![&br#""a\", b""#[..], b"c"]);
        assert_eq!(split(r#""<", d"#), vec![&br#""<""#[..], b"d"]);
    }

    #[test]
    fn comma_split_reports_empty_elements() {
        // RFC 4475 §3.1.2.1 (badinv01) Via value.
        assert_eq!(
            split("SIP/2.0/UDP 192.0.2.15;;,;,,"),
            vec![&b"SIP/2.0/UDP 192.0.2.15;;"[..], b";", b"", b""]
        );
        assert_eq!(split(" a ,\r\n b"), vec![&b"a"[..], b"b"]);
        assert!(split("").is_empty());
        assert!(split(" \r\n ").is_empty());
        assert_eq!(split(","), vec![&b""[..], b""]);
    }

    #[test]
    fn comma_split_unterminated_runs_to_the_end() {
        assert_eq!(split(r#""a, b"#), vec![&br#""a, b"#[..]]);
        assert_eq!(split("<sip:a, b"), vec![&b"<sip:a, b"[..]]);
        assert_eq!(split(r#""a\"#), vec![&br#""a\"#[..]]);
    }

    #[test]
    fn params_tolerate_lws_and_folding() {
        // RFC 4475 §3.1.1.1 (wsinv).
        let tail = b" ;   tag    = 1918181833n";
        let p: Vec<_> = Params::new(tail).collect();
        assert_eq!(
            p,
            vec![Ok(Param {
                name: b"tag",
                value: Some(b"1918181833n")
            })]
        );
        let tail = b";\r\n  newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33";
        let p: Vec<_> = Params::new(tail).map(Result::unwrap).collect();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].value, Some(&b"newvalue"[..]));
        assert_eq!(p[1].name, b"secondparam");
        assert_eq!(p[1].value, None);
        assert_eq!(Params::new(tail).find(b"Q"), Some(Some(&b"0.33"[..])));
        assert_eq!(Params::new(tail).find(b"secondparam"), Some(None));
        assert_eq!(Params::new(tail).find(b"tag"), None);
    }

    #[test]
    fn params_values_quoted_and_host() {
        let tail = br#";+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";received=[2001:db8::9:255];x=2001:db8::1"#;
        let p: Vec<_> = Params::new(tail).map(Result::unwrap).collect();
        assert_eq!(
            p[0].value,
            Some(&br#""<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>""#[..])
        );
        assert_eq!(p[1].value, Some(&b"[2001:db8::9:255]"[..]));
        assert_eq!(p[2].value, Some(&b"2001:db8::1"[..]));
        let tail = br#";a="x;y\"z";b"#;
        assert_eq!(Params::new(tail).count(), 2);
        assert!(Params::new(tail).validate().is_ok());
    }

    #[test]
    fn params_reject_empty_and_stray() {
        for bad in [
            &b";;"[..],
            b";",
            b";a=",
            b";a= ;b",
            b"x",
            b";a b",
            b";a=\"x",
            b";a=b\"c\"",
            b";=b",
            b";a;;b",
            b";a=<b>",
        ] {
            assert_eq!(Params::new(bad).validate(), Err(Invalid), "{bad:?}");
        }
        assert_eq!(Params::new(b"").validate(), Ok(()));
        assert_eq!(Params::new(b"  ").validate(), Ok(()));
        // Parameters after an error are not reported.
        assert_eq!(Params::new(b";;a").find(b"a"), None);
    }

    #[test]
    fn quoted_strings() {
        // RFC 4475 §3.1.1.1 (wsinv) and §3.1.1.2 (intmeth, quoted BEL / NUL / DEL).
        assert_eq!(quoted_string_len(br#""J Rosenberg \\\"" x"#), Ok(18));
        assert!(is_quoted_string(b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\""));
        assert!(!is_quoted_string(b"\"raw \x07 bell\""));
        assert!(!is_quoted_string(b"\"Mr. J. User <sip:j.user@example.com>"));
        assert!(!is_quoted_string(b"\"a\\\""));
        assert!(is_quoted_string("\"\u{444}\u{44b}\"".as_bytes()));
        assert!(is_quoted_string(b"\"a\r\n b\""));
        let mut buf = [0u8; 32];
        let n = unquote_into(br#""J Rosenberg \\\"""#, &mut buf).unwrap();
        assert_eq!(&buf[..n], br#"J Rosenberg \""#);
        assert_eq!(unquote_into(br#""abc""#, &mut buf[..2]), Err(Invalid));
        assert_eq!(unquote_into(b"abc", &mut buf), Err(Invalid));
        assert_eq!(strip_quotes(br#""<urn:x>""#), b"<urn:x>");
        assert_eq!(strip_quotes(b"tok"), b"tok");
    }

    #[test]
    fn escapes_compare_per_rfc3261_19_1_4() {
        // RFC 4475 §3.1.1.3 (esc01).
        assert!(escaped_eq(b"%75se%72", b"user"));
        assert!(escaped_eq(b"cal%6Cer", b"caller"));
        assert!(!escaped_eq(b"%75se%72", b"User"));
        assert!(escaped_eq_ignore_case(b"%6C%72", b"LR"));
        // Escaped reserved characters are not the characters themselves.
        assert!(!escaped_eq(b"a%3Bb", b"a;b"));
        assert!(escaped_eq(b"a%3bb", b"a%3Bb"));
        // RFC 4475 §3.1.1.4 (escnull): %00 and %00%00 stay distinct.
        assert!(!escaped_eq(b"%00", b"%00%00"));
        assert!(!escaped_eq(b"value%41", b"valueA%"));
    }

    #[test]
    fn unescape_into_keeps_nul_and_rejects_bad_escapes() {
        let mut buf = [0xffu8; 16];
        let n = unescape_into(b"null-%00-null", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"null-\0-null");
        let n = unescape_into(b"u%40example.net", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"u@example.net");
        assert_eq!(unescape_into(b"%G1", &mut buf), Err(Invalid));
        assert_eq!(unescape_into(b"abc%4", &mut buf), Err(Invalid));
        assert_eq!(unescape_into(b"abc%", &mut buf), Err(Invalid));
        assert_eq!(unescape_into(b"0123456789abcdefg", &mut buf), Err(Invalid));
        assert!(all_escaped(b"n%61me", PARAM));
        assert!(!all_escaped(b"n%6", PARAM));
        assert!(!all_escaped(b"a b", PARAM));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = split_comma(&s).count();
            let _ = Params::new(&s).count();
            let _ = quoted_string_len(&s);
            let _ = parse_u64(&s);
            let mut buf = [0u8; 16];
            let _ = unescape_into(&s, &mut buf);
            let _ = unquote_into(&s, &mut buf);
            let _ = unquote(&s).count();
            let _ = escaped_eq_ignore_case(&s, b"%41b");
        }

        #[test]
        fn comma_split_of_tokens_round_trips(parts in proptest::collection::vec("[a-z0-9.!%*_+`'~-]{0,6}", 1..6)) {
            let joined = parts.join(" ,\r\n ");
            let got: Vec<&[u8]> = split_comma(joined.as_bytes()).collect();
            if parts.iter().all(String::is_empty) && parts.len() == 1 {
                prop_assert!(got.is_empty());
            } else {
                let want: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn u64_round_trips(n in any::<u64>()) {
            prop_assert_eq!(parse_u64(n.to_string().as_bytes()), Ok(n));
        }
    }
}
