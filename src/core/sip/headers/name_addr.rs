//! `( name-addr / addr-spec ) *( SEMI param )`: From, To, Contact, Route, Record-Route, Path,
//! Refer-To, Referred-By, Reply-To (RFC 3261 §20.10, §20.20, §20.39, grammar §25.1).
//!
//! Rules applied (RFC 3261 §20.10): without `<>`, parameters after the URI belong to the header,
//! not the URI (RFC 4475 §3.3.12), and a URI that would contain `,`, `?` or `;` must be in
//! `<>`, so such an addr-spec is rejected (RFC 4475 §3.1.2.13). A token display name may touch
//! the `<` (RFC 4475 §3.1.1.6). An unterminated quoted string or `<` is an error
//! (RFC 4475 §3.1.2.6). LWS just inside the brackets (`< sip:a@b >`, RFC 4475 §3.1.2.14) is
//! tolerated and is not part of the URI; LWS inside the URI is an error.
//!
//! Header parameters with a defined grammar are checked when present: `tag` (token),
//! `expires` (delta-seconds, u32), `q` (qvalue), `reg-id` (RFC 5626 §4.2), `+sip.instance`
//! (RFC 5626 §4.1) and `pub-gruu` / `temp-gruu` (RFC 5627 §10), all quoted strings.

use core::fmt;

use memchr::{memchr, memchr2};

use crate::core::sip::text::{
    name_is, param_at, param_at_tight, parse_u32, quoted_string_len, skip_lws_from, span_from,
    strip_quotes, trim, trim_end, unquote, unquote_into, Invalid, ParamAt, Params, Unquote, LWS,
    TOKEN,
};
use crate::core::sip::uri::Uri;

/// A display name as received: a quoted-string (quotes included) or one or more tokens
/// separated by LWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayName<'a> {
    raw: &'a [u8],
}

/// One `name-addr` or `addr-spec` with its header parameters.
#[derive(Clone, Copy)]
pub struct NameAddr<'a> {
    raw: &'a [u8],
    /// The display name is `raw[..display_len]`; 0 if there is none (one is never empty).
    display_len: usize,
    uri: Uri<'a>,
    bracketed: bool,
    /// The header parameters are `raw[params_at..]`; past the end if there are none.
    params_at: usize,
    tag: Option<&'a [u8]>,
    expires: Option<u32>,
    q: Option<u16>,
}

/// Refer-To (RFC 3515 §2.1): a name-addr or addr-spec with parameters.
pub type ReferTo<'a> = NameAddr<'a>;
/// Referred-By (RFC 3892 §3): a name-addr or addr-spec with parameters.
pub type ReferredBy<'a> = NameAddr<'a>;

impl<'a> DisplayName<'a> {
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    pub fn is_quoted(&self) -> bool {
        self.raw.first() == Some(&b'"')
    }

    /// The name with quotes removed and quoted-pairs resolved (`"J Rosenberg \\\""` gives
    /// `J Rosenberg \"`); token words come out as received.
    pub fn unquoted(&self) -> Unquote<'a> {
        unquote(self.raw)
    }

    /// Writes [`DisplayName::unquoted`] into `out`; errors if `out` is too small.
    pub fn unquote_into(&self, out: &mut [u8]) -> Result<usize, Invalid> {
        if self.is_quoted() {
            return unquote_into(self.raw, out);
        }
        let dst = out.get_mut(..self.raw.len()).ok_or(Invalid)?;
        dst.copy_from_slice(self.raw);
        Ok(self.raw.len())
    }
}

