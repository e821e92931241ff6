//! Stream framing for SIP over TCP (RFC 3261 §18.3) with the keep-alives of RFC 5626 §4.4.1.
//!
//! Owns: finding where one message ends in a byte stream (the empty line, then exactly
//! Content-Length octets), CRLF keep-alives between messages, and explicit caps on the header
//! section and body. It never copies: the caller keeps the receive buffer, asks [`Framer::next`]
//! after every read, and consumes the reported number of bytes. "Need more" is
//! [`Frame::Partial`], not an error; every error is fatal for the connection (close it and
//! count it), because a stream that lost its framing cannot be resynchronised.

use memchr::memmem;

use super::message::parse_content_length;

/// Caps that hold whatever the peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerLimits {
    /// Largest header section (start line through the empty line) accepted.
    pub max_header_section: usize,
    /// Largest body accepted.
    pub max_body: usize,
}

impl Default for FramerLimits {
    fn default() -> Self {
        FramerLimits {
            max_header_section: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// What the front of the buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet; read more and ask again.
    Partial,
    /// A double-CRLF ping of this many bytes: consume it and answer with a single CRLF pong.
    Ping(usize),
    /// A single CRLF (a pong, or a stray line end between messages): consume it.
    Pong(usize),
    /// A complete message occupying this many bytes: parse `&buf[..n]` with
    /// [`super::message::Framing::Stream`], then consume it.
    Message(usize),
}

/// Why a stream lost its framing. Each closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The header section passed `max_header_section` without ending.
    HeaderTooLarge,
    /// Content-Length above `max_body`.
    BodyTooLarge,
    /// No Content-Length: mandatory on streams (§18.3; RFC 4475 §3.1.2.3).
    MissingContentLength,
    /// Content-Length not a decimal number in range (RFC 4475 §3.1.2.3).
    BadContentLength,
    /// Two Content-Length headers (RFC 4475 §3.3.9).
    DuplicateContentLength,
}

impl FrameError {
    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameError::HeaderTooLarge => "header_too_large",
            FrameError::BodyTooLarge => "body_too_large",
            FrameError::MissingContentLength => "missing_content_length",
            FrameError::BadContentLength => "bad_content_length",
            FrameError::DuplicateContentLength => "duplicate_content_length",
        }
    }
}

/// Per-connection framing state. It remembers how far it has scanned, so a message that
/// arrives one byte at a time costs linear work, not quadratic.
#[derive(Debug, Clone)]
pub struct Framer {
    limits: FramerLimits,
    /// Bytes already searched for the end of the header section.
    scanned: usize,
    /// Once found: total message length (header section + body).
    total: Option<usize>,
}

impl Framer {
    pub fn new(limits: FramerLimits) -> Framer {
        Framer {
            limits,
            scanned: 0,
            total: None,
        }
    }

    pub fn limits(&self) -> FramerLimits {
        self.limits
    }

    /// True while a message has started but not completed (for header-section timeouts).
    pub fn in_message(&self) -> bool {
        self.scanned > 0 || self.total.is_some()
    }

    /// Looks at the front of `buf`. After a non-`Partial` frame the caller must remove that
    /// many bytes from the front before calling again; the framer then starts afresh.
    pub fn next(&mut self, buf: &[u8]) -> Result<Frame, FrameError> {
        if let Some(total) = self.total {
            return Ok(self.complete_if(buf, total));
        }
        if self.scanned == 0 {
            if buf.starts_with(b"\r\n\r\n") {
                return Ok(Frame::Ping(4));
            }
            if buf.starts_with(b"\r\n") && !buf[2..].starts_with(b"\r") {
                return Ok(Frame::Pong(2));
            }
            if buf.len() < 4 && b"\r\n\r\n".starts_with(buf) {
                return Ok(Frame::Partial);
            }
        }
        // Resume the search three bytes back: the terminator may straddle two reads.
        let from = self.scanned.saturating_sub(3);
        let limit = buf.len().min(self.limits.max_header_section);
        let Some(at) = memmem::find(&buf[from..limit], b"\r\n\r\n") else {
            if buf.len() >= self.limits.max_header_section {
                return Err(FrameError::HeaderTooLarge);
            }
            self.scanned = buf.len();
            return Ok(Frame::Partial);
        };
        let header_end = from + at + 4;
        let body = content_length(&buf[..header_end])?;
        if body > self.limits.max_body {
            return Err(FrameError::BodyTooLarge);
        }
        let total = header_end + body;
        self.total = Some(total);
        Ok(self.complete_if(buf, total))
    }

