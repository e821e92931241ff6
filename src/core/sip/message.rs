//! Zero-copy SIP message (RFC 3261 §7): one borrowed buffer, the start line, and an index of
//! header offsets. Typed header views are decoded on demand from the indexed value slices
//! (see [`super::headers`]); nothing is copied and nothing is allocated for messages with up
//! to [`INLINE_HEADERS`] header lines.
//!
//! Owns: start-line parsing (§7.1, §7.2), header indexing with folding and compact forms
//! (§7.3), body framing by Content-Length (§7.4.1, §18.3) and the structural checks that make
//! a message answerable. Semantic checks of individual headers live in `validate`.

use memchr::{memchr, memchr2};
use smallvec::SmallVec;

use super::error::ParseError;
use super::header::HeaderName;
use super::method::Method;
use super::text::is_token_char as is_token;
use super::text::{
    bytes_below, bytes_equal, first_flagged, fold_word, is_lws, span, span_from, word_at, TOKEN,
};

/// Header lines indexed without touching the heap.
pub const INLINE_HEADERS: usize = 32;
/// Header lines indexed at most; a message with more is refused (400).
pub const MAX_HEADERS: usize = 256;

/// A byte range inside the message buffer. `u32` keeps the index small; messages are far
/// below 4 GiB (the shell and the framer cap them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    fn new(start: usize, end: usize) -> Span {
        // NOTE: callers pass offsets into a buffer capped below u32::MAX (checked in `parse`).
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    #[inline]
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    #[inline]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// One header line: its classified name and where the line and its value sit. The name is
/// the run of token bytes the line starts with (see [`Headers::name`]). A folded value spans
/// its continuation lines (the CRLFs inside are LWS to every decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    pub name: HeaderName,
    /// The whole line, from the first name byte to the CRLF (exclusive).
    pub line: Span,
    pub value: Span,
}

/// The header index of one message.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    buf: &'a [u8],
    fields: SmallVec<[HeaderField; INLINE_HEADERS]>,
    /// Index of the first Content-Length field and how many there are, noted while
    /// indexing so framing the body needs no second pass.
    content_length: Option<u16>,
    content_lengths: u8,
}

impl<'a> Headers<'a> {
    /// An index of no lines over `buf`.
    fn empty(buf: &'a [u8]) -> Self {
        Headers {
            buf,
            fields: SmallVec::new(),
            content_length: None,
            content_lengths: 0,
        }
    }

    /// Every header line in order.
    #[inline]
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    /// The buffer the spans point into.
    #[inline]
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The value of a field (trimmed, possibly folded).
    #[inline]
    pub fn value(&self, f: &HeaderField) -> &'a [u8] {
        // NOTE: spans were produced by `parse` from this same buffer.
        &self.buf[f.value.range()]
    }

    /// The name of a field as written on the wire: the token bytes its line starts with.
    #[inline]
    pub fn name(&self, f: &HeaderField) -> &'a [u8] {
        let line = &self.buf[f.line.range()];
        // NOTE: span never passes the end of the line.
        &line[..span(line, TOKEN)]
    }

    /// The value of the first line with this name.
    #[inline]
    pub fn get(&self, name: HeaderName) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| self.value(f))
    }

    /// The first field with this name.
    #[inline]
    pub fn field(&self, name: HeaderName) -> Option<&HeaderField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The values of every line with this name, in order.
    pub fn all(&self, name: HeaderName) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.fields
            .iter()
            .filter(move |f| f.name == name)
            .map(|f| self.value(f))
    }

    /// The value of the first line whose name matches `name` case-insensitively (for
    /// extension headers, [`HeaderName::Other`]).
    pub fn get_by_name(&self, name: &[u8]) -> Option<&'a [u8]> {
        let kind = HeaderName::from_bytes(name);
        self.fields
            .iter()
            .find(|f| {
                f.name == kind
                    && (kind != HeaderName::Other || self.name(f).eq_ignore_ascii_case(name))
            })
            .map(|f| self.value(f))
    }

    /// How many lines carry this name.
    pub fn count(&self, name: HeaderName) -> usize {
        self.fields.iter().filter(|f| f.name == name).count()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The first line of a request (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLine<'a> {
    pub method: Method<'a>,
    /// The Request-URI exactly as sent; decode it with [`super::uri::Uri`].
    pub uri: &'a [u8],
    pub uri_span: Span,
}

/// The first line of a response (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLine<'a> {
    pub code: u16,
    pub reason: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request(RequestLine<'a>),
    Response(StatusLine<'a>),
}

/// Whether bytes looked like a request or a response, as far as could be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
    Unknown,
}

/// A parsed SIP message borrowing its buffer.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    buf: &'a [u8],
    start: StartLine<'a>,
    start_span: Span,
    headers: Headers<'a>,
    /// From the first byte after the empty line to the end of the body.
    body: Span,
    /// Offset of the first header line.
    headers_start: u32,
}

/// A message that could not be taken, with as much of it as survived so that a request can
/// still be answered (§8.2: the error response copies Via, From, To, Call-ID and CSeq).
#[derive(Debug, Clone)]
pub struct Rejected<'a> {
    pub error: ParseError,
    pub kind: Kind,
    /// The header index, when the header section could be indexed.
    pub headers: Option<Headers<'a>>,
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A datagram: Content-Length, if present, bounds the body and trailing octets are
    /// ignored (RFC 4475 §3.1.1.8); without it the body is the rest of the datagram (§18.3).
    Datagram,
    /// One frame cut from a stream by the framer: Content-Length is mandatory (§18.3) and
    /// must match the bytes given.
    Stream,
}

