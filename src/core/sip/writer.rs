//! Writing SIP: fresh messages ([`Writer`]), RFC 3261 §8.2.6 responses ([`response_to`]) and
//! cheap edits of a parsed message ([`Editor`]) that copy every untouched byte as it came.
//!
//! Everything writes into a caller-owned `Vec<u8>` (a pooled buffer in the shard), so the
//! steady state allocates nothing. Content-Length is always written by the writer itself.

use std::io::Write as _;
use std::ops::Range;

use smallvec::SmallVec;

use super::header::HeaderName;
use super::message::{HeaderField, Headers, Message, Span};
use super::method::Method;

/// Builds one message: start line, header lines, then [`Writer::finish`] with the body.
pub struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> Writer<'o> {
    /// Starts `SIP/2.0 <status> <reason>`.
    pub fn response(out: &'o mut Vec<u8>, status: u16, reason: &str) -> Writer<'o> {
        if (100..=999).contains(&status) {
            // A three-digit status: the version, the code and the SP in one copy.
            let d = |k: u16| b'0' + (status / k % 10) as u8;
            let mut line = *b"SIP/2.0 000 ";
            line[8..11].copy_from_slice(&[d(100), d(10), d(1)]);
            out.extend_from_slice(&line);
        } else {
            out.extend_from_slice(b"SIP/2.0 ");
            push_decimal(out, u64::from(status));
            out.push(b' ');
        }
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        Writer { out }
    }

    /// Starts `<method> <uri> SIP/2.0`.
    pub fn request(out: &'o mut Vec<u8>, method: Method<'_>, uri: &[u8]) -> Writer<'o> {
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(uri);
        out.extend_from_slice(b" SIP/2.0\r\n");
        Writer { out }
    }

    /// Appends `name: value`.
    pub fn header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Appends `name: value` with a formatted value (numbers, addresses) without allocating.
    pub fn header_fmt(&mut self, name: &str, value: std::fmt::Arguments<'_>) -> &mut Self {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        let _ = self.out.write_fmt(value);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Appends `name: v1, v2, ...`.
    pub fn header_list<'v>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = &'v [u8]>,
    ) -> &mut Self {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.out.extend_from_slice(v);
        }
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Copies a header line as it was (name and value as on the wire).
    pub fn copy_field(&mut self, headers: &Headers<'_>, field: &HeaderField) -> &mut Self {
        self.out
            .extend_from_slice(headers.buf().get(line_with_crlf(field)).unwrap_or_default());
        self
    }

    /// Appends header lines already written out, each ending in CRLF (lines a shard writes
    /// once and adds to many messages).
    pub fn lines(&mut self, lines: &[u8]) -> &mut Self {
        self.out.extend_from_slice(lines);
        self
    }

    /// Writes Content-Length, the empty line and the body.
    pub fn finish(self, body: &[u8]) {
        if body.is_empty() {
            self.out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            return;
        }
        self.out.extend_from_slice(b"Content-Length: ");
        push_decimal(self.out, body.len() as u64);
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body);
    }
}

/// Header lines given as names and their values, for [`header_lines`].
pub type HeaderLines<'a> = &'a [(&'a [u8], &'a [&'a [u8]])];

/// The length of what [`header_lines`] writes.
pub const fn header_lines_len(headers: HeaderLines<'_>) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < headers.len() {
        let (name, values) = headers[i];
        len += name.len() + 2 + 2;
        let mut k = 0;
        while k < values.len() {
            len += values[k].len() + if k > 0 { 2 } else { 0 };
            k += 1;
        }
        i += 1;
    }
    len
}

/// `name: v1, v2, ...` lines, each ending in CRLF, written at compile time: header lines a
/// shard adds to many messages with one copy ([`Writer::lines`]). `N` must be
/// [`header_lines_len`] of the same lines (a constant that is not fails to compile).
pub const fn header_lines<const N: usize>(headers: HeaderLines<'_>) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    const fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            out[at + i] = bytes[i];
            i += 1;
        }
        at + bytes.len()
    }
    let mut i = 0;
    while i < headers.len() {
        let (name, values) = headers[i];
        at = put(&mut out, at, name);
        at = put(&mut out, at, b": ");
        let mut k = 0;
        while k < values.len() {
            if k > 0 {
                at = put(&mut out, at, b", ");
            }
            at = put(&mut out, at, values[k]);
            k += 1;
        }
        at = put(&mut out, at, b"\r\n");
        i += 1;
    }
    assert!(at == N, "N must be header_lines_len of the same lines");
    out
}

