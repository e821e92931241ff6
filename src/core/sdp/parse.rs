//! Line scanner and validation of a whole description, RFC 8866 §5.
//!
//! One pass with `memchr` splits the buffer into lines and records, per line, where it
//! starts, where its value ends (line end and trailing whitespace excluded) and where the
//! next line starts. A second pass over those offsets checks the line order rules and the
//! grammar of the structural lines. Nothing is copied; the only allocation is a `SmallVec`
//! spill for descriptions beyond the inline capacities.

use memchr::{memchr, memchr2, memchr_iter};
use smallvec::SmallVec;

use super::attr::Attribute;
use super::field::{is_ws, Bandwidth, Connection, MediaLine, Origin, Timing};
use super::{Sdp, SdpError};

/// Offsets of one line in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LineSpan {
    /// The `<type>` letter.
    pub start: u32,
    /// End of the value: before trailing whitespace, CR and LF.
    pub value_end: u32,
    /// Start of the next line (after LF and any blank lines), or the buffer length.
    pub end: u32,
}

impl LineSpan {
    /// Where the line end begins: after the value's trailing whitespace.
    pub fn terminator(&self, buf: &[u8]) -> usize {
        let from = self.value_end as usize;
        let tail = buf.get(from..self.end as usize).unwrap_or(&[]);
        from + tail.iter().take_while(|&&b| is_ws(b)).count()
    }
}

/// A media section: its `m=` line and its line index range.
#[derive(Debug, Clone, Copy)]
pub(super) struct Section<'a> {
    pub line: MediaLine<'a>,
    /// Index of the `m=` line.
    pub first: u32,
    /// One past the section's last line.
    pub end: u32,
}

impl<'a> Sdp<'a> {
    /// Parses a session description. Never panics; see [`SdpError`] for what is rejected.
    pub fn parse(buf: &'a [u8]) -> Result<Self, SdpError> {
        if buf.is_empty() {
            return Err(SdpError::Empty);
        }
        if u32::try_from(buf.len()).is_err() {
            return Err(SdpError::TooLarge);
        }
        let lines = split_lines(buf)?;
        let Some(first) = lines.first() else {
            return Err(SdpError::Empty);
        };
        if buf.get(first.start as usize) != Some(&b'v') {
            return Err(SdpError::MissingVersion);
        }
        if value_of(buf, first) != b"0" {
            return Err(SdpError::BadVersion);
        }

        let mut origin: Option<(Origin<'a>, u32)> = None;
        let mut session_name: Option<&'a [u8]> = None;
        let mut media: SmallVec<[Section<'a>; 4]> = SmallVec::new();
        // NOTE: there are fewer lines than bytes and the byte count fits u32 (checked above).
        let count = lines.len() as u32;
        for (index, span) in (0u32..).zip(lines.iter()).skip(1) {
            let value = value_of(buf, span);
            let line = || line_number(buf, span);
            let in_media = !media.is_empty();
            match buf.get(span.start as usize).copied().unwrap_or(0) {
                b'v' => return Err(SdpError::BadLine { line: line() }),
                b'o' | b's' if in_media => return Err(SdpError::BadLine { line: line() }),
                b'o' if origin.is_some() => return Err(SdpError::BadLine { line: line() }),
                b'o' => {
                    let parsed =
                        Origin::parse(value).ok_or(SdpError::BadOrigin { line: line() })?;
                    origin = Some((parsed, index));
                }
                b's' if session_name.is_some() => return Err(SdpError::BadLine { line: line() }),
                b's' => session_name = Some(value),
                b'c' if Connection::parse(value).is_none() => {
                    return Err(SdpError::BadConnection { line: line() })
                }
                b'b' if Bandwidth::parse(value).is_none() => {
                    return Err(SdpError::BadBandwidth { line: line() })
                }
                b't' if Timing::parse(value).is_none() => {
                    return Err(SdpError::BadTiming { line: line() })
                }
                b'a' if Attribute::parse(0, value).is_none() => {
                    return Err(SdpError::BadAttribute { line: line() })
                }
                b'm' => {
                    let parsed =
                        MediaLine::parse(value).ok_or(SdpError::BadMedia { line: line() })?;
                    if let Some(previous) = media.last_mut() {
                        previous.end = index;
                    }
                    media.push(Section {
                        line: parsed,
                        first: index,
                        end: count,
                    });
                }
                // i= u= e= p= k= r= z=, well-formed c= b= t= a=, and unknown types are kept
                // as lines (RFC 8866 §5: unknown types are ignored).
                _ => {}
            }
        }
        let (origin, origin_line) = origin.ok_or(SdpError::MissingOrigin)?;
        let session_name = session_name.ok_or(SdpError::MissingSessionName)?;
        Ok(Sdp {
            buf,
            lines,
            media,
            origin,
            origin_line,
            session_name,
        })
    }

    /// The line end used by this description: CRLF unless its first line ends in bare LF.
    pub(super) fn eol(&self) -> &'static [u8] {
        let bare_lf = self.lines.first().is_some_and(|span| {
            let at = span.terminator(self.buf);
            self.buf.get(at) == Some(&b'\n')
        });
        if bare_lf {
            b"\n"
        } else {
            b"\r\n"
        }
    }

    /// Offsets of line `index`.
    pub(super) fn span(&self, index: usize) -> Option<&LineSpan> {
        self.lines.get(index)
    }
}

/// Splits `buf` into lines, checking each is `<type>=<value>` with no NUL or stray CR.
/// Blank (or whitespace-only) lines are folded into the line before them.
fn split_lines(buf: &[u8]) -> Result<SmallVec<[LineSpan; 32]>, SdpError> {
    let mut lines: SmallVec<[LineSpan; 32]> = SmallVec::new();
    let mut pos = 0usize;
    while let Some(rest) = buf.get(pos..).filter(|rest| !rest.is_empty()) {
        let (len, next) = match memchr(b'\n', rest) {
            Some(lf) => (lf, pos + lf + 1),
            None => (rest.len(), buf.len()),
        };
        let content = rest.get(..len).unwrap_or(rest);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let trailing = content.iter().rev().take_while(|&&b| is_ws(b)).count();
        let value_len = content.len() - trailing;
        // NOTE: buf.len() fits u32 (checked by the caller), so every offset here does too.
        let span = LineSpan {
            start: pos as u32,
            value_end: (pos + value_len) as u32,
            end: next as u32,
        };
        if value_len == 0 {
            match lines.last_mut() {
                Some(previous) => previous.end = span.end,
                None => return Err(SdpError::MissingVersion),
            }
        } else {
            let line = content.get(..value_len).unwrap_or(content);
            let well_formed =
                matches!(line, [b'a'..=b'z', b'=', ..]) && memchr2(0, b'\r', line).is_none();
            if !well_formed {
                return Err(SdpError::BadLine {
                    line: line_number(buf, &span),
                });
            }
            lines.push(span);
        }
        pos = next;
    }
    Ok(lines)
}

/// The value bytes of a line (after `<type>=`).
pub(super) fn value_of<'a>(buf: &'a [u8], span: &LineSpan) -> &'a [u8] {
    buf.get(span.start as usize + 2..span.value_end as usize)
        .unwrap_or(&[])
}

