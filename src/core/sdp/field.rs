//! Values of the structural SDP lines, RFC 8866 §5: origin (§5.2), connection (§5.7),
//! bandwidth (§5.8), timing (§5.9) and media (§5.14), plus the lexical helpers they share.
//!
//! Each value is a zero-copy view over the line's value bytes. Fields are separated by one
//! or more SP or HTAB (the grammar says exactly one SP; real user agents are looser). Tokens
//! must be visible US-ASCII, numbers are plain decimal digits (no sign) that fit their type.

use std::net::IpAddr;

/// The `<addrtype>` of origin, connection and `a=rtcp` lines (RFC 8866 §5.2, §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType<'a> {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
    /// Any other token (registered extensions, kept as text).
    Other(&'a str),
}

impl<'a> AddrType<'a> {
    /// Classifies an `<addrtype>` token; `IP4`/`IP6` match case-insensitively.
    pub fn from_token(token: &'a str) -> Self {
        if token.eq_ignore_ascii_case("IP4") {
            AddrType::Ip4
        } else if token.eq_ignore_ascii_case("IP6") {
            AddrType::Ip6
        } else {
            AddrType::Other(token)
        }
    }

    /// The address type an IP address is written with.
    pub fn of(ip: &IpAddr) -> AddrType<'static> {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }

    /// The token as written on the wire (`IP4`, `IP6` or the original token).
    pub fn as_str(&self) -> &'a str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
            AddrType::Other(token) => token,
        }
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 §5.2).
///
/// `sess-id` and `sess-version` are kept as digit strings: the grammar puts no bound on their
/// length and user agents do send values wider than 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// `<username>`, `-` when the host has no user ids. Liberal: a username containing
    /// spaces is accepted (the last five fields are fixed, the rest is the username).
    pub username: &'a str,
    /// `<sess-id>`, decimal digits.
    pub sess_id: &'a str,
    /// `<sess-version>`, decimal digits; bumped on every change of the description.
    pub sess_version: &'a str,
    /// `<nettype>`, `IN` for the Internet.
    pub nettype: &'a str,
    /// `<addrtype>`.
    pub addrtype: AddrType<'a>,
    /// `<unicast-address>`: an address or FQDN, as text.
    pub unicast_address: &'a str,
}

impl<'a> Origin<'a> {
    /// Parses the value of an `o=` line; `None` if it does not match the grammar.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let mut rest = core::str::from_utf8(value).ok()?;
        let mut last = [""; 5];
        for slot in last.iter_mut().rev() {
            let (head, field) = split_last_field(rest)?;
            *slot = field;
            rest = head;
        }
        let [sess_id, sess_version, nettype, addrtype, unicast_address] = last;
        let username = rest.trim_matches(is_ws_char);
        let ok = !username.is_empty()
            && is_digits(sess_id)
            && is_digits(sess_version)
            && is_token(nettype)
            && is_token(addrtype)
            && is_token(unicast_address);
        ok.then(|| Origin {
            username,
            sess_id,
            sess_version,
            nettype,
            addrtype: AddrType::from_token(addrtype),
            unicast_address,
        })
    }

    /// `<sess-version>` as a number, `None` if it does not fit 64 bits.
    pub fn sess_version_u64(&self) -> Option<u64> {
        decimal_u64(self.sess_version)
    }

    /// `<unicast-address>` as an IP address, `None` for an FQDN or garbage.
    pub fn ip(&self) -> Option<IpAddr> {
        parse_ip(self.addrtype, self.unicast_address)
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
///
/// A multicast `<connection-address>` is split into its base address, TTL (IP4 only) and
/// number of addresses: `224.2.1.1/127/3` gives `address = "224.2.1.1"`, `ttl = Some(127)`,
/// `numaddr = Some(3)`; `FF15::101/3` gives `numaddr = Some(3)`. Addresses are text and are not
/// checked against their `<addrtype>`, so `IN IP4 ::ffff:192.0.2.1` is accepted as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// `<nettype>`, `IN` for the Internet.
    pub nettype: &'a str,
    /// `<addrtype>`.
    pub addrtype: AddrType<'a>,
    /// The address (or FQDN) without any `/ttl` or `/numaddr` suffix. IPv6 has no brackets.
    pub address: &'a str,
    /// IP4 multicast TTL.
    pub ttl: Option<u8>,
    /// Number of consecutive multicast addresses.
    pub numaddr: Option<u32>,
}

impl<'a> Connection<'a> {
    /// A unicast connection for `address` of the given type, network type `IN`.
    pub fn unicast(addrtype: AddrType<'a>, address: &'a str) -> Self {
        Connection {
            nettype: "IN",
            addrtype,
            address,
            ttl: None,
            numaddr: None,
        }
    }