/// Appends `n` in decimal (what `write!` does, without the formatting machinery). Numbers of
/// up to five digits (a status code, a port, an octet, most lengths) are written as one
/// store of their digits.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let d = |k: u64| b'0' + (n / k % 10) as u8;
    match n {
        0..=9 => out.push(d(1)),
        10..=99 => out.extend_from_slice(&[d(10), d(1)]),
        100..=999 => out.extend_from_slice(&[d(100), d(10), d(1)]),
        1_000..=9_999 => out.extend_from_slice(&[d(1_000), d(100), d(10), d(1)]),
        10_000..=99_999 => out.extend_from_slice(&[d(10_000), d(1_000), d(100), d(10), d(1)]),
        _ => push_decimal_long(out, n),
    }
}

/// [`push_decimal`] for any number, a digit at a time.
fn push_decimal_long(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // NOTE: u64::MAX has 20 digits, so `at` never goes below 0.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or(&[]));
}

/// Each octet's decimal digits followed by a dot, in four bytes (zeros after the dot), and
/// how many bytes that is.
static OCTETS: [([u8; 4], u8); 256] = {
    let mut table = [([0u8; 4], 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (d100, d10, d1) = (
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        );
        table[n] = match n {
            0..=9 => ([d1, b'.', 0, 0], 2),
            10..=99 => ([d10, d1, b'.', 0], 3),
            _ => ([d100, d10, d1, b'.'], 4),
        };
        n += 1;
    }
    table
};

/// Appends an IP address as text: dotted quad, or IPv6 in the RFC 5952 form `std` writes
/// (without brackets). An IPv4 address is put together aside and appended in one copy.
pub fn push_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let (text, len) = ipv4_text(v4);
            out.extend_from_slice(text.get(..len).unwrap_or_default());
        }
        // NOTE: writing into a Vec cannot fail.
        std::net::IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// An IPv4 address as a dotted quad, left-aligned in sixteen bytes, an octet at a time from
/// a table; and its length.
fn ipv4_text(ip: std::net::Ipv4Addr) -> ([u8; 16], usize) {
    let mut text = [0u8; 16];
    let mut len = 0;
    for octet in ip.octets() {
        let (digits, n) = OCTETS[usize::from(octet)];
        // NOTE: four octets of at most four bytes each fill at most 16.
        if let Some(at) = text.get_mut(len..len + 4) {
            at.copy_from_slice(&digits);
        }
        len += usize::from(n);
    }
    // The last octet's dot is left off; it stays in the text past `len`.
    (text, len - 1)
}

/// A header line in its buffer with the CRLF that ends it (the index guarantees one).
fn line_with_crlf(f: &HeaderField) -> Range<usize> {
    f.line.start as usize..f.line.end as usize + 2
}

/// What §18.2.1 and RFC 3581 §4 add to the first Via value of a response, as offsets into
/// the request's buffer, inside the first Via line: the default adds nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViaStamp {
    /// A valueless `rport`: the offset just past its name, where `=<port>` goes.
    pub rport: Option<(usize, u16)>,
    /// `;received=<address>`, written at the offset where the first value ends.
    pub received: Option<(usize, std::net::IpAddr)>,
}

impl ViaStamp {
    fn is_empty(&self) -> bool {
        self.rport.is_none() && self.received.is_none()
    }

