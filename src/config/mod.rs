//! Configuration: TOML -> validated [`Config`]. Every key has a default, so Drongo runs with no
//! file at all; an unknown key or a bad value is an error that names the key.

use serde::Deserialize;
use std::net::SocketAddr;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub log: LogConfig,
    pub shards: ShardsConfig,
    pub sip: SipConfig,
    pub udp: UdpConfig,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// tracing filter directive, e.g. "info" or "drongo=debug"; `RUST_LOG` overrides it.
    pub level: String,
}

/// `[shards]`
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ShardsConfig {
    /// CPUs to run one signalling shard on each. Empty: one shard per CPU in the process's
    /// affinity mask.
    pub cores: Vec<usize>,
}

/// `[sip]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// UDP listen addresses. A wildcard (0.0.0.0 / [::]) is expanded to one socket per local
    /// address of that family, so replies always leave from the address the request reached.
    pub listen: Vec<SocketAddr>,
    /// Domains Drongo serves besides its own addresses.
    pub domains: Vec<String>,
    /// Send responses to the request's source address and port even without `rport`
    /// (what an edge element facing NATed phones wants). `false` gives plain RFC 3261
    /// §18.2.2 plus RFC 3581.
    pub symmetric_response: bool,
    /// Token sent in the `Server` header of Drongo's own responses; empty sends none.
    pub server_header: String,
}

/// `[udp]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UdpConfig {
    /// Datagrams taken per receive batch.
    pub batch: usize,
    /// SO_RCVBUF in bytes.
    pub recv_buffer: usize,
    /// SO_SNDBUF in bytes.
    pub send_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            log: LogConfig::default(),
            shards: ShardsConfig::default(),
            sip: SipConfig::default(),
            udp: UdpConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
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
        }
    }
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            batch: 32,
            recv_buffer: 4 << 20,
            send_buffer: 4 << 20,
        }
    }
}
