//! The host of a URI or a Via sent-by (RFC 3261 §25.1 `host`): a hostname, an IPv4 address
//! or an IPv6 reference, decoded once and kept in a form that copies cheaply.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use crate::core::sip::text::{hostname_prefix, in_class, ipv4_prefix, parse_ipv6, Invalid, HOST};

/// A host (RFC 3261 §25.1 `host`): a hostname, an IPv4 address or an IPv6 reference.
/// Hostnames compare case-insensitively.
#[derive(Debug, Clone, Copy)]
pub enum Host<'a> {
    Domain(&'a [u8]),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// What a view keeps of a decoded host besides its text: which form it has and, for an IP
/// literal, the address. Plain fields, so a view holding one copies as a few word moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostAddr {
    kind: HostKind,
    /// The address of an IP literal: all 16 octets of an IPv6 address, or the IPv4 address
    /// in the first 4.
    octets: [u8; 16],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostKind {
    None,
    Domain,
    V4,
    V6,
}

impl<'a> Host<'a> {
    /// Parses exactly one `host`: `hostname`, `IPv4address` or `"[" IPv6address "]"`.
    ///
    /// Hostnames follow §25.1 strictly: labels of alphanumerics and inner hyphens, the last one
    /// starting with a letter, optionally a final dot. A dotted run of digits that is not a valid
    /// IPv4 address (`192.0.2.256`) is therefore an error, as is an IPv6 address without
    /// brackets (RFC 5118 §4.2).
    pub fn parse(s: &'a [u8]) -> Result<Self, Invalid> {
        match host_prefix(s)? {
            (addr, n) if n == s.len() => addr.host(s).ok_or(Invalid),
            _ => Err(Invalid),
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

impl HostAddr {
    pub(crate) const NONE: HostAddr = HostAddr {
        kind: HostKind::None,
        octets: [0; 16],
    };
    pub(crate) const DOMAIN: HostAddr = HostAddr {
        kind: HostKind::Domain,
        octets: [0; 16],
    };

    #[inline]
    pub(crate) fn v4(a: Ipv4Addr) -> Self {
        let mut octets = [0; 16];
        let [a, b, c, d] = a.octets();
        (octets[0], octets[1], octets[2], octets[3]) = (a, b, c, d);
        HostAddr {
            kind: HostKind::V4,
            octets,
        }
    }

    #[inline]
    pub(crate) fn v6(a: Ipv6Addr) -> Self {
        HostAddr {
            kind: HostKind::V6,
            octets: a.octets(),
        }
    }

    #[inline]
    pub(crate) fn ip(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => HostAddr::v4(a),
            IpAddr::V6(a) => HostAddr::v6(a),
        }
    }

    /// The host, `text` being how it was written; `None` if there is none.
    #[inline]
    pub(crate) fn host<'a>(&self, text: &'a [u8]) -> Option<Host<'a>> {
        match self.kind {
            HostKind::None => None,
            HostKind::Domain => Some(Host::Domain(text)),
            HostKind::V4 => Some(Host::V4(self.v4_addr())),
            HostKind::V6 => Some(Host::V6(Ipv6Addr::from(self.octets))),
        }
    }

    /// The address of an IP literal.
    #[inline]
    pub(crate) fn ip_addr(&self) -> Option<IpAddr> {
        match self.kind {
            HostKind::None | HostKind::Domain => None,
            HostKind::V4 => Some(IpAddr::V4(self.v4_addr())),
            HostKind::V6 => Some(IpAddr::V6(Ipv6Addr::from(self.octets))),
        }
    }

    fn v4_addr(&self) -> Ipv4Addr {
        let [a, b, c, d, ..] = self.octets;
        Ipv4Addr::new(a, b, c, d)
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

/// The host at the start of `s` and its length: `"[" IPv6address "]"`, or the run of
/// alphanumerics, `-` and `.` there, which must be an `IPv4address` or a `hostname`. A run of
/// digits and dots can only be an IPv4 address (the last label of a hostname starts with a
/// letter), so a run that starts with a digit is read as one first.
#[inline(always)]
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