    /// Splices the Via line `line` (CRLF included) of the request with the additions, or
    /// returns false, splicing nothing, when they do not lie in order inside the line. The
    /// additions are put together on the stack.
    fn splice(&self, line: Range<usize>, out: &mut Splice<'_, '_>) -> bool {
        let at_rport = self.rport.map(|(at, _)| at);
        let at_received = self.received.map(|(at, _)| at);
        let cut = at_rport.or(at_received).unwrap_or(line.start);
        let cut2 = at_received.unwrap_or(cut);
        // The additions go before the line's CRLF.
        if !(line.start <= cut && cut <= cut2 && cut2 + 2 <= line.end) {
            return false;
        }
        // `=<port>` (6 bytes at most), then `;received=` and the address (55 at most), each
        // part copied in whole words and the length moved on by what it holds.
        let mut add = [0u8; 64];
        let mut len = 0;
        if let Some((_, port)) = self.rport {
            let (digits, n) = decimal_u16(port);
            add[0] = b'=';
            add[1..9].copy_from_slice(&digits);
            len = 1 + n;
        }
        let rport_len = len;
        if let Some((_, ip)) = self.received {
            // NOTE: len <= 6, so the name and an IPv4 address fit in 64 bytes.
            add[len..len + 10].copy_from_slice(b";received=");
            len += 10;
            match ip {
                std::net::IpAddr::V4(v4) => {
                    let (text, n) = ipv4_text(v4);
                    add[len..len + 16].copy_from_slice(&text);
                    len += n;
                }
                std::net::IpAddr::V6(v6) => {
                    // At most 45 bytes (RFC 4291 §2.2 text with a dotted quad).
                    let mut rest = &mut add[len..];
                    let room = rest.len();
                    let _ = write!(rest, "{v6}");
                    len += room - rest.len();
                }
            }
        }
        out.copy(line.start..cut);
        if cut == cut2 {
            // Side by side (a bare `rport` last): one insertion.
            out.insert(&add[..len]);
        } else {
            out.insert(&add[..rport_len]);
            out.copy(cut..cut2);
            out.insert(&add[rport_len..len]);
        }
        out.copy(cut2..line.end);
        true
    }
}

/// Writes a message made of ranges of another message's bytes and inserted bytes; ranges
/// that follow each other in the source are copied as one.
struct Splice<'s, 'o> {
    source: &'s [u8],
    out: &'o mut Vec<u8>,
    /// The range of `source` waiting to be copied.
    pending: Range<usize>,
}

impl Splice<'_, '_> {
    fn copy(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        if self.pending.end == range.start && !self.pending.is_empty() {
            self.pending.end = range.end;
        } else {
            self.flush();
            self.pending = range;
        }
    }

    fn insert(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.flush();
            self.out.extend_from_slice(bytes);
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let range = std::mem::replace(&mut self.pending, 0..0);
            self.out
                .extend_from_slice(self.source.get(range).unwrap_or_default());
        }
    }
}

/// `n` in decimal, left-aligned in eight bytes, and how many digits that is: the five digits
/// put together in one word, the leading zeros shifted out.
fn decimal_u16(n: u16) -> ([u8; 8], usize) {
    let n = u32::from(n);
    let len = match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        _ => 5,
    };
    let d = |k: u32| u64::from(b'0') + u64::from(n / k % 10);
    let word = d(10_000) | d(1_000) << 8 | d(100) << 16 | d(10) << 24 | d(1) << 32;
    ((word >> (8 * (5 - len))).to_le_bytes(), len)
}

