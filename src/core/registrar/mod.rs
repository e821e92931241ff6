//! The registrar and location service (RFC 3261 §10.3): REGISTER adds, refreshes and removes
//! the bindings of an address-of-record; requests to that AoR are sent to its bindings.
//!
//! Owns: the rules of §10.3 steps 5 to 8 (the canonical AoR, `Contact: *`, the expiry of each
//! contact with its minimum, maximum and default, Call-ID/CSeq ordering, q-values), the limits
//! that protect the table (contacts per AoR, bindings per shard), GRUUs (RFC 5627: the public
//! and temporary GRUUs of a registered instance, and which bindings a GRUU reaches), the
//! outbound rules (RFC 5626: a binding per instance and `reg-id`, unreachable once its flow
//! fails), the [`Registrar`] trait every storage backend implements and its in-memory
//! backend [`Location`], their expiry on a timer wheel, and a [`RegEvent`] for every change.
//! Must not: read the wire format beyond the header views it is given, or write responses
//! (the shard does, from [`Registrar::bindings`]).
//!
//! Memory: an AoR is a slot holding its first binding's fixed part (48 bytes) and one
//! allocation for its key and its bindings' strings (contact URI, `+sip.instance`, Path; the
//! Call-ID is kept as a hash). `cargo test --lib registrar::footprint -- --nocapture` prints
//! the sizes.

mod aor;
pub mod gruu;
mod location;
pub mod register;
mod service;

pub use aor::{aor_key, aor_shard, without_port, AorError};
pub use location::{
    Binding, Contact, FlowInfo, Location, RegEvent, RegEventKind, RegisterError, RegisterRequest,
};
pub use service::{lookup, open, reachable, Backend, Bindings, Lookup, Registrar};

/// `[registrar]` limits, in the core's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shortest registration accepted; shorter ones get 423 with Min-Expires (§10.3 step 7).
    pub min_expires: u32,
    /// Longest registration granted; longer requests are shortened to this.
    pub max_expires: u32,
    /// Granted when neither the contact nor the request names an expiry.
    pub default_expires: u32,
    /// Bindings one AoR may hold; a REGISTER that would exceed it gets 403.
    pub max_contacts_per_aor: usize,
    /// Bindings one shard may hold; a REGISTER that would exceed it gets 503.
    pub max_bindings: usize,
    /// Where the bindings live.
    pub backend: Backend,
}

impl RegistrarConfig {
    /// 60 s minimum, 3600 s maximum and default, 10 contacts per AoR, 2 million bindings a
    /// shard (about 450 MB at the 225 bytes a binding `cargo bench --bench location` prints).
    pub const DEFAULT: RegistrarConfig = RegistrarConfig {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        max_contacts_per_aor: 10,
        max_bindings: 2_000_000,
        backend: Backend::Memory,
    };
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig::DEFAULT
    }
}

#[cfg(test)]
mod footprint {
    /// `cargo test --lib registrar::footprint -- --nocapture` prints the sizes.
    #[test]
    fn sizes() {
        super::location::footprint();
    }
}
