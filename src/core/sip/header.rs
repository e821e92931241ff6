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

/// Compact forms (RFC 3261 §7.3.3 and the extensions' own), indexed by byte, either case.
static COMPACT: [HeaderName; 256] = {
    let mut t = [HeaderName::Other; 256];
    t[b'a' as usize] = HeaderName::AcceptContact;
    t[b'A' as usize] = HeaderName::AcceptContact;
    t[b'u' as usize] = HeaderName::AllowEvents;
    t[b'U' as usize] = HeaderName::AllowEvents;
    t[b'i' as usize] = HeaderName::CallId;
    t[b'I' as usize] = HeaderName::CallId;
    t[b'm' as usize] = HeaderName::Contact;
    t[b'M' as usize] = HeaderName::Contact;
    t[b'e' as usize] = HeaderName::ContentEncoding;
    t[b'E' as usize] = HeaderName::ContentEncoding;
    t[b'l' as usize] = HeaderName::ContentLength;
    t[b'L' as usize] = HeaderName::ContentLength;
    t[b'c' as usize] = HeaderName::ContentType;
    t[b'C' as usize] = HeaderName::ContentType;
    t[b'o' as usize] = HeaderName::Event;
    t[b'O' as usize] = HeaderName::Event;
    t[b'f' as usize] = HeaderName::From;
    t[b'F' as usize] = HeaderName::From;
    t[b'r' as usize] = HeaderName::ReferTo;
    t[b'R' as usize] = HeaderName::ReferTo;
    t[b'b' as usize] = HeaderName::ReferredBy;
    t[b'B' as usize] = HeaderName::ReferredBy;
    t[b'j' as usize] = HeaderName::RejectContact;
    t[b'J' as usize] = HeaderName::RejectContact;
    t[b'x' as usize] = HeaderName::SessionExpires;
    t[b'X' as usize] = HeaderName::SessionExpires;
    t[b's' as usize] = HeaderName::Subject;
    t[b'S' as usize] = HeaderName::Subject;
    t[b'k' as usize] = HeaderName::Supported;
    t[b'K' as usize] = HeaderName::Supported;
    t[b't' as usize] = HeaderName::To;
    t[b'T' as usize] = HeaderName::To;
    t[b'v' as usize] = HeaderName::Via;
    t[b'V' as usize] = HeaderName::Via;
    t[b'd' as usize] = HeaderName::RequestDisposition;
    t[b'D' as usize] = HeaderName::RequestDisposition;
    t
};

