//! The static route table (`[[routes]]` in the configuration): the trunk a request goes to,
//! chosen by its Request-URI's host and user part.
//!
//! A route matches when its domain (if it names one) is the Request-URI's host, compared
//! without regard to case and a trailing dot (an IP literal compares as an address), and its
//! user prefix (if it has one) starts the URI's user part as written (a tel URI's number).
//! Of the routes that match, the longest user prefix wins, then a route naming the domain
//! over one for any domain. The table is sorted once in that order and scanned; with the tens
//! of routes a trunk edge has, the scan is a few comparisons.

use std::borrow::Cow;
use std::net::IpAddr;

use super::{Decision, Fork, ForkMode, NextHop, RouteRequest};
use crate::core::sip::uri::{Host, Uri};

/// The host a route is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDomain {
    /// A host name, in lower case without a trailing dot.
    Name(Box<[u8]>),
    Ip(IpAddr),
}

impl RouteDomain {
    /// An IP address (IPv6 with or without brackets) or a host name. The name's grammar is
    /// the configuration's to check.
    pub fn parse(text: &str) -> Self {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        match bare.parse::<IpAddr>() {
            Ok(ip) => RouteDomain::Ip(canonical(ip)),
            Err(_) => {
                let name = text.strip_suffix('.').unwrap_or(text);
                RouteDomain::Name(name.to_ascii_lowercase().into_bytes().into_boxed_slice())
            }
        }
    }

    fn matches(&self, host: &Host<'_>) -> bool {
        match (self, host) {
            (RouteDomain::Name(name), Host::Domain(h)) => {
                let h = h.strip_suffix(b".").unwrap_or(h);
                name.eq_ignore_ascii_case(h)
            }
            (RouteDomain::Ip(ip), Host::V4(h)) => *ip == canonical(IpAddr::V4(*h)),
            (RouteDomain::Ip(ip), Host::V6(h)) => *ip == canonical(IpAddr::V6(*h)),
            _ => false,
        }
    }
}

/// One static route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The Request-URI host it is for; `None`: any.
    pub domain: Option<RouteDomain>,
    /// What the user part must start with; empty: any.
    pub user_prefix: Box<[u8]>,
    /// Where matching requests go, in the order they are tried.
    pub hops: Vec<NextHop>,
    pub mode: ForkMode,
}

impl Route {
    fn matches(&self, user: &[u8], host: Option<&Host<'_>>) -> bool {
        user.starts_with(&self.user_prefix)
            && match (&self.domain, host) {
                (None, _) => true,
                (Some(domain), Some(host)) => domain.matches(host),
                (Some(_), None) => false,
            }
    }
}

/// The configured routes, best match first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticRoutes {
    routes: Vec<Route>,
}

impl StaticRoutes {
    /// The table of `routes` (the configuration has refused duplicates).
    pub fn new(mut routes: Vec<Route>) -> Self {
        // Stable: among equals, the configuration's order.
        routes.sort_by_key(|r| (std::cmp::Reverse(r.user_prefix.len()), r.domain.is_none()));
        StaticRoutes { routes }
    }

    /// The routes, in the order they are tried.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route for a Request-URI: the longest user prefix that matches, a named domain
    /// before any domain.
    pub fn lookup(&self, uri: &Uri<'_>) -> Option<&Route> {
        let user = if uri.is_sip() {
            uri.user()
        } else {
            uri.number()
        };
        let user = user.unwrap_or_default();
        let host = uri.host();
        self.routes.iter().find(|r| r.matches(user, host.as_ref()))
    }

    /// The built-in router: the matching route's hops, or fall through.
    pub fn decide(&self, request: &RouteRequest<'_, '_>) -> Decision<'_> {
        match self.lookup(&request.request_uri) {
            Some(route) => Decision::Forward(Fork {
                hops: Cow::Borrowed(&route.hops),
                mode: route.mode,
            }),
            None => Decision::FallThrough,
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
