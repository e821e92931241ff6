//! GRUUs (RFC 5627): the URIs that reach one instance of a UA, which the registrar hands out
//! in the 200 to a REGISTER with `Supported: gruu` for every contact with `+sip.instance`.
//!
//! - A public GRUU is the AoR with a `gr` parameter holding the instance id (§3.1.1):
//!   `sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6`. It lasts as
//!   long as the AoR; while the instance has no binding it reaches nobody (480).
//! - A temporary GRUU hides the AoR and the instance (§3.1.2): `sip:<token>@example.com;gr`.
//!   The token is the shard that minted it (in the clear, so any shard can hand a request to
//!   the owner, as with branches and tags), a random nonce, the registration it names
//!   encrypted, and a seal. The registration is the location service's name for the
//!   instance's current registration ([`Registrar::registration`](super::Registrar)), so a
//!   token is checked by opening it and asking whether that registration still lives: no
//!   table of minted GRUUs is kept, memory stays bounded however many are minted, and every
//!   temporary GRUU given out for an instance stays valid until the instance's registration
//!   ends (or restarts with a new Call-ID), as §5.1 asks. A fresh one is minted for every
//!   200, and two of them cannot be linked to each other without the key.
//!
//! Sealing: SHA-256 keyed with the shard's GRUU key (32 bytes the shard draws from its seed at
//! start, so a restart invalidates the temporary GRUUs along with the in-memory bindings) as
//! a pseudo-random function; the keystream and the seal are separate labels, the seal covers
//! shard, nonce and ciphertext.
//!
//! Must not: know how a backend names a registration (it is an opaque 64-bit value here).

use sha2::{Digest, Sha256};

use crate::core::ids::unhex;
use crate::core::sip::text::{in_class, PARAM, USER};
use crate::core::sip::uri::Uri;

/// Length of a temporary GRUU's user part: shard (4 hex), nonce (16), registration (16),
/// seal (16).
pub const TOKEN_LEN: usize = 52;

