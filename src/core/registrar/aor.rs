//! Address-of-record keys (RFC 3261 §10.3 step 5): the To URI of a REGISTER, or the
//! Request-URI of a request to look up, in canonical form, so that every spelling of one AoR
//! finds the same bindings.

use crate::core::sip::text::unescape;
use crate::core::sip::uri::{Host, Scheme, Uri};
use crate::core::sip::writer::push_ip;

/// Why a URI has no address-of-record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AorError {
    /// Not a sip or sips URI (a registrar binds those only).
    Scheme,
    /// No user part: `sip:example.com` names a domain, not a user.
    NoUser,
}

/// Writes the canonical AoR of `uri` into `out` (cleared first): scheme, the user part with
/// escapes decoded, the host in lower case (IP addresses in their standard text), and the port
/// when one is written. Every URI parameter and header is dropped (§10.3 step 5).
pub fn aor_key(uri: &Uri<'_>, out: &mut Vec<u8>) -> Result<(), AorError> {
    out.clear();
    match uri.scheme() {
        Scheme::Sip => out.extend_from_slice(b"sip:"),
        Scheme::Sips => out.extend_from_slice(b"sips:"),
        Scheme::Tel | Scheme::Other(_) => return Err(AorError::Scheme),
    }
    let user = uri
        .user()
        .filter(|u| !u.is_empty())
        .ok_or(AorError::NoUser)?;
    out.extend(unescape(user));
    out.push(b'@');
    match uri.host().ok_or(AorError::Scheme)? {
        Host::Domain(name) => {
            let name = name.strip_suffix(b".").unwrap_or(name);
            out.extend(name.iter().map(u8::to_ascii_lowercase));
        }
        Host::V4(ip) => push_ip(out, ip.into()),
        Host::V6(ip) => {
            out.push(b'[');
            push_ip(out, ip.into());
            out.push(b']');
        }
    }
    if let Some(port) = uri.port() {
        out.push(b':');
        crate::core::sip::writer::push_decimal(out, u64::from(port));
    }
    Ok(())
}

/// The AoR key with its port removed, for matching a request to an AoR registered without
/// one: `sip:alice@example.com:5060` looks up `sip:alice@example.com` too.
pub fn without_port(key: &[u8]) -> &[u8] {
    let Some(at) = memchr::memrchr(b'@', key) else {
        return key;
    };
    let host = key.get(at + 1..).unwrap_or_default();
    // An IPv6 host ends with `]`; the port, if any, follows it.
    let colon = match memchr::memrchr(b']', host) {
        Some(close) => {
            memchr::memchr(b':', host.get(close..).unwrap_or_default()).map(|c| close + c)
        }
        None => memchr::memchr(b':', host),
    };
    match colon {
        Some(c) => key.get(..at + 1 + c).unwrap_or(key),
        None => key,
    }
}

/// The shard that holds an AoR's bindings when `shards` shards run: a keyed hash of its key
/// without the port (`sip:alice@host:5060` and `sip:alice@host` are one AoR here), so a
/// REGISTER and every request for the user reach the same shard.
pub fn aor_shard(key: &[u8], shards: u16) -> u16 {
    let hash = crate::core::ids::keyed_hash(0x0a0f_5eed, &[without_port(key)]);
    (hash % u64::from(shards.max(1))) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str) -> Result<String, AorError> {
        let uri = Uri::parse(uri.as_bytes()).expect("a URI");
        let mut out = Vec::new();
        aor_key(&uri, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn spellings_of_one_aor_share_a_key() {
        let want = Ok("sip:alice@example.com".to_string());
        for uri in [
            "sip:alice@example.com",
            "sip:alice@EXAMPLE.com",
            "sip:%61lice@example.com",
            "sip:alice@example.com;transport=tcp",
            "sip:alice@example.com.",
            "sip:alice:secret@example.com",
            "sip:alice@example.com?subject=hi",
        ] {
            assert_eq!(key(uri), want, "{uri}");
        }
        assert_eq!(
            key("sip:Alice@example.com"),
            Ok("sip:Alice@example.com".into())
        );
        assert_eq!(
            key("sips:alice@example.com"),
            Ok("sips:alice@example.com".into())
        );
        assert_eq!(
            key("sip:alice@127.0.0.1:5060"),
            Ok("sip:alice@127.0.0.1:5060".into())
        );
        assert_eq!(
            key("sip:alice@[::1]:5060"),
            Ok("sip:alice@[::1]:5060".into())
        );
    }

    #[test]
    fn only_sip_uris_with_a_user_are_aors() {
        assert_eq!(key("sip:example.com"), Err(AorError::NoUser));
        assert_eq!(key("tel:+15551234"), Err(AorError::Scheme));
    }

    #[test]
    fn ports_come_off() {
        assert_eq!(without_port(b"sip:a@127.0.0.1:5060"), b"sip:a@127.0.0.1");
        assert_eq!(without_port(b"sip:a@[::1]:5060"), b"sip:a@[::1]");
        assert_eq!(without_port(b"sip:a@[::1]"), b"sip:a@[::1]");
        assert_eq!(without_port(b"sip:a@example.com"), b"sip:a@example.com");
    }

    #[test]
    fn an_aor_with_and_without_its_port_lives_on_one_shard() {
        for shards in [1, 2, 3, 6] {
            for user in ["alice", "bob", "carol", "dave"] {
                let bare = format!("sip:{user}@example.com");
                let owner = aor_shard(bare.as_bytes(), shards);
                assert!(owner < shards);
                let with_port = format!("{bare}:5060");
                assert_eq!(aor_shard(with_port.as_bytes(), shards), owner);
            }
        }
        // Four users over two shards do not all land on one (the hash spreads them).
        let owners: Vec<u16> = ["alice", "bob", "carol", "dave", "erin", "frank"]
            .iter()
            .map(|u| aor_shard(format!("sip:{u}@example.com").as_bytes(), 2))
            .collect();
        assert!(owners.contains(&0) && owners.contains(&1), "{owners:?}");
    }
}
