//! Decoding a URI from its bytes: RFC 3261 §19.1.1 with the grammar of §25.1 for sip and
//! sips, RFC 3966 §3 for tel, `uric` for any other scheme.
//!
//! A SIP URI is read left to right in one pass: each component is a run of its own character
//! class (escapes included), and the byte that ends the run says which component comes next.
//! Every byte is checked against the class of the component it belongs to, so a URI that
//! parses holds no byte its grammar does not allow.

use memchr::{memchr, memchr2};

use super::host::host_prefix;
use super::params::split_at_eq;
use super::{Host, HostAddr, SchemeKind, Uri};
use crate::core::sip::text::{
    all_escaped, digits_u16_from, escaped_eq_ignore_case, escaped_span_from, fold_word, in_class,
    is_token, name_is, parse_u8, span, span_from, Invalid, HNV, PARAM, PARAM_TOKEN, PASSWORD,
    SCHEME, URIC, USER,
};

impl<'a> Uri<'a> {
    /// Parses a whole URI; any trailing byte that does not belong to it is an error.
    pub fn parse(input: &'a [u8]) -> Result<Self, Invalid> {
        let (scheme, at) = split_scheme(input)?;
        let mut uri = Uri::empty(input, scheme);
        match scheme {
            SchemeKind::Sip | SchemeKind::Sips => {
                if uri.parse_sip(input, at)? != input.len() {
                    return Err(Invalid);
                }
            }
            SchemeKind::Tel => uri.parse_tel(input, at)?,
            SchemeKind::Other => {
                // NOTE: at <= input.len() (split_scheme).
                let rest = &input[at..];
                if rest.is_empty() || !all_escaped(rest, URIC) {
                    return Err(Invalid);
                }
                (uri.body_start, uri.body_end) = (at, input.len());
            }
        }
        Ok(uri)
    }

    /// Reads the sip or sips URI at the start of `s` into `self`, up to the first byte that
    /// cannot continue it, and returns its length: the URI of a name-addr, which ends where its
    /// `>` (after optional LWS) begins. `None`, leaving `self` as it was, if `s` does not start
    /// with `sip:` or `sips:`. `self` must be fresh from [`Uri::placeholder`].
    ///
    /// A URI holds no `>` and no LWS, so the URI that ends at the first `>` of the element and
    /// the longest URI at the start of `s` are the same bytes whenever either parses: the
    /// caller only has to find that `>` right after it.
    #[inline]
    pub(crate) fn parse_sip_prefix(&mut self, s: &'a [u8]) -> Option<Result<usize, Invalid>> {
        let (scheme, at) = sip_scheme(s)?;
        self.scheme = scheme;
        Some(self.parse_sip(s, at).inspect(|&n| {
            // NOTE: n <= s.len() (parse_sip never passes its input).
            self.raw = &s[..n];
        }))
    }

    /// A URI with nothing in it, to be filled by [`Uri::parse_sip_prefix`].
    pub(crate) const fn placeholder() -> Self {
        Uri::empty(&[], SchemeKind::Sip)
    }

    const fn empty(raw: &'a [u8], scheme: SchemeKind) -> Self {
        Uri {
            raw,
            body_start: 0,
            body_end: 0,
            host: HostAddr::NONE,
            port: None,
            scheme,
        }
    }

    /// `[ userinfo ] hostport uri-parameters [ headers ]` (§25.1) from `s[at]`, just after
    /// `sip:`. Returns the index of the first byte that is not part of it: `s.len()` for a
    /// whole URI.
    #[inline(always)]
    fn parse_sip(&mut self, s: &'a [u8], at: usize) -> Result<usize, Invalid> {
        let start = userinfo_end(s, at)?;
        // NOTE: start <= s.len() (userinfo_end returns at or an index just past an '@').
        let (host, n) = host_prefix(&s[start..])?;
        let mut i = start + n;
        (self.body_start, self.body_end, self.host) = (start, i, host);
        if s.get(i) == Some(&b':') {
            let (port, end) = digits_u16_from(s, i + 1)?;
            self.port = Some(port);
            i = end;
        }
        if s.get(i) == Some(&b';') {
            i = uri_params_end(s, i)?;
        }
        if s.get(i) == Some(&b'?') {
            i = headers_end(s, i)?;
        }
        Ok(i)
    }