/// Starts a response to a request per RFC 3261 §8.2.6.2 (and §16.7 for a proxy's own): the
/// status line, then every Via line in order with `via` added to the first value, From, To
/// (with `;tag=` and `to_tag` added when given: the caller passes `None` when the To already
/// has a tag), Call-ID and CSeq. Each line is copied as it came, its name in the form
/// received (compact ones included), and lines next to each other in the request are copied
/// as one. Add more headers, then call [`Writer::finish`].
pub fn response_to<'o>(
    out: &'o mut Vec<u8>,
    request: &Headers<'_>,
    status: u16,
    reason: &str,
    via: ViaStamp,
    to_tag: Option<&[u8]>,
) -> Writer<'o> {
    let w = Writer::response(out, status, reason);
    let mut splice = Splice {
        source: request.buf(),
        out: w.out,
        pending: 0..0,
    };
    let mut stamp = (!via.is_empty()).then_some(via);
    for f in request.fields() {
        let line = line_with_crlf(f);
        match f.name {
            HeaderName::Via => {
                if let Some(stamp) = stamp.take() {
                    if stamp.splice(line.clone(), &mut splice) {
                        continue;
                    }
                }
                splice.copy(line);
            }
            HeaderName::To => match to_tag {
                // `;tag=` goes after the value, before any LWS that ends the line.
                Some(tag) => {
                    let value_end = (f.value.end as usize).clamp(line.start, line.end);
                    splice.copy(line.start..value_end);
                    splice.insert(b";tag=");
                    splice.insert(tag);
                    splice.copy(value_end..line.end);
                }
                None => splice.copy(line),
            },
            HeaderName::From | HeaderName::CallId | HeaderName::CSeq => splice.copy(line),
            _ => {}
        }
    }
    splice.flush();
    Writer { out: splice.out }
}

/// One change to a parsed message: replace `span` with `scratch[data]` (an insertion has an
/// empty span, a removal empty data).
#[derive(Debug, Clone)]
struct Edit {
    span: Span,
    data: Range<u32>,
}

/// Records edits to a parsed message and writes the result, copying untouched bytes as they
/// were. Edits may be given in any order; two edits must not overlap.
pub struct Editor<'m, 'a> {
    msg: &'m Message<'a>,
    edits: SmallVec<[Edit; 8]>,
    scratch: Vec<u8>,
    body: Option<Range<u32>>,
    removed_content_length: bool,
}

impl<'m, 'a> Editor<'m, 'a> {
    pub fn new(msg: &'m Message<'a>) -> Self {
        Editor {
            msg,
            edits: SmallVec::new(),
            scratch: Vec::new(),
            body: None,
            removed_content_length: false,
        }
    }

    fn stash(&mut self, parts: &[&[u8]]) -> Range<u32> {
        let start = self.scratch.len() as u32;
        for p in parts {
            self.scratch.extend_from_slice(p);
        }
        start..self.scratch.len() as u32
    }

    fn push(&mut self, span: Span, parts: &[&[u8]]) {
        let data = self.stash(parts);
        self.edits.push(Edit { span, data });
    }

    fn at(offset: usize) -> Span {
        Span {
            start: offset as u32,
            end: offset as u32,
        }
    }

    /// A field's whole line including its CRLF.
    fn line_with_crlf(f: &HeaderField) -> Span {
        Span {
            start: f.line.start,
            end: f.line.end + 2,
        }
    }

    /// Replaces the Request-URI (a no-op on a response).
    pub fn set_request_uri(&mut self, uri: &[u8]) -> &mut Self {
        if let Some(r) = self.msg.request() {
            let span = r.uri_span;
            self.push(span, &[uri]);
        }
        self
    }

