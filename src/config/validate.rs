//! Semantic checks run after parsing: ranges, duplicates, and the grammar of names and header
//! text (RFC 3261 §25.1). Each error names the key by its full path.

use super::{
    Config, ConfigError, LogConfig, RouteMode, RouteSection, ShardsConfig, SipConfig, TcpConfig,
    TimersConfig, UdpConfig,
};
use crate::core::proxy::{ForkMode, NextHop, Route, RouteDomain};
use std::net::SocketAddr;

/// `udp.batch` bounds: at least one datagram, at most what one recvmmsg call is given.
pub const BATCH_RANGE: std::ops::RangeInclusive<usize> = 1..=1024;
/// Longest pause between the receive rounds of a busy shard, in microseconds: 10 ms is already
/// more delay per hop than a SIP path should see.
const MAX_PACE_US: u64 = 10_000;

/// `udp.recv_buffer` / `udp.send_buffer` bounds in bytes: 64 KiB holds one maximal datagram;
/// past 1 GiB is a typo, not a tuning.
pub const BUFFER_RANGE: std::ops::RangeInclusive<usize> = (64 << 10)..=(1 << 30);
/// `tcp.max_message` bounds in bytes: below 1 KiB no INVITE with SDP fits; past 16 MiB is a
/// typo, not a SIP message.
pub const MAX_MESSAGE_RANGE: std::ops::RangeInclusive<usize> = (1 << 10)..=(16 << 20);
/// `tcp.max_connections` bounds, per shard.
pub const MAX_CONNECTIONS_RANGE: std::ops::RangeInclusive<usize> = 1..=1_000_000;
/// `tcp.keepalive_interval_secs` bounds: 0 (no pings) up to a day.
pub const KEEPALIVE_INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 0..=86_400;
/// `tcp.keepalive_timeout_secs` bounds: up to an hour.
pub const KEEPALIVE_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=3_600;
/// `tcp.connect_timeout_secs` bounds: up to ten minutes, past Linux's own SYN retries.
pub const CONNECT_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=600;
/// `tcp.idle_timeout_secs` bounds: up to a day.
pub const IDLE_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
/// `tcp.header_timeout_secs` bounds: up to an hour.
pub const HEADER_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=3_600;
/// `sip.timers.t1_ms` bounds: a minute is already far past any round trip.
pub const T1_MS_RANGE: std::ops::RangeInclusive<u64> = 1..=60_000;
/// `sip.timers.t2_ms` and `sip.timers.t4_ms` upper bound: ten minutes; past that is a typo.
pub const T2_T4_MS_MAX: u64 = 600_000;
/// `sip.timers.timer_c_secs` bounds: up to a day. RFC 3261 §16.6 asks for more than 3
/// minutes; shorter is allowed, as trunks often want it.
pub const TIMER_C_SECS_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Longest accepted `sip.server_header`, in bytes.
pub const SERVER_HEADER_MAX: usize = 256;
/// CPUs a `cpu_set_t` can name (CPU_SETSIZE).
pub const MAX_CPUS: usize = 1024;
/// Next hops one route may list: more is a list of trunks no caller would wait through.
pub const MAX_NEXT_HOPS: usize = 16;

impl Config {
    /// Checks every value against its allowed range and grammar. [`Config::from_toml_str`]
    /// and [`Config::load`] call this; call it again after changing a `Config` in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.log.validate()?;
        self.shards.validate()?;
        self.sip.validate()?;
        self.udp.validate()?;
        self.tcp.validate()?;
        self.registrar.validate()?;
        validate_routes(&self.routes)
    }
}

/// `[[routes]]`: each route valid, and no two for the same requests.
fn validate_routes(routes: &[RouteSection]) -> Result<(), ConfigError> {
    let mut checked: Vec<Route> = Vec::with_capacity(routes.len());
    for (i, section) in routes.iter().enumerate() {
        let route = section.to_core(i)?;
        let same = |r: &Route| r.domain == route.domain && r.user_prefix == route.user_prefix;
        if let Some(first) = checked.iter().position(same) {
            return Err(ConfigError::key(
                format!("routes[{i}]"),
                format!(
                    "routes[{first}] already has domain {:?} and user_prefix {:?}; one of \
                     them would never be used",
                    section.domain, section.user_prefix
                ),
            ));
        }
        checked.push(route);
    }
    Ok(())
}