impl<'a> NameAddr<'a> {
    /// Parses a `name-addr` or an `addr-spec`, then the header parameters. Surrounding LWS is
    /// ignored.
    #[inline]
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        Self::parse_with(value, false)
    }

    /// As [`NameAddr::parse`], but only the `name-addr` form (`<...>`) is accepted, as in
    /// Route, Record-Route and Path (RFC 3261 §20.30, §20.34; RFC 3327 §4).
    #[inline]
    pub fn parse_bracketed(value: &'a [u8]) -> Result<Self, Invalid> {
        Self::parse_with(value, true)
    }

    /// As [`NameAddr::parse`], into `self`, fresh from [`NameAddr::placeholder`]: the value
    /// is decoded where the caller keeps it.
    #[inline]
    pub(crate) fn parse_in_place(&mut self, value: &'a [u8]) -> Result<(), Invalid> {
        match self.read_element(value, 0, false)? {
            end if end == value.len() => Ok(()),
            _ => Err(Invalid),
        }
    }

    #[inline]
    fn parse_with(value: &'a [u8], need_brackets: bool) -> Result<Self, Invalid> {
        let mut na = NameAddr::placeholder();
        match na.read_element(value, 0, need_brackets)? {
            end if end == value.len() => Ok(na),
            _ => Err(Invalid),
        }
    }

    /// A NameAddr with nothing in it, for [`NameAddr::read_element`] to fill where the caller
    /// keeps it: the element is decoded in place, never built aside and copied.
    pub(crate) const fn placeholder() -> Self {
        NameAddr {
            raw: &[],
            display_len: 0,
            uri: Uri::placeholder(),
            bracketed: false,
            params_at: 0,
            tag: None,
            expires: None,
            q: None,
        }
    }

    /// Reads the element that starts at `s[at]` (LWS first allowed) into `self`, fresh from
    /// [`NameAddr::placeholder`]: a `name-addr` or `addr-spec` and its parameters, up to the
    /// `,` that ends it or the end of `s`. Returns the index of that `,` (or `s.len()`);
    /// anything else after the element is an error.
    ///
    /// This is the grammar applied to each element of a comma-separated list (RFC 3261
    /// §7.3.1): a `,` inside a quoted-string or `<...>` is part of the element, and a `,`
    /// anywhere else cannot be, since neither a token display name, nor a URI written without
    /// `<>`, nor a parameter name or unquoted value holds one.
    fn read_element(
        &mut self,
        s: &'a [u8],
        at: usize,
        need_brackets: bool,
    ) -> Result<usize, Invalid> {
        if let Some(next) = self.read_tight(s, at) {
            return Ok(next);
        }
        *self = NameAddr::placeholder();
        self.read_element_lws(s, at, need_brackets)
    }

    /// [`NameAddr::read_element`] for the common form written without LWS: `<`, a sip or
    /// sips URI, `>`, then parameters as [`param_at`] reads them without LWS. `None` for
    /// anything else (leaving `self` to be reset), which [`NameAddr::read_element_lws`]
    /// reads; where it gives an element, it is the one [`NameAddr::read_element_lws`] gives.
    #[inline(always)]
    fn read_tight(&mut self, s: &'a [u8], at: usize) -> Option<usize> {
        if s.get(at) != Some(&b'<') {
            return None;
        }
        let n = self.uri.parse_sip_prefix(s.get(at + 1..)?)?.ok()?;
        let tail = at + 1 + n;
        if s.get(tail) != Some(&b'>') {
            return None;
        }
        self.bracketed = true;
        let mut end = tail + 1;
        let params_start = end;
        loop {
            match s.get(end) {
                Some(b';') => {
                    let p = param_at_tight(s, end)?;
                    self.check_param(p).ok()?;
                    end = p.end;
                }
                None | Some(b',') => break,
                Some(_) => return None,
            }
        }
        self.raw = s.get(at..end)?;
        self.params_at = params_start - at;
        Some(end)
    }

    /// [`NameAddr::read_element`] by the grammar, LWS allowed wherever it may be.
    #[cold]
    #[inline(never)]
    fn read_element_lws(
        &mut self,
        s: &'a [u8],
        at: usize,
        need_brackets: bool,
    ) -> Result<usize, Invalid> {
        let start = skip_lws_from(s, at);
        // NOTE: every index below is checked against s.len() before it slices: by get(), by
        // the scanners (which never pass the end), or by a search that found a byte there.
        let uri_start = if s.get(start) == Some(&b'<') {
            // The common form: no display name.
            start
        } else if s.get(start) == Some(&b'"') {
            let end = start + quoted_string_len(&s[start..])?;
            self.display_len = end - start;
            skip_lws_from(s, end)
        } else {
            // Token words up to the `<` (which may touch them, RFC 4475 §3.1.1.6); anything
            // else means there is no display name and the element is an addr-spec.
            let n = span_from(s, start, TOKEN | LWS);
            if s.get(n) == Some(&b'<') {
                let words = trim(&s[start..n]);
                // The words start at `start`, which is not LWS.
                self.display_len = words.len();
                n
            } else {
                start
            }
        };
        let tail = if s.get(uri_start) == Some(&b'<') {
            // LWS just inside the brackets is not part of the URI (RFC 4475 §3.1.2.14).
            let at = skip_lws_from(s, uri_start + 1);
            // NOTE: at <= s.len() (skip_lws_from).
            let end = match self.uri.parse_sip_prefix(&s[at..]) {
                Some(n) => skip_lws_from(s, at + n?),
                None => {
                    let inner = &s[uri_start + 1..];
                    let close = memchr(b'>', inner).ok_or(Invalid)?;
                    self.uri = Uri::parse(trim(&inner[..close]))?;
                    uri_start + 1 + close
                }
            };
            if s.get(end) != Some(&b'>') {
                return Err(Invalid);
            }
            self.bracketed = true;
            end + 1
        } else {
            if need_brackets || self.display_len > 0 {
                return Err(Invalid);
            }
            // Without `<>`, the URI ends at the first `;` (the parameters are the header's,
            // RFC 4475 §3.3.12) or at the `,` that ends the element; it may hold no `?`
            // (RFC 4475 §3.1.2.13).
            let rest = &s[uri_start..];
            let end = uri_start + memchr2(b';', b',', rest).unwrap_or(rest.len());
            let uri = trim_end(&s[uri_start..end]);
            if memchr(b'?', uri).is_some() {
                return Err(Invalid);
            }
            self.uri = Uri::parse(uri)?;
            uri_start + uri.len()
        };
        let params_start = skip_lws_from(s, tail);
        let mut end = tail;
        while let Some(p) = param_at(s, end)? {
            self.check_param(p)?;
            end = p.end;
        }
        let next = skip_lws_from(s, end);
        if next < s.len() && s[next] != b',' {
            return Err(Invalid);
        }
        self.raw = &s[start..end];
        // NOTE: start < params_start: the URI lies between them.
        self.params_at = params_start - start;
        Ok(next)
    }

    /// The header parameters with a grammar of their own (see the module doc); the first
    /// occurrence of each is the one kept. A value that starts with `"` is a whole, valid
    /// quoted-string (see [`Params`]), so that first byte tells a quoted value.
    #[inline(always)]
    fn check_param(&mut self, p: ParamAt<'a>) -> Result<(), Invalid> {
        let (name, value) = (p.param.name, p.param.value);
        let is = |known: &[u8]| name_is(name, known);
        match name.len() {
            3 if is(b"tag") => {
                let v = value.ok_or(Invalid)?;
                if !p.token {
                    return Err(Invalid);
                }
                self.tag.get_or_insert(v);
            }
            7 if is(b"expires") => {
                let e = parse_u32(value.ok_or(Invalid)?)?;
                self.expires.get_or_insert(e);
            }
            1 if is(b"q") => {
                let q = parse_qvalue(value.ok_or(Invalid)?)?;
                self.q.get_or_insert(q);
            }
            6 if is(b"reg-id") => match parse_u32(value.ok_or(Invalid)?)? {
                1..=0x7fff_ffff => {}
                _ => return Err(Invalid),
            },
            13 | 8 | 9
                if (is(b"+sip.instance") || is(b"pub-gruu") || is(b"temp-gruu"))
                    && value.is_some_and(|v| v.first() != Some(&b'"')) =>
            {
                return Err(Invalid);
            }
            _ => {}
        }
        Ok(())
    }

    /// The element as received, LWS trimmed.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    pub fn display_name(&self) -> Option<DisplayName<'a>> {
        let raw = self.raw.get(..self.display_len).filter(|d| !d.is_empty())?;
        Some(DisplayName { raw })
    }

    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }

    /// True for the `name-addr` form (`<...>`).
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }

    /// `tag` (RFC 3261 §19.3), in From and To.
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.tag
    }

    /// Contact `expires` (RFC 3261 §20.10).
    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    /// Contact `q` in thousandths: `q=0.7` is 700 (RFC 3261 §20.10).
    pub fn q(&self) -> Option<u16> {
        self.q
    }

    /// `+sip.instance` without its quotes: `<urn:uuid:...>` (RFC 5626 §4.1).
    pub fn instance(&self) -> Option<&'a [u8]> {
        self.param(b"+sip.instance").flatten().map(strip_quotes)
    }

    /// `reg-id` (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.param(b"reg-id")
            .flatten()
            .and_then(|v| parse_u32(v).ok())
    }

    /// `pub-gruu` without its quotes (RFC 5627 §10).
    pub fn pub_gruu(&self) -> Option<&'a [u8]> {
        self.param(b"pub-gruu").flatten().map(strip_quotes)
    }

    /// `temp-gruu` without its quotes (RFC 5627 §10).
    pub fn temp_gruu(&self) -> Option<&'a [u8]> {
        self.param(b"temp-gruu").flatten().map(strip_quotes)
    }

    /// Value of header parameter `name` (case-insensitive): `None` if absent, `Some(None)` if
    /// present without a value. A quoted value keeps its quotes.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(self.params_raw()).find(name)
    }

    pub fn params(&self) -> Params<'a> {
        Params::new(self.params_raw())
    }

    /// The header parameters as received, from the first `;`; empty if none.
    pub fn params_raw(&self) -> &'a [u8] {
        self.raw.get(self.params_at..).unwrap_or_default()
    }
}

