//! Where a new request goes when its Route set does not say (RFC 3261 §16.5, §16.6 steps 6
//! and 7): a [`Router`] written in Rust, and the static route table of the configuration
//! ([`StaticRoutes`], the built-in router).
//!
//! Owns: the view of a request a router decides on ([`RouteRequest`]), its answer
//! ([`Decision`]: targets and how to fork them, a status to answer, or fall through), next
//! hops ([`NextHop`], IP literals only: the core resolves no names), and the longest-prefix
//! match of the static table. Must not: send, block, resolve names or read a clock; a router
//! is a plain function of the request and its own state, called on the shard's thread.
//!
//! The shard asks, for an initial request whose route set ends at Drongo: its router, if one
//! is installed; on [`Decision::FallThrough`], the location service for a user of a domain
//! Drongo serves; then the static routes. What a next hop does to the request is the shard's
//! part (`core::shard::routing`).

mod table;

pub use table::{Route, RouteDomain, StaticRoutes};

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::core::sip::headers::NameAddr;
use crate::core::sip::message::Headers;
use crate::core::sip::uri::{Host, Scheme, Transport, Uri};
use crate::core::sip::Method;

/// What a router sees of a new request: decoded views into the received message, and where
/// it came from.
pub struct RouteRequest<'r, 'a> {
    pub method: Method<'a>,
    pub request_uri: Uri<'a>,
    pub from: NameAddr<'a>,
    pub to: NameAddr<'a>,
    pub call_id: &'a [u8],
    /// Every header of the request, for a router that needs one the view does not decode.
    pub headers: &'r Headers<'a>,
    /// The address and port the request came from.
    pub source: SocketAddr,
    /// Drongo's address it arrived on.
    pub local: SocketAddr,
    /// It came over a reliable transport (TCP).
    pub reliable: bool,
    /// The Request-URI names a domain or address Drongo serves (its registrar's domain).
    pub served: bool,
}

/// How the branches of a fork are started (RFC 3261 §16.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForkMode {
    /// One hop at a time, in order: the next starts when the one before failed with a final
    /// response other than 2xx and 6xx, timed out or could not be reached (failover).
    #[default]
    Serial,
    /// Every hop at once; the first 2xx wins (§16.7).
    Parallel,
}

/// Next hops and how to fork to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork<'s> {
    pub hops: Cow<'s, [NextHop]>,
    pub mode: ForkMode,
}

/// A router's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'s> {
    /// Proxy the request to these hops. An empty fork is answered 480.
    Forward(Fork<'s>),
    /// Answer the request with this status, 400 to 699 (403, 404, 480, 603 ...); Drongo adds
    /// the reason phrase. Another status is answered 500.
    Respond(u16),
    /// No opinion: the location service and the static routes decide.
    FallThrough,
}

/// Code that decides where requests go. One instance per shard, called on the shard's
/// thread for every initial request whose next hop Drongo chooses; it must return at once
/// (no I/O, no waiting). [`StaticRoutes`] is the built-in one; a closure
/// `FnMut(&RouteRequest) -> Decision<'static>` is one too.
pub trait Router {
    fn route<'s>(&'s mut self, request: &RouteRequest<'_, '_>) -> Decision<'s>;
}

impl<F> Router for F
where
    F: FnMut(&RouteRequest<'_, '_>) -> Decision<'static>,
{
    fn route<'s>(&'s mut self, request: &RouteRequest<'_, '_>) -> Decision<'s> {
        self(request)
    }
}

impl Router for StaticRoutes {
    fn route<'s>(&'s mut self, request: &RouteRequest<'_, '_>) -> Decision<'s> {
        self.decide(request)
    }
}

/// Makes the router of each shard (shards share nothing, so each gets its own), given the
/// shard's index. Part of [`crate::core::shard::ShardConfig`].
#[derive(Clone)]
pub struct RouterFactory(Arc<dyn Fn(u16) -> Box<dyn Router> + Send + Sync>);

impl RouterFactory {
    pub fn new(make: impl Fn(u16) -> Box<dyn Router> + Send + Sync + 'static) -> Self {
        RouterFactory(Arc::new(make))
    }

    /// The router for shard `shard`.
    pub fn make(&self, shard: u16) -> Box<dyn Router> {
        (self.0)(shard)
    }
}

impl fmt::Debug for RouterFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RouterFactory")
    }
}

/// Where a forwarded request goes next: an IP address, port and transport, written as a SIP
/// URI `sip:192.0.2.1:5060;transport=tcp` (port 5060 and UDP when not written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    addr: SocketAddr,
    tcp: bool,
}

