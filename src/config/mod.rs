//! Configuration: TOML -> validated [`Config`]. Every key has a default, so Drongo runs with no
//! file at all; an unknown key or a bad value is an error that names the key by its full dotted
//! path (`sip.listen[1]`, `udp.batch`).
//!
//! Two steps, each its own function:
//! - [`Config::from_toml_str`] / [`Config::load`]: parse, reject unknown keys and wrong types,
//!   then [`Config::validate`] the values (ranges, duplicates, grammar of names);
//! - [`Config::check_host`]: what only this host can answer (the CPUs in `shards.cores` are in
//!   the process's affinity mask); `drongo run` and `drongo check-config` run it after loading.
//!
//! `drongo.example.toml` beside this file lists every key with its default and meaning.

mod affinity;
mod error;
mod validate;

pub use affinity::affinity_mask;
pub use error::{ConfigError, Location};

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::core::transaction::TimerConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields, expecting = "a TOML document")]
pub struct Config {
    pub log: LogConfig,
    pub shards: ShardsConfig,
    pub sip: SipConfig,
    pub udp: UdpConfig,
    pub tcp: TcpConfig,
    pub registrar: RegistrarSection,
    /// `[[routes]]`: static routes to trunks, tried for initial requests nothing else routes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSection>,
}

/// `[[routes]]`: one static route. A request whose Request-URI host is `domain` (any host
/// when empty) and whose user part starts with `user_prefix` (any user when empty) goes to
/// `next_hops`; the longest matching prefix wins, then a named domain over any domain.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields, expecting = "a [[routes]] table")]
pub struct RouteSection {
    /// The Request-URI host this route is for (a host name or an IP address); empty: any.
    pub domain: String,
    /// What the Request-URI's user part (a tel URI's number) starts with; empty: any.
    pub user_prefix: String,
    /// Where matching requests go: `sip:` URIs naming an IP address, with an optional port
    /// and `;transport=udp|tcp`.
    pub next_hops: Vec<String>,
    /// `serial`: one hop at a time in the listed order, the next when one fails (failover);
    /// `parallel`: every hop at once.
    pub mode: RouteMode,
}

/// How a route forks to its next hops.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    #[default]
    Serial,
    Parallel,
}

/// `user:password` lines; blank lines and lines starting with `#` are skipped.
pub fn parse_credentials(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut users: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, password)) = line.split_once(':') else {
            return Err(format!("line {}: expected \"user:password\"", n + 1));
        };
        if user.is_empty() || user.bytes().any(|b| b.is_ascii_whitespace() || b == b'"') {
            return Err(format!("line {}: {user:?} is not a user name", n + 1));
        }
        if users.iter().any(|(u, _)| u == user) {
            return Err(format!("line {}: {user:?} is listed twice", n + 1));
        }
        users.push((user.to_string(), password.to_string()));
    }
    Ok(users)
}

/// `[registrar]`: the limits of the registrar Drongo runs for its domains (RFC 3261 §10.3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields, expecting = "a [registrar] table")]
pub struct RegistrarSection {
    /// Shortest registration accepted, in seconds; shorter ones get 423 with Min-Expires.
    pub min_expires: u32,
    /// Longest registration granted, in seconds; longer requests are shortened to it.
    pub max_expires: u32,
    /// Granted when neither the Contact nor the REGISTER names an expiry, in seconds.
    pub default_expires: u32,
    /// Contacts one address-of-record may hold; a REGISTER that would exceed it gets 403.
    pub max_contacts_per_aor: usize,
    /// Bindings one shard may hold; a REGISTER that would exceed it gets 503.
    pub max_bindings_per_shard: usize,
    /// A file of `user:password` lines; when set, every REGISTER must authenticate with
    /// digest (RFC 8760 SHA-256 or MD5). Empty: no authentication.
    pub credentials: String,
    /// The digest realm of the challenges.
    pub realm: String,
    /// Where the bindings live: `memory` (in this process, per shard).
    pub backend: String,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        let d = crate::core::registrar::RegistrarConfig::DEFAULT;
        RegistrarSection {
            min_expires: d.min_expires,
            max_expires: d.max_expires,
            default_expires: d.default_expires,
            max_contacts_per_aor: d.max_contacts_per_aor,
            max_bindings_per_shard: d.max_bindings,
            credentials: String::new(),
            realm: "drongo".into(),
            backend: "memory".into(),
        }
    }
}

