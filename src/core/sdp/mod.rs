//! SDP (RFC 8866), zero-copy parse and minimal-edit write.
//!
//! Owns: reading a session description into [`Sdp`] (the raw buffer plus one offset triple
//! per line, typed views decoded on demand), rewriting it with [`SdpEditor`] the way a media
//! relay does (connection and origin addresses, media ports, `a=rtcp`, direction, codecs,
//! any attribute) while copying every untouched line byte-for-byte, and writing a fresh
//! description with [`SdpBuilder`]. It does not decide anything about offer/answer
//! (RFC 3264) or media policy; callers do, using these views.
//!
//! Sections implemented: RFC 8866 §5 (line grammar and the `v o s i u e p c b t r z k a m`
//! types, of which `v o s c b t a m` get typed views; the rest are kept as lines), §6.4–§6.7
//! and §6.6/§6.15 (`ptime`, `maxptime`, direction, `rtpmap`, `fmtp`), RFC 3605 (`a=rtcp`),
//! RFC 5761 §5.1.1 (`a=rtcp-mux`). IPv6 addresses are written without brackets (RFC 8866 §5.7,
//! RFC 5118 §4.6).
//!
//! Strictness: the first line must be `v=0`; every line is `<type>=<value>` with `<type>` one
//! lowercase letter; `o=` and `s=` appear exactly once, before the first `m=`; `o= c= b= t= m=`
//! and attribute names must match their grammar. Liberal where real user agents are: lines
//! may end in CRLF or bare LF, the last line end may be missing, blank lines and trailing
//! whitespace are tolerated, fields may be separated by several spaces, `t=` may be missing,
//! unknown line types and attributes are kept, typed attribute views return `None` instead
//! of failing the description. No input makes the parser panic; allocation happens only when
//! a description outgrows the inline capacities (32 lines, 4 media sections).

mod attr;
mod build;
mod field;
mod parse;
mod write;

use core::fmt;
use core::ops::Range;

use smallvec::SmallVec;

pub use attr::{Attribute, Direction, Fmtp, NetAddress, NewAttribute, Rtcp, Rtpmap};
pub use build::{IpText, MediaBuilder, SdpBuilder};
pub use field::{AddrType, Bandwidth, Connection, MediaLine, Origin, Timing};
pub use write::{EditError, Scope, SdpEditor};

use parse::{LineSpan, Section};

/// Why a body is not a usable session description.
///
/// Line numbers are 1-based. Every variant means the body cannot be used: a UAS answers the
/// request that carried it with 400 (malformed body, RFC 3261 §21.4.1); a B2BUA relaying it
/// answers its peer the same way rather than forwarding what it cannot rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpError {
    /// The body is empty.
    Empty,
    /// The body is larger than 4 GiB (offsets are 32-bit).
    TooLarge,
    /// The first line is not a `v=` line.
    MissingVersion,
    /// `v=` carries something other than `0`.
    BadVersion,
    /// A line is not `<type>=<value>`, holds NUL or a stray CR, or is a `v=`, `o=` or `s=`
    /// line out of place.
    BadLine {
        /// 1-based line number.
        line: u32,
    },
    /// No `o=` line before the first `m=`.
    MissingOrigin,
    /// The `o=` line does not match its grammar.
    BadOrigin {
        /// 1-based line number.
        line: u32,
    },
    /// No `s=` line before the first `m=`.
    MissingSessionName,
    /// A `c=` line does not match its grammar.
    BadConnection {
        /// 1-based line number.
        line: u32,
    },
    /// A `b=` line does not match its grammar.
    BadBandwidth {
        /// 1-based line number.
        line: u32,
    },
    /// A `t=` line does not match its grammar.
    BadTiming {
        /// 1-based line number.
        line: u32,
    },
    /// An `m=` line does not match its grammar (truncated, port not a number below 65536...).
    BadMedia {
        /// 1-based line number.
        line: u32,
    },
    /// An `a=` line has no valid attribute name.
    BadAttribute {
        /// 1-based line number.
        line: u32,
    },
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::Empty => f.write_str("empty session description"),
            SdpError::TooLarge => f.write_str("session description too large"),
            SdpError::MissingVersion => f.write_str("first line is not v="),
            SdpError::BadVersion => f.write_str("unsupported v= value"),
            SdpError::BadLine { line } => write!(f, "malformed line {line}"),
            SdpError::MissingOrigin => f.write_str("missing o= line"),
            SdpError::BadOrigin { line } => write!(f, "malformed o= on line {line}"),
            SdpError::MissingSessionName => f.write_str("missing s= line"),
            SdpError::BadConnection { line } => write!(f, "malformed c= on line {line}"),
            SdpError::BadBandwidth { line } => write!(f, "malformed b= on line {line}"),
            SdpError::BadTiming { line } => write!(f, "malformed t= on line {line}"),
            SdpError::BadMedia { line } => write!(f, "malformed m= on line {line}"),
            SdpError::BadAttribute { line } => write!(f, "malformed a= on line {line}"),
        }
    }
}

