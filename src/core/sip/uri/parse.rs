//! Decoding a URI from its bytes: RFC 3261 §19.1.1 with the grammar of §25.1 for sip and
//! sips, RFC 3966 §3 for tel, `uric` for any other scheme.
//!
//! A SIP URI is read left to right in one pass: each component is a run of its own character
//! class (escapes included), and the byte that ends the run says which component comes next.
//! Every byte is checked against the class of the component it belongs to, so a URI that
//! parses holds no byte its grammar does not allow.

use memchr::memchr;

use super::params::split_at_eq;
use super::{Host, HostAddr, SchemeKind, Uri};
use crate::core::sip::text::{
    all_escaped, digits_u16_from, escaped_eq_ignore_case, escaped_span_from, hostname_prefix,
    in_class, ipv4_prefix, is_token, parse_ipv6, parse_u8, span, Invalid, HNV, HOST, PARAM,
    PASSWORD, SCHEME, URIC, USER,
};

impl<'a> Uri<'a> {
    /// Parses a whole URI; any trailing byte that does not belong to it is an error.
    pub fn parse(input: &'a [u8]) -> Result<Self, Invalid> {
        let (scheme, rest) = split_scheme(input)?;
        let mut uri = Uri {
            raw: input,
            user: None,
            password: None,
            body: &[],
            params: &[],
            headers: &[],
            host: HostAddr::NONE,
            port: None,
            scheme,
        };
        match scheme {
            SchemeKind::Sip | SchemeKind::Sips => uri.parse_sip(rest)?,
            SchemeKind::Tel => uri.parse_tel(rest)?,
            SchemeKind::Other => {
                if rest.is_empty() || !all_escaped(rest, URIC) {
                    return Err(Invalid);
                }
                uri.body = rest;
            }
        }
        Ok(uri)
    }

    /// `[ userinfo ] hostport uri-parameters [ headers ]` (§25.1).
    #[inline]
    fn parse_sip(&mut self, rest: &'a [u8]) -> Result<(), Invalid> {
        let start = self.parse_userinfo(rest)?;
        // NOTE: start <= rest.len() (parse_userinfo returns 0 or an index just past an '@').
        let (host, n) = host_prefix(&rest[start..])?;
        let mut i = start + n;
        // NOTE: start <= i <= rest.len() (host_prefix never exceeds its input).
        self.body = &rest[start..i];
        self.host = host;
        if rest.get(i) == Some(&b':') {
            let (port, end) = digits_u16_from(rest, i + 1)?;
            self.port = Some(port);
            i = end;
        }
        if rest.get(i) == Some(&b';') {
            let end = uri_params_end(rest, i)?;
            // NOTE: i < end <= rest.len() (uri_params_end).
            self.params = &rest[i..end];
            i = end;
        }
        match rest.get(i) {
            None => Ok(()),
            Some(b'?') => {
                // NOTE: i < rest.len() (a byte was read there).
                let headers = &rest[i..];
                validate_headers(headers)?;
                self.headers = headers;
                Ok(())
            }
            Some(_) => Err(Invalid),
        }
    }

    /// `[ user [ ":" password ] "@" ]` at the start of `rest` (the part after `sip:`): records
    /// the user and password and returns the index where the hostport starts.
    ///
    /// `@` occurs in no component but userinfo, and userinfo may hold ';', '?' and ','
    /// (RFC 4475 §3.1.1.9), so the first `@` ends it. Neither `user` nor `password` holds `@`
    /// or a second `:`, so one scan of each finds that `@` if the userinfo is well formed; if
    /// the scans stop anywhere else and an `@` still follows, the userinfo holds a byte it may
    /// not.
    #[inline]
    fn parse_userinfo(&mut self, rest: &'a [u8]) -> Result<usize, Invalid> {
        let user_end = escaped_span_from(rest, 0, USER);
        match rest.get(user_end) {
            Some(b'@') => {
                if user_end == 0 {
                    return Err(Invalid);
                }
                // NOTE: user_end < rest.len() (a byte was read there).
                self.user = Some(&rest[..user_end]);
                return Ok(user_end + 1);
            }
            Some(b':') => {
                let password_end = escaped_span_from(rest, user_end + 1, PASSWORD);
                if rest.get(password_end) == Some(&b'@') {
                    if user_end == 0 {
                        return Err(Invalid);
                    }
                    // NOTE: user_end < password_end < rest.len() (a byte was read there).
                    self.user = Some(&rest[..user_end]);
                    self.password = Some(&rest[user_end + 1..password_end]);
                    return Ok(password_end + 1);
                }
            }
            _ => {}
        }
        // NOTE: user_end <= rest.len() (escaped_span_from).
        if memchr(b'@', &rest[user_end..]).is_some() {
            return Err(Invalid);
        }
        Ok(0)
    }

    /// RFC 3966 §3: `telephone-subscriber = global-number / local-number`.
    fn parse_tel(&mut self, rest: &'a [u8]) -> Result<(), Invalid> {
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
        self.body = number;
        self.params = params;
        Ok(())
    }
}