    /// Inserts a header line above all others (a new topmost Via, Record-Route, Route).
    pub fn prepend_header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let at = Self::at(self.msg.headers_start());
        self.push(at, &[name.as_bytes(), b": ", value, b"\r\n"]);
        self
    }

    /// Adds a new topmost Via (§16.6 step 8).
    pub fn prepend_via(&mut self, value: &[u8]) -> &mut Self {
        self.prepend_header("Via", value)
    }

    /// Adds a Record-Route above any existing ones (§16.6 step 4).
    pub fn add_record_route(&mut self, value: &[u8]) -> &mut Self {
        self.prepend_header("Record-Route", value)
    }

    /// Appends a header line after all others.
    pub fn append_header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let end = self.msg.body_span().start as usize - 2;
        self.push(Self::at(end), &[name.as_bytes(), b": ", value, b"\r\n"]);
        self
    }

    /// Removes one header line.
    pub fn remove_field(&mut self, f: &HeaderField) -> &mut Self {
        if f.name == HeaderName::ContentLength {
            self.removed_content_length = true;
        }
        self.push(Self::line_with_crlf(f), &[]);
        self
    }

    /// Removes every line with this name.
    pub fn remove_headers(&mut self, name: HeaderName) -> &mut Self {
        let msg = self.msg;
        for f in msg.headers().fields().iter().filter(|f| f.name == name) {
            self.remove_field(f);
        }
        self
    }

    /// Replaces the value of the first line with this name and removes the others; appends
    /// the header if there was none.
    pub fn replace_header(&mut self, name: HeaderName, value: &[u8]) -> &mut Self {
        let msg = self.msg;
        let mut fields = msg.headers().fields().iter().filter(|f| f.name == name);
        match fields.next() {
            Some(first) => {
                self.push(first.value, &[value]);
                for f in fields {
                    self.remove_field(f);
                }
            }
            None => {
                let full = name.as_str().unwrap_or("X-Unknown");
                self.append_header(full, value);
            }
        }
        self
    }

    /// Removes the first value of the topmost Via (§16.7 step 3, §18.1.2): the whole line
    /// when it holds one value, else the value and its comma. `first_len` is the length of
    /// the first value within the line's value, as the Via decoder reports it.
    pub fn remove_top_via(&mut self, first_len: usize) -> &mut Self {
        self.remove_first_value(HeaderName::Via, first_len)
    }

    /// Removes the first value of the first `name` line (a Via, a Route): the whole line when
    /// it holds one value, else the value and the comma and LWS after it. `first_len` is the
    /// length of that value within the line's value.
    pub fn remove_first_value(&mut self, name: HeaderName, first_len: usize) -> &mut Self {
        let msg = self.msg;
        let Some(f) = msg.headers().field(name) else {
            return self;
        };
        let value = msg.headers().value(f);
        if first_len >= value.len() {
            return self.remove_field(f);
        }
        // Skip the comma and any LWS after the first value.
        let mut end = first_len;
        while end < value.len() && matches!(value[end], b',' | b' ' | b'\t' | b'\r' | b'\n') {
            end += 1;
        }
        let span = Span {
            start: f.value.start,
            end: f.value.start + end as u32,
        };
        self.push(span, &[]);
        self
    }

    /// Removes the last value of the last `name` line: the whole line when it holds one
    /// value, else the value and the comma and LWS before it. `last_start` is where that
    /// value starts within the line's value.
    pub fn remove_last_value(&mut self, name: HeaderName, last_start: usize) -> &mut Self {
        let msg = self.msg;
        let Some(f) = msg.headers().fields().iter().rev().find(|f| f.name == name) else {
            return self;
        };
        let value = msg.headers().value(f);
        let mut start = last_start.min(value.len());
        while start > 0 && matches!(value[start - 1], b',' | b' ' | b'\t' | b'\r' | b'\n') {
            start -= 1;
        }
        if start == 0 {
            return self.remove_field(f);
        }
        let span = Span {
            start: f.value.start + start as u32,
            end: f.value.end,
        };
        self.push(span, &[]);
        self
    }

    /// Replaces the body; Content-Length is rewritten to match, Content-Type set if given.
    pub fn set_body(&mut self, body: &[u8], content_type: Option<&[u8]>) -> &mut Self {
        self.body = Some(self.stash(&[body]));
        if let Some(ct) = content_type {
            self.replace_header(HeaderName::ContentType, ct);
        }
        self
    }

    /// Writes the edited message. Content-Length always reflects the body written.
    pub fn write_to(mut self, out: &mut Vec<u8>) {
        let msg = self.msg;
        let buf = msg.buf();
        let body_span = msg.body_span();
        let body_len = self
            .body
            .as_ref()
            .map_or(body_span.len(), |r| (r.end - r.start) as usize);
        let mut len_buf = [0u8; 10];
        let len_text = fmt_usize(body_len, &mut len_buf);
        // Content-Length: rewrite the existing one, or add one before the empty line.
        let cl = msg.headers().field(HeaderName::ContentLength).copied();
        match cl {
            Some(f) if !self.removed_content_length => self.push(f.value, &[len_text]),
            _ => {
                let end = body_span.start as usize - 2;
                self.push(Self::at(end), &[b"Content-Length: ", len_text, b"\r\n"]);
            }
        }
        self.edits.sort_by_key(|e| (e.span.start, e.span.end));
        let mut pos = 0usize;
        for e in &self.edits {
            let (s, end) = (e.span.start as usize, e.span.end as usize);
            if s < pos {
                continue; // overlapping edit: the earlier one wins
            }
            out.extend_from_slice(&buf[pos..s]);
            out.extend_from_slice(&self.scratch[e.data.start as usize..e.data.end as usize]);
            pos = end;
        }
        let header_end = body_span.start as usize;
        out.extend_from_slice(&buf[pos.min(header_end)..header_end]);
        match &self.body {
            Some(r) => out.extend_from_slice(&self.scratch[r.start as usize..r.end as usize]),
            None => out.extend_from_slice(msg.body()),
        }
    }
}