impl std::error::Error for SdpError {}

/// A parsed session description borrowing its buffer.
///
/// Lines are indexed from 0 in order of appearance (blank lines are not counted; they stay
/// attached to the line before them). Session-level lines run up to the first `m=`; each
/// media section runs from its `m=` line to the next one.
#[derive(Debug, Clone)]
pub struct Sdp<'a> {
    buf: &'a [u8],
    lines: SmallVec<[LineSpan; 32]>,
    media: SmallVec<[Section<'a>; 4]>,
    origin: Origin<'a>,
    origin_line: u32,
    session_name: &'a [u8],
}

impl<'a> Sdp<'a> {
    /// The bytes this description was parsed from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// `v=`: always 0, the only version defined.
    pub fn version(&self) -> u8 {
        0
    }

    /// `o=`.
    pub fn origin(&self) -> &Origin<'a> {
        &self.origin
    }

    /// Index of the `o=` line.
    pub fn origin_line(&self) -> usize {
        self.origin_line as usize
    }

    /// `s=` value, raw (UTF-8 by default, another charset if `a=charset` says so); may be
    /// empty when the line was `s= `.
    pub fn session_name(&self) -> &'a [u8] {
        self.session_name
    }

    /// The first session-level `c=`.
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.connections().next()
    }

    /// Session-level `c=` lines (one in a well-formed description).
    pub fn connections(&self) -> impl Iterator<Item = Connection<'a>> + '_ {
        self.typed(self.session_line_range(), b'c')
            .filter_map(|(_, v)| Connection::parse(v))
    }

    /// Session-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'a>> + '_ {
        self.typed(self.session_line_range(), b'b')
            .filter_map(|(_, v)| Bandwidth::parse(v))
    }

    /// `t=` lines; none when the sender left `t=` out.
    pub fn timings(&self) -> impl Iterator<Item = Timing> + use<'_, 'a> {
        self.typed(self.session_line_range(), b't')
            .filter_map(|(_, v)| Timing::parse(v))
    }

    /// Session-level attributes in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + '_ {
        self.attributes_in(self.session_line_range())
    }

    /// The first session-level attribute with this name (ASCII case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.is(name))
    }

    /// The session-level direction attribute, if any; media sections inherit it.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(|a| a.direction())
    }

    /// Number of media sections.
    pub fn media_count(&self) -> usize {
        self.media.len()
    }

    /// Media section `index` (0-based, in order of `m=` lines).
    pub fn media(&self, index: usize) -> Option<Media<'_, 'a>> {
        let section = self.media.get(index)?;
        Some(Media {
            sdp: self,
            index,
            section,
        })
    }

    /// All media sections in order.
    pub fn media_sections(&self) -> impl Iterator<Item = Media<'_, 'a>> + '_ {
        self.media
            .iter()
            .enumerate()
            .map(move |(index, section)| Media {
                sdp: self,
                index,
                section,
            })
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Line `index`.
    pub fn line(&self, index: usize) -> Option<Line<'a>> {
        let span = self.lines.get(index)?;
        Some(Line {
            index,
            kind: self.kind(index),
            value: self.span_value(span),
            raw: self.span_raw(span),
        })
    }

    /// All lines in order.
    pub fn lines(&self) -> impl Iterator<Item = Line<'a>> + '_ {
        (0..self.lines.len()).filter_map(|i| self.line(i))
    }

    /// Line indices of the session-level part (`v=` up to the first `m=`).
    pub fn session_line_range(&self) -> Range<usize> {
        0..self
            .media
            .first()
            .map_or(self.lines.len(), |m| m.first as usize)
    }

    fn kind(&self, index: usize) -> u8 {
        self.lines
            .get(index)
            .and_then(|s| self.buf.get(s.start as usize))
            .copied()
            .unwrap_or(0)
    }

    fn value(&self, index: usize) -> &'a [u8] {
        self.lines.get(index).map_or(&[], |s| self.span_value(s))
    }

    fn span_value(&self, span: &LineSpan) -> &'a [u8] {
        parse::value_of(self.buf, span)
    }

    fn span_raw(&self, span: &LineSpan) -> &'a [u8] {
        self.buf
            .get(span.start as usize..span.end as usize)
            .unwrap_or(&[])
    }

    /// `(index, value)` of the lines of type `kind` within `range`.
    fn typed(&self, range: Range<usize>, kind: u8) -> impl Iterator<Item = (usize, &'a [u8])> + '_ {
        range
            .filter(move |&i| self.kind(i) == kind)
            .map(|i| (i, self.value(i)))
    }

    fn attributes_in(&self, range: Range<usize>) -> impl Iterator<Item = Attribute<'a>> + '_ {
        self.typed(range, b'a')
            .filter_map(|(i, v)| Attribute::parse(i, v))
    }
}