impl RouteSection {
    /// The core's route for `routes[index]`, or an error naming the key at fault.
    pub(super) fn to_core(&self, index: usize) -> Result<Route, ConfigError> {
        let key = |name: &str| format!("routes[{index}].{name}");
        let domain = if self.domain.is_empty() {
            None
        } else {
            let bare = self
                .domain
                .strip_prefix('[')
                .and_then(|d| d.strip_suffix(']'))
                .unwrap_or(&self.domain);
            if bare.parse::<std::net::IpAddr>().is_err() {
                check_hostname(&self.domain).map_err(|why| ConfigError::key(key("domain"), why))?;
            }
            Some(RouteDomain::parse(&self.domain))
        };
        check_user_prefix(&self.user_prefix)
            .map_err(|why| ConfigError::key(key("user_prefix"), why))?;
        if self.next_hops.is_empty() {
            return Err(ConfigError::key(
                key("next_hops"),
                "must list at least one next hop (e.g. [\"sip:192.0.2.1:5060;transport=tcp\"])",
            ));
        }
        if self.next_hops.len() > MAX_NEXT_HOPS {
            return Err(ConfigError::key(
                key("next_hops"),
                format!(
                    "lists {} next hops; at most {MAX_NEXT_HOPS}",
                    self.next_hops.len()
                ),
            ));
        }
        let mut hops: Vec<NextHop> = Vec::with_capacity(self.next_hops.len());
        for (j, text) in self.next_hops.iter().enumerate() {
            let hop_key = || format!("routes[{index}].next_hops[{j}]");
            let hop = NextHop::parse(text)
                .map_err(|why| ConfigError::key(hop_key(), format!("{text:?} {why}")))?;
            if let Some(first) = hops.iter().position(|h| *h == hop) {
                return Err(ConfigError::key(
                    hop_key(),
                    format!("{text:?} is already listed at routes[{index}].next_hops[{first}]"),
                ));
            }
            hops.push(hop);
        }
        Ok(Route {
            domain,
            user_prefix: self.user_prefix.as_bytes().into(),
            hops,
            mode: match self.mode {
                RouteMode::Serial => ForkMode::Serial,
                RouteMode::Parallel => ForkMode::Parallel,
            },
        })
    }
}

/// A route's user prefix: characters of an RFC 3261 §25.1 `user` (unreserved, escaped,
/// `user-unreserved`), which covers telephone numbers with `+` and visual separators.
fn check_user_prefix(prefix: &str) -> Result<(), String> {
    let bytes = prefix.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let ok = b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b);
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
            if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(format!(
                    "{prefix:?} has a '%' that is not followed by two hex digits"
                ));
            }
            i += 3;
            continue;
        }
        if !ok {
            let c = prefix.get(i..).and_then(|rest| rest.chars().next());
            return Err(format!(
                "{prefix:?} has {:?}, which a SIP user part cannot hold",
                c.unwrap_or(char::REPLACEMENT_CHARACTER)
            ));
        }
        i += 1;
    }
    Ok(())
}

impl LogConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.level.trim().is_empty() {
            return Err(ConfigError::key(
                "log.level",
                "must not be empty (e.g. \"info\")",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.level)
            .map(drop)
            .map_err(|err| {
                ConfigError::key(
                    "log.level",
                    format!("invalid filter directive {:?}: {err}", self.level),
                )
            })
    }
}

impl ShardsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (i, &cpu) in self.cores.iter().enumerate() {
            let key = || format!("shards.cores[{i}]");
            if cpu >= MAX_CPUS {
                return Err(ConfigError::key(
                    key(),
                    format!(
                        "CPU {cpu} is past the last CPU Linux can name ({})",
                        MAX_CPUS - 1
                    ),
                ));
            }
            if let Some(first) = self.cores[..i].iter().position(|&c| c == cpu) {
                return Err(ConfigError::key(
                    key(),
                    format!("CPU {cpu} is already listed at shards.cores[{first}]"),
                ));
            }
        }
        Ok(())
    }
}

