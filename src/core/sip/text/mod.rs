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
//!
//! The scanners are written for the hot path: a character class is one table lookup, a run
//! of class characters is one loop with no call inside, and each byte of an element is looked
//! at once where the grammar allows it.

mod class;
mod escape;
mod host;
mod swar;

use core::fmt;

pub(crate) use class::{
    all_escaped, escaped_span_from, in_class, name_is, skip_lws_from, span, span_from, DIGIT,
    GEN_VALUE, HNV, HOST, LWS, PARAM, PARAM_TOKEN, PASSWORD, QDTEXT, SCHEME, TOKEN, URIC, USER,
    WORD,
};
pub use class::{is_lws, is_token, is_token_char, is_word, skip_lws, trim, trim_end};
pub use escape::{escaped_eq, escaped_eq_ignore_case, unescape, unescape_into};
pub(crate) use host::{hostname_prefix, ipv4_prefix};
pub use host::{is_hostname, parse_ip, parse_ipv4, parse_ipv6};
pub(crate) use swar::{bytes_below, bytes_equal, first_flagged, fold_word, word_at};

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

/// Decimal `1*DIGIT` as a u64. Empty input, any non-digit and overflow are errors; leading
/// zeros are allowed (`0068` is 68, RFC 4475 §3.1.1.1).
#[inline]
pub fn parse_u64(s: &[u8]) -> Result<u64, Invalid> {
    if s.is_empty() {
        return Err(Invalid);
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(Invalid);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(Invalid)?;
    }
    Ok(n)
}

/// Decimal `1*DIGIT` as a u32; values above 2^32-1 are errors (RFC 4475 §3.1.2.4).
#[inline]
pub fn parse_u32(s: &[u8]) -> Result<u32, Invalid> {
    u32::try_from(parse_u64(s)?).map_err(|_| Invalid)
}

/// Decimal `1*DIGIT` as a u16 (a port); values above 65535 are errors.
#[inline]
pub fn parse_u16(s: &[u8]) -> Result<u16, Invalid> {
    u16::try_from(parse_u64(s)?).map_err(|_| Invalid)
}

/// Decimal `1*DIGIT` as a u8 (Max-Forwards, ttl); values above 255 are errors.
#[inline]
pub fn parse_u8(s: &[u8]) -> Result<u8, Invalid> {
    u8::try_from(parse_u64(s)?).map_err(|_| Invalid)
}

/// The `1*DIGIT` run starting at `s[i]`, at most `max`, and the index just past it. An empty
/// run or a value above `max` is an error; leading zeros are allowed (`0068` is 68).
#[inline(always)]
fn digits_from(s: &[u8], i: usize, max: u64) -> Result<(u64, usize), Invalid> {
    let mut n: u64 = 0;
    let mut end = i;
    for &b in s.get(i..).unwrap_or_default() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // No overflow: n <= max <= u32::MAX before this digit.
        n = n * 10 + u64::from(d);
        if n > max {
            return Err(Invalid);
        }
        end += 1;
    }
    if end == i {
        return Err(Invalid);
    }
    Ok((n, end))
}

/// The `1*DIGIT` run starting at `s[i]`, as a u16 (a port such as `05060`), and the index just
/// past it; see [`digits_from`].
#[inline(always)]
pub(crate) fn digits_u16_from(s: &[u8], i: usize) -> Result<(u16, usize), Invalid> {
    let (n, end) = digits_from(s, i, u64::from(u16::MAX))?;
    // NOTE: n <= u16::MAX (digits_from).
    Ok((n as u16, end))
}

/// The `1*DIGIT` run starting at `s[i]`, as a u32 (RFC 4475 §3.1.2.4), and the index just past
/// it; see [`digits_from`].
#[inline(always)]
pub(crate) fn digits_u32_from(s: &[u8], i: usize) -> Result<(u32, usize), Invalid> {
    let (n, end) = digits_from(s, i, u64::from(u32::MAX))?;
    // NOTE: n <= u32::MAX (digits_from).
    Ok((n as u32, end))
}

/// The whole of `s` as a `1*DIGIT` number of at most `max`; see [`digits_from`].
#[inline(always)]
fn whole_number(s: &[u8], max: u64) -> Result<u64, Invalid> {
    match digits_from(s, 0, max)? {
        (n, end) if end == s.len() => Ok(n),
        _ => Err(Invalid),
    }
}

/// [`parse_u32`] of `s` with its LWS trimmed, in one pass over the digits.
#[inline]
pub(crate) fn trimmed_u32(s: &[u8]) -> Result<u32, Invalid> {
    // NOTE: whole_number never returns more than the u32 maximum it is given.
    whole_number(trim(s), u64::from(u32::MAX)).map(|n| n as u32)
}