    /// Parses the value of a `c=` line; `None` if it does not match the grammar.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let value = core::str::from_utf8(value).ok()?;
        let mut fields = value.split_ascii_whitespace();
        let (nettype, addrtype, full) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || !is_token(nettype) || !is_token(addrtype) {
            return None;
        }
        let addrtype = AddrType::from_token(addrtype);
        let mut parts = full.split('/');
        let address = parts.next()?;
        let (ttl, numaddr) = match addrtype {
            AddrType::Ip4 => {
                let ttl = optional(
                    parts
                        .next()
                        .map(|t| decimal_u64(t).and_then(|t| u8::try_from(t).ok())),
                )?;
                (ttl, optional(parts.next().map(decimal_u32))?)
            }
            AddrType::Ip6 => (None, optional(parts.next().map(decimal_u32))?),
            AddrType::Other(_) => (None, None),
        };
        if parts.next().is_some() || !is_token(address) || numaddr == Some(0) {
            return None;
        }
        Some(Connection {
            nettype,
            addrtype,
            address,
            ttl,
            numaddr,
        })
    }

    /// The address as an IP address, `None` for an FQDN or garbage. An IPv4-mapped IPv6
    /// address under `IP4` yields the IPv4 address.
    pub fn ip(&self) -> Option<IpAddr> {
        parse_ip(self.addrtype, self.address)
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// `<bwtype>`: `CT`, `AS`, `TIAS` (RFC 3890), `RS`/`RR` (RFC 3556) or another token.
    pub bwtype: &'a str,
    /// `<bandwidth>`, in the unit `bwtype` defines (kbit/s for CT and AS).
    pub bandwidth: u64,
}

impl<'a> Bandwidth<'a> {
    /// Parses the value of a `b=` line; `None` if it does not match the grammar.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let value = core::str::from_utf8(value).ok()?;
        let (bwtype, bandwidth) = value.split_once(':')?;
        let bandwidth = decimal_u64(bandwidth.trim_matches(is_ws_char))?;
        is_token(bwtype).then_some(Bandwidth { bwtype, bandwidth })
    }
}

/// `t=<start-time> <stop-time>` (RFC 8866 §5.9), NTP seconds; `0 0` is an unbounded session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// `<start-time>`.
    pub start: u64,
    /// `<stop-time>`.
    pub stop: u64,
}

impl Timing {
    /// Parses the value of a `t=` line; `None` if it does not match the grammar.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let value = core::str::from_utf8(value).ok()?;
        let mut fields = value.split_ascii_whitespace();
        let (start, stop) = (decimal_u64(fields.next()?)?, decimal_u64(fields.next()?)?);
        fields.next().is_none().then_some(Timing { start, stop })
    }
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 §5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLine<'a> {
    /// `<media>`: `audio`, `video`, `text`, `application`, `message` or another token.
    pub media: &'a str,
    /// `<port>`; 0 rejects or disables the stream (RFC 3264 §5.1).
    pub port: u16,
    /// `<number of ports>` after a slash, if present.
    pub port_count: Option<u16>,
    /// `<proto>`: `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...
    pub proto: &'a str,
    /// The `<fmt>` list as written, formats separated by whitespace.
    pub fmt: &'a str,
}

impl<'a> MediaLine<'a> {
    /// Parses the value of an `m=` line; `None` if it does not match the grammar.
    ///
    /// The grammar asks for at least one `<fmt>`; a rejected stream (port 0) without any is
    /// accepted, as some user agents send it.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let value = core::str::from_utf8(value).ok()?;
        let value = value.trim_start_matches(is_ws_char);
        let (media, rest) = split_first_field(value)?;
        let (port_field, rest) = split_first_field(rest)?;
        let (proto, fmt) = split_first_field(rest)?;
        let (port, port_count) = match port_field.split_once('/') {
            Some((port, count)) => (port, Some(decimal_u16(count).filter(|&c| c > 0)?)),
            None => (port_field, None),
        };
        let port = decimal_u16(port)?;
        let fmt = fmt.trim_matches(is_ws_char);
        let ok = is_token(media)
            && is_token(proto)
            && (!fmt.is_empty() || port == 0)
            && fmt.bytes().all(|b| b.is_ascii_graphic() || is_ws(b));
        ok.then_some(MediaLine {
            media,
            port,
            port_count,
            proto,
            fmt,
        })
    }

    /// The `<fmt>` tokens in order (RTP payload type numbers for RTP profiles).
    pub fn formats(&self) -> core::str::SplitAsciiWhitespace<'a> {
        self.fmt.split_ascii_whitespace()
    }
}

