//! Codec errors and what each one does on the wire (STYLE rule 8). A request that fails to
//! parse gets the status RFC 3261 asks for when enough of it survived to build a response
//! (§8.2, §16.3); everything else is dropped and counted by its [`DropReason`].

use super::header::HeaderName;

/// Why a message could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but whitespace.
    Empty,
    /// The first line is neither a Request-Line nor a Status-Line (§7.1, §7.2).
    StartLine,
    /// A line that starts with a method token but is no Request-Line: extra or missing SP,
    /// no SIP-Version (§7.1; RFC 4475 §3.1.2.9, §3.1.2.10).
    RequestLine,
    /// A well-formed SIP-Version other than SIP/2.0 (§8.2.2 and §21.5.6: 505).
    Version,
    /// The Request-URI is not a URI (§25.1).
    RequestUri,
    /// A Status-Code outside 100..=699 or not three digits (§7.2).
    StatusCode,
    /// A line ending other than CRLF (bare CR or bare LF) in the start line or headers.
    LineEnding,
    /// A header line without a colon or with a name that is not a token (§7.3.1).
    HeaderLine,
    /// The header section did not end with an empty line.
    Unterminated,
    /// More header lines than the codec indexes.
    TooManyHeaders,
    /// A header that RFC 3261 §8.1.1 requires is missing.
    Missing(HeaderName),
    /// A header allowed once appears more than once (RFC 4475 §3.3.8, §3.3.9).
    Duplicate(HeaderName),
    /// A header whose value does not follow its grammar.
    Invalid(HeaderName),
    /// Content-Length larger than the bytes that arrived (RFC 4475 §3.1.2.2).
    BodyTruncated,
    /// The CSeq method differs from the request method (§8.1.1.5; RFC 4475 §3.1.2.17).
    CSeqMethod,
}

/// What a parse failure does on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Answer a request with this status and reason phrase.
    Respond(u16, &'static str),
    /// Send nothing; count it.
    Drop(DropReason),
}

/// Why a message was dropped without an answer. Every drop is counted by one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Not a SIP message at all (no start line, no Via to answer to).
    Garbage = 0,
    /// A response that failed to parse.
    BadResponse,
    /// A response that matches no transaction (or a stray one Drongo does not forward).
    StrayResponse,
    /// A request too broken to answer (no usable Via, From, To, Call-ID or CSeq).
    Unanswerable,
    /// An ACK that matches nothing (RFC 3261 §17.2.3: absorbed).
    StrayAck,
    /// The datagram was larger than the receive buffer.
    Truncated,
    /// The response would go nowhere sensible (no address to reply to).
    NoRoute,
    /// A caught bug: the shard survived it.
    Internal,
    /// A request from a known scanner's User-Agent, dropped by policy.
    Scanner,
    /// A message owned by another shard that could not be handed to it: the channel to the
    /// owner was full (UDP senders retransmit).
    HandoffFull,
    /// A message owned by another shard that could not be handed to it: the owner has stopped.
    HandoffClosed,
}

impl DropReason {
    /// Number of reasons, for counter arrays.
    pub const COUNT: usize = 11;

    /// All reasons in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Garbage,
        DropReason::BadResponse,
        DropReason::StrayResponse,
        DropReason::Unanswerable,
        DropReason::StrayAck,
        DropReason::Truncated,
        DropReason::NoRoute,
        DropReason::Internal,
        DropReason::Scanner,
        DropReason::HandoffFull,
        DropReason::HandoffClosed,
    ];

    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Garbage => "garbage",
            DropReason::BadResponse => "bad_response",
            DropReason::StrayResponse => "stray_response",
            DropReason::Unanswerable => "unanswerable",
            DropReason::StrayAck => "stray_ack",
            DropReason::Truncated => "truncated",
            DropReason::NoRoute => "no_route",
            DropReason::Internal => "internal",
            DropReason::Scanner => "scanner",
            DropReason::HandoffFull => "handoff_full",
            DropReason::HandoffClosed => "handoff_closed",
        }
    }
}

impl ParseError {
    /// What to do about a request that failed this way. Responses that fail are always
    /// dropped (§7.2 gives no way to answer a response); the caller knows which it had.
    pub fn effect(self) -> Effect {
        use HeaderName as H;
        match self {
            ParseError::Empty | ParseError::StartLine => Effect::Drop(DropReason::Garbage),
            ParseError::RequestLine => Effect::Respond(400, "Bad Request-Line"),
            ParseError::Version => Effect::Respond(505, "Version Not Supported"),
            ParseError::RequestUri => Effect::Respond(400, "Bad Request-URI"),
            ParseError::StatusCode => Effect::Drop(DropReason::BadResponse),
            ParseError::LineEnding => Effect::Respond(400, "Bad Line Ending"),
            ParseError::HeaderLine => Effect::Respond(400, "Bad Header Line"),
            ParseError::Unterminated => Effect::Respond(400, "Unterminated Header Section"),
            ParseError::TooManyHeaders => Effect::Respond(400, "Too Many Headers"),
            ParseError::BodyTruncated => Effect::Respond(400, "Content-Length Exceeds Body"),
            ParseError::CSeqMethod => Effect::Respond(400, "CSeq Method Mismatch"),
            ParseError::Missing(h) => Effect::Respond(
                400,
                match h {
                    H::Via => "Missing Via",
                    H::From => "Missing From",
                    H::To => "Missing To",
                    H::CallId => "Missing Call-ID",
                    H::CSeq => "Missing CSeq",
                    _ => "Missing Header",
                },
            ),
            ParseError::Duplicate(h) => Effect::Respond(
                400,
                match h {
                    H::From => "Duplicate From",
                    H::To => "Duplicate To",
                    H::CallId => "Duplicate Call-ID",
                    H::CSeq => "Duplicate CSeq",
                    H::MaxForwards => "Duplicate Max-Forwards",
                    H::ContentLength => "Duplicate Content-Length",
                    H::ContentType => "Duplicate Content-Type",
                    _ => "Duplicate Header",
                },
            ),
            ParseError::Invalid(h) => Effect::Respond(
                400,
                match h {
                    H::Via => "Bad Via",
                    H::From => "Bad From",
                    H::To => "Bad To",
                    H::CallId => "Bad Call-ID",
                    H::CSeq => "Bad CSeq",
                    H::MaxForwards => "Bad Max-Forwards",
                    H::ContentLength => "Bad Content-Length",
                    H::ContentType => "Bad Content-Type",
                    H::Contact => "Bad Contact",
                    H::Expires => "Bad Expires",
                    H::Require => "Bad Require",
                    H::ProxyRequire => "Bad Proxy-Require",
                    _ => "Bad Header",
                },
            ),
        }
    }
}
