//! What the core tells the transport about connections, and what the transport tells the core
//! about messages and flows that failed. Types and pure rules only; the shard keeps the queues.
//!
//! - [`ConnCommand`]: the shard asks the shell to treat a connection specially: keep it open
//!   and probe it with keep-alives (RFC 5626 §4.4.1), or reuse it for requests to the sent-by
//!   address its peer announced with `alias` (RFC 5923).
//! - [`TransportError`]: a message the shell could not deliver (its connection could not be
//!   opened, or closed before the message left), or a kept flow that ended. Each names the
//!   opaque token the core put on the message's [`Transmit`](super::shard::Transmit), so a
//!   client transaction can match it (RFC 3261 §17.1.4).
//!
//! The addressing rules for messages over TCP live here too: where a response goes when the
//! connection of its request has closed (§18.2.2), and which address an `alias` names.

use std::net::{IpAddr, SocketAddr};

use super::shard::ConnId;
use crate::core::sip::headers::Via;
use crate::core::sip::uri::Host;

/// The port a sent-by without one means for SIP over TCP (RFC 3261 §18.2.2, §19.1.2).
pub const DEFAULT_PORT: u16 = 5060;

/// A request from the shard to the shell about one of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnCommand {
    /// Keep connection `conn` open while its peer answers keep-alives: the shell stops
    /// applying the idle timeout to it, sends a double-CRLF ping whenever it has read nothing
    /// for the keep-alive interval, and closes it when no byte comes back within the
    /// keep-alive timeout (RFC 5626 §4.4.1), reporting [`TransportError::FlowFailed`].
    /// Connections the shell opens itself are kept from the start. The connection may be
    /// another shard's (its id names the owner): the shell has the owner keep it and reports
    /// its end to this shard as well; one that is already gone is reported failed at once.
    KeepAlive(ConnId),
    /// Requests for `sent_by` may use connection `conn` (RFC 5923 §5: its peer sent a request
    /// whose top Via carries `alias`).
    Alias { conn: ConnId, sent_by: SocketAddr },
}

/// A failure the shell reports to the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// The message sent with `token` to `remote` did not leave: its connection could not be
    /// opened (refused, unreachable, timed out), was over its send cap, or closed first.
    Undelivered { token: u64, remote: SocketAddr },
    /// Connection `conn` to `remote`, which the shard asked to keep (or which Drongo opened),
    /// has ended: its peer stopped answering keep-alives, closed it or reset it.
    FlowFailed { conn: ConnId, remote: SocketAddr },
}

/// RFC 3261 §18.2.2 for reliable transports: where to open a new connection for a response
/// whose request came over a connection that has since closed. The `received` address when
/// the top Via has one, else the request's source address (which is the sent-by host, or what
/// `received` would have said; no DNS); the sent-by port, or 5060. `rport` is not used: RFC
/// 3581 §4 applies it to unreliable transports only, and a TCP client's source port is an
/// ephemeral one nobody listens on.
pub fn stream_fallback(via: &Via<'_>, source: SocketAddr) -> SocketAddr {
    let ip = via.received().unwrap_or(source.ip());
    SocketAddr::new(ip, via.port().unwrap_or(DEFAULT_PORT))
}

/// RFC 5923 §5: the address a request's top Via aliases to the connection it came on, if it
/// carries `alias`. Only a sent-by that is the connection's own source IP counts (any port),
/// so a peer cannot claim requests meant for another host; a host name is never resolved.
pub fn alias(via: &Via<'_>, source: SocketAddr) -> Option<SocketAddr> {
    via.param(b"alias")?;
    let ip = match via.host() {
        Host::V4(ip) => IpAddr::V4(ip),
        Host::V6(ip) => IpAddr::V6(ip),
        Host::Domain(_) => return None,
    };
    (canonical(ip) == canonical(source.ip()))
        .then(|| SocketAddr::new(source.ip(), via.port().unwrap_or(DEFAULT_PORT)))
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(text: &str) -> Via<'_> {
        Via::parse(text.as_bytes()).expect("via")
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn fallback_is_received_or_source_with_the_sent_by_port() {
        let from = sa("192.0.2.7:40123");
        assert_eq!(
            stream_fallback(&via("SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK1"), from),
            sa("192.0.2.7:5070")
        );
        assert_eq!(
            stream_fallback(&via("SIP/2.0/TCP pbx.example.com;branch=z9hG4bK1"), from),
            sa("192.0.2.7:5060"),
            "a host name is not resolved: the source address stands in for it"
        );
        assert_eq!(
            stream_fallback(
                &via("SIP/2.0/TCP 10.0.0.1:5080;received=198.51.100.1;branch=z9hG4bK1"),
                from
            ),
            sa("198.51.100.1:5080")
        );
        assert_eq!(
            stream_fallback(
                &via("SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK1;rport"),
                from
            ),
            sa("192.0.2.7:5060"),
            "rport is for unreliable transports"
        );
    }

    #[test]
    fn alias_needs_the_parameter_and_the_source_ip() {
        let from = sa("192.0.2.7:40123");
        assert_eq!(
            alias(
                &via("SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK1;alias"),
                from
            ),
            Some(sa("192.0.2.7:5070"))
        );
        assert_eq!(
            alias(&via("SIP/2.0/TCP 192.0.2.7;alias;branch=z9hG4bK1"), from),
            Some(sa("192.0.2.7:5060"))
        );
        assert_eq!(
            alias(&via("SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK1"), from),
            None
        );
        assert_eq!(
            alias(&via("SIP/2.0/TCP 192.0.2.8:5070;alias"), from),
            None,
            "another host's address"
        );
        assert_eq!(
            alias(&via("SIP/2.0/TCP pbx.example.com:5070;alias"), from),
            None
        );
        let v6 = sa("[2001:db8::1]:40000");
        assert_eq!(
            alias(&via("SIP/2.0/TCP [2001:db8::1]:5062;alias"), v6),
            Some(sa("[2001:db8::1]:5062"))
        );
    }
}