impl fmt::Debug for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameAddr")
            .field("raw", &self.raw)
            .field("display_name", &self.display_name())
            .field("uri", &self.uri)
            .field("bracketed", &self.bracketed)
            .field("params", &self.params_raw())
            .field("tag", &self.tag)
            .field("expires", &self.expires)
            .field("q", &self.q)
            .finish()
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 3261 §25.1), in
/// thousandths.
pub fn parse_qvalue(s: &[u8]) -> Result<u16, Invalid> {
    let (int, frac) = match s {
        [i] => (*i, &[][..]),
        [i, b'.', frac @ ..] if frac.len() <= 3 => (*i, frac),
        _ => return Err(Invalid),
    };
    let mut q: u16 = match int {
        b'0' => 0,
        b'1' => 1000,
        _ => return Err(Invalid),
    };
    for (i, &d) in frac.iter().enumerate() {
        if !d.is_ascii_digit() {
            return Err(Invalid);
        }
        // NOTE: i < frac.len() <= 3.
        q += u16::from(d - b'0') * [100, 10, 1][i];
    }
    if q > 1000 {
        return Err(Invalid);
    }
    Ok(q)
}

/// The elements of one header field holding a list of name-addrs (Contact, Route,
/// Record-Route, Path), in order. A malformed or empty element yields one `Err` and ends the
/// iteration; an empty header value is an error too (§25.1: `1#`).
///
/// Each element is parsed where it starts and ends at its own `,`: the value is read once.
#[derive(Debug, Clone)]
pub struct NameAddrs<'a> {
    value: &'a [u8],
    /// Where the next element starts; `None` once the last one has been read or one failed.
    next: Option<usize>,
    need_brackets: bool,
}