type ParseResult<'a> = Result<Message<'a>, Box<Rejected<'a>>>;

fn reject(error: ParseError, kind: Kind, headers: Option<Headers<'_>>) -> Box<Rejected<'_>> {
    Box::new(Rejected {
        error,
        kind,
        headers,
    })
}

impl<'a> Message<'a> {
    /// Parses one message. Structural checks only: the start line, the header index and the
    /// body bounds; [`Message::validate`] checks the headers every request needs.
    pub fn parse(buf: &'a [u8], framing: Framing) -> ParseResult<'a> {
        let mut msg = Message::unparsed(buf);
        msg.parse_in_place(framing)?;
        Ok(msg)
    }

    /// A message over `buf` with nothing read yet, for [`Message::parse_in_place`] to fill
    /// where the caller keeps it. Until that succeeds it is no message: its start line and
    /// header index are empty.
    pub(crate) fn unparsed(buf: &'a [u8]) -> Self {
        Message {
            buf,
            start: StartLine::Response(StatusLine {
                code: 0,
                reason: &[],
            }),
            start_span: Span::default(),
            headers: Headers::empty(buf),
            body: Span::default(),
            headers_start: 0,
        }
    }

    /// [`Message::parse`] into a message fresh from [`Message::unparsed`], decoded where the
    /// caller keeps it: the header index, several hundred bytes, is written where it stays
    /// instead of being built aside and moved. On error the rejection takes the header index
    /// and the message is left unusable.
    pub(crate) fn parse_in_place(&mut self, framing: Framing) -> Result<(), Box<Rejected<'a>>> {
        let buf = self.buf;
        if buf.len() >= u32::MAX as usize {
            return Err(reject(ParseError::TooManyHeaders, Kind::Unknown, None));
        }
        // §7.5: CRLFs before the start line are ignored (keep-alives on streams).
        let mut pos = 0;
        while buf.len() >= pos + 2 && buf[pos] == b'\r' && buf[pos + 1] == b'\n' {
            pos += 2;
        }
        if pos >= buf.len() || buf[pos..].iter().all(|b| b.is_ascii_whitespace()) {
            return Err(reject(ParseError::Empty, Kind::Unknown, None));
        }
        let eol = match find_crlf(buf, pos) {
            Ok(Some(eol)) => eol,
            Ok(None) => return Err(reject(ParseError::StartLine, Kind::Unknown, None)),
            Err(e) => {
                return Err(reject(
                    start_line_error(e, &buf[pos..]),
                    Kind::Unknown,
                    None,
                ))
            }
        };
        let line_span = Span::new(pos, eol);
        let (kind, start) = parse_start_line(buf, line_span);
        if kind == Kind::Unknown {
            // NOTE: parse_start_line reports Unknown only together with an error.
            let error = start.err().unwrap_or(ParseError::StartLine);
            return Err(reject(error, kind, None));
        }
        let headers_start = eol + 2;
        let headers = &mut self.headers;
        let taken =
            |headers: &mut Headers<'a>| Some(std::mem::replace(headers, Headers::empty(buf)));
        let body_start = match index_headers(buf, headers_start, headers) {
            Ok(b) => b,
            Err(error) => {
                // A bad start line is the better diagnosis (505 rather than 400).
                let error = start.err().unwrap_or(error);
                return Err(reject(error, kind, taken(headers)));
            }
        };
        let start = match start {
            Ok(s) => s,
            Err(e) => return Err(reject(e, kind, taken(headers))),
        };
        let body = match body_span(buf, headers, body_start, framing) {
            Ok(b) => b,
            Err(e) => return Err(reject(e, kind, taken(headers))),
        };
        self.start = start;
        self.start_span = line_span;
        self.body = body;
        self.headers_start = headers_start as u32;
        Ok(())
    }

    /// The buffer this message borrows (it may extend past the message: see [`Message::len`]).
    #[inline]
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    #[inline]
    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }

    /// The start line's bytes (without CRLF).
    #[inline]
    pub fn start_line_bytes(&self) -> &'a [u8] {
        &self.buf[self.start_span.range()]
    }

    #[inline]
    pub fn start_span(&self) -> Span {
        self.start_span
    }

    /// Offset of the first header line.
    #[inline]
    pub fn headers_start(&self) -> usize {
        self.headers_start as usize
    }

    #[inline]
    pub fn request(&self) -> Option<&RequestLine<'a>> {
        match &self.start {
            StartLine::Request(r) => Some(r),
            StartLine::Response(_) => None,
        }
    }

    #[inline]
    pub fn status(&self) -> Option<&StatusLine<'a>> {
        match &self.start {
            StartLine::Response(s) => Some(s),
            StartLine::Request(_) => None,
        }
    }

    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    /// The request method, or `None` for a response.
    #[inline]
    pub fn method(&self) -> Option<Method<'a>> {
        self.request().map(|r| r.method)
    }

    #[inline]
    pub fn headers(&self) -> &Headers<'a> {
        &self.headers
    }

    /// Shorthand for `headers().get(name)`.
    #[inline]
    pub fn header(&self, name: HeaderName) -> Option<&'a [u8]> {
        self.headers.get(name)
    }

    #[inline]
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.body.range()]
    }

    #[inline]
    pub fn body_span(&self) -> Span {
        self.body
    }

    /// Bytes from the start of the buffer to the end of the body: what the message occupies
    /// (octets after it in a datagram are ignored).
    #[inline]
    pub fn len(&self) -> usize {
        self.body.end as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Into the pieces a rejection carries, for callers that validate further.
    pub fn into_rejected(self, error: ParseError) -> Rejected<'a> {
        let kind = if self.is_request() {
            Kind::Request
        } else {
            Kind::Response
        };
        Rejected {
            error,
            kind,
            headers: Some(self.headers),
        }
    }
}

