//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), zero-copy.
//!
//! Owns: decoding a URI from a borrowed slice into its components (RFC 3261 §19.1.1, grammar
//! in §25.1), URI equality (§19.1.4), and the host forms shared with Via (`hostname`,
//! `IPv4address`, `IPv6reference`, with the RFC 5118 §4.10 three-colon form tolerated).
//! Schemes other than sip, sips and tel are kept opaque as [`Scheme::Other`] so that callers
//! can answer 416 Unsupported URI Scheme (RFC 3261 §8.2.2.1). No LWS is allowed anywhere in a
//! URI (RFC 4475 §3.1.2.8); escapes must be well formed. Never allocates, never panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use super::text::{parse_ip, parse_ipv4, parse_ipv6};

use memchr::memchr;

use super::text::{
    all_escaped, escaped_eq, escaped_eq_ignore_case, is_hostname, is_token, parse_u16, parse_u8,
    span, Invalid, HNV, HOST, PARAM, PASSWORD, SCHEME, URIC, USER,
};

/// A URI scheme (RFC 3261 §25.1 `scheme`), compared case-insensitively.
#[derive(Debug, Clone, Copy)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    Other(&'a [u8]),
}

/// A host (RFC 3261 §25.1 `host`): a hostname, an IPv4 address or an IPv6 reference.
/// Hostnames compare case-insensitively.
#[derive(Debug, Clone, Copy)]
pub enum Host<'a> {
    Domain(&'a [u8]),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// A transport (RFC 3261 §25.1 `transport`, RFC 7118 for WS/WSS), compared case-insensitively.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other(&'a [u8]),
}

/// A decoded URI. For sip and sips every SIP-URI component is available; a tel URI carries its
/// number and parameters; any other scheme only its opaque part.
#[derive(Debug, Clone, Copy)]
pub struct Uri<'a> {
    raw: &'a [u8],
    scheme: Scheme<'a>,
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    host: Option<Host<'a>>,
    port: Option<u16>,
    /// tel: the telephone-subscriber number; other schemes: everything after the colon.
    body: &'a [u8],
    /// `*( ";" uri-parameter )`, leading `;` included; empty if none.
    params: &'a [u8],
    /// `"?" header *( "&" header )`, leading `?` included; empty if none.
    headers: &'a [u8],
}

impl<'a> Scheme<'a> {
    pub fn from_bytes(s: &'a [u8]) -> Self {
        if s.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if s.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if s.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other(s)
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Scheme::Sip => b"sip",
            Scheme::Sips => b"sips",
            Scheme::Tel => b"tel",
            Scheme::Other(s) => s,
        }
    }
}

impl PartialEq for Scheme<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Scheme::Other(a), Scheme::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => core::mem::discriminant(a) == core::mem::discriminant(b),
        }
    }
}

impl Eq for Scheme<'_> {}

impl<'a> Host<'a> {
    /// Parses exactly one `host`: `hostname`, `IPv4address` or `"[" IPv6address "]"`.
    ///
    /// Hostnames follow §25.1 strictly: labels of alphanumerics and inner hyphens, the last one
    /// starting with a letter, optionally a final dot. A dotted run of digits that is not a valid
    /// IPv4 address (`192.0.2.256`) is therefore an error, as is an IPv6 address without
    /// brackets (RFC 5118 §4.2).
    pub fn parse(s: &'a [u8]) -> Result<Self, Invalid> {
        if let [b'[', inner @ .., b']'] = s {
            return parse_ipv6(inner).map(Host::V6).ok_or(Invalid);
        }
        if let Some(a) = parse_ipv4(s) {
            return Ok(Host::V4(a));
        }
        if is_hostname(s) {
            Ok(Host::Domain(s))
        } else {
            Err(Invalid)
        }
    }

    /// The address, if the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Domain(_) => None,
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
        }
    }
}

impl PartialEq for Host<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Host<'_> {}

/// Length of the host at the start of `s` (a bracketed reference or a run of hostname / IPv4
/// characters); the host itself is not validated.
pub(crate) fn host_len(s: &[u8]) -> Result<usize, Invalid> {
    if s.first() == Some(&b'[') {
        memchr(b']', s).map(|i| i + 1).ok_or(Invalid)
    } else {
        Ok(span(s, HOST))
    }
}

