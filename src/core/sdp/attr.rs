//! Attributes, RFC 8866 §5.13 (`a=<attribute-name>[:<attribute-value>]`), with typed views of
//! the ones a relay reads: `rtpmap` (§6.6), `fmtp` (§6.15), `ptime` (§6.4), `maxptime` (§6.5),
//! the direction flags (§6.7), `rtcp` (RFC 3605) and `rtcp-mux` (RFC 5761 §5.1.1).
//!
//! The parser only checks an attribute's name; typed views return `None` for a value that
//! does not match their grammar, so an odd attribute never fails a whole description.
//! [`NewAttribute`] is the write side, used by the editor and the builder.

use super::field::{decimal_u16, decimal_u32, decimal_u64, is_token, AddrType};
use super::write::push_u64;

/// One `a=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Index of the line in the description (see [`super::Sdp::line`]).
    pub line: usize,
    /// `<attribute-name>`.
    pub name: &'a str,
    /// `<attribute-value>` after the first colon; `None` for a flag such as `a=sendrecv`.
    pub value: Option<&'a [u8]>,
}

impl<'a> Attribute<'a> {
    /// Splits the value of an `a=` line into name and value; `None` if the name is not a
    /// token.
    pub fn parse(line: usize, value: &'a [u8]) -> Option<Self> {
        let (name, value) = match memchr::memchr(b':', value) {
            Some(colon) => (value.get(..colon)?, value.get(colon + 1..)),
            None => (value, None),
        };
        let name = core::str::from_utf8(name).ok().filter(|n| is_token(n))?;
        Some(Attribute { line, name, value })
    }

    /// Whether the attribute has this name (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value as UTF-8 text, `None` for a flag or non-UTF-8 bytes.
    pub fn value_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.value?).ok()
    }

    /// `a=rtpmap:` view.
    pub fn rtpmap(&self) -> Option<Rtpmap<'a>> {
        self.valued("rtpmap").and_then(Rtpmap::parse)
    }

    /// `a=fmtp:` view.
    pub fn fmtp(&self) -> Option<Fmtp<'a>> {
        let value = self.valued("fmtp")?;
        let text = core::str::from_utf8(value)
            .ok()?
            .trim_start_matches([' ', '\t']);
        let end = text.find([' ', '\t']).unwrap_or(text.len());
        let (format, params) = text.split_at(end);
        let params = params.trim_start_matches([' ', '\t']).as_bytes();
        is_token(format).then_some(Fmtp { format, params })
    }

    /// `a=ptime:` in milliseconds; a fractional part is dropped.
    pub fn ptime(&self) -> Option<u32> {
        self.valued("ptime").and_then(milliseconds)
    }

    /// `a=maxptime:` in milliseconds; a fractional part is dropped.
    pub fn maxptime(&self) -> Option<u32> {
        self.valued("maxptime").and_then(milliseconds)
    }

    /// The direction this attribute states, if it is one of the four direction flags.
    pub fn direction(&self) -> Option<Direction> {
        Direction::from_name(self.name)
    }

    /// `a=rtcp:` view (RFC 3605 §2.1).
    pub fn rtcp(&self) -> Option<Rtcp<'a>> {
        self.valued("rtcp").and_then(Rtcp::parse)
    }

    fn valued(&self, name: &str) -> Option<&'a [u8]> {
        self.value.filter(|_| self.is(name))
    }
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtpmap<'a> {
    /// RTP payload type, 0..=127.
    pub payload_type: u8,
    /// Encoding name as written (`PCMU`, `telephone-event`, `opus`, ...).
    pub encoding_name: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels (the encoding parameters of an audio format).
    pub channels: Option<u16>,
}

impl<'a> Rtpmap<'a> {
    /// Parses an `rtpmap` value; `None` if it does not match the grammar.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let text = core::str::from_utf8(value).ok()?;
        let mut fields = text.split_ascii_whitespace();
        let (pt, encoding) = (fields.next()?, fields.next()?);
        if fields.next().is_some() {
            return None;
        }
        let payload_type = decimal_u64(pt)
            .and_then(|pt| u8::try_from(pt).ok())
            .filter(|pt| *pt < 128)?;
        let mut parts = encoding.split('/');
        let encoding_name = parts.next().filter(|n| is_token(n))?;
        let clock_rate = decimal_u32(parts.next()?)?;
        let channels = match parts.next() {
            Some(c) => Some(decimal_u16(c)?),
            None => None,
        };
        parts.next().is_none().then_some(Rtpmap {
            payload_type,
            encoding_name,
            clock_rate,
            channels,
        })
    }
}

