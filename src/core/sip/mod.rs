//! SIP codec (RFC 3261 §7, §25): zero-copy parse, typed header views, writer, TCP framer.

pub mod error;
pub mod framer;
pub mod header;
pub mod headers;
pub mod message;
pub mod method;
pub mod text;
pub mod uri;
pub mod validate;
pub mod writer;

pub use error::{DropReason, Effect, ParseError};
pub use header::HeaderName;
pub use message::{Framing, Headers, Kind, Message, Rejected, StartLine};
pub use method::Method;
