//! The stateful proxy (RFC 3261 §16): route preprocessing and request forwarding
//! ([`forward`]) and the response context of a forked request ([`context`]).
//!
//! The shard runs them: it validates a request (§16.3), preprocesses its routes, decides the
//! targets (the registrar's bindings, or configured routes), forwards one copy per target in
//! a client transaction, and feeds every branch's responses to the context, which says what
//! goes upstream and which branches to cancel.

pub mod context;
pub mod forward;

pub use context::{upstream_status, ResponseContext, Verdict};
pub use forward::{next_hop, preprocess, write, Plan, Preprocess};