impl RegistrarSection {
    /// The users of `registrar.credentials`, read from the file: `None` when no file is set.
    /// A missing or unreadable file, or a line that is not `user:password`, is an error
    /// naming the key, the file and the line.
    pub fn load_credentials(&self) -> Result<Option<Vec<(String, String)>>, ConfigError> {
        if self.credentials.is_empty() {
            return Ok(None);
        }
        let path = &self.credentials;
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::key(
                "registrar.credentials",
                format!("cannot read {path:?}: {e}"),
            )
        })?;
        parse_credentials(&text)
            .map(Some)
            .map_err(|why| ConfigError::key("registrar.credentials", format!("{path:?} {why}")))
    }

    /// The core's view of these limits.
    pub fn to_core(&self) -> crate::core::registrar::RegistrarConfig {
        crate::core::registrar::RegistrarConfig {
            min_expires: self.min_expires,
            max_expires: self.max_expires,
            default_expires: self.default_expires,
            max_contacts_per_aor: self.max_contacts_per_aor,
            max_bindings: self.max_bindings_per_shard,
            // NOTE: `validate` accepts only names `Backend::from_name` knows.
            backend: crate::core::registrar::Backend::from_name(&self.backend).unwrap_or_default(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields, expecting = "a [log] table")]
pub struct LogConfig {
    /// tracing filter directive, e.g. "info" or "drongo=debug"; `RUST_LOG` overrides it.
    pub level: String,
    /// Prefix each line with a timestamp. Off under journald, which stamps lines itself.
    pub timestamps: bool,
}

/// `[shards]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields, expecting = "a [shards] table")]
pub struct ShardsConfig {
    /// CPUs to run one signalling shard on each. Empty: one shard per CPU in the process's
    /// affinity mask.
    pub cores: Vec<usize>,
}

/// `[sip]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields, expecting = "a [sip] table")]
pub struct SipConfig {
    /// Listen addresses, for UDP and (with `tcp.enabled`) TCP on the same port. A wildcard
    /// (0.0.0.0 / [::]) is expanded to one socket per local address of that family, so replies
    /// always leave from the address the request reached.
    #[serde(deserialize_with = "socket_addrs")]
    pub listen: Vec<SocketAddr>,
    /// Domains Drongo serves besides its own addresses.
    pub domains: Vec<String>,
    /// Send responses to the request's source address and port even without `rport`
    /// (what an edge element facing NATed phones wants). `false` gives plain RFC 3261
    /// §18.2.2 plus RFC 3581.
    pub symmetric_response: bool,
    /// Value of the `Server` header (RFC 3261 §20.35) in Drongo's own responses; empty sends
    /// none.
    pub server_header: String,
    /// Drop requests whose User-Agent names a known scanner (SIPVicious `friendly-scanner`
    /// and kin) without an answer, so a scan learns nothing.
    pub drop_scanners: bool,
    /// `[sip.timers]`: transaction timer base values and the timer wheel's tick.
    pub timers: TimersConfig,
}

/// `[sip.timers]`: RFC 3261 §17 timer base values, every other timer derives from them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields, expecting = "a [sip.timers] table")]
pub struct TimersConfig {
    /// T1, the RTT estimate (§17.1.1.1), in milliseconds: the first retransmit interval, and
    /// 64*T1 is Timers B, F, H, J, L and M.
    pub t1_ms: u64,
    /// T2 (§17.1.2.2), in milliseconds: the cap on the doubling retransmit interval of
    /// non-INVITE requests and INVITE responses. At least T1.
    pub t2_ms: u64,
    /// T4 (§17.1.2.2), in milliseconds: how long a message stays in the network; Timers I
    /// and K over unreliable transports.
    pub t4_ms: u64,
    /// Timer C (§16.6 step 11), in seconds: the proxy INVITE transaction timeout.
    pub timer_c_secs: u64,
    /// Tick of each shard's timer wheel, in milliseconds: timers fire at most this late. At
    /// most T1.
    pub tick_ms: u64,
}

/// `[udp]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields, expecting = "a [udp] table")]
pub struct UdpConfig {
    /// Datagrams taken per receive batch.
    pub batch: usize,
    /// SO_RCVBUF in bytes.
    pub recv_buffer: usize,
    /// SO_SNDBUF in bytes.
    pub send_buffer: usize,
    /// Pause between receive rounds of a busy shard, in microseconds (0 turns pacing off).
    pub pace_us: u64,
}

/// `[tcp]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields, expecting = "a [tcp] table")]
pub struct TcpConfig {
    /// Listen for SIP over TCP on every address (and port) of `sip.listen` as well.
    pub enabled: bool,
    /// Largest message accepted on a connection, header section and body together, in bytes.
    /// A peer that sends more loses the connection.
    pub max_message: usize,
    /// Connections each shard holds at most; one accepted beyond that is closed at once.
    pub max_connections: usize,
    /// Connections each shard accepts from one IP address at most; one more is closed at once.
    pub max_connections_per_ip: usize,
    /// A connection that carries no bytes either way for this long is closed.
    pub idle_timeout_secs: u64,
    /// A connection that started a message must finish its header section within this long.
    pub header_timeout_secs: u64,
    /// A kept flow (one Drongo opened, or one the core keeps) that has sent nothing for this
    /// long gets a double-CRLF ping (RFC 5626 §4.4.1); 0 sends none.
    pub keepalive_interval_secs: u64,
    /// A pinged flow that sends nothing back within this long is closed.
    pub keepalive_timeout_secs: u64,
    /// An outbound connection not established within this long fails.
    pub connect_timeout_secs: u64,
}

impl Config {
    /// The core's static route table of `[[routes]]`.
    pub fn static_routes(&self) -> Result<crate::core::proxy::StaticRoutes, ConfigError> {
        let routes = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| route.to_core(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::core::proxy::StaticRoutes::new(routes))
    }
}

impl TimersConfig {
    /// The core's timer values and the wheel tick these keys describe.
    pub fn to_timer_config_and_tick(&self) -> (TimerConfig, Duration) {
        let timers = TimerConfig {
            t1: Duration::from_millis(self.t1_ms),
            t2: Duration::from_millis(self.t2_ms),
            t4: Duration::from_millis(self.t4_ms),
            timer_c: Duration::from_secs(self.timer_c_secs),
        };
        (timers, Duration::from_millis(self.tick_ms))
    }
}

impl Config {
    /// Parses and validates a configuration. Keys left out take their defaults.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config = deserialize(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates the file at `path`; errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text).map_err(|err| err.in_file(path))
    }

    /// The commented example configuration: every key, set to its default.
    pub fn example_toml() -> &'static str {
        include_str!("drongo.example.toml")
    }

    /// A few lines describing what this configuration will run, for `drongo check-config` and
    /// the startup log.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        // NOTE: writing to a String cannot fail.
        let _ = match self.shards.cores.as_slice() {
            [] => writeln!(out, "shards: one per CPU in the affinity mask"),
            cores => writeln!(
                out,
                "shards: {} on CPU {}",
                cores.len(),
                join(cores.iter().map(ToString::to_string))
            ),
        };
        let _ = writeln!(
            out,
            "sip.listen: {}",
            join(self.sip.listen.iter().map(ToString::to_string))
        );
        let _ = match self.sip.domains.as_slice() {
            [] => writeln!(out, "sip.domains: none"),
            domains => writeln!(out, "sip.domains: {}", domains.join(", ")),
        };
        let _ = writeln!(
            out,
            "sip.symmetric_response: {}, sip.server_header: {:?}",
            self.sip.symmetric_response, self.sip.server_header
        );
        let timers = &self.sip.timers;
        let _ = writeln!(
            out,
            "sip.timers: T1 {} ms, T2 {} ms, T4 {} ms, Timer C {} s, tick {} ms",
            timers.t1_ms, timers.t2_ms, timers.t4_ms, timers.timer_c_secs, timers.tick_ms
        );
        let _ = writeln!(
            out,
            "udp: batch {}, recv_buffer {}, send_buffer {}, pace {} us",
            self.udp.batch,
            bytes(self.udp.recv_buffer),
            bytes(self.udp.send_buffer),
            self.udp.pace_us
        );
        let _ = if self.tcp.enabled {
            writeln!(
                out,
                "tcp: max_message {}, max_connections {} per shard ({} per IP), \
                 idle_timeout {} s, header_timeout {} s, keepalive {}, connect_timeout {} s",
                bytes(self.tcp.max_message),
                self.tcp.max_connections,
                self.tcp.max_connections_per_ip,
                self.tcp.idle_timeout_secs,
                self.tcp.header_timeout_secs,
                match self.tcp.keepalive_interval_secs {
                    0 => "off".to_owned(),
                    every => format!(
                        "every {every} s, timeout {} s",
                        self.tcp.keepalive_timeout_secs
                    ),
                },
                self.tcp.connect_timeout_secs
            )
        } else {
            writeln!(out, "tcp: off")
        };
        let _ = match self.routes.as_slice() {
            [] => writeln!(out, "routes: none"),
            routes => writeln!(
                out,
                "routes: {}",
                routes
                    .iter()
                    .map(RouteSection::summary)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let _ = write!(
            out,
            "log: level {:?}, timestamps {}",
            self.log.level,
            if self.log.timestamps { "on" } else { "off" }
        );
        out
    }
}

