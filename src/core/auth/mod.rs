//! Digest authentication of requests to Drongo's registrar (RFC 3261 §22, RFC 8760):
//! credentials checked against a table of users, challenges with fresh single-use nonces.
//!
//! Owns: the user table (HA1 values only, never passwords), nonces, the check of
//! Authorization credentials, and the WWW-Authenticate challenges. Must not: read files (the
//! configuration loads the users) or tell a caller whether a user exists: a known user with a
//! wrong password and an unknown user get the same challenge, after the same work.

mod digest;
mod nonce;

pub use digest::{Algorithm, Credentials, Hex};
pub use nonce::{NonceCheck, Nonces, NONCE_LEN};

use hashbrown::HashMap;
use std::time::{Duration, Instant};

use crate::core::sip::writer::Writer;

/// What every shard's [`Authenticator`] is built from: the realm, the users, and the key
/// that seals nonces (the same on every shard).
#[derive(Clone)]
pub struct AuthSetup {
    pub realm: Vec<u8>,
    /// (username, password) pairs.
    pub users: Vec<(Vec<u8>, Vec<u8>)>,
    pub key: u64,
}

impl std::fmt::Debug for AuthSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the passwords.
        f.debug_struct("AuthSetup")
            .field("realm", &self.realm.escape_ascii().to_string())
            .field("users", &self.users.len())
            .finish()
    }
}

impl Authenticator {
    /// The authenticator of shard `shard` for `setup`.
    pub fn from_setup(setup: &AuthSetup, shard: u16, now: Instant) -> Self {
        Authenticator::new(
            &setup.realm,
            setup
                .users
                .iter()
                .map(|(u, p)| (u.as_slice(), p.as_slice())),
            setup.key,
            shard,
            now,
        )
    }
}

/// How long a nonce is good for.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// A user's HA1 for each algorithm: H(username:realm:password).
#[derive(Clone)]
struct Ha1s {
    sha256: Hex,
    md5: Hex,
}

/// What checking a request's credentials decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// The credentials are good: the authenticated user name.
    Authenticated(&'a [u8]),
    /// Challenge the client; `stale` when its credentials were right but the nonce was not
    /// fresh (it retries without asking its user).
    Challenge { stale: bool },
}

/// The users of one realm, and one shard's nonces.
pub struct Authenticator {
    realm: Box<[u8]>,
    users: HashMap<Box<[u8]>, Ha1s>,
    /// Work done for an unknown user, so that it takes as long as a known one.
    decoy: Ha1s,
    nonces: Nonces,
}

impl Authenticator {
    /// `users` are (username, password) pairs; only their HA1 values are kept. `key` seals
    /// nonces and is the same on every shard.
    pub fn new<'u>(
        realm: &[u8],
        users: impl IntoIterator<Item = (&'u [u8], &'u [u8])>,
        key: u64,
        shard: u16,
        now: Instant,
    ) -> Self {
        let ha1s = |user: &[u8], password: &[u8]| Ha1s {
            sha256: Algorithm::Sha256.hex(&[user, realm, password]),
            md5: Algorithm::Md5.hex(&[user, realm, password]),
        };
        Authenticator {
            realm: realm.into(),
            users: users
                .into_iter()
                .map(|(u, p)| (Box::from(u), ha1s(u, p)))
                .collect(),
            decoy: ha1s(b"\0", &key.to_le_bytes()),
            nonces: Nonces::new(key, shard, now, NONCE_LIFETIME),
        }
    }

    pub fn realm(&self) -> &[u8] {
        &self.realm
    }

    /// Users known.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks the credentials in a request's Authorization values for `method`; the first
    /// value for this realm counts (§22.4: a client may send one per realm).
    pub fn check<'a>(
        &mut self,
        method: &[u8],
        authorizations: impl Iterator<Item = &'a [u8]>,
        now: Instant,
    ) -> Verdict<'a> {
        let realm = &*self.realm;
        let Some(c) = authorizations
            .filter_map(Credentials::parse)
            .find(|c| c.realm == realm)
        else {
            return Verdict::Challenge { stale: false };
        };
        let Some(algorithm) = Algorithm::from_token(c.algorithm) else {
            return Verdict::Challenge { stale: false };
        };
        let known = self.users.get(c.username);
        let ha1s = known.unwrap_or(&self.decoy);
        let ha1 = match algorithm {
            Algorithm::Sha256 => ha1s.sha256,
            Algorithm::Md5 => ha1s.md5,
        };
        let right = c
            .expected(algorithm, ha1.as_bytes(), method)
            .is_some_and(|want| constant_time_eq(want.as_bytes(), c.response))
            && known.is_some();
        if !right {
            return Verdict::Challenge { stale: false };
        }
        match self.nonces.check(c.nonce, now) {
            NonceCheck::Fresh => Verdict::Authenticated(c.username),
            NonceCheck::Stale => Verdict::Challenge { stale: true },
            NonceCheck::Invalid => Verdict::Challenge { stale: false },
        }
    }

    /// Writes the challenges of a 401: one per algorithm, SHA-256 first (RFC 8760 §2.4), each
    /// with a fresh nonce and `qop="auth"`.
    pub fn write_challenges(&mut self, stale: bool, now: Instant, w: &mut Writer<'_>) {
        let mut value = Vec::with_capacity(160);
        for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
            let nonce = self.nonces.issue(now);
            value.clear();
            value.extend_from_slice(b"Digest realm=\"");
            value.extend_from_slice(&self.realm);
            value.extend_from_slice(b"\", nonce=\"");
            value.extend_from_slice(&nonce);
            value.extend_from_slice(b"\", algorithm=");
            value.extend_from_slice(algorithm.token().as_bytes());
            value.extend_from_slice(b", qop=\"auth\"");
            if stale {
                value.extend_from_slice(b", stale=true");
            }
            w.header("WWW-Authenticate", &value);
        }
    }
}

/// Compares two byte strings in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