/// Finds the CR of the next CRLF at or after `from`. A bare CR or bare LF is an error;
/// `Ok(None)` means the buffer ended first.
///
/// Sixteen bytes per step, as two words: each step flags the bytes below 0x0e, CR and LF
/// among them, and the first flagged one is looked at. Any other byte there (a control
/// byte such as HT), and the last bytes of the buffer, are left to [`find_crlf_words`].
#[inline(always)]
fn find_crlf(buf: &[u8], from: usize) -> Result<Option<usize>, ParseError> {
    let rest = buf.get(from..).unwrap_or_default();
    let mut chunks = rest.chunks_exact(16);
    let mut i = from;
    for c in &mut chunks {
        let (lo, hi) = c.split_at(8);
        // NOTE: both halves are eight bytes long.
        let lo = bytes_below(u64::from_le_bytes(lo.try_into().unwrap_or_default()), 0x0e);
        let hi = bytes_below(u64::from_le_bytes(hi.try_into().unwrap_or_default()), 0x0e);
        if lo | hi != 0 {
            let at = if lo != 0 {
                i + first_flagged(lo)
            } else {
                i + 8 + first_flagged(hi)
            };
            return crlf_at(buf, at);
        }
        i += 16;
    }
    // Fewer than sixteen bytes left: one more word here, any other in the loop below.
    match word_at(buf, i) {
        Some(x) => match bytes_below(x, 0x0e) {
            0 => find_crlf_words(buf, i + 8),
            flags => crlf_at(buf, i + first_flagged(flags)),
        },
        None => find_crlf_words(buf, i),
    }
}

/// The verdict of [`find_crlf`] on the first byte it flagged, `buf[at]`, if that is CR or
/// LF; for any other byte, or none, the search goes on from there.
#[inline(always)]
fn crlf_at(buf: &[u8], at: usize) -> Result<Option<usize>, ParseError> {
    match (buf.get(at), buf.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(Some(at)),
        (Some(b'\r'), Some(_)) | (Some(b'\n'), _) => Err(ParseError::LineEnding),
        _ => find_crlf_words(buf, at),
    }
}

/// [`find_crlf`] a word (eight bytes) at a time.
#[cold]
#[inline(never)]
fn find_crlf_words(buf: &[u8], from: usize) -> Result<Option<usize>, ParseError> {
    let mut i = from;
    loop {
        let Some(x) = word_at(buf, i) else {
            return if i >= buf.len() {
                Ok(None)
            } else {
                find_crlf_bytes(buf, i)
            };
        };
        let flags = bytes_below(x, 0x0e);
        if flags == 0 {
            i += 8;
            continue;
        }
        i += first_flagged(flags);
        match buf.get(i) {
            None => return Ok(None),
            Some(b'\r') => {
                return match buf.get(i + 1) {
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(ParseError::LineEnding),
                    None => Ok(None),
                }
            }
            Some(b'\n') => return Err(ParseError::LineEnding),
            Some(_) => i += 1,
        }
    }
}

/// [`find_crlf`] by one search for CR or LF: for buffers shorter than a word.
fn find_crlf_bytes(buf: &[u8], from: usize) -> Result<Option<usize>, ParseError> {
    let Some(i) = memchr2(b'\r', b'\n', buf.get(from..).unwrap_or_default()) else {
        return Ok(None);
    };
    let at = from + i;
    if buf[at] == b'\n' {
        return Err(ParseError::LineEnding);
    }
    match buf.get(at + 1) {
        Some(b'\n') => Ok(Some(at)),
        Some(_) => Err(ParseError::LineEnding),
        None => Ok(None),
    }
}

/// A line-ending error in the first line is only a 400 if the line looks like a request.
fn start_line_error(e: ParseError, line: &[u8]) -> ParseError {
    let token_end = line
        .iter()
        .position(|&b| !is_token(b))
        .unwrap_or(line.len());
    if token_end > 0 && line.get(token_end) == Some(&b' ') {
        e
    } else {
        ParseError::StartLine
    }
}

fn is_sip_version(v: &[u8]) -> bool {
    v.eq_ignore_ascii_case(b"SIP/2.0")
}

/// `"SIP" "/" 1*DIGIT "." 1*DIGIT`: well formed, whatever the numbers.
fn is_version_syntax(v: &[u8]) -> bool {
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return false;
    }
    let rest = &v[4..];
    let Some(dot) = memchr(b'.', rest) else {
        return false;
    };
    let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
    !major.is_empty() && !minor.is_empty() && major.iter().chain(minor).all(u8::is_ascii_digit)
}