/// What a Request-URI with a `gr` parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gruu<'a> {
    /// A public GRUU: the `gr` value, the instance id as written (escapes included).
    Public(&'a [u8]),
    /// A temporary GRUU: its user part, the token.
    Temporary(&'a [u8]),
}

impl<'a> Gruu<'a> {
    /// The GRUU a URI is, if it has a `gr` parameter: with a value a public one, without one
    /// a temporary one (§3.1).
    pub fn of(uri: &Uri<'a>) -> Option<Gruu<'a>> {
        match uri.param(b"gr")? {
            Some(instance) if !instance.is_empty() => Some(Gruu::Public(instance)),
            _ => uri.user().map(Gruu::Temporary),
        }
    }
}

/// The shard a temporary GRUU's token names, if it has the shape of one.
pub fn token_shard(token: &[u8]) -> Option<u16> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    unhex(token.get(..4)?).map(|s| s as u16)
}

/// One shard's temporary GRUUs: minted and opened with its key.
#[derive(Clone)]
pub struct TempGruus {
    key: [u8; 32],
    shard: u16,
}

impl TempGruus {
    pub fn new(key: [u8; 32], shard: u16) -> Self {
        TempGruus { key, shard }
    }

    /// The token of a new temporary GRUU for `registration`; `nonce` is fresh randomness.
    pub fn mint(&self, registration: u64, nonce: u64) -> [u8; TOKEN_LEN] {
        let cipher = registration ^ self.keystream(nonce);
        let mut out = [0u8; TOKEN_LEN];
        hex(u64::from(self.shard), &mut out[..4]);
        hex(nonce, &mut out[4..20]);
        hex(cipher, &mut out[20..36]);
        let seal = self.seal(nonce, cipher);
        hex(seal, &mut out[36..]);
        out
    }

    /// The registration a token names, if this shard minted it (sealed with its key, for its
    /// shard number); `None` for anything else, forged or mangled.
    pub fn open(&self, token: &[u8]) -> Option<u64> {
        if token.len() != TOKEN_LEN {
            return None;
        }
        let shard = unhex(token.get(..4)?)?;
        let nonce = unhex(token.get(4..20)?)?;
        let cipher = unhex(token.get(20..36)?)?;
        let seal = unhex(token.get(36..)?)?;
        if shard != u64::from(self.shard) || seal != self.seal(nonce, cipher) {
            return None;
        }
        Some(cipher ^ self.keystream(nonce))
    }

    fn keystream(&self, nonce: u64) -> u64 {
        self.prf(b"drongo temp-gruu keystream", nonce, 0)
    }

    fn seal(&self, nonce: u64, cipher: u64) -> u64 {
        self.prf(b"drongo temp-gruu seal", nonce, cipher)
    }

    fn prf(&self, label: &[u8], a: u64, b: u64) -> u64 {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(label);
        h.update(self.shard.to_be_bytes());
        h.update(a.to_be_bytes());
        h.update(b.to_be_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// Writes the public GRUU of instance `instance_id` (without quotes or brackets) of the AoR
/// `aor` (its canonical key) into `out`: the AoR with `;gr=<instance id>`, the user part
/// escaped again where the key holds it decoded.
pub fn write_public(aor: &[u8], instance_id: &[u8], out: &mut Vec<u8>) {
    let Some((scheme, user, host)) = split_aor(aor) else {
        return;
    };
    out.extend_from_slice(scheme);
    escape_into(user, USER, out);
    out.push(b'@');
    out.extend_from_slice(host);
    out.extend_from_slice(b";gr=");
    escape_into(instance_id, PARAM, out);
}

/// Writes a temporary GRUU with `token` in the domain of the AoR `aor` into `out`.
pub fn write_temporary(aor: &[u8], token: &[u8], out: &mut Vec<u8>) {
    let Some((scheme, _, host)) = split_aor(aor) else {
        return;
    };
    out.extend_from_slice(scheme);
    out.extend_from_slice(token);
    out.push(b'@');
    out.extend_from_slice(host);
    out.extend_from_slice(b";gr");
}

/// `sip:alice@example.com:5060` as (`sip:`, `alice`, `example.com:5060`).
fn split_aor(aor: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let colon = memchr::memchr(b':', aor)?;
    let at = memchr::memrchr(b'@', aor)?;
    let scheme = aor.get(..=colon)?;
    let user = aor.get(colon + 1..at)?;
    let host = aor.get(at + 1..)?;
    Some((scheme, user, host))
}

/// Writes `s` with every octet outside `class` as `%HEX HEX`.
fn escape_into(s: &[u8], class: u16, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        if in_class(b, class) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
        }
    }
}

fn hex(mut n: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for d in out.iter_mut().rev() {
        *d = DIGITS[(n & 0xF) as usize];
        n >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri<'_> {
        Uri::parse(s.as_bytes()).expect("a URI")
    }

    #[test]
    fn a_token_opens_to_its_registration_and_only_with_its_key_and_shard() {
        let gruus = TempGruus::new([7; 32], 3);
        let reg = 0x0000_0005_0000_0009;
        let a = gruus.mint(reg, 1);
        let b = gruus.mint(reg, 2);
        assert_ne!(a, b, "a new token every time");
        assert_eq!(gruus.open(&a), Some(reg));
        assert_eq!(gruus.open(&b), Some(reg));
        assert_eq!(token_shard(&a), Some(3));
        // The registration is not in the clear: the same one under two nonces shares no
        // ciphertext digits with it.
        let text = std::str::from_utf8(&a).unwrap();
        assert!(!text.contains("0000000500000009"));
        assert_ne!(a[20..36], b[20..36]);
        // Another key, another shard, a flipped digit, another length: nothing.
        assert_eq!(TempGruus::new([8; 32], 3).open(&a), None);
        assert_eq!(TempGruus::new([7; 32], 4).open(&a), None);
        for i in [0, 5, 25, 40, TOKEN_LEN - 1] {
            let mut forged = a;
            forged[i] = if forged[i] == b'0' { b'1' } else { b'0' };
            assert_eq!(gruus.open(&forged), None, "digit {i}");
        }
        assert_eq!(gruus.open(&a[1..]), None);
        assert_eq!(gruus.open(b"alice"), None);
        assert_eq!(token_shard(b"alice"), None);
    }

    #[test]
    fn gruus_are_written_in_the_aors_domain() {
        let mut out = Vec::new();
        write_public(
            b"sip:alice@example.com",
            b"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            &mut out,
        );
        assert_eq!(
            out,
            b"sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
        );
        out.clear();
        // The key holds the user decoded; the GRUU escapes what a user part may not hold.
        write_public(b"sips:al ice@[::1]:5061", b"urn:x;y", &mut out);
        assert_eq!(out, b"sips:al%20ice@[::1]:5061;gr=urn:x%3By");
        out.clear();
        write_temporary(b"sip:alice@example.com:5070", b"0001abc", &mut out);
        assert_eq!(out, b"sip:0001abc@example.com:5070;gr");
    }

    #[test]
    fn a_gr_parameter_makes_a_gruu() {
        assert_eq!(
            Gruu::of(&uri("sip:alice@example.com;gr=urn:uuid:1")),
            Some(Gruu::Public(b"urn:uuid:1"))
        );
        assert_eq!(
            Gruu::of(&uri("sip:0001ab@example.com;gr")),
            Some(Gruu::Temporary(b"0001ab"))
        );
        assert_eq!(Gruu::of(&uri("sip:alice@example.com")), None);
        assert_eq!(Gruu::of(&uri("sip:example.com;gr")), None);
    }
}
