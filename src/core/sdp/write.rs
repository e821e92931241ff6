//! Minimal-edit rewriting of a parsed description, what a media relay does to anchor media
//! (RFC 3264 §5–§8 offers and answers passing through a B2BUA).
//!
//! [`SdpEditor`] records edits against line and media indices of an [`Sdp`] and applies them
//! in [`SdpEditor::write_to`]: an edited line is written fresh, every other line is copied
//! byte-for-byte from the original buffer (line end and blank lines included), so an editor
//! with no edits reproduces its input exactly. Written lines use the description's own line
//! end. Recording edits allocates nothing for typical use (up to 8 line edits and 2 edited
//! media sections inline); writing appends to the caller's buffer only.

use core::fmt;
use std::net::IpAddr;

use smallvec::SmallVec;

use super::attr::{Direction, NewAttribute};
use super::build::IpText;
use super::field::{is_token, AddrType};
use super::Sdp;

/// Which part of a description an edit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The session-level lines, before the first `m=`.
    Session,
    /// Media section `n` (0-based).
    Media(usize),
}

/// Why an edit was refused. Edits are checked when recorded, so writing cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditError {
    /// No media section with that index.
    NoSuchMedia,
    /// No line with that index, or not a line of the kind the edit needs.
    NoSuchLine,
    /// The `m=` line has no such format.
    NoSuchFormat,
    /// The edit would leave an `m=` line without any format.
    LastFormat,
    /// The `m=` line has no format, so its port must stay 0 (a rejected stream).
    NoFormats,
    /// The `v=`, `o=`, `s=` and `m=` lines cannot be removed.
    Required,
    /// A value that would not parse back: a bad token, or NUL, CR or LF in a value.
    BadValue,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EditError::NoSuchMedia => "no such media section",
            EditError::NoSuchLine => "no such line",
            EditError::NoSuchFormat => "no such format",
            EditError::LastFormat => "would remove the last format",
            EditError::NoFormats => "media without formats must keep port 0",
            EditError::Required => "line cannot be removed",
            EditError::BadValue => "value does not fit the SDP grammar",
        })
    }
}

impl std::error::Error for EditError {}

