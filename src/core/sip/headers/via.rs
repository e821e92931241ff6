//! Via (RFC 3261 §20.42, grammar §25.1 `via-parm`), with `rport` (RFC 3581) and the IPv6
//! `received` forms of RFC 5118 §4.5.
//!
//! `sent-protocol LWS sent-by *( SEMI via-params )`: LWS (folding included) is allowed around
//! each `/` of `SIP/2.0/UDP` and around the `:` of the sent-by (RFC 4475 §3.1.1.1). The
//! protocol must be SIP/2.0; the transport is any token. Known parameters are checked against
//! their grammar; an empty parameter (`;;`) or an empty value in a Via list is an error
//! (RFC 4475 §3.1.2.1).

use std::net::IpAddr;

use crate::core::sip::text::{
    is_token, parse_u16, parse_u8, skip_lws, span, CommaSplit, Invalid, Param, Params, TOKEN,
};
use crate::core::sip::uri::{host_len, parse_ip, Host, Transport};

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

/// One `via-parm`.
#[derive(Debug, Clone, Copy)]
pub struct Via<'a> {
    raw: &'a [u8],
    transport: Transport<'a>,
    host: Host<'a>,
    port: Option<u16>,
    params: &'a [u8],
    branch: Option<&'a [u8]>,
    received: Option<IpAddr>,
    rport: Option<Option<u16>>,
}

impl<'a> Via<'a> {
    /// Parses one `via-parm`, such as one element of [`Vias`]. Surrounding LWS is ignored.
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let raw = crate::core::sip::text::trim(value);
        let (name, s) = token(raw)?;
        if !name.eq_ignore_ascii_case(b"SIP") {
            return Err(Invalid);
        }
        let (version, s) = token(slash(s)?)?;
        if version != b"2.0" {
            return Err(Invalid);
        }
        let (transport, after) = token(slash(s)?)?;
        let s = skip_lws(after);
        if s.len() == after.len() {
            return Err(Invalid);
        }
        let n = host_len(s)?;
        // NOTE: host_len never exceeds its input.
        let host = Host::parse(&s[..n])?;
        let mut s = skip_lws(&s[n..]);
        let mut port = None;
        if let Some(p) = s.strip_prefix(b":") {
            let p = skip_lws(p);
            let digits = p.iter().take_while(|b| b.is_ascii_digit()).count();
            // NOTE: digits <= p.len().
            port = Some(parse_u16(&p[..digits])?);
            s = &p[digits..];
        }
        let mut via = Via {
            raw,
            transport: Transport::from_bytes(transport),
            host,
            port,
            params: s,
            branch: None,
            received: None,
            rport: None,
        };
        for p in Params::new(s) {
            via.check_param(p?)?;
        }
        Ok(via)
    }

    fn check_param(&mut self, p: Param<'a>) -> Result<(), Invalid> {
        let is = |name: &[u8]| p.name.eq_ignore_ascii_case(name);
        match p.value {
            Some(v) if is(b"branch") => {
                if !is_token(v) {
                    return Err(Invalid);
                }
                self.branch.get_or_insert(v);
            }
            Some(v) if is(b"received") => {
                let ip = parse_ip(v)?;
                self.received.get_or_insert(ip);
            }
            v if is(b"rport") => {
                let port = v.map(parse_u16).transpose()?;
                self.rport.get_or_insert(port);
            }
            Some(v) if is(b"ttl") => {
                if v.len() > 3 {
                    return Err(Invalid);
                }
                parse_u8(v)?;
            }
            Some(v) if is(b"maddr") => {
                Host::parse(v)?;
            }
            None if is(b"branch") || is(b"received") || is(b"ttl") || is(b"maddr") => {
                return Err(Invalid);
            }
            _ => {}
        }
        Ok(())
    }

    /// The element as received, LWS trimmed.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    pub fn transport(&self) -> Transport<'a> {
        self.transport
    }

    /// The sent-by host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The sent-by port, if explicit.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn branch(&self) -> Option<&'a [u8]> {
        self.branch
    }

    /// True if the branch carries the RFC 3261 magic cookie and something after it
    /// (§8.1.1.7); `branch=z9hG4bK` alone is not (RFC 4475 §3.2.1).
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch
            .is_some_and(|b| b.len() > BRANCH_COOKIE.len() && b.starts_with(BRANCH_COOKIE))
    }

    /// The `received` address, bracketed or not (RFC 5118 §4.5).
    pub fn received(&self) -> Option<IpAddr> {
        self.received
    }

    /// `rport` (RFC 3581): `None` if absent, `Some(None)` if present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    pub fn maddr(&self) -> Option<Host<'a>> {
        self.param(b"maddr")
            .flatten()
            .and_then(|v| Host::parse(v).ok())
    }

    pub fn ttl(&self) -> Option<u8> {
        self.param(b"ttl").flatten().and_then(|v| parse_u8(v).ok())
    }

    /// Value of parameter `name` (case-insensitive): `None` if absent, `Some(None)` if present
    /// without a value. A quoted value keeps its quotes.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params).find(name)
    }

    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The parameters as received, from the first `;`; empty if none.
    pub fn params_raw(&self) -> &'a [u8] {
        self.params
    }
}

