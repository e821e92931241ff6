//! SIP request methods (RFC 3261 §7.1, §25.1 `Method`), case-sensitive.
//!
//! The core set of RFC 3261 plus the extension methods Drongo handles: PRACK (RFC 3262),
//! UPDATE (RFC 3311), REFER (RFC 3515), SUBSCRIBE and NOTIFY (RFC 6665), MESSAGE (RFC 3428),
//! INFO (RFC 6086), PUBLISH (RFC 3903). Any other token is kept as [`Method::Other`].

use crate::core::sip::text::{is_token, Invalid};

/// A request method. Methods are case-sensitive (RFC 3261 §7.1): `invite` is an extension
/// method, not INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Update,
    Refer,
    Notify,
    Subscribe,
    Message,
    Info,
    Publish,
    Other(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Classifies `s` without checking that it is a token; see [`Method::parse`].
    pub fn from_bytes(s: &'a [u8]) -> Self {
        match s {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"REFER" => Method::Refer,
            b"NOTIFY" => Method::Notify,
            b"SUBSCRIBE" => Method::Subscribe,
            b"MESSAGE" => Method::Message,
            b"INFO" => Method::Info,
            b"PUBLISH" => Method::Publish,
            other => Method::Other(other),
        }
    }

    /// A method must be a non-empty token (§25.1 `extension-method = token`).
    /// A known method is a token already; only another one is checked.
    pub fn parse(s: &'a [u8]) -> Result<Self, Invalid> {
        match Method::from_bytes(s) {
            Method::Other(_) if !is_token(s) => Err(Invalid),
            m => Ok(m),
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Options => b"OPTIONS",
            Method::Register => b"REGISTER",
            Method::Prack => b"PRACK",
            Method::Update => b"UPDATE",
            Method::Refer => b"REFER",
            Method::Notify => b"NOTIFY",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Message => b"MESSAGE",
            Method::Info => b"INFO",
            Method::Publish => b"PUBLISH",
            Method::Other(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_round_trip() {
        for m in [
            Method::Invite,
            Method::Ack,
            Method::Bye,
            Method::Cancel,
            Method::Options,
            Method::Register,
            Method::Prack,
            Method::Update,
            Method::Refer,
            Method::Notify,
            Method::Subscribe,
            Method::Message,
            Method::Info,
            Method::Publish,
        ] {
            assert_eq!(Method::from_bytes(m.as_bytes()), m);
            assert_eq!(Method::parse(m.as_bytes()), Ok(m));
        }
    }

    #[test]
    fn methods_are_case_sensitive_tokens() {
        assert_eq!(Method::parse(b"invite"), Ok(Method::Other(b"invite")));
        // RFC 4475 §3.1.1.5 (esc02): escapes are not decoded in a method.
        assert_eq!(
            Method::parse(b"RE%47IST%45R"),
            Ok(Method::Other(b"RE%47IST%45R"))
        );
        // RFC 4475 §3.1.1.2 (intmeth).
        let m = b"!interesting-Method0123456789_*+`.%indeed'~";
        assert_eq!(Method::parse(m), Ok(Method::Other(m)));
        assert_eq!(Method::parse(b""), Err(Invalid));
        assert_eq!(Method::parse(b"IN VITE"), Err(Invalid));
        assert_eq!(Method::parse(b"INVITE;"), Err(Invalid));
        assert_eq!(Method::Other(b"FOO").as_bytes(), b"FOO");
    }
}
