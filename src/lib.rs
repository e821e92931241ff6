//! Drongo: a thread-per-core SIP session border controller.
//!
//! `core` is sans-IO SIP logic (no sockets, clocks or OS randomness); `shell` drives it on
//! glommio executors, one pinned shard per core; `sim` drives it on a virtual clock with no
//! sockets; `config` turns a TOML file into a validated [`config::Config`].

pub mod config;
pub mod core;
pub mod shell;
pub mod sim;
