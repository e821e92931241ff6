//! HTTP Digest as SIP uses it (RFC 3261 §22.4, RFC 2617 with qop=auth, RFC 8760 for
//! SHA-256): the credentials a client sends, and the response they must carry.

use md5::Md5;
use sha2::{Digest, Sha256};

/// The digest algorithms Drongo offers, strongest first (RFC 8760 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Md5,
}

impl Algorithm {
    /// The token in `algorithm=`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// An `algorithm=` value; absent means MD5 (RFC 2617 §3.2.1).
    pub fn from_token(token: Option<&[u8]>) -> Option<Algorithm> {
        match token {
            None => Some(Algorithm::Md5),
            Some(t) if t.eq_ignore_ascii_case(b"MD5") => Some(Algorithm::Md5),
            Some(t) if t.eq_ignore_ascii_case(b"SHA-256") => Some(Algorithm::Sha256),
            Some(_) => None,
        }
    }

    /// Lower-case hex of the hash of the parts joined by `:`.
    pub fn hex(self, parts: &[&[u8]]) -> Hex {
        fn run<D: Digest>(parts: &[&[u8]]) -> Hex {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            Hex::of(&d.finalize())
        }
        match self {
            Algorithm::Sha256 => run::<Sha256>(parts),
            Algorithm::Md5 => run::<Md5>(parts),
        }
    }
}

/// A hash in lower-case hex, up to SHA-256's 64 digits, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex {
    buf: [u8; 64],
    len: u8,
}

impl Hex {
    fn of(bytes: &[u8]) -> Hex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut h = Hex {
            buf: [0; 64],
            len: 0,
        };
        for (i, b) in bytes.iter().take(32).enumerate() {
            h.buf[2 * i] = DIGITS[usize::from(b >> 4)];
            h.buf[2 * i + 1] = DIGITS[usize::from(b & 0xF)];
            h.len = (2 * i + 2) as u8;
        }
        h
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_bytes().escape_ascii())
    }
}

/// The Digest credentials of an Authorization or Proxy-Authorization value (§25.1
/// `digest-response`). Values are as written, quotes removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credentials<'a> {
    pub username: &'a [u8],
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    pub uri: &'a [u8],
    pub response: &'a [u8],
    pub algorithm: Option<&'a [u8]>,
    pub cnonce: Option<&'a [u8]>,
    pub qop: Option<&'a [u8]>,
    pub nc: Option<&'a [u8]>,
    pub opaque: Option<&'a [u8]>,
}

impl<'a> Credentials<'a> {
    /// Parses `Digest name=value, ...`. `None` for another scheme, a malformed list, or a
    /// value missing one of username, realm, nonce, uri, response.
    pub fn parse(value: &'a [u8]) -> Option<Credentials<'a>> {
        let value = value.trim_ascii();
        let rest = value
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case(b"Digest"))
            .and_then(|_| value.get(6..))?;
        if !rest.first().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            return None;
        }
        let mut c = Credentials::default();
        let mut seen = 0u8;
        for (name, v) in AuthParams::new(rest) {
            let (name, v) = (name?, v?);
            let field = match name.to_ascii_lowercase().as_slice() {
                b"username" => &mut c.username,
                b"realm" => &mut c.realm,
                b"nonce" => &mut c.nonce,
                b"uri" => &mut c.uri,
                b"response" => &mut c.response,
                b"algorithm" => {
                    c.algorithm = Some(v);
                    continue;
                }
                b"cnonce" => {
                    c.cnonce = Some(v);
                    continue;
                }
                b"qop" => {
                    c.qop = Some(v);
                    continue;
                }
                b"nc" => {
                    c.nc = Some(v);
                    continue;
                }
                b"opaque" => {
                    c.opaque = Some(v);
                    continue;
                }
                _ => continue,
            };
            *field = v;
            seen += 1;
        }
        let complete = [c.username, c.realm, c.nonce, c.uri, c.response]
            .iter()
            .all(|f| !f.is_empty());
        (complete && seen >= 5).then_some(c)
    }

    /// The response these credentials must carry for `method`, given HA1 =
    /// H(username:realm:password) (RFC 2617 §3.2.2.1, qop=auth or none).
    pub fn expected(&self, algorithm: Algorithm, ha1: &[u8], method: &[u8]) -> Option<Hex> {
        let ha2 = algorithm.hex(&[method, self.uri]);
        match self.qop {
            None => Some(algorithm.hex(&[ha1, self.nonce, ha2.as_bytes()])),
            Some(q) if q.eq_ignore_ascii_case(b"auth") => {
                let (nc, cnonce) = (self.nc?, self.cnonce?);
                Some(algorithm.hex(&[ha1, self.nonce, nc, cnonce, q, ha2.as_bytes()]))
            }
            Some(_) => None,
        }
    }
}