fn fmt_usize(mut n: usize, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_are_written_as_std_writes_them() {
        let mut values: Vec<u64> = (0..2_000).collect();
        for p in 1..20u32 {
            let k = 10u64.pow(p);
            values.extend([k - 1, k, k + 1, k / 2 + 7]);
        }
        values.extend([65_535, u64::MAX]);
        for n in values {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
        for a in [0u8, 1, 9, 10, 99, 100, 199, 200, 255] {
            for b in [0u8, 7, 42, 255] {
                let ip = std::net::Ipv4Addr::new(a, b, 255 - a, b / 2);
                let mut out = b"received=".to_vec();
                push_ip(&mut out, ip.into());
                assert_eq!(out, format!("received={ip}").into_bytes());
            }
        }
        for n in 0..=u16::MAX {
            let (text, len) = decimal_u16(n);
            assert_eq!(&text[..len], n.to_string().as_bytes());
        }
        for n in 0..=255u8 {
            for ip in [
                std::net::Ipv4Addr::new(n, n, n, n),
                std::net::Ipv4Addr::new(9, n, 255, n / 3),
            ] {
                let mut out = Vec::new();
                push_ip(&mut out, ip.into());
                assert_eq!(out, ip.to_string().into_bytes());
            }
        }
        let v6: std::net::IpAddr = "2001:db8::9:1".parse().unwrap();
        let mut out = Vec::new();
        push_ip(&mut out, v6);
        assert_eq!(out, b"2001:db8::9:1");
    }
    use crate::core::sip::message::Framing;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
To: <sip:bob@example.com>\r\n\
From: <sip:alice@example.com>;tag=a1\r\n\
Call-ID: w1\r\n\
CSeq: 1 INVITE\r\n\
X-Keep: as  it   was\r\n\
Content-Length: 4\r\n\
\r\n\
body";

    fn parse(b: &[u8]) -> Message<'_> {
        Message::parse(b, Framing::Datagram).unwrap()
    }

    #[test]
    fn a_written_request_parses_back() {
        let mut out = Vec::new();
        let mut w = Writer::request(&mut out, Method::Options, b"sip:x@y");
        w.header("Via", b"SIP/2.0/UDP h;branch=z9hG4bK1")
            .header_fmt("CSeq", format_args!("{} OPTIONS", 7));
        w.header_list("Allow", [&b"INVITE"[..], b"ACK"]);
        w.finish(b"hi");
        let m = parse(&out);
        assert_eq!(m.request().unwrap().uri, b"sip:x@y");
        assert_eq!(m.header(HeaderName::CSeq), Some(&b"7 OPTIONS"[..]));
        assert_eq!(m.header(HeaderName::Allow), Some(&b"INVITE, ACK"[..]));
        assert_eq!(m.body(), b"hi");
    }

    #[test]
    fn response_copies_the_dialog_headers_and_adds_the_to_tag() {
        let req = parse(INVITE);
        let mut out = Vec::new();
        response_to(
            &mut out,
            req.headers(),
            404,
            "Not Found",
            ViaStamp::default(),
            Some(b"t9"),
        )
        .finish(b"");
        let r = parse(&out);
        assert_eq!(r.status().unwrap().code, 404);
        let vias: Vec<_> = r.headers().all(HeaderName::Via).collect();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[1], b"SIP/2.0/UDP c.example.com;branch=z9hG4bK3");
        assert_eq!(
            r.header(HeaderName::To),
            Some(&b"<sip:bob@example.com>;tag=t9"[..])
        );
        assert_eq!(r.header(HeaderName::From), req.header(HeaderName::From));
        assert_eq!(r.header(HeaderName::CallId), Some(&b"w1"[..]));
        assert_eq!(r.header(HeaderName::CSeq), Some(&b"1 INVITE"[..]));
        assert_eq!(r.headers().get_by_name(b"X-Keep"), None);
    }

    #[test]
    fn response_stamps_the_first_via_value_and_keeps_the_others() {
        let req = parse(INVITE);
        let line = req.headers().fields()[0];
        let at = |text: &[u8]| {
            let value = req.headers().value(&line);
            line.value.start as usize + memchr::memmem::find(value, text).unwrap() + text.len()
        };
        let ip = std::net::IpAddr::from([192, 0, 2, 1]);
        let received_only = ViaStamp {
            rport: None,
            received: Some((at(b"z9hG4bK1"), ip)),
        };
        let mut out = Vec::new();
        response_to(&mut out, req.headers(), 200, "OK", received_only, None).finish(b"");
        let r = parse(&out);
        let vias: Vec<_> = r.headers().all(HeaderName::Via).collect();
        assert_eq!(
            vias,
            [
                &b"SIP/2.0/UDP a.example.com;branch=z9hG4bK1;received=192.0.2.1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2"[..],
                b"SIP/2.0/UDP c.example.com;branch=z9hG4bK3"
            ]
        );
        // `=<port>` after a bare name (here `branch`'s, for the test), `received` later.
        let both = ViaStamp {
            rport: Some((at(b";branch"), 5062)),
            received: Some((at(b"z9hG4bK1"), ip)),
        };
        let mut out = Vec::new();
        response_to(&mut out, req.headers(), 200, "OK", both, None).finish(b"");
        assert!(memchr::memmem::find(
            &out,
            b"\r\nVia: SIP/2.0/UDP a.example.com;branch=5062=z9hG4bK1;received=192.0.2.1, SIP"
        )
        .is_some());
        let v6 = std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 9]);
        let both_v6 = ViaStamp {
            rport: Some((at(b";branch"), 5)),
            received: Some((at(b"z9hG4bK1"), v6)),
        };
        let mut out = Vec::new();
        response_to(&mut out, req.headers(), 200, "OK", both_v6, None).finish(b"");
        assert!(memchr::memmem::find(
            &out,
            b"\r\nVia: SIP/2.0/UDP a.example.com;branch=5=z9hG4bK1;received=2001:db8::9, SIP"
        )
        .is_some());
        // Offsets out of order or outside the line: the line goes back as it came.
        for bad in [
            ViaStamp {
                rport: Some((at(b"z9hG4bK1"), 1)),
                received: Some((at(b";branch"), ip)),
            },
            ViaStamp {
                rport: None,
                received: Some((INVITE.len(), ip)),
            },
        ] {
            let mut out = Vec::new();
            response_to(&mut out, req.headers(), 200, "OK", bad, None).finish(b"");
            let r = parse(&out);
            assert_eq!(r.header(HeaderName::Via), req.header(HeaderName::Via));
        }
    }

    #[test]
    fn response_copies_lines_as_they_came() {
        let b = b"OPTIONS sip:a SIP/2.0\r\n\
v: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
f: <sip:x@y>;tag=1\r\n\
X-Between: 1\r\n\
t: <sip:a>\r\n\
i: c1\r\n\
CSeq:  2\r\n OPTIONS\r\n\
Content-Length: 0\r\n\r\n";
        let req = parse(b);
        let mut out = Vec::new();
        response_to(
            &mut out,
            req.headers(),
            404,
            "Not Found",
            ViaStamp::default(),
            Some(b"t1"),
        )
        .finish(b"");
        assert_eq!(
            out,
            b"SIP/2.0 404 Not Found\r\n\
v: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
f: <sip:x@y>;tag=1\r\n\
t: <sip:a>;tag=t1\r\n\
i: c1\r\n\
CSeq:  2\r\n OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
        );
        let mut out = Vec::new();
        response_to(
            &mut out,
            req.headers(),
            1000,
            "Odd",
            ViaStamp::default(),
            None,
        )
        .finish(b"");
        assert!(out.starts_with(b"SIP/2.0 1000 Odd\r\nv: "));
    }

    #[test]
    fn editor_keeps_untouched_bytes() {
        let req = parse(INVITE);
        let mut out = Vec::new();
        Editor::new(&req).write_to(&mut out);
        assert_eq!(out, INVITE);
    }

    #[test]
    fn editor_proxy_edits() {
        let req = parse(INVITE);
        let mut out = Vec::new();
        let mut e = Editor::new(&req);
        e.set_request_uri(b"sip:bob@192.0.2.9:5062")
            .prepend_via(b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
            .add_record_route(b"<sip:proxy.example.com;lr>")
            .replace_header(HeaderName::CallId, b"w2")
            .append_header("X-New", b"1");
        e.write_to(&mut out);
        let m = parse(&out);
        assert_eq!(m.request().unwrap().uri, b"sip:bob@192.0.2.9:5062");
        assert_eq!(
            m.header(HeaderName::Via),
            Some(&b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"[..])
        );
        assert_eq!(m.headers().count(HeaderName::Via), 3);
        assert_eq!(
            m.header(HeaderName::RecordRoute),
            Some(&b"<sip:proxy.example.com;lr>"[..])
        );
        assert_eq!(m.header(HeaderName::CallId), Some(&b"w2"[..]));
        assert_eq!(m.headers().get_by_name(b"x-new"), Some(&b"1"[..]));
        assert_eq!(
            m.headers().get_by_name(b"X-Keep"),
            Some(&b"as  it   was"[..])
        );
        assert_eq!(m.body(), b"body");
    }

    #[test]
    fn editor_removes_the_first_via_value_or_line() {
        let req = parse(INVITE);
        let first_len = b"SIP/2.0/UDP a.example.com;branch=z9hG4bK1".len();
        let mut out = Vec::new();
        let mut e = Editor::new(&req);
        e.remove_top_via(first_len);
        e.write_to(&mut out);
        let m = parse(&out);
        assert_eq!(
            m.header(HeaderName::Via),
            Some(&b"SIP/2.0/UDP b.example.com;branch=z9hG4bK2"[..])
        );
        let mut again = Vec::new();
        let mut e = Editor::new(&m);
        e.remove_top_via(usize::MAX);
        e.write_to(&mut again);
        let m2 = parse(&again);
        assert_eq!(
            m2.header(HeaderName::Via),
            Some(&b"SIP/2.0/UDP c.example.com;branch=z9hG4bK3"[..])
        );
    }

    #[test]
    fn editor_swaps_the_body_and_fixes_content_length() {
        let req = parse(INVITE);
        let mut out = Vec::new();
        let mut e = Editor::new(&req);
        e.set_body(b"v=0\r\n", Some(b"application/sdp"));
        e.write_to(&mut out);
        let m = parse(&out);
        assert_eq!(m.body(), b"v=0\r\n");
        assert_eq!(m.header(HeaderName::ContentLength), Some(&b"5"[..]));
        assert_eq!(
            m.header(HeaderName::ContentType),
            Some(&b"application/sdp"[..])
        );
    }

    #[test]
    fn editor_adds_a_missing_content_length() {
        let b = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\nxyz";
        let req = parse(b);
        let mut out = Vec::new();
        Editor::new(&req).write_to(&mut out);
        let m = Message::parse(&out, Framing::Stream).unwrap();
        assert_eq!(m.body(), b"xyz");
    }
}