impl SipConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_empty() {
            return Err(ConfigError::key(
                "sip.listen",
                "must list at least one address (e.g. [\"0.0.0.0:5060\"])",
            ));
        }
        for (i, addr) in self.listen.iter().enumerate() {
            check_listen(&self.listen, i, addr)?;
        }
        for (i, domain) in self.domains.iter().enumerate() {
            let key = || format!("sip.domains[{i}]");
            check_hostname(domain).map_err(|why| ConfigError::key(key(), why))?;
            let same = |d: &String| {
                d.trim_end_matches('.')
                    .eq_ignore_ascii_case(domain.trim_end_matches('.'))
            };
            if let Some(first) = self.domains[..i].iter().position(same) {
                return Err(ConfigError::key(
                    key(),
                    format!("{domain:?} is already listed at sip.domains[{first}]"),
                ));
            }
        }
        check_server_header(&self.server_header)
            .map_err(|why| ConfigError::key("sip.server_header", why))?;
        self.timers.validate()
    }
}

impl TimersConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        in_range("sip.timers.t1_ms", self.t1_ms, &T1_MS_RANGE)?;
        if self.t2_ms < self.t1_ms {
            return Err(ConfigError::key(
                "sip.timers.t2_ms",
                format!(
                    "{} is shorter than sip.timers.t1_ms ({}); T2 caps the doubling of T1 \
                     (RFC 3261 §17.1.2.2)",
                    self.t2_ms, self.t1_ms
                ),
            ));
        }
        in_range("sip.timers.t2_ms", self.t2_ms, &(self.t1_ms..=T2_T4_MS_MAX))?;
        in_range("sip.timers.t4_ms", self.t4_ms, &(1..=T2_T4_MS_MAX))?;
        in_range(
            "sip.timers.timer_c_secs",
            self.timer_c_secs,
            &TIMER_C_SECS_RANGE,
        )?;
        in_range(
            "sip.timers.tick_ms",
            self.tick_ms,
            &(1..=*T1_MS_RANGE.end()),
        )?;
        if self.tick_ms > self.t1_ms {
            return Err(ConfigError::key(
                "sip.timers.tick_ms",
                format!(
                    "{} is coarser than sip.timers.t1_ms ({}), which would make Timers A, E \
                     and G fire late",
                    self.tick_ms, self.t1_ms
                ),
            ));
        }
        Ok(())
    }
}