impl<'a> Transport<'a> {
    pub fn from_bytes(s: &'a [u8]) -> Self {
        const KNOWN: [(&[u8], Transport<'static>); 6] = [
            (b"UDP", Transport::Udp),
            (b"TCP", Transport::Tcp),
            (b"TLS", Transport::Tls),
            (b"SCTP", Transport::Sctp),
            (b"WS", Transport::Ws),
            (b"WSS", Transport::Wss),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map_or(Transport::Other(s), |(_, t)| *t)
    }

    /// The canonical (upper-case) name, or the bytes as received for other transports.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Transport::Udp => b"UDP",
            Transport::Tcp => b"TCP",
            Transport::Tls => b"TLS",
            Transport::Sctp => b"SCTP",
            Transport::Ws => b"WS",
            Transport::Wss => b"WSS",
            Transport::Other(s) => s,
        }
    }

    /// Reliable, connection-oriented transports (RFC 3261 §17.1.1.2 and §18).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp | Transport::Other(_))
    }
}

impl PartialEq for Transport<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Transport::Other(a), Transport::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => core::mem::discriminant(a) == core::mem::discriminant(b),
        }
    }
}

impl Eq for Transport<'_> {}

impl<'a> Uri<'a> {
    /// Parses a whole URI; any trailing byte that does not belong to it is an error.
    pub fn parse(input: &'a [u8]) -> Result<Self, Invalid> {
        let colon = memchr(b':', input).ok_or(Invalid)?;
        // NOTE: colon < input.len().
        let (scheme, rest) = (&input[..colon], &input[colon + 1..]);
        if !scheme.first().is_some_and(u8::is_ascii_alphabetic)
            || span(scheme, SCHEME) != scheme.len()
        {
            return Err(Invalid);
        }
        let mut uri = Uri {
            raw: input,
            scheme: Scheme::from_bytes(scheme),
            user: None,
            password: None,
            host: None,
            port: None,
            body: &[],
            params: &[],
            headers: &[],
        };
        match uri.scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest)?,
            Scheme::Tel => uri.parse_tel(rest)?,
            Scheme::Other(_) => {
                if rest.is_empty() || !all_escaped(rest, URIC) {
                    return Err(Invalid);
                }
                uri.body = rest;
            }
        }
        Ok(uri)
    }

    /// `[ userinfo ] hostport uri-parameters [ headers ]` (§25.1).
    fn parse_sip(&mut self, rest: &'a [u8]) -> Result<(), Invalid> {
        // `@` occurs in no component but userinfo, and userinfo may hold ';', '?' and ','
        // (RFC 4475 §3.1.1.9), so the first `@` ends it.
        let hostport = match memchr(b'@', rest) {
            Some(at) => {
                // NOTE: at < rest.len().
                let userinfo = &rest[..at];
                let (user, password) = match memchr(b':', userinfo) {
                    // NOTE: c < userinfo.len().
                    Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                    None => (userinfo, None),
                };
                if user.is_empty() || !all_escaped(user, USER) {
                    return Err(Invalid);
                }
                if password.is_some_and(|p| !all_escaped(p, PASSWORD)) {
                    return Err(Invalid);
                }
                self.user = Some(user);
                self.password = password;
                &rest[at + 1..]
            }
            None => rest,
        };
        let n = host_len(hostport)?;
        // NOTE: host_len never exceeds its input.
        let (host, mut s) = hostport.split_at(n);
        self.host = Some(Host::parse(host)?);
        if let Some(after) = s.strip_prefix(b":") {
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            // NOTE: digits <= after.len().
            self.port = Some(parse_u16(&after[..digits])?);
            s = &after[digits..];
        }
        if s.first() == Some(&b';') {
            let end = memchr(b'?', s).unwrap_or(s.len());
            // NOTE: end <= s.len().
            (self.params, s) = s.split_at(end);
            validate_uri_params(self.params)?;
        }
        if s.first() == Some(&b'?') {
            validate_headers(s)?;
            self.headers = s;
        } else if !s.is_empty() {
            return Err(Invalid);
        }
        Ok(())
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

    pub fn scheme(&self) -> Scheme<'a> {
        self.scheme
    }

    /// True for sip and sips, the schemes with a host.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The user part as received, escapes included (`user;par=u%40example.net`).
    pub fn user(&self) -> Option<&'a [u8]> {
        self.user
    }

    pub fn password(&self) -> Option<&'a [u8]> {
        self.password
    }

    /// The host of a sip or sips URI.
    pub fn host(&self) -> Option<Host<'a>> {
        self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The telephone-subscriber number of a tel URI (`+1-201-555-0123`), without parameters.
    pub fn number(&self) -> Option<&'a [u8]> {
        matches!(self.scheme, Scheme::Tel).then_some(self.body)
    }

    /// Everything after the colon of a URI of another scheme.
    pub fn opaque(&self) -> Option<&'a [u8]> {
        matches!(self.scheme, Scheme::Other(_)).then_some(self.body)
    }

    /// The parameters in order, as received.
    pub fn params(&self) -> UriParams<'a> {
        UriParams { rest: self.params }
    }

    /// Value of parameter `name` (case-insensitive, escapes compared per §19.1.4): `None` if
    /// absent, `Some(None)` if present without a value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        find_param(self.params, name)
    }

    /// `lr` (RFC 3261 §19.1.1): the next hop is a loose router. `lr=on`, common in the wild,
    /// counts as `lr`.
    pub fn has_lr(&self) -> bool {
        self.param(b"lr").is_some()
    }

    pub fn transport(&self) -> Option<Transport<'a>> {
        self.param(b"transport")
            .flatten()
            .map(Transport::from_bytes)
    }

    pub fn maddr(&self) -> Option<Host<'a>> {
        self.param(b"maddr")
            .flatten()
            .and_then(|v| Host::parse(v).ok())
    }

    pub fn ttl(&self) -> Option<u8> {
        self.param(b"ttl").flatten().and_then(|v| parse_u8(v).ok())
    }

    /// The `user` parameter (`phone`, `ip`, ...).
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.param(b"user").flatten()
    }

    /// The `method` parameter.
    pub fn method_param(&self) -> Option<&'a [u8]> {
        self.param(b"method").flatten()
    }

    /// `*( ";" uri-parameter )` as received, leading `;` included; empty if none.
    pub fn params_raw(&self) -> &'a [u8] {
        self.params
    }

    /// The `headers` component as received, leading `?` included; empty if none.
    pub fn headers_raw(&self) -> &'a [u8] {
        self.headers
    }

    /// The header fields of the `headers` component as `(hname, hvalue)`, still escaped.
    pub fn header_fields(&self) -> UriHeaders<'a> {
        UriHeaders {
            rest: self.headers.get(1..).unwrap_or_default(),
        }
    }

    /// The URI without its `headers` component, e.g. to forward a Request-URI
    /// (RFC 4475 §3.1.2.11).
    pub fn without_headers(&self) -> &'a [u8] {
        // NOTE: headers is a suffix of raw.
        &self.raw[..self.raw.len() - self.headers.len()]
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
}