/// `a=fmtp:<format> <format specific parameters>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// `<format>`: the payload type for RTP.
    pub format: &'a str,
    /// Format-specific parameters, raw (may be empty).
    pub params: &'a [u8],
}

impl Fmtp<'_> {
    /// `<format>` as an RTP payload type, `None` if it is not one.
    pub fn payload_type(&self) -> Option<u8> {
        decimal_u64(self.format)
            .and_then(|pt| u8::try_from(pt).ok())
            .filter(|pt| *pt < 128)
    }
}

/// Media direction attributes, RFC 8866 §6.7; `sendrecv` when none is given (§6.7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `a=sendrecv`.
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction named by an attribute name (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.eq_ignore_ascii_case(d.as_str()))
    }

    /// The direction an answer states for an offer with this one (RFC 3264 §6.1), seen from
    /// the other side: `sendonly` becomes `recvonly` and the reverse.
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtcp<'a> {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address when it differs from the media connection address.
    pub address: Option<NetAddress<'a>>,
}

impl<'a> Rtcp<'a> {
    /// Parses an `rtcp` value; `None` if it does not match the grammar.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let text = core::str::from_utf8(value).ok()?;
        let mut fields = text.split_ascii_whitespace();
        let port = decimal_u16(fields.next()?)?;
        let address = match fields.next() {
            None => None,
            Some(nettype) => {
                let (addrtype, address) = (fields.next()?, fields.next()?);
                let ok = is_token(nettype) && is_token(addrtype) && is_token(address);
                if !ok || fields.next().is_some() {
                    return None;
                }
                Some(NetAddress {
                    nettype,
                    addrtype: AddrType::from_token(addrtype),
                    address,
                })
            }
        };
        Some(Rtcp { port, address })
    }
}

/// `<nettype> <addrtype> <address>` as carried by `a=rtcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetAddress<'a> {
    /// `<nettype>`, `IN`.
    pub nettype: &'a str,
    /// `<addrtype>`.
    pub addrtype: AddrType<'a>,
    /// The address as text (no brackets for IPv6).
    pub address: &'a str,
}