/// `scheme ":"` at the start of `input`: the scheme and what follows the colon. `sip:` and
/// `sips:`, in any case, are recognised without a scan.
#[inline]
fn split_scheme(input: &[u8]) -> Result<(SchemeKind, &[u8]), Invalid> {
    if let [s, i, p, rest @ ..] = input {
        if s | 0x20 == b's' && i | 0x20 == b'i' && p | 0x20 == b'p' {
            match rest {
                [b':', tail @ ..] => return Ok((SchemeKind::Sip, tail)),
                [s2, b':', tail @ ..] if s2 | 0x20 == b's' => return Ok((SchemeKind::Sips, tail)),
                _ => {}
            }
        }
    }
    let n = span(input, SCHEME);
    if !input.first().is_some_and(u8::is_ascii_alphabetic) || input.get(n) != Some(&b':') {
        return Err(Invalid);
    }
    // NOTE: n < input.len() (a byte was read there).
    let (scheme, rest) = (&input[..n], &input[n + 1..]);
    let kind = if scheme.eq_ignore_ascii_case(b"sip") {
        SchemeKind::Sip
    } else if scheme.eq_ignore_ascii_case(b"sips") {
        SchemeKind::Sips
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        SchemeKind::Tel
    } else {
        SchemeKind::Other
    };
    Ok((kind, rest))
}

/// The host at the start of `s` and its length: `"[" IPv6address "]"`, or the run of
/// alphanumerics, `-` and `.` there, which must be an `IPv4address` or a `hostname`. A run of
/// digits and dots can only be an IPv4 address (the last label of a hostname starts with a
/// letter), so a run that starts with a digit is read as one first.
#[inline]
pub(crate) fn host_prefix(s: &[u8]) -> Result<(HostAddr, usize), Invalid> {
    if s.first() == Some(&b'[') {
        let close = memchr(b']', s).ok_or(Invalid)?;
        // NOTE: 0 < close < s.len(): s[0] is '['.
        let ip = parse_ipv6(&s[1..close]).ok_or(Invalid)?;
        return Ok((HostAddr::v6(ip), close + 1));
    }
    if s.first().is_some_and(u8::is_ascii_digit) {
        if let Some((a, n)) = ipv4_prefix(s) {
            if !s.get(n).is_some_and(|&b| in_class(b, HOST)) {
                return Ok((HostAddr::v4(a), n));
            }
        }
    }
    hostname_prefix(s)
        .map(|n| (HostAddr::DOMAIN, n))
        .ok_or(Invalid)
}

/// `*( ";" uri-parameter )` from `s[i]`, a `;`: checks every `pname [ "=" pvalue ]` (runs of
/// `paramchar`, escapes included, neither empty) and returns the index where the parameters
/// end, which must be the end of `s` or the `?` of the headers.
#[inline]
fn uri_params_end(s: &[u8], mut i: usize) -> Result<usize, Invalid> {
    while s.get(i) == Some(&b';') {
        let name_start = i + 1;
        let name_end = escaped_span_from(s, name_start, PARAM);
        if name_end == name_start {
            return Err(Invalid);
        }
        i = name_end;
        if s.get(i) == Some(&b'=') {
            let value_start = i + 1;
            i = escaped_span_from(s, value_start, PARAM);
            if i == value_start {
                return Err(Invalid);
            }
            // NOTE: name_start < name_end < value_start < i <= s.len().
            check_uri_param(&s[name_start..name_end], &s[value_start..i])?;
        }
    }
    match s.get(i) {
        None | Some(b'?') => Ok(i),
        Some(_) => Err(Invalid),
    }
}

/// The values of the parameters §19.1.1 defines follow their own grammar: `transport`,
/// `user` and `method` are tokens, `ttl` is at most 255, `maddr` is a host. Names compare
/// case-insensitively, escapes per §19.1.4.
#[inline]
fn check_uri_param(name: &[u8], value: &[u8]) -> Result<(), Invalid> {
    let plain = !name.contains(&b'%');
    let is = |known: &[u8]| {
        if plain {
            name.eq_ignore_ascii_case(known)
        } else {
            escaped_eq_ignore_case(name, known)
        }
    };
    let ok = if is(b"transport") || is(b"user") || is(b"method") {
        is_token(value)
    } else if is(b"ttl") {
        value.len() <= 3 && parse_u8(value).is_ok()
    } else if is(b"maddr") {
        Host::parse(value).is_ok()
    } else {
        true
    };
    if ok {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// `"?" header *( "&" header )` with `header = hname "=" hvalue` (§25.1).
fn validate_headers(headers: &[u8]) -> Result<(), Invalid> {
    let body = headers.get(1..).unwrap_or_default();
    for h in body.split(|&b| b == b'&') {
        let (name, value) = split_at_eq(h);
        let Some(value) = value else {
            return Err(Invalid);
        };
        if name.is_empty() || !all_escaped(name, HNV) || !all_escaped(value, HNV) {
            return Err(Invalid);
        }
    }
    Ok(())
}