/// Deserialises without semantic checks, mapping serde/toml errors to key paths.
fn deserialize(text: &str) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|err| {
        let key = err.path().to_string();
        let at_key = err.path().iter().next().is_some();
        let inner = err.into_inner();
        let at = inner
            .span()
            .map(|span| Location::of_offset(text, span.start));
        if at_key {
            return ConfigError::Key {
                key,
                message: describe(inner.message()),
                at,
            };
        }
        // No key on the path: the text failed to parse as TOML at all.
        ConfigError::Syntax {
            at: at.unwrap_or(Location { line: 1, column: 1 }),
            message: match inner.message().trim() {
                "" => "incomplete or malformed value".to_owned(),
                message => message.replace('\n', "; "),
            },
        }
    })
}

/// Rewords serde's messages in the configuration's terms ("key" rather than "field").
fn describe(message: &str) -> String {
    let message = message.trim_end();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_owned();
    };
    match rest.split_once(", expected ") {
        Some((_, known)) => format!("unknown key (expected {})", known.replace('`', "")),
        None => "unknown key (this table has no keys)".to_owned(),
    }
}

/// `sip.listen`: socket addresses whose parse error quotes the offending text.
fn socket_addrs<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<SocketAddr>, D::Error> {
    /// One element, so the path to an error ends in its index.
    struct Addr(SocketAddr);

    impl<'de> Deserialize<'de> for Addr {
        fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            let text = String::deserialize(de)?;
            text.parse().map(Addr).map_err(|_| {
                serde::de::Error::custom(format_args!(
                    "invalid socket address {text:?}; expected IPv4:PORT or [IPv6]:PORT"
                ))
            })
        }
    }

    Ok(Vec::<Addr>::deserialize(de)?
        .into_iter()
        .map(|addr| addr.0)
        .collect())
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// `4194304` -> `4 MiB`; sizes that are not whole KiB/MiB stay in bytes.
fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

impl RouteSection {
    /// `carrier.example +44 -> sip:10.0.0.1:5060, sip:10.0.0.2:5060 (serial)`.
    fn summary(&self) -> String {
        let domain = if self.domain.is_empty() {
            "any domain"
        } else {
            &self.domain
        };
        let prefix = if self.user_prefix.is_empty() {
            String::new()
        } else {
            format!(" {}", self.user_prefix)
        };
        let mode = match self.mode {
            RouteMode::Serial => "serial",
            RouteMode::Parallel => "parallel",
        };
        format!("{domain}{prefix} -> {} ({mode})", self.next_hops.join(", "))
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            timestamps: true,
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: vec![
                "0.0.0.0:5060".parse().expect("literal"),
                "[::]:5060".parse().expect("literal"),
            ],
            domains: Vec::new(),
            symmetric_response: true,
            server_header: String::new(),
            drop_scanners: true,
            timers: TimersConfig::default(),
        }
    }
}

