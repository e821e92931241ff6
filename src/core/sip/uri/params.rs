//! The parameters and header fields of a decoded URI, read on demand.

use memchr::memchr;

use crate::core::sip::text::escaped_eq_ignore_case;

/// `(name, value)` of one `name [ "=" value ]`: the value is everything after the first `=`.
#[inline]
pub(super) fn split_at_eq(p: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr(b'=', p) {
        // NOTE: i < p.len().
        Some(i) => (&p[..i], Some(&p[i + 1..])),
        None => (p, None),
    }
}

/// Value of the URI parameter `name` in `params` (case-insensitive, escapes compared per
/// §19.1.4): `None` if absent, `Some(None)` if present without a value.
pub(super) fn find_param<'a>(params: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
    UriParams { rest: params }
        .find(|(n, _)| escaped_eq_ignore_case(n, name))
        .map(|(_, v)| v)
}

/// Iterator over the parameters of a URI: `(name, value)`, both as received.
#[derive(Debug, Clone)]
pub struct UriParams<'a> {
    /// Starts at a `;` or is empty.
    pub(super) rest: &'a [u8],
}

impl<'a> Iterator for UriParams<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.get(1..).filter(|_| !self.rest.is_empty())?;
        let end = memchr(b';', s).unwrap_or(s.len());
        // NOTE: end <= s.len().
        self.rest = &s[end..];
        Some(split_at_eq(&s[..end]))
    }
}

/// Iterator over the header fields of a URI: `(hname, hvalue)`, both still escaped.
#[derive(Debug, Clone)]
pub struct UriHeaders<'a> {
    /// The fields after the `?`, separated by `&`.
    pub(super) rest: &'a [u8],
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let end = memchr(b'&', self.rest).unwrap_or(self.rest.len());
        // NOTE: end <= rest.len().
        let field = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or_default();
        let (name, value) = split_at_eq(field);
        Some((name, value.unwrap_or_default()))
    }
}
