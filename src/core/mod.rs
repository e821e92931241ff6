//! Sans-IO SIP logic. Nothing in here touches a socket, a clock or the OS RNG: time and
//! randomness come in as arguments, work goes out through `poll_*` methods.

pub mod auth;
pub mod flow;
pub mod handoff;
pub mod ids;
pub mod proxy;
pub mod registrar;
pub mod sdp;
pub mod shard;
pub mod sip;
pub(crate) mod slots;
pub mod timer;
pub mod transaction;