/// An attribute to write: the write side of [`Attribute`] and its typed views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAttribute<'b> {
    /// `a=<name>`.
    Flag(&'b str),
    /// `a=<name>:<value>`.
    Value {
        /// `<attribute-name>`, a token.
        name: &'b str,
        /// `<attribute-value>`: any bytes but NUL, CR and LF.
        value: &'b [u8],
    },
    /// `a=rtpmap:...`.
    Rtpmap(Rtpmap<'b>),
    /// `a=fmtp:...`.
    Fmtp(Fmtp<'b>),
    /// `a=ptime:<ms>`.
    Ptime(u32),
    /// `a=maxptime:<ms>`.
    Maxptime(u32),
    /// `a=sendrecv` and friends.
    Direction(Direction),
    /// `a=rtcp:...`.
    Rtcp(Rtcp<'b>),
    /// `a=rtcp-mux`.
    RtcpMux,
}

impl NewAttribute<'_> {
    /// The attribute name this writes.
    pub fn name(&self) -> &str {
        match self {
            NewAttribute::Flag(name) | NewAttribute::Value { name, .. } => name,
            NewAttribute::Rtpmap(_) => "rtpmap",
            NewAttribute::Fmtp(_) => "fmtp",
            NewAttribute::Ptime(_) => "ptime",
            NewAttribute::Maxptime(_) => "maxptime",
            NewAttribute::Direction(d) => d.as_str(),
            NewAttribute::Rtcp(_) => "rtcp",
            NewAttribute::RtcpMux => "rtcp-mux",
        }
    }

    /// Whether every text field fits the grammar (tokens are tokens, values carry no NUL,
    /// CR or LF), so that the written line parses back to the same values.
    pub fn is_valid(&self) -> bool {
        match self {
            NewAttribute::Flag(name) => is_token(name) && !name.contains(':'),
            NewAttribute::Value { name, value } => {
                is_token(name) && !name.contains(':') && is_byte_string(value)
            }
            NewAttribute::Rtpmap(r) => {
                r.payload_type < 128 && is_token(r.encoding_name) && !r.encoding_name.contains('/')
            }
            NewAttribute::Fmtp(f) => {
                is_token(f.format)
                    && is_byte_string(f.params)
                    && f.params.first().is_none_or(|b| !matches!(b, b' ' | b'\t'))
            }
            NewAttribute::Rtcp(Rtcp {
                address: Some(a), ..
            }) => is_token(a.nettype) && is_token(a.addrtype.as_str()) && is_token(a.address),
            NewAttribute::Ptime(_)
            | NewAttribute::Maxptime(_)
            | NewAttribute::Direction(_)
            | NewAttribute::Rtcp(_)
            | NewAttribute::RtcpMux => true,
        }
    }

    /// Appends `a=...` without a line end.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"a=");
        out.extend_from_slice(self.name().as_bytes());
        match self {
            NewAttribute::Flag(_) | NewAttribute::Direction(_) | NewAttribute::RtcpMux => {}
            NewAttribute::Value { value, .. } => {
                out.push(b':');
                out.extend_from_slice(value);
            }
            NewAttribute::Rtpmap(r) => {
                out.push(b':');
                push_u64(out, u64::from(r.payload_type));
                out.push(b' ');
                out.extend_from_slice(r.encoding_name.as_bytes());
                out.push(b'/');
                push_u64(out, u64::from(r.clock_rate));
                if let Some(channels) = r.channels {
                    out.push(b'/');
                    push_u64(out, u64::from(channels));
                }
            }
            NewAttribute::Fmtp(f) => {
                out.push(b':');
                out.extend_from_slice(f.format.as_bytes());
                if !f.params.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(f.params);
                }
            }
            NewAttribute::Ptime(ms) | NewAttribute::Maxptime(ms) => {
                out.push(b':');
                push_u64(out, u64::from(*ms));
            }
            NewAttribute::Rtcp(r) => {
                out.push(b':');
                push_u64(out, u64::from(r.port));
                if let Some(a) = r.address {
                    for field in [a.nettype, a.addrtype.as_str(), a.address] {
                        out.push(b' ');
                        out.extend_from_slice(field.as_bytes());
                    }
                }
            }
        }
    }
}

/// `byte-string` of RFC 8866 §9, minus the trailing whitespace this parser trims.
pub(super) fn is_byte_string(value: &[u8]) -> bool {
    !value.iter().any(|b| matches!(b, 0 | b'\r' | b'\n'))
        && value.last().is_none_or(|b| !matches!(b, b' ' | b'\t'))
}

