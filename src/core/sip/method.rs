//! Request methods (RFC 3261 §7.1, §27.4). Methods are case-sensitive tokens: `invite` is an
//! extension method, not INVITE.

/// A SIP method. Extension methods keep their bytes.
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
    /// Classifies a method token (the caller has checked it is a token).
    #[inline]
    pub fn from_bytes(b: &'a [u8]) -> Method<'a> {
        match b {
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
            Method::Other(b) => b,
        }
    }

    /// True for methods Drongo knows (everything but [`Method::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, Method::Other(_))
    }
}

/// The methods Drongo handles, in the order it lists them in `Allow`.
pub const ALLOWED: &[Method<'static>] = &[
    Method::Invite,
    Method::Ack,
    Method::Cancel,
    Method::Bye,
    Method::Options,
    Method::Register,
    Method::Prack,
    Method::Update,
    Method::Refer,
    Method::Notify,
    Method::Subscribe,
    Method::Message,
    Method::Info,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive() {
        assert_eq!(Method::from_bytes(b"INVITE"), Method::Invite);
        assert_eq!(Method::from_bytes(b"invite"), Method::Other(b"invite"));
        assert_eq!(
            Method::from_bytes(b"RE%47IST%45R"),
            Method::Other(b"RE%47IST%45R")
        );
        for m in ALLOWED {
            assert_eq!(Method::from_bytes(m.as_bytes()), *m);
        }
    }
}
