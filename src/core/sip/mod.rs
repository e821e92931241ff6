//! SIP codec (RFC 3261 §7, §25): zero-copy parse, typed header views, writer, TCP framer.

pub mod headers;
pub mod text;
pub mod uri;