impl Default for TimersConfig {
    fn default() -> Self {
        TimersConfig {
            t1_ms: 500,
            t2_ms: 4_000,
            t4_ms: 5_000,
            timer_c_secs: 180,
            tick_ms: 10,
        }
    }
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            batch: 32,
            recv_buffer: 4 << 20,
            send_buffer: 4 << 20,
            pace_us: 1000,
        }
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            enabled: true,
            max_message: 65535,
            max_connections: 16384,
            max_connections_per_ip: 256,
            idle_timeout_secs: 600,
            header_timeout_secs: 10,
            keepalive_interval_secs: 120,
            keepalive_timeout_secs: 10,
            connect_timeout_secs: 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error for `text`, which must be rejected.
    fn error(text: &str) -> ConfigError {
        match Config::from_toml_str(text) {
            Ok(config) => panic!("accepted {text:?} as {config:?}"),
            Err(err) => err,
        }
    }

    /// Asserts `text` is rejected with an error about `key` whose message contains `needle`.
    fn rejects(text: &str, key: &str, needle: &str) {
        let err = error(text);
        assert_eq!(err.key_path(), Some(key), "{text:?}: {err}");
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("{key}: ")), "{shown}");
        assert!(shown.contains(needle), "{shown:?} lacks {needle:?}");
    }

    #[test]
    fn no_text_means_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
        assert_eq!(
            Config::from_toml_str("# nothing\n").unwrap(),
            Config::default()
        );
        assert_eq!(
            Config::from_toml_str("[log]\n[shards]\n[sip]\n[sip.timers]\n[udp]\n[tcp]\n").unwrap(),
            Config::default()
        );
        Config::default().validate().unwrap();
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.log.level, "info");
        assert!(c.log.timestamps);
        assert!(c.shards.cores.is_empty());
        assert_eq!(
            c.sip.listen,
            vec![
                "0.0.0.0:5060".parse::<SocketAddr>().unwrap(),
                "[::]:5060".parse().unwrap()
            ]
        );
        assert!(c.sip.domains.is_empty());
        assert!(c.sip.symmetric_response);
        assert_eq!(c.sip.server_header, "");
        assert_eq!(
            c.sip.timers,
            TimersConfig {
                t1_ms: 500,
                t2_ms: 4000,
                t4_ms: 5000,
                timer_c_secs: 180,
                tick_ms: 10,
            }
        );
        assert_eq!(
            (c.udp.batch, c.udp.recv_buffer, c.udp.send_buffer),
            (32, 4 << 20, 4 << 20)
        );
        assert!(c.tcp.enabled);
        assert_eq!(
            (
                c.tcp.max_message,
                c.tcp.max_connections,
                c.tcp.max_connections_per_ip,
                c.tcp.idle_timeout_secs,
                c.tcp.header_timeout_secs
            ),
            (65535, 16384, 256, 600, 10)
        );
        assert_eq!(
            (
                c.tcp.keepalive_interval_secs,
                c.tcp.keepalive_timeout_secs,
                c.tcp.connect_timeout_secs
            ),
            (120, 10, 10)
        );
    }

    #[test]
    fn every_key() {
        let c = Config::from_toml_str(
            r#"
            [log]
            level = "warn,drongo::shell=debug"
            timestamps = false
            [shards]
            cores = [1, 3]
            [sip]
            listen = ["192.0.2.10:5060", "[2001:db8::10]:5080"]
            domains = ["sbc.example.com", "example.net."]
            symmetric_response = false
            server_header = "Drongo/0.1 (edge)"
            drop_scanners = false
            [sip.timers]
            t1_ms = 250
            t2_ms = 2000
            t4_ms = 2500
            timer_c_secs = 90
            tick_ms = 5
            [udp]
            batch = 64
            recv_buffer = 8388608
            send_buffer = 65536
            pace_us = 0
            [tcp]
            enabled = false
            max_message = 131072
            max_connections = 1000
            max_connections_per_ip = 32
            idle_timeout_secs = 120
            header_timeout_secs = 5
            keepalive_interval_secs = 30
            keepalive_timeout_secs = 5
            connect_timeout_secs = 3

            [registrar]
            min_expires = 30
            max_expires = 7200
            default_expires = 600
            max_contacts_per_aor = 4
            max_bindings_per_shard = 500000
            realm = "sbc.example.com"
            backend = "memory"

            [[routes]]
            domain = "carrier.example"
            user_prefix = "+44"
            next_hops = ["sip:10.0.0.1:5060;transport=tcp", "sip:10.0.0.2"]
            mode = "serial"

            [[routes]]
            next_hops = ["sip:[2001:db8::1]"]
            mode = "parallel"
            "#,
        )
        .unwrap();
        assert_eq!(
            c,
            Config {
                log: LogConfig {
                    level: "warn,drongo::shell=debug".into(),
                    timestamps: false,
                },
                shards: ShardsConfig { cores: vec![1, 3] },
                sip: SipConfig {
                    listen: vec![
                        "192.0.2.10:5060".parse().unwrap(),
                        "[2001:db8::10]:5080".parse().unwrap()
                    ],
                    domains: vec!["sbc.example.com".into(), "example.net.".into()],
                    symmetric_response: false,
                    server_header: "Drongo/0.1 (edge)".into(),
                    drop_scanners: false,
                    timers: TimersConfig {
                        t1_ms: 250,
                        t2_ms: 2000,
                        t4_ms: 2500,
                        timer_c_secs: 90,
                        tick_ms: 5,
                    },
                },
                udp: UdpConfig {
                    batch: 64,
                    recv_buffer: 8 << 20,
                    send_buffer: 64 << 10,
                    pace_us: 0,
                },
                tcp: TcpConfig {
                    enabled: false,
                    max_message: 128 << 10,
                    max_connections: 1000,
                    max_connections_per_ip: 32,
                    idle_timeout_secs: 120,
                    header_timeout_secs: 5,
                    keepalive_interval_secs: 30,
                    keepalive_timeout_secs: 5,
                    connect_timeout_secs: 3,
                },
                registrar: RegistrarSection {
                    min_expires: 30,
                    max_expires: 7200,
                    default_expires: 600,
                    max_contacts_per_aor: 4,
                    max_bindings_per_shard: 500_000,
                    credentials: String::new(),
                    realm: "sbc.example.com".into(),
                    backend: "memory".into(),
                },
                routes: vec![
                    RouteSection {
                        domain: "carrier.example".into(),
                        user_prefix: "+44".into(),
                        next_hops: vec![
                            "sip:10.0.0.1:5060;transport=tcp".into(),
                            "sip:10.0.0.2".into()
                        ],
                        mode: RouteMode::Serial,
                    },
                    RouteSection {
                        domain: String::new(),
                        user_prefix: String::new(),
                        next_hops: vec!["sip:[2001:db8::1]".into()],
                        mode: RouteMode::Parallel,
                    },
                ],
            }
        );
    }

    #[test]
    fn default_timers_are_the_rfc_values_on_a_10_ms_tick() {
        assert_eq!(
            TimersConfig::default().to_timer_config_and_tick(),
            (TimerConfig::RFC, Duration::from_millis(10))
        );
    }

    #[test]
    fn a_custom_timers_table() {
        let c = Config::from_toml_str(
            "[sip.timers]\nt1_ms = 100\nt2_ms = 400\nt4_ms = 1000\ntimer_c_secs = 60\n\
             tick_ms = 2\n",
        )
        .unwrap();
        assert_eq!(
            c.sip.timers.to_timer_config_and_tick(),
            (
                TimerConfig {
                    t1: Duration::from_millis(100),
                    t2: Duration::from_millis(400),
                    t4: Duration::from_secs(1),
                    timer_c: Duration::from_secs(60),
                },
                Duration::from_millis(2)
            )
        );
        assert_eq!(
            c.sip.listen,
            SipConfig::default().listen,
            "the rest of [sip]"
        );
        // The edges: T2 equal to T1, a tick as long as T1, Timer C under 3 minutes.
        let c = Config::from_toml_str(
            "sip.timers = { t1_ms = 20, t2_ms = 20, tick_ms = 20, timer_c_secs = 1 }",
        )
        .unwrap();
        assert_eq!(
            (c.sip.timers.t2_ms, c.sip.timers.tick_ms, c.sip.timers.t4_ms),
            (20, 20, 5000)
        );
        Config::from_toml_str("sip.timers.t1_ms = 60000\nsip.timers.t2_ms = 60000").unwrap();
    }

    #[test]
    fn credentials_are_user_password_lines() {
        let users = parse_credentials("# users\nalice:wonder:land\n\n  bob:builder  \n").unwrap();
        assert_eq!(
            users,
            [
                ("alice".to_string(), "wonder:land".to_string()),
                ("bob".to_string(), "builder".to_string())
            ]
        );
        for (text, why) in [
            ("alice", "line 1: expected"),
            ("ok:1\n:nobody", "line 2"),
            ("a:1\na:2", "listed twice"),
        ] {
            let err = parse_credentials(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        let missing = RegistrarSection {
            credentials: "/nonexistent/drongo-users".into(),
            ..RegistrarSection::default()
        };
        let err = missing.load_credentials().unwrap_err().to_string();
        assert!(err.contains("registrar.credentials"), "{err}");
    }

    #[test]
    fn bad_registrar_limits_name_their_key() {
        for (toml, key) in [
            ("registrar.min_expires = 0", "registrar.min_expires"),
            (
                "registrar.min_expires = 600\nregistrar.max_expires = 300",
                "registrar.max_expires",
            ),
            (
                "registrar.default_expires = 10",
                "registrar.default_expires",
            ),
            (
                "registrar.max_contacts_per_aor = 0",
                "registrar.max_contacts_per_aor",
            ),
            ("registrar.max_bindings = 5", "registrar"),
            (
                "registrar.backend = \"redis\"",
                "registrar.backend: \"redis\" is not a registrar backend (expected one of memory)",
            ),
        ] {
            let err = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn bad_timers_name_their_key() {
        rejects(
            "sip.timers.t1_ms = 0",
            "sip.timers.t1_ms",
            "0 is out of range 1..=60000",
        );
        rejects(
            "sip.timers.t1_ms = 60001\nsip.timers.t2_ms = 70000",
            "sip.timers.t1_ms",
            "60001 is out of range 1..=60000",
        );
        rejects(
            "sip.timers.t2_ms = 400",
            "sip.timers.t2_ms",
            "400 is shorter than sip.timers.t1_ms (500); T2 caps the doubling of T1 \
             (RFC 3261 §17.1.2.2)",
        );
        rejects(
            "sip.timers.t2_ms = 600001",
            "sip.timers.t2_ms",
            "600001 is out of range 500..=600000",
        );
        rejects(
            "sip.timers.t4_ms = 0",
            "sip.timers.t4_ms",
            "0 is out of range 1..=600000",
        );
        rejects(
            "sip.timers.timer_c_secs = 0",
            "sip.timers.timer_c_secs",
            "0 is out of range 1..=86400",
        );
        rejects(
            "sip.timers.timer_c_secs = 86401",
            "sip.timers.timer_c_secs",
            "out of range",
        );
        rejects(
            "sip.timers.tick_ms = 0",
            "sip.timers.tick_ms",
            "0 is out of range",
        );
        rejects(
            "sip.timers.t1_ms = 100\nsip.timers.tick_ms = 101",
            "sip.timers.tick_ms",
            "101 is coarser than sip.timers.t1_ms (100), which would make Timers A, E and G \
             fire late",
        );
        rejects("sip.timers.t1_ms = -1", "sip.timers.t1_ms", "invalid value");
        rejects(
            "sip.timers.tick_ms = \"10ms\"",
            "sip.timers.tick_ms",
            "invalid type: string",
        );
        rejects(
            "sip.timers = 5",
            "sip.timers",
            "expected a [sip.timers] table",
        );
        rejects(
            "[sip.timers]\nt1 = 100",
            "sip.timers.t1",
            "unknown key (expected one of t1_ms, t2_ms, t4_ms, timer_c_secs, tick_ms)",
        );
    }

    #[test]
    fn a_timers_error_has_its_location() {
        let err = error("[sip]\ndomains = []\n\n[sip.timers]\nt1_ms = \"x\"\n");
        assert_eq!(err.key_path(), Some("sip.timers.t1_ms"));
        assert_eq!(err.location().map(|at| at.line), Some(5));
    }

    #[test]
    fn a_partial_table_keeps_the_other_defaults() {
        let c = Config::from_toml_str("udp.batch = 8\nsip.domains = [\"example.com\"]").unwrap();
        assert_eq!(c.udp.batch, 8);
        assert_eq!(c.udp.recv_buffer, UdpConfig::default().recv_buffer);
        assert_eq!(c.sip.listen, SipConfig::default().listen);
        assert_eq!(c.log, LogConfig::default());
    }

    #[test]
    fn example_file_is_the_defaults() {
        assert_eq!(
            Config::from_toml_str(Config::example_toml()).unwrap(),
            Config::default()
        );
    }

    /// The example file's commented `[[routes]]` table, uncommented.
    fn example_route() -> String {
        let lines: Vec<&str> = Config::example_toml()
            .lines()
            .skip_while(|l| *l != "# [[routes]]")
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
            .collect();
        lines.join("\n")
    }

    #[test]
    fn the_example_route_is_valid() {
        let text = example_route();
        assert!(text.starts_with("[[routes]]\n"), "{text}");
        let c = Config::from_toml_str(&text).unwrap();
        assert_eq!(
            c.routes,
            [RouteSection {
                domain: "carrier.example".into(),
                user_prefix: "+44".into(),
                next_hops: vec![
                    "sip:192.0.2.1:5060;transport=tcp".into(),
                    "sip:192.0.2.2".into()
                ],
                mode: RouteMode::Serial,
            }]
        );
        // Every key a route has is in the example.
        let all = toml::Value::try_from(&c.routes[0]).unwrap();
        for key in all.as_table().unwrap().keys() {
            assert!(text.contains(&format!("\n{key} = ")), "{key}");
        }
        let table = c.static_routes().unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.routes()[0].hops[0].to_string(),
            "sip:192.0.2.1:5060;transport=tcp"
        );
    }

    #[test]
    fn route_defaults_and_order() {
        let c = Config::from_toml_str(
            "[[routes]]\nnext_hops = [\"sip:10.0.0.9\"]\n\
             [[routes]]\nuser_prefix = \"+4420\"\nnext_hops = [\"sip:10.0.0.1\"]\n\
             mode = \"parallel\"\n",
        )
        .unwrap();
        assert_eq!(c.routes[0].mode, RouteMode::Serial, "serial by default");
        assert_eq!(c.routes[0].domain, "");
        let table = c.static_routes().unwrap();
        assert_eq!(
            &*table.routes()[0].user_prefix,
            b"+4420",
            "longest prefix first"
        );
        assert_eq!(
            table.routes()[0].mode,
            crate::core::proxy::ForkMode::Parallel
        );
        assert!(c.summary().contains(
            "routes: any domain -> sip:10.0.0.9 (serial); any domain +4420 -> sip:10.0.0.1 \
             (parallel)\n"
        ));
    }

    #[test]
    fn bad_routes_name_their_key() {
        let route = |body: &str| format!("[[routes]]\n{body}\n");
        let hops = "next_hops = [\"sip:10.0.0.1\"]";
        rejects(
            &route("domain = \"carrier example\"\nnext_hops = [\"sip:10.0.0.1\"]"),
            "routes[0].domain",
            "\"carrier example\" is not a host name",
        );
        rejects(
            &route(&format!("user_prefix = \"+44 20\"\n{hops}")),
            "routes[0].user_prefix",
            "\"+44 20\" has ' ', which a SIP user part cannot hold",
        );
        rejects(
            &route(&format!("user_prefix = \"%4\"\n{hops}")),
            "routes[0].user_prefix",
            "'%' that is not followed by two hex digits",
        );
        rejects(
            &route("domain = \"carrier.example\""),
            "routes[0].next_hops",
            "must list at least one next hop",
        );
        rejects(
            &route("next_hops = []"),
            "routes[0].next_hops",
            "must list at least one next hop",
        );
        let many: Vec<String> = (1..=17).map(|i| format!("\"sip:10.0.0.{i}\"")).collect();
        rejects(
            &route(&format!("next_hops = [{}]", many.join(", "))),
            "routes[0].next_hops",
            "lists 17 next hops; at most 16",
        );
        for (hop, why) in [
            ("10.0.0.1", "is not a SIP URI"),
            ("sips:10.0.0.1", "must be a sip: URI"),
            (
                "sip:trunk.carrier.example",
                "must name an IP address, not a host name",
            ),
            ("sip:gw@10.0.0.1", "names a user"),
            (
                "sip:10.0.0.1;transport=tls",
                "has transport \"tls\"; udp and tcp are served",
            ),
            ("sip:10.0.0.1;maddr=10.0.0.2", "has parameter \"maddr\""),
            ("sip:10.0.0.1:0", "has port 0"),
        ] {
            rejects(
                &route(&format!("next_hops = [\"sip:10.0.0.9\", \"{hop}\"]")),
                "routes[0].next_hops[1]",
                &format!("\"{hop}\" {why}"),
            );
        }
        rejects(
            &route("next_hops = [\"sip:10.0.0.1\", \"sip:10.0.0.1:5060;transport=udp\"]"),
            "routes[0].next_hops[1]",
            "is already listed at routes[0].next_hops[0]",
        );
        rejects(
            &route(&format!("mode = \"round-robin\"\n{hops}")),
            "routes[0].mode",
            "unknown variant `round-robin`, expected `serial` or `parallel`",
        );
        rejects(
            &route(&format!("prefix = \"+44\"\n{hops}")),
            "routes[0].prefix",
            "unknown key (expected one of domain, user_prefix, next_hops, mode)",
        );
        rejects(
            &format!(
                "{}{}",
                route(&format!("domain = \"Carrier.Example.\"\nuser_prefix = \"+44\"\n{hops}")),
                route("domain = \"carrier.example\"\nuser_prefix = \"+44\"\nnext_hops = [\"sip:10.0.0.2\"]")
            ),
            "routes[1]",
            "routes[0] already has domain \"carrier.example\" and user_prefix \"+44\"",
        );
        rejects(
            "routes = 5",
            "routes",
            "invalid type: integer `5`, expected a sequence",
        );
        rejects("routes = [5]", "routes[0]", "expected a [[routes]] table");
        // IP domains, v6 with or without brackets; a v4-mapped one is its v4 address.
        Config::from_toml_str(&format!(
            "{}{}",
            route(&format!("domain = \"[2001:db8::5]\"\n{hops}")),
            route(&format!("domain = \"192.0.2.5\"\n{hops}"))
        ))
        .unwrap();
        rejects(
            &format!(
                "{}{}",
                route(&format!("domain = \"192.0.2.5\"\n{hops}")),
                route(&format!("domain = \"::ffff:192.0.2.5\"\n{hops}"))
            ),
            "routes[1]",
            "already has domain",
        );
    }

    /// Every key the example file sets, as dotted paths.
    fn keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        match value.as_table() {
            Some(table) => {
                for (k, v) in table {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    keys(v, &path, out);
                }
            }
            None => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn example_file_lists_every_key() {
        let mut listed = Vec::new();
        keys(
            &toml::from_str(Config::example_toml()).unwrap(),
            "",
            &mut listed,
        );
        let mut all = Vec::new();
        keys(
            &toml::Value::try_from(Config::default()).unwrap(),
            "",
            &mut all,
        );
        listed.sort();
        all.sort();
        assert_eq!(listed, all);
    }

    #[test]
    fn tuning_profiles_are_valid() {
        let two_core = Config::from_toml_str(include_str!("../../tuning/2core/drongo.toml"));
        assert_eq!(two_core.unwrap().shards.cores, vec![1]);
    }

    #[test]
    fn unknown_keys_name_their_path() {
        rejects(
            "bogus = 1",
            "bogus",
            "unknown key (expected one of log, shards, sip, udp, tcp, registrar, routes)",
        );
        rejects("[extra]\nx = 1", "extra", "unknown key");
        rejects(
            "[udp]\nbatchh = 4",
            "udp.batchh",
            "unknown key (expected one of batch,",
        );
        rejects("[log]\nlevell = \"x\"", "log.levell", "unknown key");
        rejects("sip.listenn = []", "sip.listenn", "unknown key");
        rejects(
            "[shards]\ncpus = [1]",
            "shards.cpus",
            "unknown key (expected cores)",
        );
        rejects(
            "[tcp]\nidle_timeout = 5",
            "tcp.idle_timeout",
            "unknown key (expected one of enabled, max_message,",
        );
    }

    #[test]
    fn unknown_key_error_has_its_location() {
        let err = error("[log]\nlevel = \"info\"\n\n[udp]\nbatch = 4\n  batchh = 4\n");
        assert_eq!(err.location(), Some(Location { line: 6, column: 3 }));
        assert_eq!(
            err.to_string(),
            "udp.batchh: unknown key (expected one of batch, recv_buffer, send_buffer, pace_us) \
             (line 6, column 3)"
        );
    }

    #[test]
    fn bad_types_name_their_path() {
        rejects("log = 5", "log", "expected a [log] table");
        rejects(
            "[log]\nlevel = 3",
            "log.level",
            "invalid type: integer `3`, expected a string",
        );
        rejects(
            "[log]\ntimestamps = \"no\"",
            "log.timestamps",
            "expected a boolean",
        );
        rejects(
            "[udp]\nbatch = \"32\"",
            "udp.batch",
            "invalid type: string \"32\"",
        );
        rejects("[udp]\nbatch = -1", "udp.batch", "invalid value");
        rejects(
            "[udp]\nrecv_buffer = 1.5",
            "udp.recv_buffer",
            "invalid type: floating point",
        );
        rejects("[shards]\ncores = 1", "shards.cores", "expected a sequence");
        rejects("tcp = 1", "tcp", "expected a [tcp] table");
        rejects("tcp.enabled = \"yes\"", "tcp.enabled", "expected a boolean");
        rejects(
            "tcp.max_connections = -1",
            "tcp.max_connections",
            "invalid value",
        );
        rejects(
            "[shards]\ncores = [1, \"2\"]",
            "shards.cores[1]",
            "invalid type: string",
        );
        rejects(
            "[sip]\nlisten = \"0.0.0.0:5060\"",
            "sip.listen",
            "expected a sequence",
        );
        rejects(
            "[sip]\nlisten = [5060]",
            "sip.listen[0]",
            "invalid type: integer",
        );
        rejects(
            "[sip]\nsymmetric_response = 1",
            "sip.symmetric_response",
            "expected a boolean",
        );
        rejects(
            "[sip]\ndomains = [[\"a\"]]",
            "sip.domains[0]",
            "invalid type",
        );
    }

    #[test]
    fn invalid_socket_address_is_quoted() {
        let err = error("[sip]\nlisten = [\"0.0.0.0:5060\", \"1.2.3:99\"]\n");
        assert_eq!(err.key_path(), Some("sip.listen[1]"));
        assert!(
            err.to_string()
                .starts_with("sip.listen[1]: invalid socket address \"1.2.3:99\""),
            "{err}"
        );
        assert_eq!(err.location().map(|at| at.line), Some(2));
        rejects(
            "sip.listen = [\"::1:5060\"]",
            "sip.listen[0]",
            "\"::1:5060\"",
        );
        rejects(
            "sip.listen = [\"example.com:5060\"]",
            "sip.listen[0]",
            "invalid socket address",
        );
    }

    #[test]
    fn syntax_errors_have_a_location() {
        for text in [
            "[udp\nbatch = 1",
            "[udp]\nbatch = ",
            "[udp]\nbatch = 1\nbatch = 2",
            "x = \"open",
        ] {
            match error(text) {
                ConfigError::Syntax { at, message } => {
                    assert!(at.line >= 1 && !message.is_empty(), "{text:?}");
                    assert!(!message.contains('\n'), "{text:?}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let err = error("[udp]\nbatch = 1\nbatch = 2\n");
        assert!(
            err.to_string().starts_with("invalid TOML at line 3"),
            "{err}"
        );
    }

    #[test]
    fn semantic_errors_name_their_path() {
        rejects("log.level = \"\"", "log.level", "must not be empty");
        rejects(
            "log.level = \"drongo=loud\"",
            "log.level",
            "invalid filter directive",
        );
        rejects(
            "shards.cores = [1, 2, 1]",
            "shards.cores[2]",
            "CPU 1 is already listed at shards.cores[0]",
        );
        rejects("shards.cores = [4096]", "shards.cores[0]", "CPU 4096");
        rejects("sip.listen = []", "sip.listen", "at least one address");
        rejects("sip.listen = [\"192.0.2.1:0\"]", "sip.listen[0]", "port 0");
        rejects(
            "sip.listen = [\"224.0.1.75:5060\"]",
            "sip.listen[0]",
            "multicast",
        );
        rejects(
            "sip.listen = [\"192.0.2.1:5060\", \"[::1]:5060\", \"192.0.2.1:5060\"]",
            "sip.listen[2]",
            "already listed at sip.listen[0]",
        );
        rejects(
            "sip.listen = [\"192.0.2.1:5060\", \"0.0.0.0:5060\"]",
            "sip.listen[0]",
            "covered by the wildcard sip.listen[1] (0.0.0.0:5060)",
        );
        rejects(
            "sip.listen = [\"[::]:5070\", \"[2001:db8::1]:5070\"]",
            "sip.listen[1]",
            "covered by the wildcard sip.listen[0]",
        );
        rejects(
            "sip.domains = [\"ok.example\", \"bad domain\"]",
            "sip.domains[1]",
            "not a host name",
        );
        rejects(
            "sip.domains = [\"Example.com\", \"example.COM.\"]",
            "sip.domains[1]",
            "already listed at sip.domains[0]",
        );
        rejects(
            "sip.server_header = \"Drongo\\r\\nX: y\"",
            "sip.server_header",
            "CR or LF",
        );
        rejects(
            "sip.server_header = \"Drongo/\"",
            "sip.server_header",
            "empty version",
        );
        rejects("udp.batch = 0", "udp.batch", "0 is out of range 1..=1024");
        rejects("udp.batch = 1025", "udp.batch", "out of range");
        rejects(
            "udp.pace_us = 10001",
            "udp.pace_us",
            "10001 is out of range 0..=10000",
        );
        rejects(
            "udp.recv_buffer = 1024",
            "udp.recv_buffer",
            "1024 bytes is out of range",
        );
        rejects(
            "udp.send_buffer = 2147483648",
            "udp.send_buffer",
            "out of range",
        );
        rejects(
            "tcp.max_message = 512",
            "tcp.max_message",
            "512 bytes is out of range 1024..=16777216",
        );
        rejects(
            "tcp.max_message = 16777217",
            "tcp.max_message",
            "out of range",
        );
        rejects(
            "tcp.max_connections = 0",
            "tcp.max_connections",
            "0 is out of range 1..=1000000",
        );
        rejects(
            "tcp.idle_timeout_secs = 0",
            "tcp.idle_timeout_secs",
            "0 is out of range 1..=86400",
        );
        rejects(
            "tcp.header_timeout_secs = 3601",
            "tcp.header_timeout_secs",
            "3601 is out of range 1..=3600",
        );
        rejects(
            "tcp.idle_timeout_secs = 5\ntcp.header_timeout_secs = 10",
            "tcp.header_timeout_secs",
            "10 is longer than tcp.idle_timeout_secs (5)",
        );
        rejects(
            "tcp.max_connections_per_ip = 0",
            "tcp.max_connections_per_ip",
            "0 is out of range 1..=1000000",
        );
        rejects(
            "tcp.keepalive_interval_secs = 86401",
            "tcp.keepalive_interval_secs",
            "86401 is out of range 0..=86400",
        );
        rejects(
            "tcp.keepalive_timeout_secs = 0",
            "tcp.keepalive_timeout_secs",
            "0 is out of range 1..=3600",
        );
        rejects(
            "tcp.connect_timeout_secs = 601",
            "tcp.connect_timeout_secs",
            "601 is out of range 1..=600",
        );
        let off = Config::from_toml_str("tcp.keepalive_interval_secs = 0").unwrap();
        assert_eq!(off.tcp.keepalive_interval_secs, 0);
    }

    #[test]
    fn wildcards_of_both_families_and_other_ports_coexist() {
        let c = Config::from_toml_str(
            "sip.listen = [\"0.0.0.0:5060\", \"[::]:5060\", \"192.0.2.1:5080\", \"[::1]:5080\"]",
        )
        .unwrap();
        assert_eq!(c.sip.listen.len(), 4);
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("drongo-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "[udp]\nbatch = 16\n").unwrap();
        assert_eq!(Config::load(&good).unwrap().udp.batch, 16);

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[udp]\nbatch = 0\n").unwrap();
        let err = Config::load(&bad).unwrap_err();
        assert_eq!(err.key_path(), Some("udp.batch"));
        assert!(err
            .to_string()
            .starts_with(&format!("{}: udp.batch: ", bad.display())));

        let missing = dir.join("missing.toml");
        let err = Config::load(&missing).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        assert!(err.to_string().starts_with(&missing.display().to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn summary_describes_the_configuration() {
        let summary = Config::default().summary();
        assert!(
            summary.contains("shards: one per CPU in the affinity mask"),
            "{summary}"
        );
        assert!(
            summary.contains("sip.listen: 0.0.0.0:5060, [::]:5060"),
            "{summary}"
        );
        assert!(
            summary.contains("udp: batch 32, recv_buffer 4 MiB, send_buffer 4 MiB, pace 1000 us"),
            "{summary}"
        );
        assert!(
            summary.contains(
                "sip.timers: T1 500 ms, T2 4000 ms, T4 5000 ms, Timer C 180 s, tick 10 ms\n"
            ),
            "{summary}"
        );
        assert!(
            summary.contains(
                "tcp: max_message 65535 bytes, max_connections 16384 per shard (256 per IP), \
                 idle_timeout 600 s, header_timeout 10 s, keepalive every 120 s, timeout 10 s, \
                 connect_timeout 10 s"
            ),
            "{summary}"
        );
        let off = Config::from_toml_str("tcp.enabled = false").unwrap();
        assert!(off.summary().contains("tcp: off\n"));
        let pinned = Config::from_toml_str("shards.cores = [1, 2]").unwrap();
        assert!(pinned.summary().starts_with("shards: 2 on CPU 1, 2\n"));
        assert_eq!(bytes(65536), "64 KiB");
        assert_eq!(bytes(100_000), "100000 bytes");
    }
}