fn split_at_eq(p: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr(b'=', p) {
        // NOTE: i < p.len().
        Some(i) => (&p[..i], Some(&p[i + 1..])),
        None => (p, None),
    }
}

fn find_param<'a>(params: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
    UriParams { rest: params }
        .find(|(n, _)| escaped_eq_ignore_case(n, name))
        .map(|(_, v)| v)
}

/// `*( ";" uri-parameter )`: `pname [ "=" pvalue ]` of `paramchar`s, with the values of the
/// parameters §19.1.1 defines checked against their own grammar.
fn validate_uri_params(params: &[u8]) -> Result<(), Invalid> {
    for p in params.split(|&b| b == b';').skip(1) {
        let (name, value) = split_at_eq(p);
        if name.is_empty() || !all_escaped(name, PARAM) {
            return Err(Invalid);
        }
        let Some(v) = value else { continue };
        if v.is_empty() || !all_escaped(v, PARAM) {
            return Err(Invalid);
        }
        let plain = memchr(b'%', name).is_none();
        let is = |known: &[u8]| {
            if plain {
                name.eq_ignore_ascii_case(known)
            } else {
                escaped_eq_ignore_case(name, known)
            }
        };
        let ok = if is(b"transport") || is(b"user") || is(b"method") {
            is_token(v)
        } else if is(b"ttl") {
            v.len() <= 3 && parse_u8(v).is_ok()
        } else if is(b"maddr") {
            Host::parse(v).is_ok()
        } else {
            true
        };
        if !ok {
            return Err(Invalid);
        }
    }
    Ok(())
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

/// Iterator over the parameters of a URI: `(name, value)`, both as received.
#[derive(Debug, Clone)]
pub struct UriParams<'a> {
    /// Starts at a `;` or is empty.
    rest: &'a [u8],
}