impl<'a> NameAddrs<'a> {
    /// Elements in either form (Contact, Reply-To).
    pub fn new(value: &'a [u8]) -> Self {
        NameAddrs {
            value,
            next: Some(0),
            need_brackets: false,
        }
    }

    /// Elements in the `name-addr` form only (Route, Record-Route, Path, Service-Route).
    pub fn bracketed(value: &'a [u8]) -> Self {
        NameAddrs {
            need_brackets: true,
            ..NameAddrs::new(value)
        }
    }
}

impl<'a> Iterator for NameAddrs<'a> {
    type Item = Result<NameAddr<'a>, Invalid>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.next.take()?;
        let mut na = NameAddr::placeholder();
        match na.read_element(self.value, at, self.need_brackets) {
            Ok(end) => {
                // `end` is a `,` (another element must follow) or the end of the value.
                self.next = (end < self.value.len()).then_some(end + 1);
                Some(Ok(na))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// A Contact header value (RFC 3261 §20.10): `*` (only in a REGISTER that removes every
/// binding, §10.2.2) or a list of contacts.
#[derive(Debug, Clone)]
pub enum ContactValue<'a> {
    Star,
    Contacts(NameAddrs<'a>),
}

impl<'a> ContactValue<'a> {
    /// Errors only on an empty value; the contacts are decoded as they are iterated.
    pub fn parse(value: &'a [u8]) -> Result<Self, Invalid> {
        match trim(value) {
            b"" => Err(Invalid),
            b"*" => Ok(ContactValue::Star),
            _ => Ok(ContactValue::Contacts(NameAddrs::new(value))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sip::uri::{Host, Scheme};
    use proptest::prelude::*;

    fn na(s: &[u8]) -> NameAddr<'_> {
        NameAddr::parse(s).unwrap_or_else(|_| panic!("{:?}", String::from_utf8_lossy(s)))
    }

    fn contacts(s: &[u8]) -> Result<Vec<NameAddr<'_>>, Invalid> {
        match ContactValue::parse(s)? {
            ContactValue::Star => Ok(Vec::new()),
            ContactValue::Contacts(list) => list.collect(),
        }
    }

    fn unquoted(d: DisplayName<'_>) -> Vec<u8> {
        d.unquoted().collect()
    }

    #[test]
    fn rfc3261_examples() {
        let a = na(b"\"A. G. Bell\" <sip:agb@bell-telephone.com> ;tag=a48s");
        assert_eq!(a.display_name().map(unquoted), Some(b"A. G. Bell".to_vec()));
        assert_eq!(a.uri().user(), Some(&b"agb"[..]));
        assert_eq!(a.tag(), Some(&b"a48s"[..]));
        assert!(a.is_bracketed());
        let a = na(b"Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8");
        assert_eq!(
            a.display_name().map(|d| d.as_bytes()),
            Some(&b"Anonymous"[..])
        );
        let a = na(b"sip:+12125551212@server.phone2net.com;tag=887s");
        assert_eq!((a.display_name(), a.is_bracketed()), (None, false));
        assert_eq!(a.tag(), Some(&b"887s"[..]));
        assert_eq!(a.uri().params_raw(), b"");
        assert_eq!(a.params_raw(), b";tag=887s");

        let list = contacts(
            b"\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600, \
              \"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1",
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].q(), list[0].expires()), (Some(700), Some(3600)));
        assert_eq!(list[1].uri().scheme(), Scheme::Other(b"mailto"));
        assert_eq!(list[1].q(), Some(100));
        assert!(matches!(
            ContactValue::parse(b" * "),
            Ok(ContactValue::Star)
        ));
    }

    #[test]
    fn rfc4475_valid_name_addrs() {
        // §3.1.1.1 wsinv.
        let a = na(b"\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(
            a.uri().host(),
            Some(Host::Domain(b"chair-dnrc.example.com"))
        );
        assert_eq!(a.tag(), Some(&b"1918181833n"[..]));
        let a = na(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        );
        assert_eq!(
            a.display_name().map(unquoted),
            Some(b"J Rosenberg \\\"".to_vec())
        );
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        let a = na(b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33");
        assert_eq!(a.q(), Some(330));
        assert_eq!(a.param(b"newparam"), Some(Some(&b"newvalue"[..])));
        assert_eq!(a.param(b"secondparam"), Some(None));
        let mut buf = [0u8; 20];
        let n = a.display_name().unwrap().unquote_into(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Quoted string \"\"");

        // §3.1.1.2 intmeth: quoted BEL/NUL/DEL, token display name, UTF-8 quoted parameter.
        let a = na(b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>");
        assert_eq!(
            a.display_name().map(unquoted),
            Some(b"BEL:\x07 NUL:\x00 DEL:\x7f".to_vec())
        );
        assert_eq!(a.uri().params_raw(), b"");
        let from = [
            &b"token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\""[..],
            "\u{0440}\u{0430}\u{0431}\u{043e}\u{0442}\u{0430}\u{044e}\u{0449}\u{0438}\u{0439}"
                .as_bytes(),
            b"\";tag=_token~1'+`*%!-.",
        ]
        .concat();
        let a = na(&from);
        assert_eq!(
            a.display_name().map(|d| d.as_bytes()),
            Some(&b"token1~` token2'+_ token3*%!.-"[..])
        );
        assert_eq!(a.tag(), Some(&b"_token~1'+`*%!-."[..]));

        // §3.1.1.6 lwsdisp.
        let a = na(b"caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display_name().map(|d| d.as_bytes()), Some(&b"caller"[..]));

        // §3.1.1.4 escnull and §3.1.1.3 esc01.
        assert_eq!(
            na(b"sip:null-%00-null@example.com").uri().user(),
            Some(&b"null-%00-null"[..])
        );
        let a = na(b"\r\n  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>");
        assert!(a.uri().has_lr());
        assert_eq!(a.params_raw(), b"");

        // §3.1.1.7 longreq: no LWS before '<', long valueless URI parameter.
        let a = na(b"\"I have a user name of extreme proportion\"<sip:user@example.com:6000;unknownparam1=verylongvalue;longparamname=shortvalue;verylongParameterNameWithNoValue>");
        assert_eq!(a.uri().port(), Some(6000));
        assert_eq!(
            a.uri().param(b"verylongparameternamewithnovalue"),
            Some(None)
        );

        // §3.3.4 unksm2: other schemes.
        assert_eq!(
            na(b"isbn:2983792873").uri().scheme(),
            Scheme::Other(b"isbn")
        );
        assert_eq!(
            na(b"<http://www.example.com>;tag=3234233").tag(),
            Some(&b"3234233"[..])
        );
        assert_eq!(
            na(b"<name:John_Smith>").uri().opaque(),
            Some(&b"John_Smith"[..])
        );
    }

    #[test]
    fn rfc4475_cparam_params_belong_where_the_brackets_say() {
        // §3.3.12 cparam01: no <>, the parameter is a header parameter.
        let a = na(b"sip:+19725552222@gw1.example.net;unknownparam");
        assert_eq!(a.param(b"unknownparam"), Some(None));
        assert_eq!(a.uri().param(b"unknownparam"), None);
        // §3.3.13 cparam02: inside <>, it is a URI parameter.
        let a = na(b"<sip:+19725552222@gw1.example.net;unknownparam>");
        assert_eq!(a.param(b"unknownparam"), None);
        assert_eq!(a.uri().param(b"unknownparam"), Some(None));
        // §3.3.14 regescrt: an escaped header inside <> is kept.
        let a = na(b"<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
        assert_eq!(a.uri().headers_raw(), b"?Route=%3Csip:sip.example.com%3E");
    }

    #[test]
    fn rfc4475_invalid_name_addrs() {
        for bad in [
            // §3.1.2.1 badinv01.
            &b"\"Joe\" <sip:joe@example.org>;;;;"[..],
            // §3.1.2.6 quotbal.
            b"\"Mr. J. User <sip:j.user@example.com>",
            // §3.1.2.13 regbadct: escaped header without <>.
            b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            // §3.1.2.15 baddn: unquoted display name with a comma.
            b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            // §3.1.2.4 scalar02: expires above 2^32-1.
            b"<sip:user@host129.example.com>\r\n  ;expires=280297596632815",
        ] {
            assert!(
                NameAddr::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(contacts(b"\"Joe\" <sip:joe@example.org>;;;;").is_err());
        assert!(contacts(b"Watson, Thomas <sip:t.watson@example.org>").is_err());
    }

    #[test]
    fn rfc4475_badaspec_spaces_inside_brackets_are_trimmed() {
        let a = na(b"\"Watson, Thomas\" < sip:t.watson@example.org >");
        assert_eq!(a.uri().as_bytes(), b"sip:t.watson@example.org");
        assert_eq!(
            a.display_name().map(unquoted),
            Some(b"Watson, Thomas".to_vec())
        );
        assert!(NameAddr::parse(b"<sip:t.watson @example.org>").is_err());
    }

    #[test]
    fn rfc5626_and_rfc5627_contact_params() {
        let a = na(b"<sip:line1@192.0.2.2;transport=tcp>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
        assert_eq!(a.reg_id(), Some(1));
        assert_eq!(
            a.instance(),
            Some(&b"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"[..])
        );
        let a = na(b"<sip:callee@192.0.2.1>;pub-gruu=\"sip:callee@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\";temp-gruu=\"sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr\";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";expires=3600");
        let gruu = Uri::parse(a.pub_gruu().unwrap()).unwrap();
        assert_eq!(
            gruu.param(b"gr"),
            Some(Some(&b"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"[..]))
        );
        let temp = Uri::parse(a.temp_gruu().unwrap()).unwrap();
        assert_eq!(temp.param(b"gr"), Some(None));
        assert_eq!(a.expires(), Some(3600));
        for bad in [
            &b"<sip:a@b>;reg-id=0"[..],
            b"<sip:a@b>;reg-id=2147483648",
            b"<sip:a@b>;+sip.instance=urn",
            b"<sip:a@b>;pub-gruu=x",
        ] {
            assert!(
                NameAddr::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn qvalues() {
        for (s, q) in [
            ("0", 0),
            ("1", 1000),
            ("0.", 0),
            ("0.7", 700),
            ("0.33", 330),
            ("0.001", 1),
            ("1.000", 1000),
        ] {
            assert_eq!(parse_qvalue(s.as_bytes()), Ok(q), "{s}");
        }
        for bad in ["", "2", "1.001", "0.1234", ".5", "0,5", "01", "0.a", "-0"] {
            assert_eq!(parse_qvalue(bad.as_bytes()), Err(Invalid), "{bad}");
        }
    }

    #[test]
    fn list_elements_end_at_their_own_comma() {
        // Each element is read where it starts; commas inside `<>` or quotes belong to it.
        let list: Vec<_> = NameAddrs::new(b"sip:a@b , <sip:x,y@c>;q=0.5,\"D, E\" <sip:d@e>")
            .collect::<Result<_, _>>()
            .unwrap();
        let users: Vec<_> = list.iter().map(|a| a.uri().user()).collect();
        assert_eq!(users, [Some(&b"a"[..]), Some(b"x,y"), Some(b"d")]);
        assert_eq!(list[0].as_bytes(), b"sip:a@b");
        assert_eq!(list[1].params_raw(), b";q=0.5");
        // An `@` after the `>` is not part of the URI.
        let a = na(b"<sip:p1.example.com;lr>;x=\"a@b\"");
        assert_eq!((a.uri().user(), a.uri().has_lr()), (None, true));
        for bad in [
            &b"<sip:a@b ;x>"[..],
            b"<sip:a@b;x=\"1\">",
            b"sip:a@b\"x,y\"",
            b"<sip:a@b\"x\">",
            b"<sip:a@b?>",
            b"<sip:a@b?c>",
            b"<sip:a>b@c>",
        ] {
            assert!(
                NameAddr::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn malformed_name_addrs() {
        for bad in [
            &b""[..],
            b"<>",
            b"<sip:a@b",
            b"sip:a@b>",
            b"\"x\" sip:a@b",
            b"x sip:a@b",
            b"sip:a@b;tag",
            b"sip:a@b;tag=\"q\"",
            b"sip:a@b;q=2",
            b"sip:a@b;expires=-1",
            b"sip:a,b@c",
            b"<sip:a@b> x",
            b"<sip:a@b>;",
            b"\"a\"<sip:a@b>x",
            b"sip:a@b ;tag=1 x",
        ] {
            assert!(
                NameAddr::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(NameAddr::parse_bracketed(b"sip:a@b;lr").is_err());
        let r: Result<Vec<_>, _> =
            NameAddrs::bracketed(b"<sip:p1.example.com;lr>,\r\n <sip:p2.example.com;lr>").collect();
        assert_eq!(r.map(|v| v.iter().all(|a| a.uri().has_lr())), Ok(true));
        assert!(NameAddrs::bracketed(b"<sip:a@b>, sip:c@d").any(|r| r.is_err()));
        assert!(NameAddrs::new(b"").next().unwrap().is_err());
        assert!(NameAddrs::new(b"<sip:a@b>,").any(|r| r.is_err()));
        assert!(ContactValue::parse(b" ").is_err());
        assert!(contacts(b"*, <sip:a@b>").is_err());
    }

    /// Everything a decoded name-addr tells, as comparable text.
    fn described(a: &NameAddr<'_>) -> String {
        let u = a.uri();
        format!(
            "{:?} {} {} {} {:?} {:?} {:?} | {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            a.raw,
            a.display_len,
            a.bracketed,
            a.params_at,
            a.tag,
            a.expires,
            a.q,
            u.as_bytes(),
            u.scheme(),
            u.host(),
            u.port(),
            u.user(),
            u.password(),
            u.params_raw(),
            u.headers_raw(),
        )
    }

    /// Where the reading without LWS takes an element, the grammar's reading gives the same
    /// element and the same end.
    fn check_tight(s: &[u8]) {
        let mut tight = NameAddr::placeholder();
        if let Some(end) = tight.read_tight(s, 0) {
            for need_brackets in [false, true] {
                let mut full = NameAddr::placeholder();
                assert_eq!(full.read_element_lws(s, 0, need_brackets), Ok(end), "{s:?}");
                assert_eq!(described(&tight), described(&full), "{s:?}");
            }
        }
    }

    #[test]
    fn tight_name_addrs_are_the_grammar_s_name_addrs() {
        for text in [
            &b"<sip:bench@192.0.2.1:5062>;tag=b1234"[..],
            b"<sips:a:pw@host.example.com;transport=tcp?h=v>;q=0.5;expires=60,<sip:x>",
            b"<sip:%61lice@[2001:db8::1];lr>;reg-id=1;+sip.instance=\"<urn:x>\"",
        ] {
            let tight = NameAddr::placeholder().read_tight(text, 0).is_some();
            // A quoted parameter value is left to the grammar's reading.
            assert_eq!(tight, !text.contains(&b'"'), "{text:?}");
            for at in 0..text.len() {
                for b in 0..=255u8 {
                    let mut s = text.to_vec();
                    s[at] = b;
                    check_tight(&s);
                }
                check_tight(&text[..at]);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn name_addr_shaped_text_reads_the_same_either_way(
            s in "<sips?:([a-z%0-9]{1,5}(:[a-z]{0,3})?@)?[a-z0-9.\\[\\]:]{1,12}(;[a-z]{1,4}(=[a-z0-9]{0,3})?){0,2}(\\?[a-z]=[a-z]{0,2})?>(;[a-z]{1,7}(=[a-zA-Z0-9.\"]{0,6})?){0,3}[ ,;]?",
        ) {
            check_tight(s.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..80)) {
            for a in NameAddrs::new(&s).flatten() {
                let _ = (a.instance(), a.reg_id(), a.params().count(), a.display_name().map(|d| d.unquoted().count()));
            }
            let _ = NameAddrs::bracketed(&s).count();
        }

        #[test]
        fn name_addr_shaped_text_never_panics(s in "[\" a-z]{0,4}<?sip:[a-z@.;=?<>\",]{0,16}>?[ ;=a-z\"0-9.]{0,16}") {
            if let Ok(a) = NameAddr::parse(s.as_bytes()) {
                let _ = (a.tag(), a.params().count(), a.display_name().map(|d| d.unquoted().count()));
            }
        }

        #[test]
        fn generated_name_addrs_parse_back(
            name in proptest::option::of("[a-zA-Z0-9 ,<>@;\\\\\"]{0,10}"),
            user in "[a-z0-9]{1,8}",
            host in "[a-z]{1,8}\\.example\\.com",
            tag in proptest::option::of("[a-zA-Z0-9.!%*_+`'~-]{1,12}"),
            q in proptest::option::of(0u16..=1000),
        ) {
            let mut s = String::new();
            if let Some(n) = &name {
                s += "\"";
                s += &n.replace('\\', "\\\\").replace('"', "\\\"");
                s += "\" ";
            }
            s += &format!("<sip:{user}@{host}>");
            if let Some(t) = &tag { s += &format!(" ;tag={t}"); }
            if let Some(q) = q { s += &format!(";q={}.{:03}", q / 1000, q % 1000); }
            let a = NameAddr::parse(s.as_bytes()).map_err(|_| TestCaseError::fail(s.clone()))?;
            prop_assert_eq!(a.display_name().map(unquoted), name.map(String::into_bytes));
            prop_assert_eq!(a.uri().user(), Some(user.as_bytes()));
            prop_assert_eq!(a.uri().host(), Some(Host::Domain(host.as_bytes())));
            prop_assert_eq!(a.tag(), tag.as_deref().map(str::as_bytes));
            prop_assert_eq!(a.q(), q);
        }
    }
}