/// `SIP/2.0` as folded by [`fold_word`], in the low seven bytes of a word.
const SIP_2_0: u64 = u64::from_le_bytes(*b"sip/2.0\0");

/// The request line in `buf[line_span]` if it is well formed and its method is shorter than a
/// word, read a word at a time; `None` for anything else, which [`parse_start_line`] reads
/// byte by byte. Where it gives a line, it is the line [`parse_start_line`] gives.
///
/// The method runs to the first control byte or SP (a known method is a token by
/// construction; any other is checked), the Request-URI to the next SP, and the version is
/// compared as one folded word, which matches `SIP/2.0` in any case and nothing else.
#[inline]
fn request_line_fast(buf: &[u8], line_span: Span) -> Option<RequestLine<'_>> {
    let (start, end) = (line_span.start as usize, line_span.end as usize);
    let line = buf.get(start..end)?;
    let k = match bytes_below(word_at(buf, start)?, 0x21) {
        0 => return None,
        flags => first_flagged(flags),
    };
    if k == 0 || line.get(k) != Some(&b' ') {
        return None;
    }
    // NOTE: 0 < k < line.len().
    let method = Method::from_bytes(&line[..k]);
    if matches!(method, Method::Other(_)) && span(&line[..k], TOKEN) != k {
        return None;
    }
    let uri_start = start + k + 1;
    let mut i = uri_start;
    let uri_end = loop {
        match bytes_equal(word_at(buf, i)?, b' ') {
            0 => i += 8,
            flags => break i + first_flagged(flags),
        }
        if i >= end {
            return None;
        }
    };
    // One SP, then the seven bytes of the version end the line.
    if uri_end == uri_start || uri_end + 8 != end {
        return None;
    }
    if fold_word(word_at(buf, uri_end + 1)?) & low(7) != SIP_2_0 {
        return None;
    }
    Some(RequestLine {
        method,
        uri: buf.get(uri_start..uri_end)?,
        uri_span: Span::new(uri_start, uri_end),
    })
}

fn parse_start_line(buf: &[u8], span: Span) -> (Kind, Result<StartLine<'_>, ParseError>) {
    let line = &buf[span.range()];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return (Kind::Response, parse_status_line(line));
    }
    match request_line_fast(buf, span) {
        Some(r) => (Kind::Request, Ok(StartLine::Request(r))),
        None => parse_request_line(buf, span),
    }
}

/// The request line in `buf[span]` byte by byte, by the grammar alone.
#[cold]
#[inline(never)]
fn parse_request_line(buf: &[u8], span: Span) -> (Kind, Result<StartLine<'_>, ParseError>) {
    let line = &buf[span.range()];
    let method_end = line
        .iter()
        .position(|&b| !is_token(b))
        .unwrap_or(line.len());
    if method_end == 0 || line.get(method_end) != Some(&b' ') {
        return (Kind::Unknown, Err(ParseError::StartLine));
    }
    let method = Method::from_bytes(&line[..method_end]);
    let uri_start = method_end + 1;
    let Some(uri_len) = memchr(b' ', &line[uri_start..]) else {
        return (Kind::Request, Err(ParseError::RequestLine));
    };
    if uri_len == 0 {
        return (Kind::Request, Err(ParseError::RequestLine));
    }
    let uri_end = uri_start + uri_len;
    let version = &line[uri_end + 1..];
    if !is_sip_version(version) {
        let e = if is_version_syntax(version) {
            ParseError::Version
        } else {
            ParseError::RequestLine
        };
        return (Kind::Request, Err(e));
    }
    let uri_span = Span::new(
        span.start as usize + uri_start,
        span.start as usize + uri_end,
    );
    let uri = &line[uri_start..uri_end];
    (
        Kind::Request,
        Ok(StartLine::Request(RequestLine {
            method,
            uri,
            uri_span,
        })),
    )
}

fn parse_status_line(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    let Some(sp) = memchr(b' ', line) else {
        return Err(ParseError::StartLine);
    };
    if !is_sip_version(&line[..sp]) {
        return Err(ParseError::Version);
    }
    let rest = &line[sp + 1..];
    let code_end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    if code_end != 3 {
        return Err(ParseError::StatusCode);
    }
    let code = rest[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&code) {
        return Err(ParseError::StatusCode);
    }
    let reason = match rest.get(3) {
        None => &rest[3..],
        Some(b' ') => &rest[4..],
        Some(_) => return Err(ParseError::StatusCode),
    };
    Ok(StartLine::Response(StatusLine { code, reason }))
}

#[inline]
fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One header line as indexed: offsets into the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    name: HeaderName,
    /// The CR of the CRLF that ends the line, after any continuation lines.
    eol: usize,
    name_end: usize,
    value_start: usize,
    value_end: usize,
}

