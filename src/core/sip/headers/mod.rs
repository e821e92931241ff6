//! Typed views of header values, decoded on demand from a borrowed slice (RFC 3261 §20,
//! grammar §25.1, and the extensions named in each submodule).
//!
//! Owns: turning one header field VALUE (the bytes after the colon, as the message parser
//! found them, possibly folded) into a typed view. Each single-value type has
//! `parse(value) -> Result<Self, Invalid>`; multi-value headers are iterators over the
//! comma-separated elements of one header field, yielding `Result` per element (`Vias`,
//! `NameAddrs`, `OptionTags`, `Allow`). Every view borrows from the value; nothing allocates.
//! It does not own header names, framing or the message index (the message parser does), nor
//! any policy such as which headers a request needs.
//!
//! A header that fails to decode makes a request malformed (400, RFC 3261 §21.4.1) and a
//! response discarded, unless the caller decides the header does not matter to it.

mod event;
mod method;
mod name_addr;
mod option_tags;
mod replaces;
mod scalar;
mod session_timer;
mod via;

pub use event::{Event, SubState, SubscriptionState};
pub use method::Method;
pub use name_addr::{
    parse_qvalue, ContactValue, DisplayName, NameAddr, NameAddrs, ReferTo, ReferredBy,
};
pub use option_tags::{Allow, OptionTags};
pub use replaces::Replaces;
pub use scalar::{
    CSeq, CallId, ContentLength, ContentType, Expires, MaxForwards, MinExpires, RAck, RSeq,
};
pub use session_timer::{MinSE, Refresher, SessionExpires};
pub use via::{Via, Vias, BRANCH_COOKIE};

#[cfg(test)]
mod conformance_tests;
