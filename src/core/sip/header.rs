//! Header names (RFC 3261 §7.3, §20): case-insensitive, with the compact forms of §7.3.3 and
//! the extensions Drongo routes on. Unknown names are kept as [`HeaderName::Other`] and travel
//! untouched.

/// A header field name. Known names are matched case-insensitively, compact forms included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderName {
    Accept,
    AcceptContact,
    AcceptEncoding,
    AcceptLanguage,
    AlertInfo,
    Allow,
    AllowEvents,
    Authorization,
    CallId,
    CallInfo,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLanguage,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    ErrorInfo,
    Event,
    Expires,
    From,
    InReplyTo,
    MaxForwards,
    MinExpires,
    MinSe,
    MimeVersion,
    Organization,
    Path,
    Priority,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RAck,
    Reason,
    RecordRoute,
    ReferTo,
    ReferredBy,
    RejectContact,
    Replaces,
    ReplyTo,
    RequestDisposition,
    Require,
    RetryAfter,
    Route,
    RSeq,
    Server,
    SessionExpires,
    Subject,
    SubscriptionState,
    Supported,
    Timestamp,
    To,
    Unsupported,
    UserAgent,
    Via,
    Warning,
    WwwAuthenticate,
    /// Any other header; its name is read from the message.
    Other,
}

/// (full name, compact form, variant). Full names are written in their RFC capitalisation.
const TABLE: &[(&str, Option<u8>, HeaderName)] = &[
    ("Accept", None, HeaderName::Accept),
    ("Accept-Contact", Some(b'a'), HeaderName::AcceptContact),
    ("Accept-Encoding", None, HeaderName::AcceptEncoding),
    ("Accept-Language", None, HeaderName::AcceptLanguage),
    ("Alert-Info", None, HeaderName::AlertInfo),
    ("Allow", None, HeaderName::Allow),
    ("Allow-Events", Some(b'u'), HeaderName::AllowEvents),
    ("Authorization", None, HeaderName::Authorization),
    ("Call-ID", Some(b'i'), HeaderName::CallId),
    ("Call-Info", None, HeaderName::CallInfo),
    ("Contact", Some(b'm'), HeaderName::Contact),
    ("Content-Disposition", None, HeaderName::ContentDisposition),
    ("Content-Encoding", Some(b'e'), HeaderName::ContentEncoding),
    ("Content-Language", None, HeaderName::ContentLanguage),
    ("Content-Length", Some(b'l'), HeaderName::ContentLength),
    ("Content-Type", Some(b'c'), HeaderName::ContentType),
    ("CSeq", None, HeaderName::CSeq),
    ("Date", None, HeaderName::Date),
    ("Error-Info", None, HeaderName::ErrorInfo),
    ("Event", Some(b'o'), HeaderName::Event),
    ("Expires", None, HeaderName::Expires),
    ("From", Some(b'f'), HeaderName::From),
    ("In-Reply-To", None, HeaderName::InReplyTo),
    ("Max-Forwards", None, HeaderName::MaxForwards),
    ("Min-Expires", None, HeaderName::MinExpires),
    ("Min-SE", None, HeaderName::MinSe),
    ("MIME-Version", None, HeaderName::MimeVersion),
    ("Organization", None, HeaderName::Organization),
    ("Path", None, HeaderName::Path),
    ("Priority", None, HeaderName::Priority),
    ("Proxy-Authenticate", None, HeaderName::ProxyAuthenticate),
    ("Proxy-Authorization", None, HeaderName::ProxyAuthorization),
    ("Proxy-Require", None, HeaderName::ProxyRequire),
    ("RAck", None, HeaderName::RAck),
    ("Reason", None, HeaderName::Reason),
    ("Record-Route", None, HeaderName::RecordRoute),
    ("Refer-To", Some(b'r'), HeaderName::ReferTo),
    ("Referred-By", Some(b'b'), HeaderName::ReferredBy),
    ("Reject-Contact", Some(b'j'), HeaderName::RejectContact),
    ("Replaces", None, HeaderName::Replaces),
    ("Reply-To", None, HeaderName::ReplyTo),
    (
        "Request-Disposition",
        Some(b'd'),
        HeaderName::RequestDisposition,
    ),
    ("Require", None, HeaderName::Require),
    ("Retry-After", None, HeaderName::RetryAfter),
    ("Route", None, HeaderName::Route),
    ("RSeq", None, HeaderName::RSeq),
    ("Server", None, HeaderName::Server),
    ("Session-Expires", Some(b'x'), HeaderName::SessionExpires),
    ("Subject", Some(b's'), HeaderName::Subject),
    ("Subscription-State", None, HeaderName::SubscriptionState),
    ("Supported", Some(b'k'), HeaderName::Supported),
    ("Timestamp", None, HeaderName::Timestamp),
    ("To", Some(b't'), HeaderName::To),
    ("Unsupported", None, HeaderName::Unsupported),
    ("User-Agent", None, HeaderName::UserAgent),
    ("Via", Some(b'v'), HeaderName::Via),
    ("Warning", None, HeaderName::Warning),
    ("WWW-Authenticate", None, HeaderName::WwwAuthenticate),
];