/// 1-based physical line number of a span, blank lines counted; only computed for errors.
fn line_number(buf: &[u8], span: &LineSpan) -> u32 {
    let before = buf.get(..span.start as usize).unwrap_or(buf);
    memchr_iter(b'\n', before).count() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_buffer() {
        let buf = b"v=0\r\no=- 1 1 IN IP4 h \r\n\r\ns=x\nt=0 0";
        let lines = split_lines(buf).unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            LineSpan {
                start: 0,
                value_end: 3,
                end: 5
            }
        );
        // trailing space trimmed from the value; the blank line folds into the o= line
        assert_eq!(
            lines[1],
            LineSpan {
                start: 5,
                value_end: 21,
                end: 26
            }
        );
        assert_eq!(lines[1].terminator(buf), 22);
        assert_eq!(lines[3].end as usize, buf.len());
        let mut at = 0;
        for span in &lines {
            assert_eq!(span.start, at);
            at = span.end;
        }
    }

    #[test]
    fn bad_lines() {
        assert_eq!(
            split_lines(b"v=0\r\nX=1\r\n"),
            Err(SdpError::BadLine { line: 2 })
        );
        assert_eq!(
            split_lines(b"v=0\r\n\r\na\r\n"),
            Err(SdpError::BadLine { line: 3 })
        );
        assert_eq!(
            split_lines(b"v=0\r\na=x\ry\r\n"),
            Err(SdpError::BadLine { line: 2 })
        );
        assert_eq!(
            split_lines(b"v=0\r\na=x\0\r\n"),
            Err(SdpError::BadLine { line: 2 })
        );
        assert_eq!(
            split_lines(b"v=0\r\na =x\r\n"),
            Err(SdpError::BadLine { line: 2 })
        );
        assert_eq!(split_lines(b"\r\nv=0\r\n"), Err(SdpError::MissingVersion));
    }
}
