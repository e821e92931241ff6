//! Via (RFC 3261 §20.42, grammar §25.1 `via-parm`), with `rport` (RFC 3581) and the IPv6
//! `received` forms of RFC 5118 §4.5.
//!
//! `sent-protocol LWS sent-by *( SEMI via-params )`: LWS (folding included) is allowed around
//! each `/` of `SIP/2.0/UDP` and around the `:` of the sent-by (RFC 4475 §3.1.1.1). The
//! protocol must be SIP/2.0; the transport is any token. Known parameters are checked against
//! their grammar; an empty parameter (`;;`) or an empty value in a Via list is an error
//! (RFC 4475 §3.1.2.1).

use core::fmt;
use std::net::IpAddr;

use crate::core::sip::text::{
    digits_u16_from, fold_word, is_lws, name_is, param_at, param_at_tight, parse_u16, parse_u8,
    skip_lws_from, span_from, Invalid, ParamAt, Params, TOKEN,
};
use crate::core::sip::uri::{host_prefix, parse_ip, Host, HostAddr, Transport};

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

/// One `via-parm`.
#[derive(Clone, Copy)]
pub struct Via<'a> {
    raw: &'a [u8],
    transport: &'a [u8],
    /// The sent-by host as written.
    host_text: &'a [u8],
    /// The parameters are `raw[params_at..]`; past the end if there are none.
    params_at: usize,
    branch: Option<&'a [u8]>,
    host: HostAddr,
    received: HostAddr,
    port: Option<u16>,
    rport: Option<Option<u16>>,
    /// The name of the first `rport` parameter when it has no value (RFC 3581 §4 fills it in).
    bare_rport: Option<&'a [u8]>,
    /// One bit per parameter name seen (see [`name_bit`]): a name whose bit is clear is not
    /// among the parameters, so looking it up reads nothing.
    param_names: u64,
}

/// The bit of [`Via::param_names`] for a parameter name, from its length and its first and
/// last bytes in lower case: names that compare equal ignoring case have the same bit.
#[inline(always)]
fn name_bit(name: &[u8]) -> u64 {
    let (first, last) = match name {
        [first, .., last] => (first.to_ascii_lowercase(), last.to_ascii_lowercase()),
        [only] => (only.to_ascii_lowercase(), 0),
        [] => (0, 0),
    };
    let h = name.len().wrapping_mul(7) ^ usize::from(first).wrapping_mul(3) ^ usize::from(last);
    1 << (h % 64)
}