    /// RFC 3966 §3: `telephone-subscriber = global-number / local-number`, from `s[at]`, just
    /// after `tel:`, to the end of `s`.
    fn parse_tel(&mut self, s: &'a [u8], at: usize) -> Result<(), Invalid> {
        // NOTE: at <= s.len() (split_scheme).
        let rest = &s[at..];
        let end = memchr(b';', rest).unwrap_or(rest.len());
        // NOTE: end <= rest.len().
        let (number, params) = rest.split_at(end);
        let visual = |b: &u8| matches!(b, b'-' | b'.' | b'(' | b')');
        let global = match number.strip_prefix(b"+") {
            Some(digits) => {
                if !digits.iter().all(|b| b.is_ascii_digit() || visual(b))
                    || !digits.iter().any(u8::is_ascii_digit)
                {
                    return Err(Invalid);
                }
                true
            }
            None => {
                let dial = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b'*' | b'#');
                if !number.iter().all(|b| dial(b) || visual(b)) || !number.iter().any(dial) {
                    return Err(Invalid);
                }
                false
            }
        };
        let mut context = false;
        for p in params.split(|&b| b == b';').skip(1) {
            let (name, value) = split_at_eq(p);
            let name_ok =
                !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
            if !name_ok || value.is_some_and(|v| v.is_empty() || !all_escaped(v, URIC)) {
                return Err(Invalid);
            }
            context |= name.eq_ignore_ascii_case(b"phone-context") && value.is_some();
        }
        // A local number is only meaningful with its context (RFC 3966 §5.1.5).
        if !global && !context {
            return Err(Invalid);
        }
        (self.body_start, self.body_end) = (at, at + end);
        Ok(())
    }
}

/// `[ user [ ":" password ] "@" ]` from `s[at]`, just after `sip:`: returns the index where
/// the hostport starts (`at` if there is no userinfo).
///
/// `@` occurs in no component but userinfo, and userinfo may hold ';', '?' and ','
/// (RFC 4475 §3.1.1.9), so the first `@` ends it. Neither `user` nor `password` holds `@` or a
/// second `:`, so one scan of each finds that `@` if the userinfo is well formed; if the scans
/// stop anywhere else and an `@` still follows within the URI (before any `>`, which no URI
/// holds), the userinfo holds a byte it may not.
///
/// The scans hold neither `@` nor `>`, so where they stop at a `>` or at the end, no `@` is
/// left to look for.
#[inline(always)]
fn userinfo_end(s: &[u8], at: usize) -> Result<usize, Invalid> {
    let user_end = escaped_span_from(s, at, USER);
    let (end, stop) = match s.get(user_end) {
        Some(b'@') => (Some(user_end), user_end),
        Some(b':') => {
            let password_end = escaped_span_from(s, user_end + 1, PASSWORD);
            let end = (s.get(password_end) == Some(&b'@')).then_some(password_end);
            (end, password_end)
        }
        _ => (None, user_end),
    };
    if let Some(end) = end {
        // The user part may not be empty.
        return if user_end == at {
            Err(Invalid)
        } else {
            Ok(end + 1)
        };
    }
    // NOTE: stop <= s.len() (escaped_span_from).
    let after = &s[stop..];
    match after.first() {
        None | Some(b'>') => return Ok(at),
        Some(_) => {}
    }
    match memchr2(b'@', b'>', after).and_then(|k| after.get(k)) {
        Some(b'@') => Err(Invalid),
        _ => Ok(at),
    }
}

/// `sip:` or `sips:`, in any case, at the start of `s`: the scheme and the index after the
/// colon.
#[inline]
fn sip_scheme(s: &[u8]) -> Option<(SchemeKind, usize)> {
    // `sip:` and `sips:` folded (see `fold_word`), in the low bytes of a word.
    const SIP: u64 = u32::from_le_bytes(*b"sip:") as u64;
    const SIPS: u64 = u64::from_le_bytes(*b"sips:\0\0\0");
    if let Some(w) = s.first_chunk::<8>() {
        let w = fold_word(u64::from_le_bytes(*w));
        return if w & 0xffff_ffff == SIP {
            Some((SchemeKind::Sip, 4))
        } else if w & 0xff_ffff_ffff == SIPS {
            Some((SchemeKind::Sips, 5))
        } else {
            None
        };
    }
    sip_scheme_bytes(s)
}