    fn complete_if(&mut self, buf: &[u8], total: usize) -> Frame {
        if buf.len() < total {
            return Frame::Partial;
        }
        self.scanned = 0;
        self.total = None;
        Frame::Message(total)
    }
}

/// Finds the single Content-Length of a header section (long or compact form).
fn content_length(section: &[u8]) -> Result<usize, FrameError> {
    let mut found: Option<usize> = None;
    let mut lines = section.split(|&b| b == b'\n').skip(1);
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii_end();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        // A folded value continues on lines that start with whitespace.
        let mut value = line[colon + 1..].trim_ascii();
        let mut folded = lines.clone();
        if value.is_empty() {
            if let Some(next) = folded
                .next()
                .filter(|l| l.first().is_some_and(|b| *b == b' ' || *b == b'\t'))
            {
                value = next.strip_suffix(b"\r").unwrap_or(next).trim_ascii();
            }
        }
        let n = parse_content_length(value).ok_or(FrameError::BadContentLength)?;
        if found.replace(n as usize).is_some() {
            return Err(FrameError::DuplicateContentLength);
        }
    }
    found.ok_or(FrameError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nContent-Length: 5\r\n\r\nhello";

    fn framer() -> Framer {
        Framer::new(FramerLimits::default())
    }

    #[test]
    fn one_complete_message() {
        assert_eq!(framer().next(MSG), Ok(Frame::Message(MSG.len())));
    }

    #[test]
    fn pipelined_messages_come_out_one_by_one() {
        let mut buf = MSG.to_vec();
        buf.extend_from_slice(MSG);
        buf.extend_from_slice(&MSG[..10]);
        let mut f = framer();
        let mut n = 0;
        let mut at = 0;
        while let Frame::Message(len) = f.next(&buf[at..]).unwrap() {
            at += len;
            n += 1;
        }
        assert_eq!(n, 2);
        assert_eq!(at, 2 * MSG.len());
    }

    #[test]
    fn a_message_arriving_one_byte_at_a_time() {
        let mut f = framer();
        for end in 1..MSG.len() {
            assert_eq!(f.next(&MSG[..end]), Ok(Frame::Partial), "at {end}");
        }
        assert_eq!(f.next(MSG), Ok(Frame::Message(MSG.len())));
    }

    #[test]
    fn keep_alives_between_messages() {
        let mut f = framer();
        assert_eq!(f.next(b"\r\n\r\nOPTIONS"), Ok(Frame::Ping(4)));
        assert_eq!(f.next(b"\r\nOPTIONS"), Ok(Frame::Pong(2)));
        assert_eq!(f.next(b"\r\n"), Ok(Frame::Pong(2)));
        assert_eq!(f.next(b"\r\n\r"), Ok(Frame::Partial));
        assert_eq!(f.next(b"\r"), Ok(Frame::Partial));
    }

    #[test]
    fn content_length_is_mandatory_and_single() {
        let none = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(framer().next(none), Err(FrameError::MissingContentLength));
        let neg = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: -999\r\n\r\n";
        assert_eq!(framer().next(neg), Err(FrameError::BadContentLength));
        let two = b"OPTIONS sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 1\r\n\r\nx";
        assert_eq!(framer().next(two), Err(FrameError::DuplicateContentLength));
        let compact = b"OPTIONS sip:a SIP/2.0\r\nl : 1\r\n\r\nx";
        assert_eq!(framer().next(compact), Ok(Frame::Message(compact.len())));
        let folded = b"OPTIONS sip:a SIP/2.0\r\nContent-Length:\r\n 1\r\n\r\nx";
        assert_eq!(framer().next(folded), Ok(Frame::Message(folded.len())));
    }

    #[test]
    fn limits_hold() {
        let limits = FramerLimits {
            max_header_section: 64,
            max_body: 4,
        };
        let mut f = Framer::new(limits);
        assert_eq!(f.next(MSG), Err(FrameError::BodyTooLarge));
        let mut f = Framer::new(limits);
        let endless = [b'a'; 100];
        assert_eq!(f.next(&endless), Err(FrameError::HeaderTooLarge));
        let mut f = Framer::new(limits);
        assert_eq!(f.next(&endless[..63]), Ok(Frame::Partial));
    }

    #[test]
    fn a_body_that_has_not_arrived_waits() {
        let clerr = b"INVITE sip:a SIP/2.0\r\nContent-Length: 9999\r\n\r\nv=0\r\n";
        let mut f = Framer::new(FramerLimits {
            max_header_section: 1024,
            max_body: 10_000,
        });
        assert_eq!(f.next(clerr), Ok(Frame::Partial));
        assert!(f.in_message());
    }
}