impl<'a> Via<'a> {
    /// Parses one `via-parm`, such as one element of [`Vias`]. Surrounding LWS is ignored.
    #[inline]
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        let mut via = Via::placeholder();
        match via.read_element(value, 0)? {
            end if end == value.len() => Ok(via),
            _ => Err(Invalid),
        }
    }

    /// A Via with nothing in it, for [`Via::read_element`] to fill where the caller keeps it:
    /// the element is decoded in place, never built aside and copied.
    pub(crate) const fn placeholder() -> Self {
        Via {
            raw: &[],
            transport: &[],
            host_text: &[],
            params_at: 0,
            branch: None,
            host: HostAddr::NONE,
            received: HostAddr::NONE,
            port: None,
            rport: None,
            bare_rport: None,
            param_names: 0,
        }
    }

    /// Reads the `via-parm` that starts at `s[at]` (LWS first allowed) into `self`, fresh from
    /// [`Via::placeholder`], up to the `,` that ends it or the end of `s`. Returns the index of
    /// that `,` (or `s.len()`); anything else after the element is an error. No part of a
    /// `via-parm` but a quoted parameter value holds a `,`, so the element's own grammar finds
    /// its end.
    pub(crate) fn read_element(&mut self, s: &'a [u8], at: usize) -> Result<usize, Invalid> {
        if let Some(next) = self.read_tight(s, at) {
            return Ok(next);
        }
        *self = Via::placeholder();
        self.read_element_lws(s, at)
    }

    /// [`Via::read_element`] for a `via-parm` written without LWS but the one SP after the
    /// sent-protocol, with parameters as [`param_at`] reads them without LWS: `None` for
    /// anything else (leaving `self` to be reset), which [`Via::read_element_lws`] reads.
    /// Where it gives an element, it is the one [`Via::read_element_lws`] gives.
    #[inline(always)]
    fn read_tight(&mut self, s: &'a [u8], at: usize) -> Option<usize> {
        const SIP_2_0_SLASH: u64 = u64::from_le_bytes(*b"sip/2.0/");
        let word = s.get(at..)?.first_chunk::<8>()?;
        if fold_word(u64::from_le_bytes(*word)) != SIP_2_0_SLASH {
            return None;
        }
        let transport_start = at + 8;
        let transport_end = span_from(s, transport_start, TOKEN);
        if transport_end == transport_start || s.get(transport_end) != Some(&b' ') {
            return None;
        }
        let host_start = transport_end + 1;
        let (host, n) = host_prefix(s.get(host_start..)?).ok()?;
        let host_end = host_start + n;
        let mut end = host_end;
        match s.get(end) {
            Some(b':') => {
                let (p, digits_end) = digits_u16_from(s, end + 1).ok()?;
                self.port = Some(p);
                end = digits_end;
            }
            Some(&b) if is_lws(b) => return None,
            _ => {}
        }
        let params_start = end;
        loop {
            match s.get(end) {
                Some(b';') => {
                    let p = param_at_tight(s, end)?;
                    self.check_param(p).ok()?;
                    end = p.end;
                }
                None | Some(b',') => break,
                Some(_) => return None,
            }
        }
        self.transport = s.get(transport_start..transport_end)?;
        self.host_text = s.get(host_start..host_end)?;
        self.host = host;
        self.raw = s.get(at..end)?;
        self.params_at = params_start - at;
        Some(end)
    }

    /// [`Via::read_element`] by the grammar, LWS allowed wherever it may be.
    #[cold]
    #[inline(never)]
    fn read_element_lws(&mut self, s: &'a [u8], at: usize) -> Result<usize, Invalid> {
        let start = skip_lws_from(s, at);
        // NOTE: every index below is checked against s.len() before it slices: by get(), or by
        // the scanners, which never pass the end.
        let (transport_start, transport_end) = sent_protocol_end(s, start)?;
        let host_start = skip_lws_from(s, transport_end);
        if host_start == transport_end {
            return Err(Invalid);
        }
        let (host, n) = host_prefix(&s[host_start..])?;
        let host_end = host_start + n;
        self.transport = &s[transport_start..transport_end];
        self.host_text = &s[host_start..host_end];
        self.host = host;
        let mut i = skip_lws_from(s, host_end);
        let mut end = host_end;
        if s.get(i) == Some(&b':') {
            let (p, digits_end) = digits_u16_from(s, skip_lws_from(s, i + 1))?;
            self.port = Some(p);
            (i, end) = (digits_end, digits_end);
        }
        let params_start = i;
        while let Some(p) = param_at(s, end)? {
            self.check_param(p)?;
            end = p.end;
        }
        let next = skip_lws_from(s, end);
        if next < s.len() && s[next] != b',' {
            return Err(Invalid);
        }
        self.raw = &s[start..end];
        // NOTE: start < params_start: the sent-protocol and host lie between them.
        self.params_at = params_start - start;
        Ok(next)
    }

    /// The parameters RFC 3261 §20.42 and RFC 3581 define follow their own grammar; the first
    /// occurrence of each is the one kept.
    #[inline(always)]
    fn check_param(&mut self, p: ParamAt<'a>) -> Result<(), Invalid> {
        let (name, value) = (p.param.name, p.param.value);
        self.param_names |= name_bit(name);
        let is = |known: &[u8]| name_is(name, known);
        match name.len() {
            6 if is(b"branch") => {
                let v = value.ok_or(Invalid)?;
                if !p.token {
                    return Err(Invalid);
                }
                self.branch.get_or_insert(v);
            }
            8 if is(b"received") => {
                let ip = parse_ip(value.ok_or(Invalid)?)?;
                if self.received == HostAddr::NONE {
                    self.received = HostAddr::ip(ip);
                }
            }
            5 if is(b"rport") => {
                let port = value.map(parse_u16).transpose()?;
                if self.rport.is_none() && port.is_none() {
                    self.bare_rport = Some(name);
                }
                self.rport.get_or_insert(port);
            }
            3 if is(b"ttl") => {
                let v = value.ok_or(Invalid)?;
                if v.len() > 3 {
                    return Err(Invalid);
                }
                parse_u8(v)?;
            }
            5 if is(b"maddr") => {
                Host::parse(value.ok_or(Invalid)?)?;
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
        Transport::from_bytes(self.transport)
    }

    /// The sent-by host.
    pub fn host(&self) -> Host<'a> {
        // NOTE: parse only builds a Via around a host, so the fallback is never taken.
        self.host
            .host(self.host_text)
            .unwrap_or(Host::Domain(self.host_text))
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
        self.received.ip_addr()
    }

    /// Offset in [`Via::as_bytes`] just past the name of a valueless first `rport`, where a
    /// response writes `=<port>` (RFC 3581 §4).
    pub fn bare_rport_end(&self) -> Option<usize> {
        let name = self.bare_rport?;
        // NOTE: the name is a sub-slice of the element's bytes.
        let offset = (name.as_ptr() as usize).checked_sub(self.raw.as_ptr() as usize)?;
        Some(offset + name.len()).filter(|end| *end <= self.raw.len())
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
        // Every parameter was read (and its name noted) when the Via was decoded.
        if self.param_names & name_bit(name) == 0 {
            return None;
        }
        Params::new(self.params_raw()).find(name)
    }

    pub fn params(&self) -> Params<'a> {
        Params::new(self.params_raw())
    }

    /// The parameters as received, from the first `;`; empty if none.
    pub fn params_raw(&self) -> &'a [u8] {
        self.raw.get(self.params_at..).unwrap_or_default()
    }
}

