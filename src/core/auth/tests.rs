use super::*;

const REALM: &[u8] = b"example.com";

fn auth() -> (Authenticator, Instant) {
    let now = crate::sim::epoch();
    let users: [(&[u8], &[u8]); 2] = [(b"alice", b"wonderland"), (b"bob", b"builder")];
    (Authenticator::new(REALM, users, 99, 0, now), now)
}

/// The nonces of the challenges a 401 would carry, SHA-256's first.
fn challenge(a: &mut Authenticator, now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    let mut w = Writer::response(&mut out, 401, "Unauthorized");
    a.write_challenges(false, now, &mut w);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .map(str::to_owned)
        .collect()
}

fn nonce_of(challenge: &str) -> String {
    let at = challenge.find("nonce=\"").unwrap() + 7;
    challenge[at..at + NONCE_LEN].to_string()
}

/// What a client sends back: the response computed from the password.
fn authorization(user: &str, password: &str, nonce: &str, alg: Algorithm) -> String {
    let (uri, nc, cnonce) = ("sip:example.com", "00000001", "c0ffee");
    let ha1 = alg.hex(&[user.as_bytes(), REALM, password.as_bytes()]);
    let ha2 = alg.hex(&[b"REGISTER", uri.as_bytes()]);
    let response = alg.hex(&[
        ha1.as_bytes(),
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        b"auth",
        ha2.as_bytes(),
    ]);
    format!(
        "Digest username=\"{user}\", realm=\"example.com\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{}\", algorithm={}, cnonce=\"{cnonce}\", qop=auth, nc={nc}",
        String::from_utf8_lossy(response.as_bytes()),
        alg.token()
    )
}

#[test]
fn a_401_offers_sha256_then_md5_with_fresh_nonces() {
    let (mut a, now) = auth();
    let c = challenge(&mut a, now);
    assert_eq!(c.len(), 2);
    assert!(c[0].contains("algorithm=SHA-256") && c[0].contains("qop=\"auth\""));
    assert!(c[1].contains("algorithm=MD5"));
    assert!(c[0].starts_with("Digest realm=\"example.com\""));
    assert_ne!(nonce_of(&c[0]), nonce_of(&c[1]));
}

#[test]
fn right_credentials_pass_once_for_either_algorithm() {
    let (mut a, now) = auth();
    for (i, alg) in [Algorithm::Sha256, Algorithm::Md5].into_iter().enumerate() {
        let nonce = nonce_of(&challenge(&mut a, now)[i]);
        let value = authorization("alice", "wonderland", &nonce, alg);
        assert_eq!(
            a.check(b"REGISTER", [value.as_bytes()].into_iter(), now),
            Verdict::Authenticated(b"alice")
        );
        assert_eq!(
            a.check(b"REGISTER", [value.as_bytes()].into_iter(), now),
            Verdict::Challenge { stale: true },
            "the nonce was used"
        );
    }
}

/// A wrong password and an unknown user get the same answer.
#[test]
fn wrong_password_and_unknown_user_look_alike() {
    let (mut a, now) = auth();
    let nonce = nonce_of(&challenge(&mut a, now)[0]);
    let wrong = authorization("alice", "looking-glass", &nonce, Algorithm::Sha256);
    let unknown = authorization("mallory", "anything", &nonce, Algorithm::Sha256);
    let want = Verdict::Challenge { stale: false };
    assert_eq!(
        a.check(b"REGISTER", [wrong.as_bytes()].into_iter(), now),
        want
    );
    assert_eq!(
        a.check(b"REGISTER", [unknown.as_bytes()].into_iter(), now),
        want
    );
    // The nonce was not used up by the failures.
    let right = authorization("alice", "wonderland", &nonce, Algorithm::Sha256);
    assert_eq!(
        a.check(b"REGISTER", [right.as_bytes()].into_iter(), now),
        Verdict::Authenticated(b"alice")
    );
}

#[test]
fn an_old_nonce_is_stale_and_a_foreign_realm_is_ignored() {
    let (mut a, now) = auth();
    let nonce = nonce_of(&challenge(&mut a, now)[0]);
    let value = authorization("bob", "builder", &nonce, Algorithm::Sha256);
    let later = now + NONCE_LIFETIME + Duration::from_secs(1);
    assert_eq!(
        a.check(b"REGISTER", [value.as_bytes()].into_iter(), later),
        Verdict::Challenge { stale: true }
    );
    let other_realm = value.replace("realm=\"example.com\"", "realm=\"example.org\"");
    assert_eq!(
        a.check(b"REGISTER", [other_realm.as_bytes()].into_iter(), now),
        Verdict::Challenge { stale: false }
    );
    assert_eq!(
        a.check(b"REGISTER", std::iter::empty(), now),
        Verdict::Challenge { stale: false }
    );
}