/// One line of a description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// Index of the line (what [`SdpEditor`] methods take).
    pub index: usize,
    /// `<type>`: the letter before `=`.
    pub kind: u8,
    /// `<value>`: after `=`, without the line end and trailing whitespace.
    pub value: &'a [u8],
    /// The line exactly as received, line end (and any blank lines after it) included.
    pub raw: &'a [u8],
}

/// A media section: its `m=` line and the lines up to the next `m=`.
#[derive(Debug, Clone, Copy)]
pub struct Media<'s, 'a> {
    sdp: &'s Sdp<'a>,
    index: usize,
    section: &'s Section<'a>,
}

impl<'s, 'a> Media<'s, 'a> {
    /// Position among the media sections, 0-based.
    pub fn index(self) -> usize {
        self.index
    }

    /// Index of the `m=` line.
    pub fn line_index(self) -> usize {
        self.section.first as usize
    }

    /// Line indices of the section, `m=` line included.
    pub fn line_range(self) -> Range<usize> {
        self.section.first as usize..self.section.end as usize
    }

    /// The `m=` line's values.
    pub fn media_line(self) -> &'s MediaLine<'a> {
        &self.section.line
    }

    /// `<media>`: `audio`, `video`, ...
    pub fn media(self) -> &'a str {
        self.section.line.media
    }

    /// `<port>`.
    pub fn port(self) -> u16 {
        self.section.line.port
    }

    /// `<number of ports>`, if given.
    pub fn port_count(self) -> Option<u16> {
        self.section.line.port_count
    }

    /// `<proto>`.
    pub fn proto(self) -> &'a str {
        self.section.line.proto
    }

    /// `<fmt>` list in order.
    pub fn formats(self) -> core::str::SplitAsciiWhitespace<'a> {
        self.section.line.formats()
    }

    /// Media-level `c=` lines.
    pub fn connections(self) -> impl Iterator<Item = Connection<'a>> + 's {
        self.sdp
            .typed(self.line_range(), b'c')
            .filter_map(|(_, v)| Connection::parse(v))
    }

    /// The first media-level `c=`.
    pub fn connection(self) -> Option<Connection<'a>> {
        self.connections().next()
    }

    /// The connection that applies: media-level if present, else session-level.
    pub fn effective_connection(self) -> Option<Connection<'a>> {
        self.connection().or_else(|| self.sdp.connection())
    }

    /// Media-level `b=` lines.
    pub fn bandwidths(self) -> impl Iterator<Item = Bandwidth<'a>> + 's {
        self.sdp
            .typed(self.line_range(), b'b')
            .filter_map(|(_, v)| Bandwidth::parse(v))
    }

    /// Media-level attributes in order.
    pub fn attributes(self) -> impl Iterator<Item = Attribute<'a>> + 's {
        self.sdp.attributes_in(self.line_range())
    }

    /// The first media-level attribute with this name (ASCII case-insensitive).
    pub fn attribute(self, name: &str) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.is(name))
    }

    /// Whether a media-level attribute with this name is present.
    pub fn has_attribute(self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// Every well-formed `a=rtpmap` of the section.
    pub fn rtpmaps(self) -> impl Iterator<Item = Rtpmap<'a>> + 's {
        self.attributes().filter_map(|a| a.rtpmap())
    }

    /// The `a=rtpmap` for a payload type.
    pub fn rtpmap(self, payload_type: u8) -> Option<Rtpmap<'a>> {
        self.rtpmaps().find(|r| r.payload_type == payload_type)
    }

    /// The `a=fmtp` for a format.
    pub fn fmtp(self, format: &str) -> Option<Fmtp<'a>> {
        self.attributes()
            .filter_map(|a| a.fmtp())
            .find(|f| f.format == format)
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(self) -> Option<u32> {
        self.attributes().find_map(|a| a.ptime())
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(self) -> Option<u32> {
        self.attributes().find_map(|a| a.maxptime())
    }

    /// The direction in force: the media-level attribute, else the session-level one, else
    /// `sendrecv` (RFC 8866 §6.7).
    pub fn direction(self) -> Direction {
        self.attributes()
            .find_map(|a| a.direction())
            .or_else(|| self.sdp.direction())
            .unwrap_or_default()
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(self) -> Option<Rtcp<'a>> {
        self.attributes().find_map(|a| a.rtcp())
    }

    /// Whether `a=rtcp-mux` is present (RFC 5761 §5.1.1).
    pub fn rtcp_mux(self) -> bool {
        self.has_attribute("rtcp-mux")
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