/// Parses an address as IP, folding an IPv4-mapped IPv6 address under `IP4` to IPv4.
fn parse_ip(addrtype: AddrType<'_>, address: &str) -> Option<IpAddr> {
    let ip: IpAddr = address.parse().ok()?;
    match (addrtype, ip) {
        (AddrType::Ip4, IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4),
        (AddrType::Ip4, IpAddr::V4(_)) | (AddrType::Ip6, IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

/// An optional field that must parse when present: absent gives `Some(None)`, present and
/// parsed gives `Some(Some(v))`, present and malformed gives `None`.
fn optional<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    field.map_or(Some(None), |v| v.map(Some))
}

/// SP or HTAB, the field separators this codec accepts.
pub(super) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_ws_char(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits off the first whitespace-delimited field; the rest keeps its leading whitespace.
fn split_first_field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(is_ws_char);
    let end = s.find(is_ws_char).unwrap_or(s.len());
    let (field, rest) = s.split_at(end);
    (!field.is_empty()).then_some((field, rest))
}

/// Splits off the last whitespace-delimited field.
fn split_last_field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_end_matches(is_ws_char);
    let start = s.rfind(is_ws_char).map_or(0, |i| i + 1);
    let (head, field) = s.split_at(start);
    (!field.is_empty()).then_some((head, field))
}

/// A token: non-empty visible US-ASCII (RFC 8866 §9 `token` is a subset of this).
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Plain decimal digits to `u64`; `None` on anything else or on overflow.
pub(super) fn decimal_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

pub(super) fn decimal_u32(s: &str) -> Option<u32> {
    decimal_u64(s).and_then(|v| u32::try_from(v).ok())
}

pub(super) fn decimal_u16(s: &str) -> Option<u16> {
    decimal_u64(s).and_then(|v| u16::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_fields() {
        let o = Origin::parse(b"jdoe 3724394400 3724394405 IN IP4 198.51.100.1").unwrap();
        assert_eq!(o.username, "jdoe");
        assert_eq!(o.sess_id, "3724394400");
        assert_eq!(o.sess_version_u64(), Some(3724394405));
        assert_eq!((o.nettype, o.addrtype), ("IN", AddrType::Ip4));
        assert_eq!(o.ip(), Some("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn origin_username_with_spaces_and_long_version() {
        let o = Origin::parse(b"Cisco SIP  1 123456789012345678901234567890 IN IP6 ::1").unwrap();
        assert_eq!(o.username, "Cisco SIP");
        assert_eq!(o.sess_version, "123456789012345678901234567890");
        assert_eq!(o.sess_version_u64(), None);
        assert_eq!(o.addrtype, AddrType::Ip6);
    }

    #[test]
    fn origin_rejects() {
        for bad in [
            &b""[..],
            b"a 1 2 IN IP4",
            b"a x 2 IN IP4 h",
            b"a 1 -2 IN IP4 h",
            b"1 2 IN IP4 h",
        ] {
            assert_eq!(Origin::parse(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn connection_forms() {
        let c = Connection::parse(b"IN IP4 224.2.1.1/127/3").unwrap();
        assert_eq!(
            (c.address, c.ttl, c.numaddr),
            ("224.2.1.1", Some(127), Some(3))
        );
        let c = Connection::parse(b"IN IP6 FF15::101/3").unwrap();
        assert_eq!((c.address, c.ttl, c.numaddr), ("FF15::101", None, Some(3)));
        let c = Connection::parse(b"IN IP6 2001:db8::1").unwrap();
        assert_eq!(c.ip(), Some("2001:db8::1".parse().unwrap()));
        let c = Connection::parse(b"IN IP4 ::ffff:192.0.2.1").unwrap();
        assert_eq!(c.address, "::ffff:192.0.2.1");
        assert_eq!(c.ip(), Some("192.0.2.1".parse().unwrap()));
        let c = Connection::parse(b"IN IP4 host.example.com").unwrap();
        assert_eq!(c.ip(), None);
    }

    #[test]
    fn connection_rejects() {
        for bad in [
            &b"IN IP4"[..],
            b"IN IP4 1.2.3.4 extra",
            b"IN IP4 224.2.1.1/256",
            b"IN IP4 224.2.1.1/1/0",
            b"IN IP4 224.2.1.1/1/2/3",
            b"IN IP6 ff15::1/x",
            b"IN IP4 /1",
        ] {
            assert_eq!(
                Connection::parse(bad),
                None,
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn media_line() {
        let m = MediaLine::parse(b"audio 49170/2 RTP/AVP 0 8 101").unwrap();
        assert_eq!(
            (m.media, m.port, m.port_count, m.proto),
            ("audio", 49170, Some(2), "RTP/AVP")
        );
        assert!(m.formats().eq(["0", "8", "101"]));
        assert!(MediaLine::parse(b"video 0 RTP/AVP").is_some());
        for bad in [
            &b"audio 49170"[..],
            b"audio 49170 RTP/AVP",
            b"audio 65536 RTP/AVP 0",
        ] {
            assert_eq!(MediaLine::parse(bad), None);
        }
        assert_eq!(MediaLine::parse(b"audio x RTP/AVP 0"), None);
        assert_eq!(MediaLine::parse(b"audio 1/0 RTP/AVP 0"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(decimal_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal_u64("18446744073709551616"), None);
        assert_eq!(decimal_u64("+1"), None);
        assert_eq!(decimal_u16("65536"), None);
        assert_eq!(Timing::parse(b"0 0"), Some(Timing { start: 0, stop: 0 }));
        assert_eq!(Timing::parse(b"0"), None);
        let b = Bandwidth::parse(b"AS:64").unwrap();
        assert_eq!((b.bwtype, b.bandwidth), ("AS", 64));
        assert_eq!(Bandwidth::parse(b"AS:"), None);
    }
}