/// `20` or `20.5` milliseconds to whole milliseconds.
fn milliseconds(value: &[u8]) -> Option<u32> {
    let text = core::str::from_utf8(value).ok()?.trim_matches([' ', '\t']);
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    fraction
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| decimal_u32(whole))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(value: &[u8]) -> Attribute<'_> {
        Attribute::parse(7, value).unwrap()
    }

    #[test]
    fn name_and_value() {
        let a = attr(b"sendrecv");
        assert_eq!((a.line, a.name, a.value), (7, "sendrecv", None));
        assert_eq!(a.direction(), Some(Direction::SendRecv));
        let a = attr(b"ice-ufrag:F7gI");
        assert_eq!((a.name, a.value), ("ice-ufrag", Some(&b"F7gI"[..])));
        let a = attr(b"candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host");
        assert_eq!(
            a.value_str(),
            Some("1 1 UDP 2130706431 10.0.1.1 8998 typ host")
        );
        assert!(Attribute::parse(0, b"").is_none());
        assert!(Attribute::parse(0, b":x").is_none());
        assert!(Attribute::parse(0, b"a b:x").is_none());
    }

    #[test]
    fn rtpmap() {
        let r = attr(b"rtpmap:101 telephone-event/8000").rtpmap().unwrap();
        assert_eq!(
            r,
            Rtpmap {
                payload_type: 101,
                encoding_name: "telephone-event",
                clock_rate: 8000,
                channels: None
            }
        );
        let r = attr(b"rtpmap:111 opus/48000/2").rtpmap().unwrap();
        assert_eq!((r.encoding_name, r.channels), ("opus", Some(2)));
        for bad in [
            &b"rtpmap:128 x/8000"[..],
            b"rtpmap:0 PCMU",
            b"rtpmap:0 PCMU/x",
            b"rtpmap:0 A/1/2/3",
            b"rtpmap:0",
        ] {
            assert_eq!(attr(bad).rtpmap(), None, "{:?}", core::str::from_utf8(bad));
        }
        assert_eq!(attr(b"fmtp:0 PCMU/8000").rtpmap(), None);
    }

    #[test]
    fn fmtp_ptime_rtcp() {
        let f = attr(b"fmtp:101 0-15").fmtp().unwrap();
        assert_eq!(
            (f.format, f.params, f.payload_type()),
            ("101", &b"0-15"[..], Some(101))
        );
        let f = attr(b"fmtp:webrtc-datachannel").fmtp().unwrap();
        assert_eq!((f.params, f.payload_type()), (&b""[..], None));
        assert_eq!(attr(b"ptime:20").ptime(), Some(20));
        assert_eq!(attr(b"ptime:20.5").ptime(), Some(20));
        assert_eq!(attr(b"ptime:x").ptime(), None);
        assert_eq!(attr(b"maxptime:150").maxptime(), Some(150));
        assert_eq!(
            attr(b"rtcp:53020").rtcp(),
            Some(Rtcp {
                port: 53020,
                address: None
            })
        );
        let r = attr(b"rtcp:53020 IN IP6 2001:2345:6789:ABCD:EF01:2345:6789:ABCD")
            .rtcp()
            .unwrap();
        let a = r.address.unwrap();
        assert_eq!(
            (a.nettype, a.addrtype, a.address),
            (
                "IN",
                AddrType::Ip6,
                "2001:2345:6789:ABCD:EF01:2345:6789:ABCD"
            )
        );
        assert_eq!(attr(b"rtcp:53020 IN IP4").rtcp(), None);
        assert_eq!(attr(b"rtcp:70000").rtcp(), None);
    }

    #[test]
    fn write_then_parse() {
        let cases = [
            NewAttribute::Flag("rtcp-mux"),
            NewAttribute::Value {
                name: "tool",
                value: b"drongo 1.0",
            },
            NewAttribute::Rtpmap(Rtpmap {
                payload_type: 0,
                encoding_name: "PCMU",
                clock_rate: 8000,
                channels: None,
            }),
            NewAttribute::Fmtp(Fmtp {
                format: "101",
                params: b"0-16",
            }),
            NewAttribute::Ptime(20),
            NewAttribute::Direction(Direction::SendOnly),
            NewAttribute::Rtcp(Rtcp {
                port: 9,
                address: Some(NetAddress {
                    nettype: "IN",
                    addrtype: AddrType::Ip4,
                    address: "192.0.2.1",
                }),
            }),
        ];
        for new in cases {
            assert!(new.is_valid());
            let mut out = Vec::new();
            new.write(&mut out);
            let a = Attribute::parse(0, out.strip_prefix(b"a=").unwrap()).unwrap();
            assert_eq!(a.name, new.name());
            match new {
                NewAttribute::Rtpmap(r) => assert_eq!(a.rtpmap(), Some(r)),
                NewAttribute::Fmtp(f) => assert_eq!(a.fmtp(), Some(f)),
                NewAttribute::Rtcp(r) => assert_eq!(a.rtcp(), Some(r)),
                NewAttribute::Direction(d) => assert_eq!(a.direction(), Some(d)),
                _ => {}
            }
        }
        assert!(!NewAttribute::Flag("a b").is_valid());
        assert!(!NewAttribute::Value {
            name: "x",
            value: b"a\r\nb"
        }
        .is_valid());
    }
}