impl fmt::Debug for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Via")
            .field("raw", &self.raw)
            .field("transport", &self.transport())
            .field("host", &self.host())
            .field("port", &self.port)
            .field("params", &self.params_raw())
            .field("branch", &self.branch)
            .field("received", &self.received())
            .field("rport", &self.rport)
            .finish()
    }
}

/// `sent-protocol` (§25.1) at `s[at]`: `SIP / 2.0 / transport`, LWS allowed around each
/// `/`. Returns where the transport starts and ends. The common form `SIP/2.0/`, without LWS,
/// is recognised without a scan.
#[inline]
fn sent_protocol_end(s: &[u8], at: usize) -> Result<(usize, usize), Invalid> {
    /// `SIP/2.0/` folded (see [`fold_word`]): one compare matches it in any case.
    const SIP_2_0_SLASH: u64 = u64::from_le_bytes(*b"sip/2.0/");
    let mut i = at;
    let word = s.get(at..).and_then(<[u8]>::first_chunk::<8>);
    match word.map(|w| fold_word(u64::from_le_bytes(*w))) {
        Some(SIP_2_0_SLASH) => i += 8,
        _ => {
            let (start, end) = token_at(s, i)?;
            // NOTE: start < end <= s.len() (token_at).
            if !s[start..end].eq_ignore_ascii_case(b"SIP") {
                return Err(Invalid);
            }
            let (start, end) = token_at(s, slash_at(s, end)?)?;
            // NOTE: as above.
            if &s[start..end] != b"2.0" {
                return Err(Invalid);
            }
            i = slash_at(s, end)?;
        }
    }
    token_at(s, i)
}

/// The token after optional LWS at `s[i]`: where it starts and ends.
#[inline]
fn token_at(s: &[u8], i: usize) -> Result<(usize, usize), Invalid> {
    let start = skip_lws_from(s, i);
    let end = span_from(s, start, TOKEN);
    if end == start {
        return Err(Invalid);
    }
    Ok((start, end))
}

/// `SLASH = SWS "/" SWS` at `s[i]`; returns the index just past the `/`.
fn slash_at(s: &[u8], i: usize) -> Result<usize, Invalid> {
    let at = skip_lws_from(s, i);
    if s.get(at) == Some(&b'/') {
        Ok(at + 1)
    } else {
        Err(Invalid)
    }
}

/// The Via values of one header field, in order. A malformed or empty element yields one
/// `Err` and ends the iteration; an empty header value is an error too (§25.1: `1#via-parm`).
///
/// Each element is parsed where it starts and ends at its own `,`: the value is read once.
#[derive(Debug, Clone)]
pub struct Vias<'a> {
    value: &'a [u8],
    /// Where the next element starts; `None` once the last one has been read or one failed.
    next: Option<usize>,
}

impl<'a> Vias<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        Vias {
            value,
            next: Some(0),
        }
    }
}

