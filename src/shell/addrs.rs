//! Listen addresses: `sip.listen` expanded into the concrete addresses every shard binds.
//!
//! A wildcard (`0.0.0.0` or `[::]`) becomes one socket per local address of that family, so a
//! reply always leaves from the address its request reached (RFC 3261 §18.2.2 asks the
//! response to come from where the request went; a multi-homed edge must not let the routing
//! table pick). IPv6 link-local addresses are skipped: they need a scope per interface and are
//! never a SIP edge address. Interfaces that appear after start are not picked up.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// One `sip.listen` entry after expansion. All of its addresses share one port: the configured
/// one, or with port 0 the one the kernel picks for the first socket bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenGroup {
    /// The entry as configured.
    pub configured: SocketAddr,
    /// Named in the config (not a wildcard): failing to bind it is fatal.
    pub explicit: bool,
    /// Addresses to bind, in a stable order, with the configured port.
    pub addrs: Vec<SocketAddr>,
    /// IPv6 link-local addresses the wildcard did not take.
    pub skipped_link_local: Vec<Ipv6Addr>,
}

/// Every IP address configured on a local interface, in `getifaddrs` order, without repeats.
pub(crate) fn local_ips() -> io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; the list is freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ips = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned and has not been freed.
        let ifa = unsafe { &*cur };
        if let Some(ip) = unsafe { sockaddr_ip(ifa.ifa_addr) } {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(ips)
}

/// The IP in a `sockaddr` from `getifaddrs`, if it is IPv4 or IPv6.
///
/// # Safety
/// `sa` is null or points to a sockaddr whose family says how large it is.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    match i32::from((*sa).sa_family) {
        libc::AF_INET => {
            let sin = &*(sa as *const libc::sockaddr_in);
            Some(IpAddr::from(
                u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
            ))
        }
        libc::AF_INET6 => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            Some(IpAddr::from(sin6.sin6_addr.s6_addr))
        }
        _ => None,
    }
}

/// `fe80::/10`.
pub(crate) fn is_link_local_v6(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

/// Expands `listen` against the host's addresses `local`. Pure: the caller enumerates the
/// interfaces and logs what was skipped. An address that two entries both name with the same
/// non-zero port is bound once, by the first.
pub(crate) fn expand(listen: &[SocketAddr], local: &[IpAddr]) -> Vec<ListenGroup> {
    let mut taken: HashSet<SocketAddr> = HashSet::new();
    let mut groups = Vec::with_capacity(listen.len());
    for &configured in listen {
        let port = configured.port();
        let mut group = ListenGroup {
            configured,
            explicit: !configured.ip().is_unspecified(),
            addrs: Vec::new(),
            skipped_link_local: Vec::new(),
        };
        let candidates: Vec<SocketAddr> = if group.explicit {
            vec![configured]
        } else {
            local
                .iter()
                .filter(|ip| ip.is_ipv4() == configured.is_ipv4())
                .filter_map(|ip| match ip {
                    IpAddr::V6(v6) if is_link_local_v6(v6) => {
                        group.skipped_link_local.push(*v6);
                        None
                    }
                    IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => None,
                    IpAddr::V6(v6) => Some(SocketAddr::V6(SocketAddrV6::new(*v6, port, 0, 0))),
                    IpAddr::V4(v4) => Some(SocketAddr::from((*v4, port))),
                })
                .collect()
        };
        for addr in candidates {
            if port != 0 && !taken.insert(addr) {
                continue;
            }
            if !group.addrs.contains(&addr) {
                group.addrs.push(addr);
            }
        }
        groups.push(group);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn explicit_address_is_kept_as_configured() {
        let g = expand(&[sa("127.0.0.1:5060")], &[ip("10.0.0.1")]);
        assert_eq!(g.len(), 1);
        assert!(g[0].explicit);
        assert_eq!(g[0].addrs, vec![sa("127.0.0.1:5060")]);
    }

    #[test]
    fn v4_wildcard_takes_every_v4_address_only() {
        let local = [ip("127.0.0.1"), ip("::1"), ip("192.0.2.7"), ip("fd00::2")];
        let g = expand(&[sa("0.0.0.0:5060")], &local);
        assert!(!g[0].explicit);
        assert_eq!(g[0].addrs, vec![sa("127.0.0.1:5060"), sa("192.0.2.7:5060")]);
    }

    #[test]
    fn v6_wildcard_skips_link_local_and_reports_it() {
        let local = [
            ip("::1"),
            ip("fe80::fc:ff:fe00:1"),
            ip("fd00::2"),
            ip("127.0.0.1"),
        ];
        let g = expand(&[sa("[::]:5060")], &local);
        assert_eq!(g[0].addrs, vec![sa("[::1]:5060"), sa("[fd00::2]:5060")]);
        assert_eq!(
            g[0].skipped_link_local,
            vec!["fe80::fc:ff:fe00:1".parse::<Ipv6Addr>().unwrap()]
        );
    }

    #[test]
    fn v6_wildcard_on_a_host_without_v6_is_empty() {
        let g = expand(&[sa("[::]:5060")], &[ip("127.0.0.1")]);
        assert!(g[0].addrs.is_empty());
    }

    #[test]
    fn same_address_and_port_named_twice_is_bound_once() {
        let g = expand(
            &[sa("127.0.0.1:5060"), sa("0.0.0.0:5060")],
            &[ip("127.0.0.1"), ip("192.0.2.7")],
        );
        assert_eq!(g[0].addrs, vec![sa("127.0.0.1:5060")]);
        assert_eq!(g[1].addrs, vec![sa("192.0.2.7:5060")]);
    }

    #[test]
    fn port_zero_entries_never_collide() {
        let g = expand(&[sa("127.0.0.1:0"), sa("0.0.0.0:0")], &[ip("127.0.0.1")]);
        assert_eq!(g[0].addrs, vec![sa("127.0.0.1:0")]);
        assert_eq!(g[1].addrs, vec![sa("127.0.0.1:0")]);
    }

    #[test]
    fn link_local_test_covers_the_whole_prefix() {
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(is_link_local_v6(&"febf::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"::1".parse().unwrap()));
    }

    #[test]
    fn local_ips_include_loopback() {
        let ips = local_ips().expect("getifaddrs");
        assert!(ips.contains(&ip("127.0.0.1")), "{ips:?}");
    }
}