/// Indexes header lines from `pos` up to and including the empty line into `headers` and
/// returns the offset of the body. On error `headers` holds the lines indexed so far.
#[inline(never)]
fn index_headers<'a>(
    buf: &'a [u8],
    mut pos: usize,
    headers: &mut Headers<'a>,
) -> Result<usize, ParseError> {
    // How many fields are indexed, kept here so that the bound is one compare.
    let mut count = headers.fields.len();
    loop {
        let Some(&first) = buf.get(pos) else {
            return Err(ParseError::Unterminated);
        };
        if first == b'\r' {
            return match buf.get(pos + 1) {
                Some(b'\n') => Ok(pos + 2),
                Some(_) => Err(ParseError::LineEnding),
                None => Err(ParseError::Unterminated),
            };
        }
        if first == b'\n' {
            return Err(ParseError::LineEnding);
        }
        if is_wsp(first) {
            // A continuation line with no header before it.
            return Err(ParseError::HeaderLine);
        }
        let line = match header_line_fast(buf, pos) {
            Some(line) => line,
            None => header_line(buf, pos)?,
        };
        if count == MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        if line.name == HeaderName::ContentLength {
            headers.content_lengths = headers.content_lengths.saturating_add(1);
            // NOTE: count < MAX_HEADERS <= u16::MAX.
            headers.content_length.get_or_insert(count as u16);
        }
        // The name is the run of token bytes the line starts with: Headers::name finds it so.
        debug_assert_eq!(line.name_end - pos, span(&buf[pos..line.eol], TOKEN));
        headers.fields.push(HeaderField {
            name: line.name,
            line: Span::new(pos, line.eol),
            value: Span::new(line.value_start, line.value_end),
        });
        count += 1;
        pos = line.eol + 2;
    }
}

/// The header line that starts at `buf[pos]`, a byte that is neither CR, LF, SP nor HT, by
/// the grammar alone (§7.3.1): the name's token bytes, optional SP / HT, the colon, the value
/// up to the CRLF that is not followed by SP or HT, LWS trimmed off both ends of the value.
#[cold]
#[inline(never)]
fn header_line(buf: &[u8], pos: usize) -> Result<Line, ParseError> {
    let mut eol = match find_crlf(buf, pos) {
        Ok(Some(e)) => e,
        Ok(None) => return Err(ParseError::Unterminated),
        Err(e) => return Err(e),
    };
    // Unfold: continuation lines start with SP or HT (§7.3.1).
    while buf.get(eol + 2).is_some_and(|&b| is_wsp(b)) {
        eol = match find_crlf(buf, eol + 2) {
            Ok(Some(e)) => e,
            Ok(None) => return Err(ParseError::Unterminated),
            Err(e) => return Err(e),
        };
    }
    let line = &buf[pos..eol];
    // One forward scan: token bytes of the name, optional SP/HT, then the colon.
    let mut i = 0;
    while i < line.len() && is_token(line[i]) {
        i += 1;
    }
    let name_end = i;
    while i < line.len() && is_wsp(line[i]) {
        i += 1;
    }
    if name_end == 0 || line.get(i) != Some(&b':') {
        return Err(ParseError::HeaderLine);
    }
    let colon = i;
    let mut vs = colon + 1;
    while vs < line.len() && matches!(line[vs], b' ' | b'\t' | b'\r' | b'\n') {
        vs += 1;
    }
    let mut ve = line.len();
    while ve > vs && matches!(line[ve - 1], b' ' | b'\t' | b'\r' | b'\n') {
        ve -= 1;
    }
    Ok(Line {
        name: HeaderName::from_bytes(&line[..name_end]),
        eol,
        name_end: pos + name_end,
        value_start: pos + vs,
        value_end: pos + ve,
    })
}

/// [`header_line`] for the lines that parse, a word (eight bytes) at a time where it can:
/// `None` wherever the line is anything but a well-formed header line, or ends the buffer,
/// and [`header_line`] then says what is wrong with it. Where it gives a line, it is the line
/// [`header_line`] gives.
///
/// The name runs to the first byte that is a control, SP or `:` (the bytes that may follow
/// a name); its words, folded to lower case, classify it, and a known name is made of token
/// bytes by construction, so only an unknown name is checked byte by byte. A name holds no
/// CR or LF, so the search for the line's end starts after the colon.
#[inline]
fn header_line_fast(buf: &[u8], pos: usize) -> Option<Line> {
    // The first three words are kept: they are the words of every known name.
    let stops = |x: u64| bytes_below(x, 0x21) | bytes_equal(x, b':');
    let w0 = word_at(buf, pos)?;
    let (t, name) = match stops(w0) {
        0 => {
            let w1 = word_at(buf, pos + 8)?;
            match stops(w1) {
                0 => {
                    let w2 = word_at(buf, pos + 16)?;
                    match stops(w2) {
                        0 => (name_end_words(buf, pos + 24)?, HeaderName::Other),
                        f => {
                            let n = 16 + first_flagged(f);
                            let w = [fold_word(w0), fold_word(w1), fold_word(w2) & low(n - 16)];
                            (pos + n, HeaderName::from_words(n, &w))
                        }
                    }
                }
                f => {
                    let n = 8 + first_flagged(f);
                    let w = [fold_word(w0), fold_word(w1) & low(n - 8), 0];
                    (pos + n, HeaderName::from_words(n, &w))
                }
            }
        }
        f => match first_flagged(f) {
            0 => return None,
            1 => (pos + 1, HeaderName::compact(w0 as u8)),
            n => (
                pos + n,
                HeaderName::from_words(n, &[fold_word(w0) & low(n), 0, 0]),
            ),
        },
    };
    // NOTE: t <= buf.len(): a flag past the end is on the first byte past it.
    if name == HeaderName::Other && span_from(buf, pos, TOKEN) < t {
        return None;
    }
    // The colon follows the name at once, or after SP / HT.
    let colon = match buf.get(t) {
        Some(b':') => t,
        _ => {
            let mut colon = t;
            while buf.get(colon).is_some_and(|&b| is_wsp(b)) {
                colon += 1;
            }
            if buf.get(colon) != Some(&b':') {
                return None;
            }
            colon
        }
    };
    let mut eol = find_crlf(buf, colon + 1).ok()??;
    while buf.get(eol + 2).is_some_and(|&b| is_wsp(b)) {
        eol = find_crlf(buf, eol + 2).ok()??;
    }
    // Most values follow one SP.
    let mut vs = colon + 1;
    if vs < eol && buf[vs] == b' ' {
        vs += 1;
    }
    while vs < eol && is_lws(buf[vs]) {
        vs += 1;
    }
    let mut ve = eol;
    while ve > vs && is_lws(buf[ve - 1]) {
        ve -= 1;
    }
    Some(Line {
        name,
        eol,
        name_end: t,
        value_start: vs,
        value_end: ve,
    })
}