/// `name=value` pairs of a comma-separated auth-param list; a value is a token or a
/// quoted-string (quotes removed; a quoted-pair keeps its backslash, which only usernames
/// with `"` or `\` would need). `None` items mark a malformed pair.
struct AuthParams<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> AuthParams<'a> {
    fn new(s: &'a [u8]) -> Self {
        AuthParams { s, i: 0 }
    }
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (Option<&'a [u8]>, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        while self.i < s.len() && matches!(s[self.i], b' ' | b'\t' | b',' | b'\r' | b'\n') {
            self.i += 1;
        }
        if self.i >= s.len() {
            return None;
        }
        let name_start = self.i;
        while self.i < s.len() && !matches!(s[self.i], b'=' | b' ' | b'\t' | b',') {
            self.i += 1;
        }
        let name = &s[name_start..self.i];
        while self.i < s.len() && matches!(s[self.i], b' ' | b'\t') {
            self.i += 1;
        }
        if s.get(self.i) != Some(&b'=') || name.is_empty() {
            self.i = s.len();
            return Some((None, None));
        }
        self.i += 1;
        while self.i < s.len() && matches!(s[self.i], b' ' | b'\t') {
            self.i += 1;
        }
        let value = if s.get(self.i) == Some(&b'"') {
            let start = self.i + 1;
            let mut j = start;
            loop {
                match s.get(j) {
                    None => {
                        self.i = s.len();
                        return Some((Some(name), None));
                    }
                    Some(b'\\') => j += 2,
                    Some(b'"') => break,
                    Some(_) => j += 1,
                }
            }
            self.i = j + 1;
            s.get(start..j)
        } else {
            let start = self.i;
            while self.i < s.len() && !matches!(s[self.i], b',' | b' ' | b'\t') {
                self.i += 1;
            }
            s.get(start..self.i).filter(|v| !v.is_empty())
        };
        Some((Some(name), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5's example, with qop=auth and MD5.
    #[test]
    fn rfc_2617_example() {
        let value = br#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let c = Credentials::parse(value).unwrap();
        assert_eq!(c.username, b"Mufasa");
        let ha1 = Algorithm::Md5.hex(&[c.username, c.realm, b"Circle Of Life"]);
        let want = c.expected(Algorithm::Md5, ha1.as_bytes(), b"GET").unwrap();
        assert_eq!(want.as_bytes(), c.response);
    }

    /// RFC 7616 §3.9.1's example, SHA-256 (the algorithm RFC 8760 brings to SIP).
    #[test]
    fn rfc_7616_sha256_example() {
        let value = br#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let c = Credentials::parse(value).unwrap();
        let alg = Algorithm::from_token(c.algorithm).unwrap();
        assert_eq!(alg, Algorithm::Sha256);
        let ha1 = alg.hex(&[c.username, c.realm, b"Circle of Life"]);
        let want = c.expected(alg, ha1.as_bytes(), b"GET").unwrap();
        assert_eq!(want.as_bytes(), c.response);
    }

    #[test]
    fn malformed_or_incomplete_credentials_are_refused() {
        for bad in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Digest",
            b"Digestusername=\"a\"",
            b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\"",
            b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x",
            b"Digest username, realm=\"r\"",
        ] {
            assert_eq!(Credentials::parse(bad), None, "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn unknown_qop_or_algorithm_has_no_expected_response() {
        let c = Credentials::parse(
            b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth-int, nc=1, cnonce=\"c\"",
        )
        .unwrap();
        assert_eq!(c.expected(Algorithm::Md5, b"ha1", b"REGISTER"), None);
        assert_eq!(Algorithm::from_token(Some(b"SHA-512-256")), None);
    }
}
