//! The methods Drongo handles (RFC 3261 §7.1, §27.4). [`Method`] itself lives with the
//! header views, which decode it from CSeq, RAck and Allow too.

pub use super::headers::Method;

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

/// [`ALLOWED`] as the value of an `Allow` header.
pub const ALLOW_VALUE: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, REFER, NOTIFY, SUBSCRIBE, MESSAGE, INFO";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_value_lists_allowed_in_order() {
        let joined: Vec<&str> = ALLOWED
            .iter()
            .map(|m| std::str::from_utf8(m.as_bytes()).unwrap())
            .collect();
        assert_eq!(ALLOW_VALUE, joined.join(", "));
    }

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