/// [`parse_u8`] of `s` with its LWS trimmed, in one pass over the digits.
#[inline]
pub(crate) fn trimmed_u8(s: &[u8]) -> Result<u8, Invalid> {
    // NOTE: whole_number never returns more than the u8 maximum it is given.
    whole_number(trim(s), u64::from(u8::MAX)).map(|n| n as u8)
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
    #[inline]
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

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        let mut i = 0;
        while let Some(off) = s
            .get(i..)
            .and_then(|t| memchr::memchr3(b',', b'"', b'<', t))
        {
            let at = i + off;
            // NOTE: at < s.len(): memchr3 found it in s[i..]. Every advance below is to a found
            // index + 1 at most, or to s.len().
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
#[inline]
pub fn quoted_string_len(s: &[u8]) -> Result<usize, Invalid> {
    if s.first() != Some(&b'"') {
        return Err(Invalid);
    }
    let mut i = 1;
    loop {
        i = span_from(s, i, QDTEXT);
        match s.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match s.get(i + 1) {
                Some(&n) if n <= 0x7f && n != b'\r' && n != b'\n' => i += 2,
                _ => return Err(Invalid),
            },
            _ => return Err(Invalid),
        }
    }
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
    Unquote {
        rest: strip_quotes(s),
    }
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
///
/// A value that starts with `"` is therefore always one whole, valid quoted-string, and any
/// other value holds no `"`.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    #[inline]
    pub fn new(tail: &'a [u8]) -> Self {
        Params { rest: tail }
    }

    /// Value of the first parameter named `name` (case-insensitive, §7.3.1): `None` if absent,
    /// `Some(None)` if present without a value. Stops at the first malformed parameter.
    #[inline]
    pub fn find(self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        // The parameters one after the other, as the iterator reads them, where they are.
        let s = self.rest;
        let mut at = 0;
        while let Ok(Some(p)) = param_at(s, at) {
            if p.param.name.eq_ignore_ascii_case(name) {
                return Some(p.param.value);
            }
            at = p.end;
        }
        None
    }

    /// Checks the whole tail.
    pub fn validate(mut self) -> Result<(), Invalid> {
        self.try_for_each(|p| p.map(|_| ()))
    }

    #[cold]
    fn fail(&mut self) -> Option<Result<Param<'a>, Invalid>> {
        self.rest = &[];
        Some(Err(Invalid))
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, Invalid>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest;
        match param_at(s, 0) {
            Ok(Some(p)) => {
                // NOTE: p.end <= s.len() (param_at).
                self.rest = &s[p.end..];
                Some(Ok(p.param))
            }
            Ok(None) if skip_lws_from(s, 0) == s.len() => None,
            Ok(None) | Err(Invalid) => self.fail(),
        }
    }
}

/// One `SEMI generic-param` as [`param_at`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParamAt<'a> {
    pub(crate) param: Param<'a>,
    /// The value is a token (so neither quoted nor holding `:`, `[` or `]`).
    pub(crate) token: bool,
    /// Index just past the parameter.
    pub(crate) end: usize,
}

/// The `SEMI generic-param` whose `;` is the first byte at or after `s[i]` that is not LWS,
/// with the grammar of [`Params`]. `Ok(None)` if that byte is not a `;` (or there is none);
/// an `Err` if the parameter after the `;` is malformed.
#[inline(always)]
pub(crate) fn param_at(s: &[u8], i: usize) -> Result<Option<ParamAt<'_>>, Invalid> {
    if let Some(p) = param_at_tight(s, i) {
        return Ok(Some(p));
    }
    param_at_lws(s, i)
}

/// [`param_at`] for a parameter written without LWS: `;` at `s[i]`, then the name and, after
/// an `=`, a token value, none of them next to LWS. `None` for any other parameter, which
/// [`param_at_lws`] reads; where it gives one, it is the one [`param_at_lws`] gives.
#[inline(always)]
pub(crate) fn param_at_tight(s: &[u8], i: usize) -> Option<ParamAt<'_>> {
    if s.get(i) != Some(&b';') {
        return None;
    }
    let name_start = i + 1;
    let name_end = span_from(s, name_start, TOKEN);
    if name_end == name_start {
        return None;
    }
    let name = s.get(name_start..name_end)?;
    match s.get(name_end) {
        Some(b'=') => {
            let v = name_end + 1;
            let end = span_from(s, v, TOKEN);
            // A value that is not a token (quoted, host-like, empty, after LWS) is read by
            // the general path.
            if end == v || s.get(end).is_some_and(|&b| in_class(b, GEN_VALUE)) {
                return None;
            }
            Some(ParamAt {
                param: Param {
                    name,
                    value: Some(s.get(v..end)?),
                },
                token: true,
                end,
            })
        }
        Some(&b) if is_lws(b) => None,
        _ => Some(ParamAt {
            param: Param { name, value: None },
            token: false,
            end: name_end,
        }),
    }
}

