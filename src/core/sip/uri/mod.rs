//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), zero-copy.
//!
//! Owns: decoding a URI from a borrowed slice into its components (RFC 3261 §19.1.1, grammar
//! in §25.1), URI equality (§19.1.4), and the host forms shared with Via (`hostname`,
//! `IPv4address`, `IPv6reference`, with the RFC 5118 §4.10 three-colon form tolerated).
//! Schemes other than sip, sips and tel are kept opaque as [`Scheme::Other`] so that callers
//! can answer 416 Unsupported URI Scheme (RFC 3261 §8.2.2.1). No LWS is allowed anywhere in a
//! URI (RFC 4475 §3.1.2.8); escapes must be well formed. Never allocates, never panics.

mod eq;
mod host;
mod params;
mod parse;

use core::fmt;

pub use super::text::{parse_ip, parse_ipv4, parse_ipv6};
pub use eq::uri_eq;
pub use host::Host;
pub use params::{UriHeaders, UriParams};

use memchr::memchr;

use super::text::{parse_u8, span_from, DIGIT};
// The tests name these through `use super::*`.
#[cfg(test)]
use super::text::Invalid;
pub(crate) use host::{host_prefix, HostAddr};
use params::find_param;
#[cfg(test)]
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A URI scheme (RFC 3261 §25.1 `scheme`), compared case-insensitively.
#[derive(Debug, Clone, Copy)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    Other(&'a [u8]),
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
///
/// Only the positions a scan cannot find again cheaply are kept; the components are slices of
/// the URI cut at those positions on demand (see the accessors), so a view holding a URI stays
/// small.
#[derive(Clone, Copy)]
pub struct Uri<'a> {
    raw: &'a [u8],
    /// Where `body` starts: sip and sips, the host (just after the userinfo's `@`, if any); tel
    /// and other schemes, just after the scheme's colon.
    body_start: usize,
    /// Where `body` ends: sip and sips, the end of the host; tel, the end of the number; other
    /// schemes, the end of the URI.
    body_end: usize,
    /// The decoded host of sip and sips.
    host: HostAddr,
    port: Option<u16>,
    scheme: SchemeKind,
}

/// The scheme of a [`Uri`]; the text of another scheme is the start of the URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeKind {
    Sip,
    Sips,
    Tel,
    Other,
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
    pub fn scheme(&self) -> Scheme<'a> {
        match self.scheme {
            SchemeKind::Sip => Scheme::Sip,
            SchemeKind::Sips => Scheme::Sips,
            SchemeKind::Tel => Scheme::Tel,
            // For another scheme, the body starts just after the colon that ends the scheme.
            SchemeKind::Other => Scheme::Other(self.part(0, self.body_start.saturating_sub(1))),
        }
    }

    /// True for sip and sips, the schemes with a host.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, SchemeKind::Sip | SchemeKind::Sips)
    }

    /// The user part as received, escapes included (`user;par=u%40example.net`).
    pub fn user(&self) -> Option<&'a [u8]> {
        // `user` holds no `:`; the first one in the userinfo starts the password.
        let userinfo = self.userinfo()?;
        Some(match memchr(b':', userinfo) {
            // NOTE: c < userinfo.len().
            Some(c) => &userinfo[..c],
            None => userinfo,
        })
    }

    pub fn password(&self) -> Option<&'a [u8]> {
        let userinfo = self.userinfo()?;
        // NOTE: c < userinfo.len().
        memchr(b':', userinfo).map(|c| &userinfo[c + 1..])
    }

    /// The host of a sip or sips URI.
    pub fn host(&self) -> Option<Host<'a>> {
        self.host.host(self.body())
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The telephone-subscriber number of a tel URI (`+1-201-555-0123`), without parameters.
    pub fn number(&self) -> Option<&'a [u8]> {
        (self.scheme == SchemeKind::Tel).then_some(self.body())
    }

    /// Everything after the colon of a URI of another scheme.
    pub fn opaque(&self) -> Option<&'a [u8]> {
        (self.scheme == SchemeKind::Other).then_some(self.body())
    }

    /// The parameters in order, as received.
    pub fn params(&self) -> UriParams<'a> {
        UriParams {
            rest: self.params_raw(),
        }
    }

    /// Value of parameter `name` (case-insensitive, escapes compared per §19.1.4): `None` if
    /// absent, `Some(None)` if present without a value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        find_param(self.params_raw(), name)
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
        match self.scheme {
            // After the host come the port, the parameters and the headers. No parameter holds
            // a `?`, so the first one after the host starts the headers.
            SchemeKind::Sip | SchemeKind::Sips => {
                let mut start = self.body_end;
                if self.port.is_some() {
                    start = span_from(self.raw, start + 1, DIGIT);
                }
                if self.raw.get(start) != Some(&b';') {
                    return &[];
                }
                self.part(start, self.headers_start())
            }
            SchemeKind::Tel => self.part(self.body_end, self.raw.len()),
            SchemeKind::Other => &[],
        }
    }

    /// The `headers` component as received, leading `?` included; empty if none.
    pub fn headers_raw(&self) -> &'a [u8] {
        self.part(self.headers_start(), self.raw.len())
    }

    /// The header fields of the `headers` component as `(hname, hvalue)`, still escaped.
    pub fn header_fields(&self) -> UriHeaders<'a> {
        UriHeaders {
            rest: self.headers_raw().get(1..).unwrap_or_default(),
        }
    }

    /// The URI without its `headers` component, e.g. to forward a Request-URI
    /// (RFC 4475 §3.1.2.11).
    pub fn without_headers(&self) -> &'a [u8] {
        self.part(0, self.headers_start())
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// `raw[from..to]`, or nothing if that is not a range of it (which the positions a parsed
    /// URI keeps never are).
    fn part(&self, from: usize, to: usize) -> &'a [u8] {
        self.raw.get(from..to).unwrap_or_default()
    }

    /// sip and sips: the host as written; tel: the number; other schemes: everything after the
    /// colon.
    fn body(&self) -> &'a [u8] {
        self.part(self.body_start, self.body_end)
    }

    /// The userinfo of a sip or sips URI, without its `@`: what lies between `sip:` and the
    /// host, if anything does.
    fn userinfo(&self) -> Option<&'a [u8]> {
        let after_scheme = match self.scheme {
            SchemeKind::Sip => 4,
            SchemeKind::Sips => 5,
            SchemeKind::Tel | SchemeKind::Other => return None,
        };
        (self.body_start > after_scheme).then(|| self.part(after_scheme, self.body_start - 1))
    }

    /// Where the `headers` component starts: the first `?` after the host of a sip or sips
    /// URI, or the end.
    fn headers_start(&self) -> usize {
        match self.scheme {
            SchemeKind::Sip | SchemeKind::Sips => {
                let after = self.part(self.body_end, self.raw.len());
                memchr(b'?', after).map_or(self.raw.len(), |q| self.body_end + q)
            }
            SchemeKind::Tel | SchemeKind::Other => self.raw.len(),
        }
    }
}

impl fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uri")
            .field("raw", &self.raw)
            .field("scheme", &self.scheme())
            .field("user", &self.user())
            .field("password", &self.password())
            .field("host", &self.host())
            .field("port", &self.port)
            .field("body", &self.body())
            .field("params", &self.params_raw())
            .field("headers", &self.headers_raw())
            .finish()
    }
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