/// A token after optional LWS, and what follows it.
fn token(s: &[u8]) -> Result<(&[u8], &[u8]), Invalid> {
    let s = skip_lws(s);
    let n = span(s, TOKEN);
    if n == 0 {
        return Err(Invalid);
    }
    // NOTE: n <= s.len() (span).
    Ok(s.split_at(n))
}

/// `SLASH = SWS "/" SWS`; returns what follows.
fn slash(s: &[u8]) -> Result<&[u8], Invalid> {
    skip_lws(s).strip_prefix(b"/").ok_or(Invalid)
}

/// The Via values of one header field, in order. A malformed or empty element yields one
/// `Err` and ends the iteration; an empty header value is an error too (§25.1: `1#via-parm`).
#[derive(Debug, Clone)]
pub struct Vias<'a> {
    elements: CommaSplit<'a>,
    started: bool,
    failed: bool,
}

impl<'a> Vias<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        Vias {
            elements: CommaSplit::new(value),
            started: false,
            failed: false,
        }
    }
}

impl<'a> Iterator for Vias<'a> {
    type Item = Result<Via<'a>, Invalid>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let first = !self.started;
        self.started = true;
        let item = match self.elements.next() {
            Some(e) => Via::parse(e),
            None if first => Err(Invalid),
            None => return None,
        };
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn via(s: &[u8]) -> Via<'_> {
        Via::parse(s).unwrap_or_else(|_| panic!("{:?}", String::from_utf8_lossy(s)))
    }

    fn all(s: &[u8]) -> Result<Vec<Via<'_>>, Invalid> {
        Vias::new(s).collect()
    }

    #[test]
    fn rfc4475_wsinv_folded_vias() {
        let v = via(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
        assert_eq!(v.transport(), Transport::Udp);
        assert_eq!(v.host(), Host::V4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        assert!(!v.is_rfc3261_branch());

        let value = b"  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   \
                      z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n \
                      z9hG4bK30239";
        let vs = all(value).unwrap();
        assert_eq!(vs.len(), 2);
        assert_eq!(vs[0].transport(), Transport::Tcp);
        assert_eq!(vs[0].host(), Host::Domain(b"spindle.example.com"));
        assert_eq!(vs[0].branch(), Some(&b"z9hG4bK9ikj8"[..]));
        assert!(vs[0].is_rfc3261_branch());
        assert_eq!(vs[1].host(), Host::V4(Ipv4Addr::new(192, 168, 255, 111)));
        assert_eq!(vs[1].branch(), Some(&b"z9hG4bK30239"[..]));
    }

    #[test]
    fn rfc4475_transports_and_branches() {
        // §3.1.1.10 transports.
        for (t, want) in [
            (&b"UDP"[..], Transport::Udp),
            (b"SCTP", Transport::Sctp),
            (b"TLS", Transport::Tls),
            (b"UNKNOWN", Transport::Other(b"UNKNOWN")),
            (b"tcp", Transport::Tcp),
            (b"WSS", Transport::Wss),
        ] {
            let s = [
                &b"SIP/2.0/"[..],
                t,
                b" t4.example.com;branch=z9hG4bKasd0f3en",
            ]
            .concat();
            assert_eq!(via(&s).transport(), want);
        }
        // §3.2.1 badbranch: valid syntax, not an RFC 3261 branch.
        let v = via(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK");
        assert!(!v.is_rfc3261_branch());
        // §3.1.1.5 esc02: a branch is a token; '%' is a token character.
        assert!(
            via(b"SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234").is_rfc3261_branch()
        );
        // §3.4.1 inv2543: no branch at all.
        assert_eq!(via(b"SIP/2.0/UDP iftgw.example.com").branch(), None);
        // §3.3.10 bcast.
        let v = via(b"SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23");
        assert_eq!(v.host(), Host::V4(Ipv4Addr::BROADCAST));
    }

    #[test]
    fn rfc4475_badinv01_is_rejected() {
        let mut vs = Vias::new(b"SIP/2.0/UDP 192.0.2.15;;,;,,");
        assert_eq!(vs.next().map(|v| v.is_err()), Some(true));
        assert!(vs.next().is_none());
        for bad in [
            &b"SIP/2.0/UDP 192.0.2.15,"[..],
            b",SIP/2.0/UDP 192.0.2.15",
            b"SIP/2.0/UDP a.example.com,,SIP/2.0/UDP b.example.com",
            b"",
            b"  ",
        ] {
            assert_eq!(all(bad).map(|v| v.len()), Err(Invalid), "{bad:?}");
        }
    }

    #[test]
    fn rfc5118_ipv6_sent_by_and_received() {
        let v = via(b"SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111");
        assert_eq!(v.host(), Host::V6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v.port(), Some(6050));
        let want: IpAddr = "2001:db8::9:255".parse().unwrap();
        // §4.5, both forms.
        let v =
            via(b"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111");
        assert_eq!(v.received(), Some(want));
        let v = via(b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
        assert_eq!(v.received(), Some(want));
        assert_eq!(v.branch(), Some(&b"z9hG4bKas3"[..]));
        // §4.7.
        let v = via(b"SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200");
        assert_eq!(
            v.received(),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200)))
        );
        // §4.9.
        let v = via(b"SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19");
        let mapped: Ipv6Addr = "::ffff:192.0.2.10".parse().unwrap();
        assert_eq!((v.host(), v.port()), (Host::V6(mapped), Some(19823)));
        assert!(Via::parse(b"SIP/2.0/UDP 2001:db8::1;branch=z9hG4bKx").is_err());
    }

    #[test]
    fn params_and_sent_by_port() {
        let v = via(b"SIP/2.0/UDP pc33.atlanta.com : 5066 ;rport;branch=z9hG4bK776asdhds;ttl=16;maddr=224.2.0.1;x=\"y\"");
        assert_eq!(v.port(), Some(5066));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some(Host::V4(Ipv4Addr::new(224, 2, 0, 1))));
        assert_eq!(v.param(b"X"), Some(Some(&b"\"y\""[..])));
        assert_eq!(v.params().count(), 5);
        let v = via(b"SIP/2.0/UDP 192.0.2.1;received=192.0.2.9;rport=5070;branch=z9hG4bKx");
        assert_eq!(v.rport(), Some(Some(5070)));
        assert_eq!(via(b"SIP/2.0/UDP h").rport(), None);
        assert_eq!(
            v.as_bytes(),
            b"SIP/2.0/UDP 192.0.2.1;received=192.0.2.9;rport=5070;branch=z9hG4bKx"
        );
        assert_eq!(
            v.params_raw(),
            b";received=192.0.2.9;rport=5070;branch=z9hG4bKx"
        );
    }

    #[test]
    fn malformed_vias_are_rejected() {
        for bad in [
            &b"SIP/2.0/UDP"[..],
            b"SIP/2.0/UDP ",
            b"SIP/2.0/UDP192.0.2.1",
            b"SIP/2.0 192.0.2.1",
            b"SIP/3.0/UDP 192.0.2.1",
            b"SIPS/2.0/UDP 192.0.2.1",
            b"SIP/2.0/ 192.0.2.1",
            b"SIP//2.0/UDP 192.0.2.1",
            b"SIP/2.0/UDP 192.0.2.1:",
            b"SIP/2.0/UDP 192.0.2.1:70000",
            b"SIP/2.0/UDP 192.0.2.1;;",
            b"SIP/2.0/UDP 192.0.2.1;branch",
            b"SIP/2.0/UDP 192.0.2.1;branch=",
            b"SIP/2.0/UDP 192.0.2.1;branch=\"x\"",
            b"SIP/2.0/UDP 192.0.2.1;received=example.com",
            b"SIP/2.0/UDP 192.0.2.1;rport=x",
            b"SIP/2.0/UDP 192.0.2.1;rport=65536",
            b"SIP/2.0/UDP 192.0.2.1;ttl=256",
            b"SIP/2.0/UDP 192.0.2.1;maddr=a_b",
            b"SIP/2.0/UDP 192.0.2.1 x",
            b"SIP/2.0/UDP [2001:db8::1",
            b"SIP/2.0/UDP ho_st",
            b"SIP/2.0/UDP 192.0.2.1;a b",
        ] {
            assert!(
                Via::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..80)) {
            for v in Vias::new(&s).flatten() {
                let _ = (v.maddr(), v.ttl(), v.params().count(), v.is_rfc3261_branch());
            }
        }

        #[test]
        fn via_shaped_text_never_panics(s in "SIP ?/ ?2.0/[A-Z]{1,4} [a-z0-9.:\\[\\]]{0,12}[;=,a-z0-9 \"]{0,20}") {
            let _ = Vias::new(s.as_bytes()).count();
        }

        #[test]
        fn generated_vias_parse_back(
            transport in "UDP|TCP|TLS|SCTP|WS|WSS|FOO",
            host in "[a-z]{1,8}(\\.[a-z]{1,5}){0,2}",
            port in proptest::option::of(any::<u16>()),
            branch in "[a-zA-Z0-9.!%*_+`'~-]{1,16}",
            rport in proptest::option::of(proptest::option::of(any::<u16>())),
        ) {
            let mut s = format!("SIP/2.0/{transport} {host}");
            if let Some(p) = port { s += &format!(":{p}"); }
            match rport {
                Some(Some(p)) => s += &format!(";rport={p}"),
                Some(None) => s += ";rport",
                None => {}
            }
            s += &format!(";branch={branch}");
            let v = Via::parse(s.as_bytes()).map_err(|_| TestCaseError::fail(s.clone()))?;
            prop_assert_eq!(v.transport(), Transport::from_bytes(transport.as_bytes()));
            prop_assert_eq!(v.host(), Host::Domain(host.as_bytes()));
            prop_assert_eq!(v.port(), port);
            prop_assert_eq!(v.rport(), rport);
            prop_assert_eq!(v.branch(), Some(branch.as_bytes()));
        }
    }
}
