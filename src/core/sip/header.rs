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

use super::text::fold_word;

/// Bytes of a name packed eight to a little-endian word, three words: the longest known
/// name has 19 bytes.
pub(crate) type NameWords = [u64; 3];

/// A known name as [`NameWords`], lower case.
const fn key(name: &[u8]) -> NameWords {
    let mut w = [0u64; 3];
    let mut i = 0;
    while i < name.len() {
        w[i / 8] |= (name[i].to_ascii_lowercase() as u64) << (8 * (i % 8));
        i += 1;
    }
    w
}

/// Classifies a name of `n` bytes from its folded words (see [`fold_word`]), the bytes past
/// the name zero. One jump on the length, then a compare of the words
/// for each known name of that length.
macro_rules! by_length {
    ($n:expr, $w:expr; $($len:literal => [$($lit:literal => $h:ident),+ $(,)?]),+ $(,)?) => {{
        let (n, w): (usize, &NameWords) = ($n, $w);
        match n {
            $($len => {
                $({
                    // The words past the name's length are zero on both sides.
                    const K: NameWords = key($lit.as_bytes());
                    if w[0] == K[0] && ($len <= 8 || w[1] == K[1]) && ($len <= 16 || w[2] == K[2]) {
                        return HeaderName::$h;
                    }
                })+
                HeaderName::Other
            })+
            _ => HeaderName::Other,
        }
    }};
}

impl HeaderName {
    /// Classifies a header name as it appears on the wire (any case, compact forms too).
    /// One jump on the length, then one compare per known name of that length, a word (eight
    /// bytes) at a time.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name {
            [] => HeaderName::Other,
            [b] => HeaderName::compact(*b),
            _ if name.len() > 19 => HeaderName::Other,
            _ => {
                let mut bytes = [0u8; 24];
                // NOTE: 2 <= name.len() <= 19 < 24.
                bytes[..name.len()].copy_from_slice(name);
                let word = |k: usize| {
                    let mut c = [0u8; 8];
                    c.copy_from_slice(&bytes[8 * k..8 * k + 8]);
                    fold_word(u64::from_le_bytes(c))
                };
                HeaderName::from_words(name.len(), &[word(0), word(1), word(2)])
            }
        }
    }

    /// The compact form `b` (§7.3.3), or [`HeaderName::Other`].
    #[inline(always)]
    pub(crate) fn compact(b: u8) -> HeaderName {
        COMPACT[usize::from(b)]
    }

    /// Classifies a name of `n` bytes, 2 or more, given as folded words (see
    /// [`fold_word`]) with the bytes past the name zero; a compact form has one byte and is looked up alone.
    #[inline(always)]
    pub(crate) fn from_words(n: usize, w: &NameWords) -> HeaderName {
        by_length!(n, w;
            2 => ["to" => To],
            3 => ["via" => Via],
            4 => [
                "cseq" => CSeq, "date" => Date, "from" => From, "path" => Path,
                "rack" => RAck, "rseq" => RSeq,
            ],
            5 => ["allow" => Allow, "event" => Event, "route" => Route],
            6 => ["accept" => Accept, "min-se" => MinSe, "reason" => Reason, "server" => Server],
            7 => [
                "call-id" => CallId, "contact" => Contact, "expires" => Expires,
                "require" => Require, "subject" => Subject, "warning" => Warning,
            ],
            8 => [
                "priority" => Priority, "refer-to" => ReferTo, "replaces" => Replaces,
                "reply-to" => ReplyTo,
            ],
            9 => ["call-info" => CallInfo, "supported" => Supported, "timestamp" => Timestamp],
            10 => ["alert-info" => AlertInfo, "error-info" => ErrorInfo, "user-agent" => UserAgent],
            11 => [
                "in-reply-to" => InReplyTo, "min-expires" => MinExpires,
                "referred-by" => ReferredBy, "retry-after" => RetryAfter,
                "unsupported" => Unsupported,
            ],
            12 => [
                "allow-events" => AllowEvents, "content-type" => ContentType,
                "max-forwards" => MaxForwards, "mime-version" => MimeVersion,
                "organization" => Organization, "record-route" => RecordRoute,
            ],
            13 => ["authorization" => Authorization, "proxy-require" => ProxyRequire],
            14 => [
                "accept-contact" => AcceptContact, "content-length" => ContentLength,
                "reject-contact" => RejectContact,
            ],
            15 => [
                "accept-encoding" => AcceptEncoding, "accept-language" => AcceptLanguage,
                "session-expires" => SessionExpires,
            ],
            16 => [
                "content-encoding" => ContentEncoding, "content-language" => ContentLanguage,
                "www-authenticate" => WwwAuthenticate,
            ],
            18 => [
                "proxy-authenticate" => ProxyAuthenticate,
                "subscription-state" => SubscriptionState,
            ],
            19 => [
                "content-disposition" => ContentDisposition,
                "proxy-authorization" => ProxyAuthorization,
                "request-disposition" => RequestDisposition,
            ],
        )
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
    use proptest::prelude::*;

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
        // A byte that folds onto a known one without being it: CR where `-` is.
        assert_eq!(HeaderName::from_bytes(b"Call\rID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"\x16IA"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"T\xcf"), HeaderName::Other);
    }

    /// The classification by definition: a compact form by its table, a full name by a
    /// case-insensitive compare with every known name.
    fn reference(name: &[u8]) -> HeaderName {
        if let [b] = name {
            return COMPACT[usize::from(*b)];
        }
        TABLE
            .iter()
            .find(|(full, _, _)| full.as_bytes().eq_ignore_ascii_case(name))
            .map_or(HeaderName::Other, |(_, _, h)| *h)
    }

    #[test]
    fn every_byte_in_every_place_of_every_name_agrees_with_the_reference() {
        for (full, _, _) in TABLE {
            for at in 0..full.len() {
                for b in 0..=255u8 {
                    let mut name = full.as_bytes().to_vec();
                    name[at] = b;
                    assert_eq!(HeaderName::from_bytes(&name), reference(&name), "{name:?}");
                }
            }
        }
        for b in 0..=255u8 {
            assert_eq!(HeaderName::from_bytes(&[b]), reference(&[b]));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_names_agree_with_the_reference(
            name in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            prop_assert_eq!(HeaderName::from_bytes(&name), reference(&name));
        }

        #[test]
        fn known_names_in_any_case_agree_with_the_reference(
            which in 0..TABLE.len(),
            cases in any::<u32>(),
            cut in 0usize..3,
        ) {
            let full = TABLE[which].0.as_bytes();
            let mut name: Vec<u8> = full
                .iter()
                .enumerate()
                .map(|(i, b)| if cases >> (i % 32) & 1 == 1 { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() })
                .collect();
            name.truncate(full.len() - cut.min(full.len() - 1));
            prop_assert_eq!(HeaderName::from_bytes(&name), reference(&name));
        }
    }
}