/// The mask of the low `n` bytes of a word, `n` below 8.
#[inline(always)]
const fn low(n: usize) -> u64 {
    (1u64 << (8 * n)) - 1
}

/// Where a header name longer than three words ends: the first control byte, SP or colon at
/// or after `buf[i]`, read a word at a time. `None` if the buffer ends first.
#[inline(never)]
fn name_end_words(buf: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let x = word_at(buf, i)?;
        let flags = bytes_below(x, 0x21) | bytes_equal(x, b':');
        if flags != 0 {
            return Some(i + first_flagged(flags));
        }
        i += 8;
    }
}

/// Decimal Content-Length (§20.14): digits only, at most `u32::MAX`.
#[inline]
pub fn parse_content_length(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    u32::try_from(n).ok()
}

#[inline]
fn body_span(
    buf: &[u8],
    headers: &Headers<'_>,
    body_start: usize,
    framing: Framing,
) -> Result<Span, ParseError> {
    let declared = match (headers.content_length, headers.content_lengths) {
        (None, _) => None,
        (Some(i), 1) => {
            // NOTE: the index was recorded when the field was pushed.
            let value = headers.value(&headers.fields[i as usize]);
            Some(
                parse_content_length(value)
                    .ok_or(ParseError::Invalid(HeaderName::ContentLength))?,
            )
        }
        (Some(_), _) => return Err(ParseError::Duplicate(HeaderName::ContentLength)),
    };
    let available = buf.len() - body_start;
    match (declared, framing) {
        (Some(n), _) if n as usize > available => Err(ParseError::BodyTruncated),
        (Some(n), _) => Ok(Span::new(body_start, body_start + n as usize)),
        (None, Framing::Datagram) => Ok(Span::new(body_start, buf.len())),
        (None, Framing::Stream) => Err(ParseError::Missing(HeaderName::ContentLength)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n\
From: <sip:a@127.0.0.1>;tag=1\r\n\
To: <sip:127.0.0.1>\r\n\
Call-ID: c1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    fn parse(b: &[u8]) -> ParseResult<'_> {
        Message::parse(b, Framing::Datagram)
    }

    #[test]
    fn request_line_and_headers_are_indexed() {
        let m = parse(OPTIONS).unwrap();
        let r = m.request().unwrap();
        assert_eq!(r.method, Method::Options);
        assert_eq!(r.uri, b"sip:127.0.0.1");
        assert_eq!(m.headers().len(), 7);
        assert_eq!(m.header(HeaderName::CallId), Some(&b"c1"[..]));
        assert_eq!(m.header(HeaderName::CSeq), Some(&b"1 OPTIONS"[..]));
        assert_eq!(m.body(), b"");
        assert_eq!(m.len(), OPTIONS.len());
    }

    #[test]
    fn compact_forms_folding_and_odd_spacing() {
        let b = b"INVITE sip:x@y SIP/2.0\r\nv  : SIP/2.0/UDP h\r\n ;branch=z9hG4bK1\r\ni:abc\r\nl: 3\r\n\r\nabcTRAILING";
        let m = parse(b).unwrap();
        assert_eq!(
            m.header(HeaderName::Via),
            Some(&b"SIP/2.0/UDP h\r\n ;branch=z9hG4bK1"[..])
        );
        assert_eq!(m.header(HeaderName::CallId), Some(&b"abc"[..]));
        assert_eq!(m.body(), b"abc");
    }

    #[test]
    fn responses_parse_with_empty_reason() {
        let b = b"SIP/2.0 100 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";
        let m = parse(b).unwrap();
        assert_eq!(m.status().unwrap().code, 100);
        assert_eq!(m.status().unwrap().reason, b"");
        let big = b"SIP/2.0 4294967301 Nope\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        assert_eq!(parse(big).unwrap_err().error, ParseError::StatusCode);
        let low = b"SIP/2.0 099 Nope\r\n\r\n";
        assert_eq!(parse(low).unwrap_err().error, ParseError::StatusCode);
    }

    #[test]
    fn start_line_errors_keep_headers_for_the_answer() {
        let b = b"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/7.0/UDP c\r\nCall-ID: x\r\n\r\n";
        let e = parse(b).unwrap_err();
        assert_eq!(e.error, ParseError::Version);
        assert_eq!(e.kind, Kind::Request);
        assert_eq!(e.headers.unwrap().get(HeaderName::CallId), Some(&b"x"[..]));
        let two_sp = b"INVITE  sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";
        assert_eq!(parse(two_sp).unwrap_err().error, ParseError::RequestLine);
        let trailing = b"OPTIONS sip:a@b SIP/2.0  \r\nCall-ID: x\r\n\r\n";
        assert_eq!(parse(trailing).unwrap_err().error, ParseError::RequestLine);
        let no_version = b"INVITE sip:a@b\r\nCall-ID: x\r\n\r\n";
        assert_eq!(
            parse(no_version).unwrap_err().error,
            ParseError::RequestLine
        );
    }

    #[test]
    fn garbage_is_dropped_not_answered() {
        for b in [
            &b""[..],
            b"\r\n\r\n",
            b"   ",
            b"\x00\x01\x02",
            b"<html>\r\n\r\n",
            b"GET\r\n",
        ] {
            let e = parse(b).unwrap_err();
            assert!(e.headers.is_none(), "{b:?}");
        }
    }

    #[test]
    fn bare_line_feeds_and_header_lines_without_colon_are_errors() {
        assert_eq!(
            parse(b"OPTIONS sip:a SIP/2.0\nVia: x\n\n")
                .unwrap_err()
                .error,
            ParseError::LineEnding
        );
        let b = b"OPTIONS sip:a SIP/2.0\r\nVia: x\nCall-ID: y\r\n\r\n";
        assert_eq!(parse(b).unwrap_err().error, ParseError::LineEnding);
        let b = b"OPTIONS sip:a SIP/2.0\r\nFoobar roobar\r\n\r\n";
        assert_eq!(parse(b).unwrap_err().error, ParseError::HeaderLine);
        let b = b"OPTIONS sip:a SIP/2.0\r\n folded-first: x\r\n\r\n";
        assert_eq!(parse(b).unwrap_err().error, ParseError::HeaderLine);
        let b = b"OPTIONS sip:a SIP/2.0\r\nBad Name: x\r\n\r\n";
        assert_eq!(parse(b).unwrap_err().error, ParseError::HeaderLine);
    }

    #[test]
    fn content_length_bounds_the_body() {
        let over = b"OPTIONS sip:a SIP/2.0\r\nl: 10\r\n\r\nabc";
        assert_eq!(parse(over).unwrap_err().error, ParseError::BodyTruncated);
        let neg = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n";
        assert_eq!(
            parse(neg).unwrap_err().error,
            ParseError::Invalid(HeaderName::ContentLength)
        );
        let dup = b"OPTIONS sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 1\r\n\r\nx";
        assert_eq!(
            parse(dup).unwrap_err().error,
            ParseError::Duplicate(HeaderName::ContentLength)
        );
        let huge = b"OPTIONS sip:a SIP/2.0\r\nl: 99999999999\r\n\r\n";
        assert_eq!(
            parse(huge).unwrap_err().error,
            ParseError::Invalid(HeaderName::ContentLength)
        );
        let none = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\nrest";
        assert_eq!(parse(none).unwrap().body(), b"rest");
        assert_eq!(
            Message::parse(none, Framing::Stream).unwrap_err().error,
            ParseError::Missing(HeaderName::ContentLength)
        );
    }

    #[test]
    fn unterminated_header_sections_are_errors() {
        let b = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\nl: 0\r\n";
        assert_eq!(parse(b).unwrap_err().error, ParseError::Unterminated);
        let b = b"OPTIONS sip:a SIP/2.0\r\nVia: x";
        assert_eq!(parse(b).unwrap_err().error, ParseError::Unterminated);
    }

    #[test]
    fn leading_crlfs_are_skipped() {
        let mut b = b"\r\n\r\n".to_vec();
        b.extend_from_slice(OPTIONS);
        let m = parse(&b).unwrap();
        assert_eq!(m.method(), Some(Method::Options));
    }

    #[test]
    fn too_many_headers_are_refused() {
        let mut b = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            b.extend_from_slice(b"X: y\r\n");
        }
        b.extend_from_slice(b"\r\n");
        assert_eq!(parse(&b).unwrap_err().error, ParseError::TooManyHeaders);
    }

    /// Where the word-at-a-time reading of a header line gives a line, the byte-at-a-time
    /// reading gives the same one; and it gives one for every well-formed line below.
    fn check_line(buf: &[u8], pos: usize) {
        if let Some(line) = header_line_fast(buf, pos) {
            assert_eq!(
                header_line(buf, pos),
                Ok(line),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    const LINES: [&[u8]; 10] = [
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1;rport\r\nl: 0\r\n\r\n",
        b"Content-Length: 0\r\n\r\n",
        b"i:x\r\nv: SIP/2.0/TCP h\r\n\r\n",
        b"Max-Forwards:  70 \t\r\n\r\n",
        b"Subject:\r\n folded\r\n\tagain \r\n\r\n",
        b"X-Extension-Header-Name-Long : v\r\n\r\n",
        b"PROXY-AUTHORIZATION: Digest x\r\n\r\n",
        b"content-disposition:session\r\n\r\n",
        b"Call-ID: a@b\r\n\r\n",
        b"To: <sip:a@b>\r\n \r\n\r\n",
    ];

    #[test]
    fn fast_header_lines_are_the_grammar_s_lines() {
        for line in LINES {
            assert!(header_line_fast(line, 0).is_some(), "{line:?}");
            check_line(line, 0);
            for at in 0..line.len() {
                for b in 0..=255u8 {
                    let mut buf = line.to_vec();
                    buf[at] = b;
                    if !matches!(buf[0], b'\r' | b'\n' | b' ' | b'\t') {
                        check_line(&buf, 0);
                    }
                }
                // Cut short, and the same line further into a buffer.
                check_line(&line[..at], 0);
                let mut buf = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
                buf.extend_from_slice(&line[..at]);
                check_line(&buf, 23);
            }
        }
    }

    #[test]
    fn line_ends_are_found_as_by_a_byte_search() {
        let text = b"ab\tc\x00d\re\nf\r\ng\x0bh\x0ei\r";
        for from in 0..=text.len() + 1 {
            for end in 0..=text.len() {
                let s = &text[..end];
                let want = if from > s.len() {
                    Ok(None)
                } else {
                    find_crlf_bytes(s, from)
                };
                assert_eq!(find_crlf(s, from), want, "{from} {end}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn header_shaped_lines_agree(
            name in "[A-Za-z\\-]{1,20}|[a-z.!%*_+`'~-]{1,4}|(Via|From|To|Call-ID|CSeq|Content-Length|l|i|v)",
            sp in "[ \t]{0,2}",
            value in proptest::collection::vec(prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b' '), Just(b'\t'), Just(b':'), Just(0u8),
                Just(0x80u8), b'a'..=b'z',
            ], 0..40),
            tail in "(\r\n)?(\r\n)?",
        ) {
            let mut buf = Vec::new();
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(sp.as_bytes());
            buf.push(b':');
            buf.extend_from_slice(&value);
            buf.extend_from_slice(tail.as_bytes());
            check_line(&buf, 0);
        }

        #[test]
        fn arbitrary_lines_agree(buf in proptest::collection::vec(any::<u8>(), 1..48)) {
            if !matches!(buf[0], b'\r' | b'\n' | b' ' | b'\t') {
                check_line(&buf, 0);
            }
        }

        #[test]
        fn content_lengths_are_ten_digits_at_most_and_fit_in_u32(
            v in "[0-9]{0,12}|[0-9 +-]{0,4}|0{0,12}[0-9]{0,3}",
        ) {
            let b = v.as_bytes();
            let want = if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
                None
            } else {
                v.parse::<u64>().ok().and_then(|n| u32::try_from(n).ok())
            };
            prop_assert_eq!(parse_content_length(b), want);
        }

        #[test]
        fn arbitrary_line_ends_agree(
            buf in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'\t'), any::<u8>()], 0..40),
            from in 0usize..42,
        ) {
            let want = if from > buf.len() { Ok(None) } else { find_crlf_bytes(&buf, from) };
            prop_assert_eq!(find_crlf(&buf, from), want);
        }
    }

    fn check_request_line(buf: &[u8]) {
        let end = (0..buf.len().saturating_sub(1))
            .find(|&i| buf[i] == b'\r' && buf[i + 1] == b'\n')
            .unwrap_or(buf.len());
        let span = Span::new(0, end);
        if let Some(r) = request_line_fast(buf, span) {
            assert_eq!(
                parse_request_line(buf, span),
                (Kind::Request, Ok(StartLine::Request(r))),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn fast_request_lines_are_the_grammar_s_lines() {
        for line in [
            &b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: x\r\n\r\n"[..],
            b"INVITE sip:alice@example.com;transport=tcp SIP/2.0\r\n\r\n",
            b"ACK sip:a@b sip/2.0\r\n",
            b"FOO-1 sip:a@b SIP/2.0\r\n\r\n",
            b"BYE x SIP/2.0\r\n",
        ] {
            let end = line.iter().position(|&b| b == b'\r').unwrap();
            assert!(
                request_line_fast(line, Span::new(0, end)).is_some(),
                "{line:?}"
            );
            check_request_line(line);
            for at in 0..line.len() {
                for b in 0..=255u8 {
                    let mut buf = line.to_vec();
                    buf[at] = b;
                    check_request_line(&buf);
                }
                check_request_line(&line[..at]);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn request_shaped_lines_agree(
            method in "[A-Za-z!%*_+`'~.-]{0,9}|INVITE|OPTIONS|REGISTER|[A-Z]{1,4}[ /:@]",
            sp in "[ \t]{1,2}",
            uri in "[a-z:@.;= \t<>]{0,20}",
            version in "SIP/2\\.0|sip/2\\.0|SiP/2\\.0 |SIP/2\\.1|SIP/20|SIP/2\\.0\t|SIP/2\\.00",
            tail in "\r\n(\r\n)?|\r|",
        ) {
            let line = format!("{method}{sp}{uri} {version}{tail}");
            check_request_line(line.as_bytes());
        }
    }
}