/// [`sip_scheme`] a byte at a time, for inputs shorter than a word.
#[inline]
fn sip_scheme_bytes(s: &[u8]) -> Option<(SchemeKind, usize)> {
    match s {
        [a, b, c, rest @ ..] if a | 0x20 == b's' && b | 0x20 == b'i' && c | 0x20 == b'p' => {
            match rest {
                [b':', ..] => Some((SchemeKind::Sip, 4)),
                [d, b':', ..] if d | 0x20 == b's' => Some((SchemeKind::Sips, 5)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `scheme ":"` at the start of `input`: the scheme and the index after the colon. `sip:` and
/// `sips:` are recognised without a scan.
#[inline]
fn split_scheme(input: &[u8]) -> Result<(SchemeKind, usize), Invalid> {
    if let Some(found) = sip_scheme(input) {
        return Ok(found);
    }
    let n = span(input, SCHEME);
    if !input.first().is_some_and(u8::is_ascii_alphabetic) || input.get(n) != Some(&b':') {
        return Err(Invalid);
    }
    // NOTE: n < input.len() (a byte was read there).
    let scheme = &input[..n];
    let kind = if scheme.eq_ignore_ascii_case(b"sip") {
        SchemeKind::Sip
    } else if scheme.eq_ignore_ascii_case(b"sips") {
        SchemeKind::Sips
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        SchemeKind::Tel
    } else {
        SchemeKind::Other
    };
    Ok((kind, n + 1))
}

/// `*( ";" uri-parameter )` from `s[i]`, a `;`: checks every `pname [ "=" pvalue ]` (runs of
/// `paramchar`, escapes included, neither empty) and returns the index of the first byte after
/// them.
#[inline]
fn uri_params_end(s: &[u8], mut i: usize) -> Result<usize, Invalid> {
    while s.get(i) == Some(&b';') {
        let name_start = i + 1;
        let mut name_end = span_from(s, name_start, PARAM);
        // Only a name with an escape needs comparing per §19.1.4.
        let escaped = s.get(name_end) == Some(&b'%');
        if escaped {
            name_end = escaped_span_from(s, name_end, PARAM);
        }
        if name_end == name_start {
            return Err(Invalid);
        }
        i = name_end;
        if s.get(i) == Some(&b'=') {
            let value_start = i + 1;
            // Most values are tokens: one scan finds their end and shows it.
            let token_end = span_from(s, value_start, PARAM_TOKEN);
            i = match s.get(token_end) {
                Some(&b) if b == b'%' || in_class(b, PARAM) => {
                    escaped_span_from(s, token_end, PARAM)
                }
                _ => token_end,
            };
            if i == value_start {
                return Err(Invalid);
            }
            // NOTE: name_start < name_end < value_start < i <= s.len().
            let (name, value) = (&s[name_start..name_end], &s[value_start..i]);
            check_uri_param(name, escaped, value, i == token_end)?;
        }
    }
    Ok(i)
}

/// The values of the parameters §19.1.1 defines follow their own grammar: `transport`,
/// `user` and `method` are tokens, `ttl` is at most 255, `maddr` is a host. Names compare
/// case-insensitively, escapes per §19.1.4. `token` tells that `value` is known to be a token
/// already.
#[inline]
fn check_uri_param(name: &[u8], escaped: bool, value: &[u8], token: bool) -> Result<(), Invalid> {
    #[derive(Clone, Copy)]
    enum Known {
        Token,
        Ttl,
        Maddr,
    }
    const KNOWN: [(&[u8], Known); 5] = [
        (b"transport", Known::Token),
        (b"user", Known::Token),
        (b"method", Known::Token),
        (b"ttl", Known::Ttl),
        (b"maddr", Known::Maddr),
    ];
    let known = if escaped {
        KNOWN
            .iter()
            .find(|(k, _)| escaped_eq_ignore_case(name, k))
            .map(|&(_, kind)| kind)
    } else {
        KNOWN
            .iter()
            .find(|(k, _)| name_is(name, k))
            .map(|&(_, kind)| kind)
    };
    let ok = match known {
        Some(Known::Token) => token || is_token(value),
        Some(Known::Ttl) => value.len() <= 3 && parse_u8(value).is_ok(),
        Some(Known::Maddr) => Host::parse(value).is_ok(),
        None => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// `"?" header *( "&" header )` from `s[i]`, a `?`, with `header = hname "=" hvalue`
/// (§25.1): `hname` a non-empty run of `hnv` characters and escapes, `hvalue` a possibly empty
/// one. Returns the index of the first byte after them.
#[inline]
fn headers_end(s: &[u8], mut i: usize) -> Result<usize, Invalid> {
    loop {
        let name_start = i + 1;
        let name_end = escaped_span_from(s, name_start, HNV);
        if name_end == name_start || s.get(name_end) != Some(&b'=') {
            return Err(Invalid);
        }
        i = escaped_span_from(s, name_end + 1, HNV);
        if s.get(i) != Some(&b'&') {
            return Ok(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_by_word_are_the_schemes_by_byte() {
        for text in [&b"sip:a@b.c"[..], b"SIPS:host", b"sIp:1.2.3.4"] {
            assert!(sip_scheme(text).is_some());
            for at in 0..6 {
                for b in 0..=255u8 {
                    let mut s = text.to_vec();
                    s[at] = b;
                    assert_eq!(sip_scheme(&s), sip_scheme_bytes(&s), "{s:?}");
                }
            }
        }
    }
}