/// Why a next hop URI was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopError {
    /// Not a URI at all.
    Malformed,
    /// Another scheme than `sip` (Drongo has no TLS, so no `sips`).
    Scheme,
    /// A host name: the core resolves no names.
    HostName,
    /// A user part: a next hop names a host, not a user.
    User,
    /// Port 0.
    Port,
    /// A transport other than UDP or TCP.
    Transport(String),
    /// A parameter other than `transport` and `lr`.
    Param(String),
    /// A `?headers` part.
    Headers,
}

impl fmt::Display for HopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HopError::Malformed => f.write_str("is not a SIP URI"),
            HopError::Scheme => f.write_str("must be a sip: URI (sips and others are not served)"),
            HopError::HostName => f.write_str(
                "must name an IP address, not a host name (Drongo resolves no DNS for next hops)",
            ),
            HopError::User => f.write_str("names a user; a next hop names only a host"),
            HopError::Port => f.write_str("has port 0"),
            HopError::Transport(t) => write!(f, "has transport {t:?}; udp and tcp are served"),
            HopError::Param(p) => {
                write!(f, "has parameter {p:?}; only transport and lr are allowed")
            }
            HopError::Headers => f.write_str("has a ?headers part"),
        }
    }
}

impl std::error::Error for HopError {}

impl NextHop {
    /// A hop at `addr`, over TCP when `tcp`, else UDP.
    pub fn new(addr: SocketAddr, tcp: bool) -> Self {
        NextHop { addr, tcp }
    }

    /// Parses `sip:IP[:port][;transport=udp|tcp][;lr]`; IPv6 in brackets.
    pub fn parse(text: &str) -> Result<Self, HopError> {
        let uri = Uri::parse(text.as_bytes()).map_err(|_| HopError::Malformed)?;
        if !matches!(uri.scheme(), Scheme::Sip) {
            return Err(HopError::Scheme);
        }
        if uri.user().is_some() {
            return Err(HopError::User);
        }
        if !uri.headers_raw().is_empty() {
            return Err(HopError::Headers);
        }
        let ip = match uri.host() {
            Some(Host::V4(ip)) => IpAddr::V4(ip),
            Some(Host::V6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) | None => return Err(HopError::HostName),
        };
        let port = uri.port().unwrap_or(5060);
        if port == 0 {
            return Err(HopError::Port);
        }
        for (name, _) in uri.params() {
            let known = name.eq_ignore_ascii_case(b"transport") || name.eq_ignore_ascii_case(b"lr");
            if !known {
                return Err(HopError::Param(String::from_utf8_lossy(name).into_owned()));
            }
        }
        let tcp = match uri.transport() {
            None | Some(Transport::Udp) => false,
            Some(Transport::Tcp) => true,
            Some(other) => {
                let name = String::from_utf8_lossy(other.as_bytes()).to_ascii_lowercase();
                return Err(HopError::Transport(name));
            }
        };
        Ok(NextHop {
            addr: SocketAddr::new(ip, port),
            tcp,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tcp(&self) -> bool {
        self.tcp
    }

    /// `host:port`, IPv6 in brackets.
    fn write_host_port(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // NOTE: writing to a Vec cannot fail.
        let _ = write!(out, "{}", self.addr);
    }

    /// The hop as a loose-routing Route value (§16.6 step 6): `<sip:IP:port;transport=tcp;lr>`.
    pub fn write_route(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"<sip:");
        self.write_host_port(out);
        if self.tcp {
            out.extend_from_slice(b";transport=tcp");
        }
        out.extend_from_slice(b";lr>");
    }

    /// A Request-URI for `user` at this hop: `sip:user@IP:port;transport=tcp` (no user part
    /// when `user` is `None`).
    pub fn write_uri(&self, user: Option<&[u8]>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"sip:");
        if let Some(user) = user {
            out.extend_from_slice(user);
            out.push(b'@');
        }
        self.write_host_port(out);
        if self.tcp {
            out.extend_from_slice(b";transport=tcp");
        }
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{}", self.addr)?;
        if self.tcp {
            f.write_str(";transport=tcp")?;
        }
        Ok(())
    }
}

/// The reason phrase Drongo writes for a status it answers (RFC 3261 §21 and the RFCs that
/// added codes since); a generic one per class for others.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        429 => "Provide Referrer Identity",
        433 => "Anonymity Disallowed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        _ => match status / 100 {
            4 => "Client Error",
            5 => "Server Error",
            6 => "Global Failure",
            _ => "Unknown",
        },
    }
}

#[cfg(test)]
mod tests;