/// Edits to an [`Sdp`], written out by [`SdpEditor::write_to`].
///
/// Line indices are those of [`Sdp::line`]; inserted lines do not shift them. When several
/// edits replace or remove the same line, the last one recorded wins.
#[derive(Debug, Clone)]
pub struct SdpEditor<'s, 'a> {
    sdp: &'s Sdp<'a>,
    origin: OriginEdit<'s>,
    media: SmallVec<[MediaEdit<'s>; 2]>,
    edits: SmallVec<[LineEdit<'s>; 8]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct OriginEdit<'s> {
    username: Option<&'s str>,
    address: Option<IpAddr>,
    version: Version,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Version {
    #[default]
    Keep,
    Increment,
    Set(u64),
}

#[derive(Debug, Clone)]
struct MediaEdit<'s> {
    media: usize,
    port: Option<u16>,
    removed: SmallVec<[&'s str; 4]>,
}

#[derive(Debug, Clone, Copy)]
enum LineEdit<'s> {
    Replace { line: usize, with: Content<'s> },
    Remove { line: usize },
    Insert { after: usize, with: Content<'s> },
}

/// A line the editor writes.
#[derive(Debug, Clone, Copy)]
enum Content<'s> {
    Connection(IpAddr),
    Rtcp { port: u16, address: Option<IpAddr> },
    Attribute(NewAttribute<'s>),
}

impl Content<'_> {
    /// Lines of which a section holds at most one: a second edit replaces the first.
    fn singleton(&self) -> Option<u8> {
        match self {
            Content::Connection(_) => Some(0),
            Content::Rtcp { .. } => Some(1),
            Content::Attribute(NewAttribute::Direction(_)) => Some(2),
            Content::Attribute(_) => None,
        }
    }

    /// The attribute name of an `a=` line, `None` for `c=`.
    fn attribute_name(&self) -> Option<&str> {
        match self {
            Content::Connection(_) => None,
            Content::Rtcp { .. } => Some("rtcp"),
            Content::Attribute(attribute) => Some(attribute.name()),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Content::Connection(ip) => {
                out.extend_from_slice(b"c=");
                push_address(out, *ip);
            }
            Content::Rtcp { port, address } => {
                out.extend_from_slice(b"a=rtcp:");
                push_u64(out, u64::from(*port));
                if let Some(ip) = address {
                    out.push(b' ');
                    push_address(out, *ip);
                }
            }
            Content::Attribute(attribute) => attribute.write(out),
        }
    }
}

impl<'s, 'a> SdpEditor<'s, 'a> {
    /// An editor with no edits: [`SdpEditor::write_to`] then copies `sdp` exactly.
    pub fn new(sdp: &'s Sdp<'a>) -> Self {
        SdpEditor {
            sdp,
            origin: OriginEdit::default(),
            media: SmallVec::new(),
            edits: SmallVec::new(),
        }
    }

    /// Sets the connection address of a scope to `ip` (`c=IN IP4 ...` or `c=IN IP6 ...`):
    /// the first `c=` line of the scope is rewritten, any further ones (multicast layers) are
    /// removed, and a `c=` line is inserted in grammar order if the scope has none.
    pub fn set_connection(&mut self, scope: Scope, ip: IpAddr) -> Result<&mut Self, EditError> {
        let range = self.range(scope)?;
        let sdp = self.sdp;
        let mut existing = range.clone().filter(|&i| sdp.kind(i) == b'c');
        match existing.next() {
            Some(first) => {
                self.edits.push(LineEdit::Replace {
                    line: first,
                    with: Content::Connection(ip),
                });
                let rest: SmallVec<[usize; 2]> = existing.collect();
                self.edits
                    .extend(rest.into_iter().map(|line| LineEdit::Remove { line }));
            }
            None => {
                // RFC 8866 §5: c= follows v o s i u e p at session level and m i in media.
                let before: &[u8] = if scope == Scope::Session {
                    b"vosiuep"
                } else {
                    b"mi"
                };
                let mut after = range.start;
                while after + 1 < range.end && before.contains(&self.kind(after + 1)) {
                    after += 1;
                }
                self.upsert(after, Content::Connection(ip));
            }
        }
        Ok(self)
    }

    /// Rewrites the origin's `<nettype> <addrtype> <unicast-address>` to `IN IP4|IP6 ip`.
    pub fn set_origin_address(&mut self, ip: IpAddr) -> &mut Self {
        self.origin.address = Some(ip);
        self
    }

    /// Rewrites the origin's `<username>` (a token, `-` for none).
    pub fn set_origin_username(&mut self, username: &'s str) -> Result<&mut Self, EditError> {
        if !is_token(username) {
            return Err(EditError::BadValue);
        }
        self.origin.username = Some(username);
        Ok(self)
    }

    /// Sets `<sess-version>` to a number.
    pub fn set_sess_version(&mut self, version: u64) -> &mut Self {
        self.origin.version = Version::Set(version);
        self
    }

    /// Writes `<sess-version>` plus one, as a modified description must (RFC 3264 §8).
    /// Works on the digit string, so versions wider than 64 bits are incremented too.
    pub fn increment_sess_version(&mut self) -> &mut Self {
        self.origin.version = Version::Increment;
        self
    }

    /// Sets the `m=` port of a media section; a `/<number of ports>` suffix is kept.
    pub fn set_media_port(&mut self, media: usize, port: u16) -> Result<&mut Self, EditError> {
        let section = self.sdp.media(media).ok_or(EditError::NoSuchMedia)?;
        if port != 0 && section.formats().next().is_none() {
            return Err(EditError::NoFormats);
        }
        self.media_edit(media)?.port = Some(port);
        Ok(self)
    }

    /// Removes a format from a media section's `m=` line, together with the section's
    /// `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` lines for it.
    pub fn remove_format(&mut self, media: usize, format: &str) -> Result<&mut Self, EditError> {
        let section = self.sdp.media(media).ok_or(EditError::NoSuchMedia)?;
        let found = section
            .formats()
            .find(|f| *f == format)
            .ok_or(EditError::NoSuchFormat)?;
        let edit = self.media_edit(media)?;
        if !edit.removed.contains(&found) {
            if section
                .formats()
                .all(|f| f == found || edit.removed.contains(&f))
            {
                return Err(EditError::LastFormat);
            }
            edit.removed.push(found);
        }
        Ok(self)
    }

    /// Keeps only the formats of a media section for which `keep` says yes (see
    /// [`SdpEditor::remove_format`]); refuses to remove them all.
    pub fn retain_formats(
        &mut self,
        media: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<&mut Self, EditError> {
        let section = self.sdp.media(media).ok_or(EditError::NoSuchMedia)?;
        let edit = self.media_edit(media)?;
        let drop: SmallVec<[&'s str; 8]> = section
            .formats()
            .filter(|f| !edit.removed.contains(f) && !keep(f))
            .collect();
        if section
            .formats()
            .all(|f| edit.removed.contains(&f) || drop.contains(&f))
        {
            return Err(EditError::LastFormat);
        }
        edit.removed.extend(drop);
        Ok(self)
    }

    /// Sets a media section's `a=rtcp` (RFC 3605): the first one is rewritten, others are
    /// removed, and one is appended to the section if it has none.
    pub fn set_rtcp(
        &mut self,
        media: usize,
        port: u16,
        address: Option<IpAddr>,
    ) -> Result<&mut Self, EditError> {
        self.set_singleton(Scope::Media(media), Content::Rtcp { port, address }, |a| {
            a.is("rtcp")
        })
    }

    /// Sets the direction attribute of a scope: the first direction attribute is rewritten,
    /// others are removed, and one is appended to the scope if it has none. A media-level
    /// direction overrides the session-level one (RFC 8866 §6.7).
    pub fn set_direction(
        &mut self,
        scope: Scope,
        direction: Direction,
    ) -> Result<&mut Self, EditError> {
        let content = Content::Attribute(NewAttribute::Direction(direction));
        self.set_singleton(scope, content, |a| a.direction().is_some())
    }

    /// Appends an attribute at the end of a scope.
    pub fn add_attribute(
        &mut self,
        scope: Scope,
        attribute: NewAttribute<'s>,
    ) -> Result<&mut Self, EditError> {
        if !attribute.is_valid() {
            return Err(EditError::BadValue);
        }
        // NOTE: a scope is never empty: the session holds v= o= s=, a section its m= line.
        let after = self.range(scope)?.end - 1;
        self.edits.push(LineEdit::Insert {
            after,
            with: Content::Attribute(attribute),
        });
        Ok(self)
    }

    /// Removes every attribute of a scope with this name (ASCII case-insensitive), including
    /// ones added to that scope by earlier edits.
    pub fn remove_attributes(&mut self, scope: Scope, name: &str) -> Result<&mut Self, EditError> {
        let range = self.range(scope)?;
        let lines: SmallVec<[usize; 4]> = self
            .sdp
            .attributes_in(range.clone())
            .filter(|a| a.is(name))
            .map(|a| a.line)
            .collect();
        self.edits
            .extend(lines.into_iter().map(|line| LineEdit::Remove { line }));
        self.edits.retain(|edit| match edit {
            LineEdit::Insert { after, with } => {
                !(range.contains(after)
                    && with
                        .attribute_name()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name)))
            }
            _ => true,
        });
        Ok(self)
    }

    /// Replaces the attribute on line `line` with another one.
    pub fn replace_attribute(
        &mut self,
        line: usize,
        attribute: NewAttribute<'s>,
    ) -> Result<&mut Self, EditError> {
        if self.kind(line) != b'a' {
            return Err(EditError::NoSuchLine);
        }
        if !attribute.is_valid() {
            return Err(EditError::BadValue);
        }
        self.edits.push(LineEdit::Replace {
            line,
            with: Content::Attribute(attribute),
        });
        Ok(self)
    }

    /// Removes line `line`; `v=`, `o=`, `s=` and `m=` lines are refused.
    pub fn remove_line(&mut self, line: usize) -> Result<&mut Self, EditError> {
        match self.kind(line) {
            0 => Err(EditError::NoSuchLine),
            b'v' | b'o' | b's' | b'm' => Err(EditError::Required),
            _ => {
                self.edits.push(LineEdit::Remove { line });
                Ok(self)
            }
        }
    }

    /// Appends the edited description to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let sdp = self.sdp;
        let eol = sdp.eol();
        let start = out.len();
        for index in 0..sdp.line_count() {
            let Some(span) = sdp.span(index) else { break };
            let raw = sdp
                .buf
                .get(span.start as usize..span.end as usize)
                .unwrap_or(&[]);
            let terminator = sdp
                .buf
                .get(span.terminator(sdp.buf)..span.end as usize)
                .unwrap_or(&[]);
            match self.line_edit(index) {
                Some(LineEdit::Remove { .. }) => {}
                Some(LineEdit::Replace { with, .. }) => {
                    with.write(out);
                    out.extend_from_slice(terminator);
                }
                _ if index == sdp.origin_line() && self.origin_edited() => {
                    self.write_origin(out);
                    out.extend_from_slice(terminator);
                }
                _ => match self.media_at(index) {
                    Some((edit, true)) => {
                        self.write_media_line(edit, out);
                        out.extend_from_slice(terminator);
                    }
                    Some((edit, false)) if self.drops_with_format(edit, index) => {}
                    _ => out.extend_from_slice(raw),
                },
            }
            for edit in &self.edits {
                if let LineEdit::Insert { after, with } = edit {
                    if *after == index {
                        if out.len() > start && out.last() != Some(&b'\n') {
                            out.extend_from_slice(eol);
                        }
                        with.write(out);
                        out.extend_from_slice(eol);
                    }
                }
            }
        }
    }

    fn range(&self, scope: Scope) -> Result<core::ops::Range<usize>, EditError> {
        match scope {
            Scope::Session => Ok(self.sdp.session_line_range()),
            Scope::Media(n) => self
                .sdp
                .media(n)
                .map(|m| m.line_range())
                .ok_or(EditError::NoSuchMedia),
        }
    }

    fn kind(&self, line: usize) -> u8 {
        self.sdp.kind(line)
    }

    fn media_edit(&mut self, media: usize) -> Result<&mut MediaEdit<'s>, EditError> {
        if media >= self.sdp.media_count() {
            return Err(EditError::NoSuchMedia);
        }
        let at = match self.media.iter().position(|e| e.media == media) {
            Some(at) => at,
            None => {
                self.media.push(MediaEdit {
                    media,
                    port: None,
                    removed: SmallVec::new(),
                });
                self.media.len() - 1
            }
        };
        // NOTE: `at` is either a found position or the index of the element just pushed.
        Ok(&mut self.media[at])
    }

    /// Rewrites the first attribute of `scope` matching `is_it`, removes the others, or
    /// inserts `content` at the end of the scope.
    fn set_singleton(
        &mut self,
        scope: Scope,
        content: Content<'s>,
        is_it: impl Fn(&super::Attribute<'_>) -> bool,
    ) -> Result<&mut Self, EditError> {
        let range = self.range(scope)?;
        let lines: SmallVec<[usize; 2]> = self
            .sdp
            .attributes_in(range.clone())
            .filter(|a| is_it(a))
            .map(|a| a.line)
            .collect();
        match lines.split_first() {
            Some((&first, rest)) => {
                self.edits.push(LineEdit::Replace {
                    line: first,
                    with: content,
                });
                self.edits
                    .extend(rest.iter().map(|&line| LineEdit::Remove { line }));
            }
            // NOTE: a scope is never empty (see `add_attribute`).
            None => self.upsert(range.end - 1, content),
        }
        Ok(self)
    }

    /// Inserts after `after`, replacing an earlier insert there of the same singleton kind.
    fn upsert(&mut self, after: usize, content: Content<'s>) {
        let kind = content.singleton();
        let earlier = self.edits.iter_mut().find_map(|edit| match edit {
            LineEdit::Insert { after: at, with }
                if *at == after && kind.is_some() && with.singleton() == kind =>
            {
                Some(with)
            }
            _ => None,
        });
        match earlier {
            Some(with) => *with = content,
            None => self.edits.push(LineEdit::Insert {
                after,
                with: content,
            }),
        }
    }

    /// The last replace or remove recorded for a line.
    fn line_edit(&self, index: usize) -> Option<&LineEdit<'s>> {
        self.edits.iter().rev().find(|edit| match edit {
            LineEdit::Replace { line, .. } | LineEdit::Remove { line } => *line == index,
            LineEdit::Insert { .. } => false,
        })
    }

    fn origin_edited(&self) -> bool {
        let o = &self.origin;
        o.username.is_some() || o.address.is_some() || o.version != Version::Keep
    }

    /// The media edit for the section holding line `index`, and whether it is the `m=` line.
    fn media_at(&self, index: usize) -> Option<(&MediaEdit<'s>, bool)> {
        self.media.iter().find_map(|edit| {
            let lines = self.sdp.media(edit.media)?.line_range();
            lines
                .contains(&index)
                .then_some((edit, index == lines.start))
        })
    }

    /// Whether line `index` is an `rtpmap`, `fmtp` or `rtcp-fb` for a removed format.
    fn drops_with_format(&self, edit: &MediaEdit<'s>, index: usize) -> bool {
        if edit.removed.is_empty() || self.kind(index) != b'a' {
            return false;
        }
        let Some(attribute) = super::Attribute::parse(index, self.sdp.value(index)) else {
            return false;
        };
        if !(attribute.is("rtpmap") || attribute.is("fmtp") || attribute.is("rtcp-fb")) {
            return false;
        }
        let format = attribute
            .value_str()
            .and_then(|v| v.split_ascii_whitespace().next());
        format.is_some_and(|f| edit.removed.contains(&f))
    }

    fn write_origin(&self, out: &mut Vec<u8>) {
        let o = self.sdp.origin();
        out.extend_from_slice(b"o=");
        out.extend_from_slice(self.origin.username.unwrap_or(o.username).as_bytes());
        out.push(b' ');
        out.extend_from_slice(o.sess_id.as_bytes());
        out.push(b' ');
        match self.origin.version {
            Version::Keep => out.extend_from_slice(o.sess_version.as_bytes()),
            Version::Set(v) => push_u64(out, v),
            Version::Increment => push_incremented(out, o.sess_version.as_bytes()),
        }
        out.push(b' ');
        match self.origin.address {
            Some(ip) => push_address(out, ip),
            None => {
                for (i, field) in [o.nettype, o.addrtype.as_str(), o.unicast_address]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(field.as_bytes());
                }
            }
        }
    }

    fn write_media_line(&self, edit: &MediaEdit<'s>, out: &mut Vec<u8>) {
        let Some(section) = self.sdp.media(edit.media) else {
            return;
        };
        let m = section.media_line();
        out.extend_from_slice(b"m=");
        out.extend_from_slice(m.media.as_bytes());
        out.push(b' ');
        push_u64(out, u64::from(edit.port.unwrap_or(m.port)));
        if let Some(count) = m.port_count {
            out.push(b'/');
            push_u64(out, u64::from(count));
        }
        out.push(b' ');
        out.extend_from_slice(m.proto.as_bytes());
        for format in m.formats().filter(|f| !edit.removed.contains(f)) {
            out.push(b' ');
            out.extend_from_slice(format.as_bytes());
        }
    }
}

/// Appends `IN IP4 <ip>` or `IN IP6 <ip>`.
fn push_address(out: &mut Vec<u8>, ip: IpAddr) {
    out.extend_from_slice(b"IN ");
    out.extend_from_slice(AddrType::of(&ip).as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(IpText::new(ip).as_str().as_bytes());
}

/// Appends a number in decimal.
pub(super) fn push_u64(out: &mut Vec<u8>, n: u64) {
    crate::core::sip::writer::push_decimal(out, n);
}

/// Appends a decimal digit string plus one, of any length (`999` gives `1000`).
fn push_incremented(out: &mut Vec<u8>, digits: &[u8]) {
    let start = out.len();
    out.extend_from_slice(digits);
    // NOTE: `start` is the length before the extend, so the range is in bounds; the digits
    // come from a validated `<sess-version>`, so `+ 1` stays within `b'0'..=b'9'`.
    for digit in out[start..].iter_mut().rev() {
        if *digit == b'9' {
            *digit = b'0';
        } else {
            *digit += 1;
            return;
        }
    }
    out.insert(start, b'1');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (1234567890, "1234567890"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, text.as_bytes());
        }
        for (digits, next) in [
            ("0", "1"),
            ("41", "42"),
            ("199", "200"),
            ("999", "1000"),
            ("18446744073709551615", "18446744073709551616"),
        ] {
            let mut out = b"x".to_vec();
            push_incremented(&mut out, digits.as_bytes());
            assert_eq!(&out[1..], next.as_bytes());
        }
    }
}