/// [`param_at`] by the grammar, LWS allowed around `;` and `=`.
#[inline(always)]
fn param_at_lws(s: &[u8], i: usize) -> Result<Option<ParamAt<'_>>, Invalid> {
    let semi = skip_lws_from(s, i);
    if s.get(semi) != Some(&b';') {
        return Ok(None);
    }
    let name_start = skip_lws_from(s, semi + 1);
    let name_end = span_from(s, name_start, TOKEN);
    if name_end == name_start {
        return Err(Invalid);
    }
    // NOTE: name_start < name_end <= s.len() (span_from).
    let name = &s[name_start..name_end];
    let eq = skip_lws_from(s, name_end);
    if s.get(eq) != Some(&b'=') {
        return Ok(Some(ParamAt {
            param: Param { name, value: None },
            token: false,
            end: name_end,
        }));
    }
    let v = skip_lws_from(s, eq + 1);
    let (end, token) = if s.get(v) == Some(&b'"') {
        // NOTE: v < s.len() (a byte was read there).
        (v + quoted_string_len(&s[v..])?, false)
    } else {
        // A token run, then any `:`, `[` or `]` that make it a host-like `gen-value`.
        let t = span_from(s, v, TOKEN);
        if s.get(t).is_some_and(|&b| in_class(b, GEN_VALUE)) {
            (span_from(s, t, GEN_VALUE), false)
        } else {
            (t, true)
        }
    };
    if end == v {
        return Err(Invalid);
    }
    // NOTE: v < end <= s.len() (span_from, or quoted_string_len success on s[v..]).
    Ok(Some(ParamAt {
        param: Param {
            name,
            value: Some(&s[v..end]),
        },
        token,
        end,
    }))
}

/// `s` with one pair of surrounding double quotes removed, if it has them. Quoted-pairs are
/// left as they are; use [`unquote`] to resolve them.
#[inline]
pub fn strip_quotes(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
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
    fn parameter_names_compare_as_byte_by_byte() {
        let reference = |name: &[u8], lower: &[u8]| {
            name.len() == lower.len() && name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
        };
        for lower in [
            &b"q"[..],
            b"lr",
            b"tag",
            b"user",
            b"rport",
            b"branch",
            b"expires",
            b"received",
            b"temp-gruu",
            b"+sip.instance",
            b"phone-context-x.y",
        ] {
            for at in 0..lower.len() {
                for b in 0..=255u8 {
                    let mut name = lower.to_vec();
                    name[at] = b;
                    assert_eq!(name_is(&name, lower), reference(&name, lower), "{name:?}");
                }
            }
            let upper = lower.to_ascii_uppercase();
            assert!(name_is(&upper, lower));
            assert!(!name_is(&upper[1..], lower));
        }
    }

    #[test]
    fn tight_params_agree_with_every_byte_anywhere() {
        for text in [
            &b";tag=1928301774;rport;branch=z9hG4bK.x-1"[..],
            b";a=\"q\";b=[::1];c",
            b";lr>",
        ] {
            assert!((0..text.len()).any(|i| param_at_tight(text, i).is_some()));
            for at in 0..text.len() {
                for b in 0..=255u8 {
                    let mut s = text.to_vec();
                    s[at] = b;
                    for i in 0..=s.len() {
                        if let Some(p) = param_at_tight(&s, i) {
                            assert_eq!(param_at_lws(&s, i), Ok(Some(p)), "{s:?} {i}");
                        }
                    }
                }
            }
        }
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
        fn tight_params_are_the_grammar_s_params(
            s in "[;=a-z0-9.!%*_+`'~ \t\r\n\":\\[\\]<>,-]{0,24}",
        ) {
            let s = s.as_bytes();
            for i in 0..=s.len() {
                if let Some(p) = param_at_tight(s, i) {
                    prop_assert_eq!(param_at_lws(s, i), Ok(Some(p)));
                }
            }
        }

        #[test]
        fn find_is_the_first_match_of_the_iteration(
            s in "[;=a-z0-9 \t\":,\\[\\]]{0,30}|( ?; ?[a-cA-C]{1,2}( ?= ?[a-z0-9\":]{0,3})?){0,5}[;, x]?",
            name in "[a-c]{1,2}",
        ) {
            let mut want = None;
            for p in Params::new(s.as_bytes()) {
                match p {
                    Ok(p) if p.name.eq_ignore_ascii_case(name.as_bytes()) => {
                        want = Some(p.value);
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            prop_assert_eq!(Params::new(s.as_bytes()).find(name.as_bytes()), want);
        }

        #[test]
        fn u64_round_trips(n in any::<u64>()) {
            prop_assert_eq!(parse_u64(n.to_string().as_bytes()), Ok(n));
        }
    }
}