impl<'a> Iterator for Vias<'a> {
    type Item = Result<Via<'a>, Invalid>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.next.take()?;
        let mut via = Via::placeholder();
        match via.read_element(self.value, at) {
            Ok(end) => {
                // `end` is a `,` (another element must follow) or the end of the value.
                self.next = (end < self.value.len()).then_some(end + 1);
                Some(Ok(via))
            }
            Err(e) => Some(Err(e)),
        }
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
    fn list_elements_end_at_their_own_comma() {
        // A quoted parameter value may hold a comma; nothing else in a via-parm can.
        let vs = all(b"SIP/2.0/UDP h;x=\"a,b\" , SIP/2.0/TCP g:5061 ,SIP/2.0/TLS [::1]").unwrap();
        assert_eq!(vs.len(), 3);
        assert_eq!(vs[0].as_bytes(), b"SIP/2.0/UDP h;x=\"a,b\"");
        assert_eq!(vs[0].params_raw(), b";x=\"a,b\"");
        assert_eq!((vs[1].port(), vs[1].params_raw()), (Some(5061), &b""[..]));
        assert_eq!(vs[2].host(), Host::V6(Ipv6Addr::LOCALHOST));
        let mut it = Vias::new(b"SIP/2.0/UDP h x, SIP/2.0/UDP g");
        assert_eq!(it.next().map(|v| v.is_err()), Some(true));
        assert!(it.next().is_none());
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

    /// Every field of two decoded Vias, as a comparable tuple.
    #[allow(clippy::type_complexity)]
    fn fields<'a>(
        v: &Via<'a>,
    ) -> (
        &'a [u8],
        &'a [u8],
        &'a [u8],
        usize,
        Option<&'a [u8]>,
        HostAddr,
        HostAddr,
        Option<u16>,
        Option<Option<u16>>,
        Option<&'a [u8]>,
        u64,
    ) {
        (
            v.raw,
            v.transport,
            v.host_text,
            v.params_at,
            v.branch,
            v.host,
            v.received,
            v.port,
            v.rport,
            v.bare_rport,
            v.param_names,
        )
    }

    /// Where the reading without LWS takes an element, the grammar's reading gives the same
    /// element and the same end.
    fn check_tight(s: &[u8]) {
        let mut tight = Via::placeholder();
        if let Some(end) = tight.read_tight(s, 0) {
            let mut full = Via::placeholder();
            assert_eq!(full.read_element_lws(s, 0), Ok(end), "{s:?}");
            assert_eq!(fields(&tight), fields(&full), "{s:?}");
        }
    }

    #[test]
    fn tight_vias_are_the_grammar_s_vias() {
        for text in [
            &b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1;rport"[..],
            b"sip/2.0/tcp host.example.com;received=192.0.2.9;ttl=9,SIP/2.0/UDP h",
            b"SIP/2.0/TLS [2001:db8::1]:5061;maddr=h.example;rport=9;branch=z9hG4bK.x",
        ] {
            assert!(Via::placeholder().read_tight(text, 0).is_some(), "{text:?}");
            for at in 0..text.len() {
                for b in 0..=255u8 {
                    let mut s = text.to_vec();
                    s[at] = b;
                    check_tight(&s);
                }
                check_tight(&text[..at]);
            }
        }
    }

    #[test]
    fn a_parameter_is_found_whether_or_not_its_name_was_noted() {
        let v = via(b"SIP/2.0/UDP h;Branch=z9hG4bK1;rport;alias;x=\"a;y=1\";maddr=m.example");
        assert_eq!(v.param(b"ALIAS"), Some(None));
        assert_eq!(v.param(b"branch"), Some(Some(&b"z9hG4bK1"[..])));
        assert_eq!(v.param(b"y"), None);
        assert_eq!(v.param(b"x"), Some(Some(&b"\"a;y=1\""[..])));
        assert_eq!(v.param(b"received"), None);
        assert_eq!(v.param(b""), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn param_lookup_is_the_search_through_the_parameters(
            s in "SIP/2\\.0/UDP h(;[a-cA-C]{1,3}(=[a-z0-9\";]{1,4})?){0,5}",
            name in "[a-cA-C]{0,3}",
        ) {
            if let Ok(v) = Via::parse(s.as_bytes()) {
                let want = Params::new(v.params_raw()).find(name.as_bytes());
                prop_assert_eq!(v.param(name.as_bytes()), want);
            }
        }

        #[test]
        fn via_shaped_text_reads_the_same_either_way(
            s in "SIP/2\\.0/[A-Za-z]{1,4} [a-z0-9.:\\[\\]]{0,14}(;[a-z]{1,8}(=[a-zA-Z0-9.:\\[\\]\"]{0,10})?){0,4}[ ,;]?",
        ) {
            check_tight(s.as_bytes());
        }

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