impl HeaderName {
    /// Classifies a header name as it appears on the wire (any case, compact forms too).
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name.len() {
            0 => HeaderName::Other,
            1 => Self::from_compact(name[0]),
            // Fast path for the headers every message carries.
            2 if name.eq_ignore_ascii_case(b"to") => HeaderName::To,
            3 if name.eq_ignore_ascii_case(b"via") => HeaderName::Via,
            4 if name.eq_ignore_ascii_case(b"from") => HeaderName::From,
            4 if name.eq_ignore_ascii_case(b"cseq") => HeaderName::CSeq,
            7 if name.eq_ignore_ascii_case(b"call-id") => HeaderName::CallId,
            7 if name.eq_ignore_ascii_case(b"contact") => HeaderName::Contact,
            12 if name.eq_ignore_ascii_case(b"max-forwards") => HeaderName::MaxForwards,
            14 if name.eq_ignore_ascii_case(b"content-length") => HeaderName::ContentLength,
            _ => Self::from_table(name),
        }
    }

    fn from_compact(c: u8) -> HeaderName {
        let c = c.to_ascii_lowercase();
        TABLE
            .iter()
            .find(|(_, compact, _)| *compact == Some(c))
            .map_or(HeaderName::Other, |(_, _, h)| *h)
    }

    fn from_table(name: &[u8]) -> HeaderName {
        TABLE
            .iter()
            .find(|(full, _, _)| {
                full.len() == name.len() && full.as_bytes().eq_ignore_ascii_case(name)
            })
            .map_or(HeaderName::Other, |(_, _, h)| *h)
    }

    /// The full name in RFC capitalisation; `None` for [`HeaderName::Other`].
    pub fn as_str(self) -> Option<&'static str> {
        TABLE
            .iter()
            .find(|(_, _, h)| *h == self)
            .map(|(full, _, _)| *full)
    }

    /// Headers that RFC 3261 §7.3.1 lets carry comma-separated values that the codec splits
    /// (all list-valued headers except those whose grammar contains a bare comma).
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Accept
                | AcceptEncoding
                | AcceptLanguage
                | AlertInfo
                | Allow
                | AllowEvents
                | CallInfo
                | Contact
                | ContentEncoding
                | ContentLanguage
                | ErrorInfo
                | InReplyTo
                | Path
                | ProxyRequire
                | RecordRoute
                | Require
                | Route
                | Supported
                | Unsupported
                | Via
                | Warning
        )
    }

    /// Headers that must appear at most once (RFC 3261 §7.3.1, §20); a repeat is a 400.
    pub fn is_single(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            CallId | CSeq | ContentLength | ContentType | From | MaxForwards | To
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_full_name_and_compact_form_round_trips() {
        for (full, compact, h) in TABLE {
            assert_eq!(HeaderName::from_bytes(full.as_bytes()), *h, "{full}");
            assert_eq!(
                HeaderName::from_bytes(full.to_ascii_uppercase().as_bytes()),
                *h
            );
            assert_eq!(
                HeaderName::from_bytes(full.to_ascii_lowercase().as_bytes()),
                *h
            );
            assert_eq!(h.as_str(), Some(*full));
            if let Some(c) = compact {
                assert_eq!(HeaderName::from_bytes(&[*c]), *h);
                assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), *h);
            }
        }
    }

    #[test]
    fn unknown_names_are_other() {
        assert_eq!(HeaderName::from_bytes(b"X-Custom"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::Other.as_str(), None);
    }
}