impl UdpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !BATCH_RANGE.contains(&self.batch) {
            return Err(ConfigError::key(
                "udp.batch",
                format!(
                    "{} is out of range {}..={}",
                    self.batch,
                    BATCH_RANGE.start(),
                    BATCH_RANGE.end()
                ),
            ));
        }
        if self.pace_us > MAX_PACE_US {
            return Err(ConfigError::key(
                "udp.pace_us",
                format!("{} is out of range 0..={MAX_PACE_US}", self.pace_us),
            ));
        }
        for (key, size) in [
            ("udp.recv_buffer", self.recv_buffer),
            ("udp.send_buffer", self.send_buffer),
        ] {
            if !BUFFER_RANGE.contains(&size) {
                return Err(ConfigError::key(
                    key,
                    format!(
                        "{size} bytes is out of range {}..={} (64 KiB to 1 GiB)",
                        BUFFER_RANGE.start(),
                        BUFFER_RANGE.end()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl TcpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !MAX_MESSAGE_RANGE.contains(&self.max_message) {
            return Err(ConfigError::key(
                "tcp.max_message",
                format!(
                    "{} bytes is out of range {}..={} (1 KiB to 16 MiB)",
                    self.max_message,
                    MAX_MESSAGE_RANGE.start(),
                    MAX_MESSAGE_RANGE.end()
                ),
            ));
        }
        in_range(
            "tcp.max_connections",
            self.max_connections,
            &MAX_CONNECTIONS_RANGE,
        )?;
        in_range(
            "tcp.max_connections_per_ip",
            self.max_connections_per_ip,
            &MAX_CONNECTIONS_RANGE,
        )?;
        in_range(
            "tcp.idle_timeout_secs",
            self.idle_timeout_secs,
            &IDLE_TIMEOUT_RANGE,
        )?;
        in_range(
            "tcp.keepalive_interval_secs",
            self.keepalive_interval_secs,
            &KEEPALIVE_INTERVAL_RANGE,
        )?;
        in_range(
            "tcp.keepalive_timeout_secs",
            self.keepalive_timeout_secs,
            &KEEPALIVE_TIMEOUT_RANGE,
        )?;
        in_range(
            "tcp.connect_timeout_secs",
            self.connect_timeout_secs,
            &CONNECT_TIMEOUT_RANGE,
        )?;
        in_range(
            "tcp.header_timeout_secs",
            self.header_timeout_secs,
            &HEADER_TIMEOUT_RANGE,
        )?;
        if self.header_timeout_secs > self.idle_timeout_secs {
            return Err(ConfigError::key(
                "tcp.header_timeout_secs",
                format!(
                    "{} is longer than tcp.idle_timeout_secs ({}), which would cut the \
                     connection first",
                    self.header_timeout_secs, self.idle_timeout_secs
                ),
            ));
        }
        Ok(())
    }
}

/// `key = value` with `value` inside `range`.
impl super::RegistrarSection {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        in_range("registrar.min_expires", self.min_expires, &(1..=86_400))?;
        in_range(
            "registrar.max_expires",
            self.max_expires,
            &(self.min_expires..=31_536_000),
        )?;
        in_range(
            "registrar.default_expires",
            self.default_expires,
            &(self.min_expires..=self.max_expires),
        )?;
        in_range(
            "registrar.max_contacts_per_aor",
            self.max_contacts_per_aor,
            &(1..=1000),
        )?;
        in_range(
            "registrar.max_bindings_per_shard",
            self.max_bindings_per_shard,
            &(1..=100_000_000),
        )?;
        let backends = crate::core::registrar::Backend::NAMES;
        if crate::core::registrar::Backend::from_name(&self.backend).is_none() {
            return Err(ConfigError::key(
                "registrar.backend",
                format!(
                    "{:?} is not a registrar backend (expected one of {})",
                    self.backend,
                    backends.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    range: &std::ops::RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::key(
        key,
        format!(
            "{value} is out of range {}..={}",
            range.start(),
            range.end()
        ),
    ))
}

/// `sip.listen[i]`: a usable unicast address with a port, listed once. A wildcard covers every
/// local address of its family on its port, so a specific address on the same port is a
/// second socket on the same address.
fn check_listen(all: &[SocketAddr], i: usize, addr: &SocketAddr) -> Result<(), ConfigError> {
    let key = || format!("sip.listen[{i}]");
    if addr.port() == 0 {
        return Err(ConfigError::key(
            key(),
            format!("{addr}: port 0 is not allowed"),
        ));
    }
    if addr.ip().is_multicast() {
        return Err(ConfigError::key(
            key(),
            format!("{addr}: a multicast address cannot be listened on"),
        ));
    }
    if let Some(first) = all[..i].iter().position(|a| a == addr) {
        return Err(ConfigError::key(
            key(),
            format!("{addr} is already listed at sip.listen[{first}]"),
        ));
    }
    let covers = |a: &SocketAddr| {
        a.ip().is_unspecified() && a.port() == addr.port() && a.is_ipv4() == addr.is_ipv4()
    };
    match all.iter().position(covers) {
        Some(j) if j != i && !addr.ip().is_unspecified() => Err(ConfigError::key(
            key(),
            format!(
                "{addr} is already covered by the wildcard sip.listen[{j}] ({})",
                all[j]
            ),
        )),
        _ => Ok(()),
    }
}

/// RFC 3261 §25.1 `hostname = *( domainlabel "." ) toplabel [ "." ]`, at most 253 bytes and
/// 63 per label.
pub fn check_hostname(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{name:?} is not a host name: {why}"));
    if name.parse::<std::net::IpAddr>().is_ok() {
        return bad("an IP address; local addresses are served already");
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return bad("empty");
    }
    if trimmed.len() > 253 {
        return bad("longer than 253 bytes");
    }
    let labels: Vec<&str> = trimmed.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return bad("empty label");
        }
        if label.len() > 63 {
            return bad("a label is longer than 63 bytes");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("only letters, digits, '-' and '.' are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with '-'");
        }
    }
    // NOTE: `split` yields at least one label, and none is empty (checked above).
    let top = labels[labels.len() - 1];
    if !top.as_bytes()[0].is_ascii_alphabetic() {
        return bad("the last label must start with a letter");
    }
    Ok(())
}

/// The `Server` header value, RFC 3261 §20.35 / §25.1:
/// `server-val *(LWS server-val)`, `server-val = product / comment`,
/// `product = token [SLASH product-version]`, `comment = LPAREN *(ctext / quoted-pair /
/// comment) RPAREN`. Empty means no header. Line folding is not accepted: CR and LF never are.
pub fn check_server_header(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > SERVER_HEADER_MAX {
        return Err(format!("longer than {SERVER_HEADER_MAX} bytes"));
    }
    if value.contains(['\r', '\n']) {
        return Err("must not contain CR or LF".into());
    }
    if let Some(c) = value.chars().find(|&c| c.is_control() && c != '\t') {
        return Err(format!("must not contain the control character {c:?}"));
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err("must not start or end with white space".into());
    }
    let mut rest = value;
    while !rest.is_empty() {
        rest = if rest.starts_with('(') {
            comment(rest)?
        } else {
            product(rest)?
        };
        let next = rest.trim_start_matches([' ', '\t']);
        if next.len() == rest.len() && !next.is_empty() {
            return Err(format!(
                "expected white space before {:?}",
                next.chars().next().unwrap_or(' ')
            ));
        }
        rest = next;
    }
    Ok(())
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// `product = token [SLASH token]`; returns what follows it.
fn product(text: &str) -> Result<&str, String> {
    let token = |s: &str| s.find(|c| !is_token_char(c)).unwrap_or(s.len());
    let name = token(text);
    if name == 0 {
        return Err(format!(
            "{:?} is not a product token (letters, digits and -.!%*_+`'~) or a (comment)",
            text.chars().next().unwrap_or(' ')
        ));
    }
    let Some(after_slash) = text[name..].strip_prefix('/') else {
        return Ok(&text[name..]);
    };
    match token(after_slash) {
        0 => Err(format!(
            "product {:?} has an empty version after '/'",
            &text[..name]
        )),
        version => Ok(&after_slash[version..]),
    }
}

/// `comment = "(" *(ctext / quoted-pair / comment) ")"`; `text` starts with '('. Returns
/// what follows the closing ')'.
fn comment(text: &str) -> Result<&str, String> {
    let mut depth = 0usize;
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(&text[at + 1..]);
                }
            }
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
    Err("a '(' comment is not closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for ok in [
            "example.com",
            "sbc-1.example.com.",
            "a",
            "x1.y2.example",
            "EXAMPLE.org",
        ] {
            assert_eq!(check_hostname(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".",
            "exa mple.com",
            "-a.example.com",
            "a-.example.com",
            "a..b",
            "example.123",
            "1.2.3.4",
            "::1",
            "ex_ample.com",
            "bücher.de",
        ] {
            assert!(check_hostname(bad).is_err(), "{bad}");
        }
        assert!(check_hostname(&"a".repeat(64)).is_err());
        assert!(check_hostname(&["a"; 128].join(".")).is_err());
    }

    #[test]
    fn server_header_values() {
        for ok in [
            "",
            "Drongo",
            "Drongo/0.1.0",
            "Drongo/0.1 (Linux x86_64)",
            "Drongo (edge \\) (nested) ünïcode) libfoo/2",
        ] {
            assert_eq!(check_server_header(ok), Ok(()), "{ok}");
        }
        for bad in [
            "Drongo\r\nX-Evil: 1",
            "Drongo\n",
            " Drongo",
            "Drongo ",
            "Drongo/",
            "Drongo/1 (open",
            "Dr@ngo",
            "Drongo(x)",
            "a\u{7}b",
        ] {
            assert!(check_server_header(bad).is_err(), "{bad:?}");
        }
        assert!(check_server_header(&"a".repeat(SERVER_HEADER_MAX + 1)).is_err());
    }
}