impl<'a> Iterator for UriParams<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.get(1..).filter(|_| !self.rest.is_empty())?;
        let end = memchr(b';', s).unwrap_or(s.len());
        // NOTE: end <= s.len().
        self.rest = &s[end..];
        Some(split_at_eq(&s[..end]))
    }
}

/// Iterator over the header fields of a URI: `(hname, hvalue)`, both still escaped.
#[derive(Debug, Clone)]
pub struct UriHeaders<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let end = memchr(b'&', self.rest).unwrap_or(self.rest.len());
        // NOTE: end <= rest.len().
        let field = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or_default();
        let (name, value) = split_at_eq(field);
        Some((name, value.unwrap_or_default()))
    }
}

/// URI equality per RFC 3261 §19.1.4 (sip, sips), RFC 3966 §4 (tel), and exact comparison of
/// the opaque part for other schemes. No allocation.
///
/// For SIP: userinfo is case-sensitive, everything else case-insensitive; escapes of
/// unreserved characters equal the characters; an explicit port never equals an absent one;
/// parameters present in both must match; `user`, `ttl`, `method`, `maddr` and `transport`
/// must be in both or neither; other parameters in only one are ignored; header fields must
/// match both ways.
pub fn uri_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    if a.scheme != b.scheme {
        return false;
    }
    match a.scheme {
        Scheme::Sip | Scheme::Sips => {
            opt_eq(a.user, b.user, escaped_eq)
                && opt_eq(a.password, b.password, escaped_eq)
                && a.host == b.host
                && a.port == b.port
                && sip_params_eq(a, b)
                && headers_subset(a, b)
                && headers_subset(b, a)
        }
        Scheme::Tel => tel_eq(a, b),
        Scheme::Other(_) => escaped_eq(a.body, b.body),
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
    sig(a.body).eq(sig(b.body)) && same_params(a, b) && same_params(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uri(s: &[u8]) -> Uri<'_> {
        Uri::parse(s).unwrap_or_else(|_| panic!("{:?}", String::from_utf8_lossy(s)))
    }

    fn domain(s: &str) -> Option<Host<'_>> {
        Some(Host::Domain(s.as_bytes()))
    }

    fn v6(s: &str) -> Option<Host<'static>> {
        Some(Host::V6(s.parse().unwrap()))
    }

    /// Non-empty lines of a table, trimmed.
    fn rows(table: &str) -> impl Iterator<Item = &str> {
        table.lines().map(str::trim).filter(|l| !l.is_empty())
    }

    #[test]
    fn rfc3261_19_1_3_examples() {
        let u = uri(b"sip:alice:secretword@atlanta.com;transport=tcp");
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(
            (u.user(), u.password()),
            (Some(&b"alice"[..]), Some(&b"secretword"[..]))
        );
        assert_eq!((u.host(), u.port()), (domain("atlanta.com"), None));
        assert_eq!(u.transport(), Some(Transport::Tcp));
        assert_eq!(u.params_raw(), b";transport=tcp");

        let u = uri(b"sips:alice@atlanta.com?subject=project%20x&priority=urgent");
        assert_eq!(u.scheme(), Scheme::Sips);
        assert_eq!(u.headers_raw(), b"?subject=project%20x&priority=urgent");
        let h: Vec<_> = u.header_fields().collect();
        assert_eq!(
            h,
            [
                (&b"subject"[..], &b"project%20x"[..]),
                (b"priority", b"urgent")
            ]
        );
        assert_eq!(u.without_headers(), b"sips:alice@atlanta.com");

        let u = uri(b"sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(
            (u.user(), u.password()),
            (Some(&b"+1-212-555-1212"[..]), Some(&b"1234"[..]))
        );
        assert_eq!(u.user_param(), Some(&b"phone"[..]));

        let u = uri(b"sip:alice@192.0.2.4");
        assert_eq!(u.host(), Some(Host::V4(Ipv4Addr::new(192, 0, 2, 4))));

        let u = uri(b"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
        assert_eq!((u.user(), u.method_param()), (None, Some(&b"REGISTER"[..])));
        assert_eq!(
            u.header_fields().next(),
            Some((&b"to"[..], &b"alice%40atlanta.com"[..]))
        );

        let u = uri(b"sip:alice;day=tuesday@atlanta.com");
        assert_eq!(
            (u.user(), u.params_raw()),
            (Some(&b"alice;day=tuesday"[..]), &b""[..])
        );
    }

    #[test]
    fn rfc4475_uris() {
        // §3.1.1.9 semiuri: the user part keeps its ';'.
        let u = uri(b"sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user(), Some(&b"user;par=u%40example.net"[..]));
        assert_eq!((u.host(), u.param(b"par")), (domain("example.com"), None));

        // §3.1.1.3 esc01.
        let u = uri(b"sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user(), Some(&b"sips%3Auser%40example.com"[..]));
        let u = uri(b"sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert!(u.has_lr());
        assert_eq!(u.param(b"name"), Some(Some(&b"v%61lue%25%34%31"[..])));
        assert!(uri_eq(
            &u,
            &uri(b"sip:caller@host5.example.net;lr;name=value%2541")
        ));
        assert!(!uri_eq(
            &u,
            &uri(b"sip:caller@host5.example.net;lr;name=valueA")
        ));
        uri(b"sip:I%20have%20spaces@example.net");

        // §3.1.1.4 escnull: two distinct AORs.
        let (one, two) = (
            uri(b"sip:%00@host5.example.com"),
            uri(b"sip:%00%00@host5.example.com"),
        );
        assert!(!uri_eq(&one, &two));

        // §3.1.1.2 intmeth: user and password full of user-unreserved characters.
        let u = uri(b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.user(),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        assert_eq!(
            u.password(),
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );

        // §3.1.1.1 wsinv Route and §3.1.1.7 longreq.
        let u = uri(b"sip:services.example.com;lr;unknownwith=value;unknown-no-value");
        assert!(u.has_lr());
        assert_eq!(u.param(b"UNKNOWN-NO-VALUE"), Some(None));
        assert_eq!(u.param(b"unknownwith"), Some(Some(&b"value"[..])));
        assert_eq!(u.params().count(), 3);
        assert_eq!(
            uri(b"sip:user@example.com:6000;unknownparam1=x").port(),
            Some(6000)
        );

        // §3.1.2.11 escruri: headers are part of the URI, callers drop them.
        let u = uri(b"sip:user@example.com?Route=%3Csip:example.com%3E");
        assert_eq!(u.without_headers(), b"sip:user@example.com");

        // §3.4.1 inv2543.
        let u = uri(b"sip:UserB@example.com;maddr=ss1.example.com");
        assert_eq!(u.maddr(), domain("ss1.example.com"));

        // §3.1.2.8 lwsruri and §3.1.2.7 ltgtruri.
        assert!(Uri::parse(b"sip:user@example.com; lr").is_err());
        assert!(Uri::parse(b"<sip:user@example.com>").is_err());
    }

    #[test]
    fn other_schemes_stay_opaque() {
        // RFC 4475 §3.3.2 unkscm, §3.3.3 novelsc, §3.3.4 unksm2.
        for row in rows(
            "nobodyKnowsThisScheme:totallyopaquecontent
             soap.beep://192.0.2.103:3002
             isbn:2983792873
             http://www.example.com
             name:John_Smith",
        ) {
            let u = uri(row.as_bytes());
            let (scheme, opaque) = row.split_once(':').unwrap();
            assert_eq!(u.scheme(), Scheme::Other(scheme.as_bytes()));
            assert_eq!(u.scheme().as_bytes(), scheme.as_bytes());
            assert_eq!((u.opaque(), u.host()), (Some(opaque.as_bytes()), None));
            assert!(!u.is_sip());
        }
        assert_eq!(uri(b"SIP:a@b.c").scheme(), Scheme::Sip);
        assert_eq!(uri(b"sIpS:a@b.c").scheme(), Scheme::Sips);
        assert_eq!(Scheme::Other(b"HTTP"), Scheme::Other(b"http"));
    }

    #[test]
    fn tel_uris_rfc3966() {
        let u = uri(b"tel:+1-201-555-0123");
        assert_eq!(u.scheme(), Scheme::Tel);
        assert_eq!(
            (u.number(), u.user()),
            (Some(&b"+1-201-555-0123"[..]), None)
        );
        let u = uri(b"tel:7042;phone-context=example.com");
        assert_eq!(u.number(), Some(&b"7042"[..]));
        assert_eq!(u.param(b"phone-context"), Some(Some(&b"example.com"[..])));
        uri(b"tel:863-1234;phone-context=+1-914-555");
        uri(b"TEL:+1-201-555-0123;ext=1234;isdn-ok");
        assert!(uri_eq(
            &uri(b"tel:+1-201-555-0123;EXT=1"),
            &uri(b"tel:+1(201)5550123;ext=1")
        ));
        assert!(!uri_eq(
            &uri(b"tel:+12015550123"),
            &uri(b"tel:+12015550123;ext=1")
        ));
        for bad in "tel: tel:+ tel:+- tel:7042 tel:+1; tel:+1;=x tel:+1;ext= tel:+1?a".split(' ') {
            assert!(Uri::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc5118_ipv6_hosts() {
        assert_eq!(uri(b"sip:[2001:db8::10]").host(), v6("2001:db8::10"));
        // §4.2: brackets are mandatory.
        assert!(Uri::parse(b"sip:2001:db8::10").is_err());
        // §4.3: the 5070 is the last group, not a port.
        let u = uri(b"sip:[2001:db8::10:5070]");
        assert_eq!((u.host(), u.port()), (v6("2001:db8::10:5070"), None));
        // §4.4.
        let u = uri(b"sip:[2001:db8::10]:5070");
        assert_eq!((u.host(), u.port()), (v6("2001:db8::10"), Some(5070)));
        // §4.10: the three-colon ABNF bug is tolerated.
        let a = uri(b"sip:user@[2001:db8:::192.0.2.1]");
        assert_eq!(a.host(), v6("2001:db8::c000:201"));
        assert!(uri_eq(&a, &uri(b"sip:user@[2001:db8::192.0.2.1]")));
        // §4.9.
        assert_eq!(
            uri(b"sip:ted@[::ffff:192.0.2.2]").host(),
            v6("::ffff:192.0.2.2")
        );
        assert_eq!(
            parse_ipv6(b":::192.0.2.1"),
            Some("::192.0.2.1".parse().unwrap())
        );
        assert_eq!(parse_ipv6(b"2001:db8:::1"), None);
        assert_eq!(parse_ipv6(b"1:::2:192.0.2.1"), None);
        // §4.5: Via received, with and without brackets.
        let want = Ok("2001:db8::9:255".parse().unwrap());
        assert_eq!(
            (parse_ip(b"[2001:db8::9:255]"), parse_ip(b"2001:db8::9:255")),
            (want, want)
        );
        assert_eq!(parse_ip(b"192.0.2.200"), Ok("192.0.2.200".parse().unwrap()));
        assert_eq!(
            (parse_ip(b"[192.0.2.200]"), parse_ip(b"example.com")),
            (Err(Invalid), Err(Invalid))
        );
    }

    #[test]
    fn hosts_follow_the_hostname_grammar() {
        for good in "a a.b x-1.example.com example.com. a1.b2.c3d".split(' ') {
            assert!(
                matches!(Host::parse(good.as_bytes()), Ok(Host::Domain(_))),
                "{good}"
            );
        }
        assert_eq!(
            Host::parse(b"010.0.0.1"),
            Ok(Host::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        let bad = ". a..b -a.com a-.com ho_st 192.0.2.256 10.0.0 1.2.3.4.5 example.123 [::1 ::1] \
                   [example.com] [1.2.3.4] 0001.2.3.4";
        for bad in bad.split_whitespace().chain(["", "a b"]) {
            assert_eq!(Host::parse(bad.as_bytes()), Err(Invalid), "{bad}");
        }
        assert_eq!(Host::parse(b"Example.COM"), Host::parse(b"example.com"));
        assert_eq!(
            Host::V4(Ipv4Addr::LOCALHOST).ip(),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
    }

    #[test]
    fn malformed_uris_are_rejected() {
        let bad = "sip sip: :a@b 1sip:a@b x: x:<a> sip:@host sip::pw@host sip:user@ sip:user@host:
                   sip:u@h:65536 sip:u@h:5060x sip:u%G1@h sip:u%4@h sip:u@h; sip:u@h;;lr sip:u@h;a=
                   sip:u@h;=a sip:u@h? sip:u@h?a sip:u@h?=b sip:u@h?a=b& sip:u@[::1 sip:u@h@i
                   sip:u@h;ttl=256 sip:u@h;ttl=0001 sip:u@h;maddr= sip:u@h;maddr=a_b sip:u<@h
                   sip:u@h;transport=[x] sip:u@h;lr=%G0 sip:u@h> sip:u@h;a=\"b\" sip:u@h?a=%3";
        let controls = [
            "",
            "s p:a",
            "x:a b",
            "sip:u@h x",
            "sip:u@h\r\n",
            "sip:u\0@h",
            "sip:u@h\x7f",
        ];
        for bad in bad.split_whitespace().chain(controls) {
            assert!(Uri::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        // A password may be empty; a port may have leading zeros.
        assert_eq!(uri(b"sip:u:@h").password(), Some(&b""[..]));
        assert_eq!(uri(b"sip:u@h:05060").port(), Some(5060));
        assert!(uri(b"sip:u@h;lr=on").has_lr());
        assert_eq!(uri(b"sip:u@h;ttl=15").ttl(), Some(15));
        assert_eq!(
            uri(b"sip:u@h;transport=ws").transport(),
            Some(Transport::Ws)
        );
        let other = uri(b"sip:u@h;transport=foo").transport();
        assert_eq!(other, Some(Transport::Other(b"FOO")));
    }

    #[test]
    fn equality_rfc3261_19_1_4() {
        // One pair per row: `=` equal, `!` different (§19.1.4 examples, then edge cases).
        let table = "
            = sip:%61lice@atlanta.com;transport=TCP sip:alice@AtLanTa.CoM;Transport=tcp
            = sip:carol@chicago.com sip:carol@chicago.com;newparam=5
            = sip:carol@chicago.com sip:carol@chicago.com;security=on
            = sip:carol@chicago.com;newparam=5 sip:carol@chicago.com;security=on
            = sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com
            = sip:alice@atlanta.com?subject=project%20x&priority=urgent sip:alice@atlanta.com?priority=urgent&subject=project%20x
            ! SIP:ALICE@AtLanTa.CoM;Transport=udp sip:alice@AtLanTa.CoM;Transport=UDP
            ! sip:bob@biloxi.com sip:bob@biloxi.com:5060
            ! sip:bob@biloxi.com sip:bob@biloxi.com;transport=udp
            ! sip:bob@biloxi.com sip:bob@biloxi.com:6000;transport=tcp
            ! sip:carol@chicago.com sip:carol@chicago.com?Subject=next%20meeting
            ! sip:bob@phone21.boxesbybob.com sip:bob@192.0.2.4
            ! sip:carol@chicago.com;security=on sip:carol@chicago.com;security=off
            ! sip:a@b.c sips:a@b.c
            ! sip:a:x@b.c sip:a@b.c
            ! sip:a@b.c;lr sip:a@b.c;lr=on
            ! sip:a%3Bb@c.d sip:a;b@c.d
            ! sip:a@b.c tel:+1
            = x-foo:Abc X-FOO:Abc
            ! x-foo:Abc x-foo:abc
            = sip:a@b.c;x;x=1 sip:a@b.c;x;x=1";
        for row in rows(table) {
            let mut f = row.split(' ');
            let (want, a, b) = (f.next() == Some("="), f.next().unwrap(), f.next().unwrap());
            let (a, b) = (uri(a.as_bytes()), uri(b.as_bytes()));
            assert_eq!((uri_eq(&a, &b), uri_eq(&b, &a)), (want, want), "{row}");
        }
    }

    fn arb_host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,4}[a-z0-9])?){0,3}",
            any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
            any::<[u16; 8]>().prop_map(|g| format!("[{}]", Ipv6Addr::from(g))),
        ]
    }

    type Userinfo = Option<(String, Option<String>)>;
    type Pairs = Vec<(String, Option<String>)>;

    fn build(
        secure: bool,
        user: &Userinfo,
        host: &str,
        port: Option<u16>,
        params: &Pairs,
    ) -> String {
        let mut s = String::from(if secure { "sips:" } else { "sip:" });
        if let Some((u, pw)) = user {
            s += u;
            if let Some(pw) = pw {
                s = s + ":" + pw;
            }
            s += "@";
        }
        s += host;
        if let Some(p) = port {
            s += &format!(":{p}");
        }
        for (n, v) in params {
            s = s + ";" + n;
            if let Some(v) = v {
                s = s + "=" + v;
            }
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(u) = Uri::parse(&s) {
                let _ = (u.params().count(), u.header_fields().count(), u.transport(), u.maddr());
                prop_assert!(uri_eq(&u, &u));
            }
            let _ = (Host::parse(&s), parse_ip(&s));
        }

        #[test]
        fn uri_shaped_text_never_panics(s in "(sips?|tel|x):[a-z0-9@:;=?&%\\[\\].+-]{0,30}") {
            if let Ok(u) = Uri::parse(s.as_bytes()) {
                prop_assert!(uri_eq(&u, &u));
                let _ = (u.params().count(), u.header_fields().count(), u.ttl());
            }
        }

        #[test]
        fn generated_sip_uris_parse_back(
            secure in any::<bool>(),
            user in proptest::option::of((
                "([a-zA-Z0-9_.!~*'()&=+$,;?/-]|%[0-9A-F]{2}){1,12}",
                proptest::option::of("[a-z0-9&=+$,]{0,6}"),
            )),
            host in arb_host(),
            port in proptest::option::of(any::<u16>()),
            params in proptest::collection::vec((
                "x-([a-z0-9_.!~*'()\\[\\]/:&+$-]|%[0-9a-f]{2}){0,6}",
                proptest::option::of("([a-zA-Z0-9_.!~*'()\\[\\]/:&+$-]|%[0-9A-F]{2}){1,8}"),
            ), 0..4),
            headers in proptest::collection::vec((
                "[a-zA-Z]([a-z0-9?:/+$-]|%[0-9A-F]{2}){0,5}",
                "([a-z0-9?:/+$-]|%[0-9A-F]{2}){0,6}",
            ), 0..3),
        ) {
            let mut s = build(secure, &user, &host, port, &params);
            for (i, (n, v)) in headers.iter().enumerate() {
                s += &format!("{}{n}={v}", if i == 0 { '?' } else { '&' });
            }
            let u = Uri::parse(s.as_bytes()).map_err(|_| TestCaseError::fail(s.clone()))?;
            prop_assert_eq!(u.scheme(), if secure { Scheme::Sips } else { Scheme::Sip });
            prop_assert_eq!(u.user(), user.as_ref().map(|(u, _)| u.as_bytes()));
            let password = user.as_ref().and_then(|(_, p)| p.as_deref());
            prop_assert_eq!(u.password(), password.map(str::as_bytes));
            prop_assert!(u.host().is_some());
            prop_assert_eq!(u.host(), Host::parse(host.as_bytes()).ok());
            prop_assert_eq!(u.port(), port);
            let got: Vec<_> = u.params().collect();
            let want: Vec<_> =
                params.iter().map(|(n, v)| (n.as_bytes(), v.as_deref().map(str::as_bytes))).collect();
            prop_assert_eq!(got, want);
            let got: Vec<_> = u.header_fields().collect();
            let want: Vec<_> = headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(u.as_bytes(), s.as_bytes());
            prop_assert!(uri_eq(&u, &u));
        }
    }
}