impl HeaderName {
    /// Classifies a header name as it appears on the wire (any case, compact forms too).
    /// One jump on (length, first letter), then one case-insensitive compare.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        #[inline(always)]
        fn eq(name: &[u8], lower: &[u8]) -> bool {
            name.eq_ignore_ascii_case(lower)
        }
        let Some(&first) = name.first() else {
            return HeaderName::Other;
        };
        if name.len() == 1 {
            return COMPACT[first as usize];
        }
        match (name.len(), first | 0x20) {
            (2, b't') if eq(name, b"to") => HeaderName::To,
            (3, b'v') if eq(name, b"via") => HeaderName::Via,
            (4, b'c') if eq(name, b"cseq") => HeaderName::CSeq,
            (4, b'd') if eq(name, b"date") => HeaderName::Date,
            (4, b'f') if eq(name, b"from") => HeaderName::From,
            (4, b'p') if eq(name, b"path") => HeaderName::Path,
            (4, b'r') if eq(name, b"rack") => HeaderName::RAck,
            (4, b'r') if eq(name, b"rseq") => HeaderName::RSeq,
            (5, b'a') if eq(name, b"allow") => HeaderName::Allow,
            (5, b'e') if eq(name, b"event") => HeaderName::Event,
            (5, b'r') if eq(name, b"route") => HeaderName::Route,
            (6, b'a') if eq(name, b"accept") => HeaderName::Accept,
            (6, b'm') if eq(name, b"min-se") => HeaderName::MinSe,
            (6, b'r') if eq(name, b"reason") => HeaderName::Reason,
            (6, b's') if eq(name, b"server") => HeaderName::Server,
            (7, b'c') if eq(name, b"call-id") => HeaderName::CallId,
            (7, b'c') if eq(name, b"contact") => HeaderName::Contact,
            (7, b'e') if eq(name, b"expires") => HeaderName::Expires,
            (7, b'r') if eq(name, b"require") => HeaderName::Require,
            (7, b's') if eq(name, b"subject") => HeaderName::Subject,
            (7, b'w') if eq(name, b"warning") => HeaderName::Warning,
            (8, b'p') if eq(name, b"priority") => HeaderName::Priority,
            (8, b'r') if eq(name, b"refer-to") => HeaderName::ReferTo,
            (8, b'r') if eq(name, b"replaces") => HeaderName::Replaces,
            (8, b'r') if eq(name, b"reply-to") => HeaderName::ReplyTo,
            (9, b'c') if eq(name, b"call-info") => HeaderName::CallInfo,
            (9, b's') if eq(name, b"supported") => HeaderName::Supported,
            (9, b't') if eq(name, b"timestamp") => HeaderName::Timestamp,
            (10, b'a') if eq(name, b"alert-info") => HeaderName::AlertInfo,
            (10, b'e') if eq(name, b"error-info") => HeaderName::ErrorInfo,
            (10, b'u') if eq(name, b"user-agent") => HeaderName::UserAgent,
            (11, b'i') if eq(name, b"in-reply-to") => HeaderName::InReplyTo,
            (11, b'm') if eq(name, b"min-expires") => HeaderName::MinExpires,
            (11, b'r') if eq(name, b"referred-by") => HeaderName::ReferredBy,
            (11, b'r') if eq(name, b"retry-after") => HeaderName::RetryAfter,
            (11, b'u') if eq(name, b"unsupported") => HeaderName::Unsupported,
            (12, b'a') if eq(name, b"allow-events") => HeaderName::AllowEvents,
            (12, b'c') if eq(name, b"content-type") => HeaderName::ContentType,
            (12, b'm') if eq(name, b"max-forwards") => HeaderName::MaxForwards,
            (12, b'm') if eq(name, b"mime-version") => HeaderName::MimeVersion,
            (12, b'o') if eq(name, b"organization") => HeaderName::Organization,
            (12, b'r') if eq(name, b"record-route") => HeaderName::RecordRoute,
            (13, b'a') if eq(name, b"authorization") => HeaderName::Authorization,
            (13, b'p') if eq(name, b"proxy-require") => HeaderName::ProxyRequire,
            (14, b'a') if eq(name, b"accept-contact") => HeaderName::AcceptContact,
            (14, b'c') if eq(name, b"content-length") => HeaderName::ContentLength,
            (14, b'r') if eq(name, b"reject-contact") => HeaderName::RejectContact,
            (15, b'a') if eq(name, b"accept-encoding") => HeaderName::AcceptEncoding,
            (15, b'a') if eq(name, b"accept-language") => HeaderName::AcceptLanguage,
            (15, b's') if eq(name, b"session-expires") => HeaderName::SessionExpires,
            (16, b'c') if eq(name, b"content-encoding") => HeaderName::ContentEncoding,
            (16, b'c') if eq(name, b"content-language") => HeaderName::ContentLanguage,
            (16, b'w') if eq(name, b"www-authenticate") => HeaderName::WwwAuthenticate,
            (18, b'p') if eq(name, b"proxy-authenticate") => HeaderName::ProxyAuthenticate,
            (18, b's') if eq(name, b"subscription-state") => HeaderName::SubscriptionState,
            (19, b'c') if eq(name, b"content-disposition") => HeaderName::ContentDisposition,
            (19, b'p') if eq(name, b"proxy-authorization") => HeaderName::ProxyAuthorization,
            (19, b'r') if eq(name, b"request-disposition") => HeaderName::RequestDisposition,
            _ => HeaderName::Other,
        }
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
