//! Writing a fresh session description from values, in RFC 8866 §5 line order:
//! `v o s c b t a`, then per media section `m c b a`.
//!
//! [`SdpBuilder`] holds borrowed values and checks them when written, so whatever it writes
//! parses back to the same values. [`IpText`] formats an IP address on the stack for the
//! text fields the builder takes.

use core::fmt::{self, Write as _};
use std::net::IpAddr;

use smallvec::SmallVec;

use super::attr::{is_byte_string, NewAttribute};
use super::field::{is_token, AddrType, Bandwidth, Connection, Origin, Timing};
use super::write::{push_u64, EditError};

/// A session description to write.
///
/// ```
/// use drongo::core::sdp::*;
/// let ip = IpText::new("192.0.2.10".parse().unwrap());
/// let origin = Origin {
///     username: "-", sess_id: "1", sess_version: "1",
///     nettype: "IN", addrtype: AddrType::Ip4, unicast_address: ip.as_str(),
/// };
/// let audio = MediaBuilder::new("audio", 30000, "RTP/AVP")
///     .format("0")
///     .attribute(NewAttribute::Direction(Direction::SendRecv));
/// let mut out = Vec::new();
/// SdpBuilder::new(origin, b"-")
///     .connection(Connection::unicast(AddrType::Ip4, ip.as_str()))
///     .media(audio)
///     .write_to(&mut out)
///     .unwrap();
/// assert!(Sdp::parse(&out).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct SdpBuilder<'b> {
    origin: Origin<'b>,
    session_name: &'b [u8],
    connection: Option<Connection<'b>>,
    bandwidths: SmallVec<[Bandwidth<'b>; 1]>,
    timing: Timing,
    attributes: SmallVec<[NewAttribute<'b>; 4]>,
    media: SmallVec<[MediaBuilder<'b>; 2]>,
}

impl<'b> SdpBuilder<'b> {
    /// A description with this origin and session name (`s= ` is written for an empty
    /// name), timing `0 0`, no connection, attributes or media.
    pub fn new(origin: Origin<'b>, session_name: &'b [u8]) -> Self {
        SdpBuilder {
            origin,
            session_name,
            connection: None,
            bandwidths: SmallVec::new(),
            timing: Timing::default(),
            attributes: SmallVec::new(),
            media: SmallVec::new(),
        }
    }

    /// Sets the session-level `c=`.
    pub fn connection(mut self, connection: Connection<'b>) -> Self {
        self.connection = Some(connection);
        self
    }

    /// Adds a session-level `b=`.
    pub fn bandwidth(mut self, bandwidth: Bandwidth<'b>) -> Self {
        self.bandwidths.push(bandwidth);
        self
    }

    /// Sets `t=` (default `0 0`).
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Adds a session-level attribute.
    pub fn attribute(mut self, attribute: NewAttribute<'b>) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds a media section.
    pub fn media(mut self, media: MediaBuilder<'b>) -> Self {
        self.media.push(media);
        self
    }

    /// Appends the description to `out`, CRLF line ends. On `Err(EditError::BadValue)` a
    /// value would not parse back and `out` is left as it was.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), EditError> {
        if !self.is_valid() {
            return Err(EditError::BadValue);
        }
        let o = &self.origin;
        out.extend_from_slice(b"v=0\r\no=");
        let origin_fields = [
            o.username,
            o.sess_id,
            o.sess_version,
            o.nettype,
            o.addrtype.as_str(),
        ];
        for field in origin_fields {
            out.extend_from_slice(field.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(o.unicast_address.as_bytes());
        out.extend_from_slice(b"\r\ns=");
        out.extend_from_slice(if self.session_name.is_empty() {
            b" "
        } else {
            self.session_name
        });
        out.extend_from_slice(b"\r\n");
        write_connection_and_bandwidth(out, self.connection.as_ref(), &self.bandwidths);
        out.extend_from_slice(b"t=");
        push_u64(out, self.timing.start);
        out.push(b' ');
        push_u64(out, self.timing.stop);
        out.extend_from_slice(b"\r\n");
        write_attributes(out, &self.attributes);
        for media in &self.media {
            media.write(out);
        }
        Ok(())
    }

    fn is_valid(&self) -> bool {
        let o = &self.origin;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        is_token(o.username)
            && digits(o.sess_id)
            && digits(o.sess_version)
            && is_token(o.nettype)
            && is_token(o.addrtype.as_str())
            && is_token(o.unicast_address)
            && is_byte_string(self.session_name)
            && self.connection.as_ref().is_none_or(connection_is_valid)
            && self.bandwidths.iter().all(bandwidth_is_valid)
            && self.attributes.iter().all(NewAttribute::is_valid)
            && self.media.iter().all(MediaBuilder::is_valid)
    }
}

/// A media section to write.
#[derive(Debug, Clone)]
pub struct MediaBuilder<'b> {
    media: &'b str,
    port: u16,
    port_count: Option<u16>,
    proto: &'b str,
    formats: SmallVec<[&'b str; 8]>,
    connection: Option<Connection<'b>>,
    bandwidths: SmallVec<[Bandwidth<'b>; 1]>,
    attributes: SmallVec<[NewAttribute<'b>; 8]>,
}

impl<'b> MediaBuilder<'b> {
    /// `m=<media> <port> <proto>` with no formats yet.
    pub fn new(media: &'b str, port: u16, proto: &'b str) -> Self {
        MediaBuilder {
            media,
            port,
            port_count: None,
            proto,
            formats: SmallVec::new(),
            connection: None,
            bandwidths: SmallVec::new(),
            attributes: SmallVec::new(),
        }
    }

    /// Sets `<number of ports>` (written as `<port>/<n>`).
    pub fn port_count(mut self, count: u16) -> Self {
        self.port_count = Some(count);
        self
    }

    /// Appends a `<fmt>`.
    pub fn format(mut self, format: &'b str) -> Self {
        self.formats.push(format);
        self
    }

    /// Sets the media-level `c=`.
    pub fn connection(mut self, connection: Connection<'b>) -> Self {
        self.connection = Some(connection);
        self
    }

    /// Adds a media-level `b=`.
    pub fn bandwidth(mut self, bandwidth: Bandwidth<'b>) -> Self {
        self.bandwidths.push(bandwidth);
        self
    }

    /// Adds a media-level attribute.
    pub fn attribute(mut self, attribute: NewAttribute<'b>) -> Self {
        self.attributes.push(attribute);
        self
    }

    fn is_valid(&self) -> bool {
        is_token(self.media)
            && is_token(self.proto)
            && self.port_count != Some(0)
            && (!self.formats.is_empty() || self.port == 0)
            && self.formats.iter().all(|f| is_token(f))
            && self.connection.as_ref().is_none_or(connection_is_valid)
            && self.bandwidths.iter().all(bandwidth_is_valid)
            && self.attributes.iter().all(NewAttribute::is_valid)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"m=");
        out.extend_from_slice(self.media.as_bytes());
        out.push(b' ');
        push_u64(out, u64::from(self.port));
        if let Some(count) = self.port_count {
            out.push(b'/');
            push_u64(out, u64::from(count));
        }
        out.push(b' ');
        out.extend_from_slice(self.proto.as_bytes());
        for format in &self.formats {
            out.push(b' ');
            out.extend_from_slice(format.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        write_connection_and_bandwidth(out, self.connection.as_ref(), &self.bandwidths);
        write_attributes(out, &self.attributes);
    }
}

/// An IP address formatted on the stack, for the text fields of [`SdpBuilder`] values.
#[derive(Clone, Copy)]
pub struct IpText {
    buf: [u8; 45],
    len: u8,
}

impl IpText {
    /// Formats `ip` (IPv6 without brackets, RFC 5952 form as `std` writes it).
    pub fn new(ip: IpAddr) -> Self {
        let mut text = IpText {
            buf: [0; 45],
            len: 0,
        };
        // NOTE: the longest IPv6 text is 45 bytes (INET6_ADDRSTRLEN - 1), so this fits.
        let _ = write!(text, "{ip}");
        text
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

impl fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        let slot = self.buf.get_mut(at..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = u8::try_from(end).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

impl fmt::Debug for IpText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn connection_is_valid(c: &Connection<'_>) -> bool {
    let suffix_ok = match c.addrtype {
        AddrType::Ip4 => c.numaddr.is_none() || c.ttl.is_some(),
        AddrType::Ip6 => c.ttl.is_none(),
        AddrType::Other(_) => c.ttl.is_none() && c.numaddr.is_none(),
    };
    suffix_ok
        && c.numaddr != Some(0)
        && is_token(c.nettype)
        && is_token(c.addrtype.as_str())
        && is_token(c.address)
        && !c.address.contains('/')
}

fn bandwidth_is_valid(b: &Bandwidth<'_>) -> bool {
    is_token(b.bwtype) && !b.bwtype.contains(':')
}

fn write_connection_and_bandwidth(
    out: &mut Vec<u8>,
    connection: Option<&Connection<'_>>,
    bandwidths: &[Bandwidth<'_>],
) {
    if let Some(c) = connection {
        out.extend_from_slice(b"c=");
        for field in [c.nettype, c.addrtype.as_str()] {
            out.extend_from_slice(field.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(c.address.as_bytes());
        for n in [c.ttl.map(u64::from), c.numaddr.map(u64::from)]
            .into_iter()
            .flatten()
        {
            out.push(b'/');
            push_u64(out, n);
        }
        out.extend_from_slice(b"\r\n");
    }
    for b in bandwidths {
        out.extend_from_slice(b"b=");
        out.extend_from_slice(b.bwtype.as_bytes());
        out.push(b':');
        push_u64(out, b.bandwidth);
        out.extend_from_slice(b"\r\n");
    }
}

fn write_attributes(out: &mut Vec<u8>, attributes: &[NewAttribute<'_>]) {
    for attribute in attributes {
        attribute.write(out);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text() {
        for text in [
            "192.0.2.1",
            "2001:db8::1",
            "::ffff:192.0.2.1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(IpText::new(text.parse().unwrap()).as_str(), text);
        }
    }

    #[test]
    fn refuses_values_that_would_not_parse_back() {
        let origin = Origin {
            username: "-",
            sess_id: "1",
            sess_version: "1",
            nettype: "IN",
            addrtype: AddrType::Ip4,
            unicast_address: "192.0.2.1",
        };
        let mut out = b"keep".to_vec();
        let bad = SdpBuilder::new(
            Origin {
                username: "a b",
                ..origin
            },
            b"-",
        );
        assert_eq!(bad.write_to(&mut out), Err(EditError::BadValue));
        let bad = SdpBuilder::new(origin, b"x\r\ny");
        assert_eq!(bad.write_to(&mut out), Err(EditError::BadValue));
        let bad = SdpBuilder::new(origin, b"-").media(MediaBuilder::new("audio", 1, "RTP/AVP"));
        assert_eq!(bad.write_to(&mut out), Err(EditError::BadValue));
        let c = Connection {
            numaddr: Some(2),
            ..Connection::unicast(AddrType::Ip4, "224.0.0.1")
        };
        let bad = SdpBuilder::new(origin, b"-").connection(c);
        assert_eq!(bad.write_to(&mut out), Err(EditError::BadValue));
        assert_eq!(out, b"keep");
    }
}
