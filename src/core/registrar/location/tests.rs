use super::*;

const AOR: &[u8] = b"sip:alice@example.com";

fn flow() -> FlowInfo {
    FlowInfo {
        reliable: false,
        local: "127.0.0.1:5060".parse().unwrap(),
        remote: "192.0.2.7:40000".parse().unwrap(),
        conn: None,
        shard: 0,
    }
}

fn contact(uri: &str) -> Contact<'_> {
    Contact {
        uri: uri.as_bytes(),
        expires: None,
        q: None,
        instance: None,
        reg_id: None,
    }
}

fn request<'a>(
    contacts: &'a [Contact<'a>],
    expires: Option<u32>,
    cseq: u32,
) -> RegisterRequest<'a> {
    RegisterRequest {
        aor: AOR,
        star: false,
        contacts,
        expires,
        call_id: b"reg-1",
        cseq,
        path: b"",
        flow: flow(),
    }
}

fn setup() -> (Location, Instant) {
    let now = crate::sim::epoch();
    (Location::new(RegistrarConfig::DEFAULT, now), now)
}

fn contacts_of(loc: &Location, now: Instant) -> Vec<(String, u32)> {
    loc.bindings(AOR)
        .map(|b| {
            (
                String::from_utf8_lossy(b.contact()).into_owned(),
                b.remaining(now),
            )
        })
        .collect()
}

fn kinds(loc: &mut Location) -> Vec<RegEventKind> {
    std::iter::from_fn(|| loc.poll_event())
        .map(|e| e.kind)
        .collect()
}

#[test]
fn register_adds_refreshes_and_removes() {
    let (mut loc, now) = setup();
    let c = [contact("sip:alice@192.0.2.7:40000")];
    loc.register(now, &request(&c, Some(600), 1)).unwrap();
    assert_eq!(
        contacts_of(&loc, now),
        [("sip:alice@192.0.2.7:40000".into(), 600)]
    );
    // A refresh with a higher CSeq and the same contact (written differently) replaces it.
    let later = now + Duration::from_secs(100);
    let c2 = [contact("sip:alice@192.0.2.7:40000;x-tag=1")];
    loc.register(later, &request(&c2, Some(900), 2)).unwrap();
    assert_eq!(loc.len(), 1);
    assert_eq!(contacts_of(&loc, later)[0].1, 900);
    // Expires 0 removes it, and the AoR with it.
    let mut gone = c;
    gone[0].expires = Some(0);
    loc.register(later, &request(&gone, None, 3)).unwrap();
    assert!(loc.is_empty());
    assert_eq!(loc.aors(), 0);
    assert_eq!(
        kinds(&mut loc),
        [
            RegEventKind::Added,
            RegEventKind::Refreshed,
            RegEventKind::Removed
        ]
    );
}

#[test]
fn expiry_comes_from_the_contact_then_the_header_then_the_default_within_limits() {
    let (mut loc, now) = setup();
    let mut a = contact("sip:a@192.0.2.1");
    a.expires = Some(120);
    let b = contact("sip:b@192.0.2.2");
    let mut c = contact("sip:c@192.0.2.3");
    c.expires = Some(100_000);
    loc.register(now, &request(&[a, b, c], Some(300), 1))
        .unwrap();
    let mut got = contacts_of(&loc, now);
    got.sort();
    assert_eq!(
        got,
        [
            ("sip:a@192.0.2.1".into(), 120),
            ("sip:b@192.0.2.2".into(), 300),
            ("sip:c@192.0.2.3".into(), 3600)
        ]
    );
    let d = [contact("sip:d@192.0.2.4")];
    loc.register(
        now,
        &RegisterRequest {
            call_id: b"other",
            ..request(&d, None, 1)
        },
    )
    .unwrap();
    let d_left = loc
        .bindings(AOR)
        .find(|x| x.contact() == b"sip:d@192.0.2.4")
        .map(|x| x.remaining(now));
    assert_eq!(d_left, Some(3600), "the default");
}

#[test]
fn too_brief_is_423_and_changes_nothing() {
    let (mut loc, now) = setup();
    let mut a = contact("sip:a@192.0.2.1");
    a.expires = Some(30);
    let b = contact("sip:b@192.0.2.2");
    assert_eq!(
        loc.register(now, &request(&[b, a], Some(600), 1)),
        Err(RegisterError::IntervalTooBrief(60))
    );
    assert!(loc.is_empty(), "no contact of a refused request is bound");
}

#[test]
fn an_old_cseq_for_the_same_call_id_is_refused() {
    let (mut loc, now) = setup();
    let c = [contact("sip:alice@192.0.2.7")];
    loc.register(now, &request(&c, Some(600), 5)).unwrap();
    for cseq in [5, 4] {
        assert_eq!(
            loc.register(now, &request(&c, Some(600), cseq)),
            Err(RegisterError::OutOfOrder)
        );
    }
    // Another Call-ID (a rebooted phone) may take the contact over at any CSeq.
    let other = RegisterRequest {
        call_id: b"reg-2",
        ..request(&c, Some(600), 1)
    };
    assert_eq!(loc.register(now, &other), Ok(()));
    assert_eq!(
        loc.bindings(AOR).next().map(Binding::call_id),
        Some(&b"reg-2"[..])
    );
}

#[test]
fn star_removes_everything_only_with_expires_zero() {
    let (mut loc, now) = setup();
    let c = [contact("sip:a@192.0.2.1"), contact("sip:b@192.0.2.2")];
    loc.register(now, &request(&c, Some(600), 1)).unwrap();
    let star = RegisterRequest {
        star: true,
        ..request(&[], Some(600), 2)
    };
    assert_eq!(loc.register(now, &star), Err(RegisterError::BadStar));
    let star_with_contact = RegisterRequest {
        star: true,
        ..request(&c[..1], Some(0), 2)
    };
    assert_eq!(
        loc.register(now, &star_with_contact),
        Err(RegisterError::BadStar)
    );
    let star = RegisterRequest {
        star: true,
        ..request(&[], Some(0), 2)
    };
    assert_eq!(loc.register(now, &star), Ok(()));
    assert!(loc.is_empty());
}

#[test]
fn bindings_expire_on_time() {
    let (mut loc, now) = setup();
    let mut a = contact("sip:a@192.0.2.1");
    a.expires = Some(60);
    let mut b = contact("sip:b@192.0.2.2");
    b.expires = Some(120);
    loc.register(now, &request(&[a, b], None, 1)).unwrap();
    kinds(&mut loc);
    loc.expire(now + Duration::from_secs(59));
    assert_eq!(loc.len(), 2, "nothing expires early");
    loc.expire(now + Duration::from_millis(60_100));
    assert_eq!(contacts_of(&loc, now).len(), 1);
    loc.expire(now + Duration::from_millis(120_100));
    assert!(loc.is_empty());
    assert_eq!(loc.aors(), 0);
    assert_eq!(
        kinds(&mut loc),
        [RegEventKind::Expired, RegEventKind::Expired]
    );
    assert_eq!(loc.next_deadline(), None, "no timer left behind");
}

/// A refreshed binding's old timer does not expire it.
#[test]
fn a_refresh_moves_the_expiry() {
    let (mut loc, now) = setup();
    let c = [contact("sip:a@192.0.2.1")];
    loc.register(now, &request(&c, Some(60), 1)).unwrap();
    loc.register(now + Duration::from_secs(50), &request(&c, Some(60), 2))
        .unwrap();
    loc.expire(now + Duration::from_secs(70));
    assert_eq!(loc.len(), 1);
    loc.expire(now + Duration::from_millis(110_100));
    assert!(loc.is_empty());
}

#[test]
fn q_orders_the_bindings() {
    let (mut loc, now) = setup();
    let mut low = contact("sip:low@192.0.2.1");
    low.q = Some(100);
    let mut high = contact("sip:high@192.0.2.2");
    high.q = Some(900);
    let none = contact("sip:none@192.0.2.3");
    loc.register(now, &request(&[low, high, none], Some(600), 1))
        .unwrap();
    let order: Vec<String> = contacts_of(&loc, now).into_iter().map(|c| c.0).collect();
    assert_eq!(
        order,
        [
            "sip:none@192.0.2.3",
            "sip:high@192.0.2.2",
            "sip:low@192.0.2.1"
        ]
    );
}

#[test]
fn limits_protect_the_table() {
    let now = crate::sim::epoch();
    let config = RegistrarConfig {
        max_contacts_per_aor: 2,
        max_bindings: 3,
        ..RegistrarConfig::DEFAULT
    };
    let mut loc = Location::new(config, now);
    let c = [
        contact("sip:a@192.0.2.1"),
        contact("sip:b@192.0.2.2"),
        contact("sip:c@192.0.2.3"),
    ];
    assert_eq!(
        loc.register(now, &request(&c, Some(600), 1)),
        Err(RegisterError::TooManyContacts)
    );
    assert!(loc.is_empty());
    loc.register(now, &request(&c[..2], Some(600), 1)).unwrap();
    // Removing one and adding another in the same request stays within the limit.
    let mut swap = [c[0], c[2]];
    swap[0].expires = Some(0);
    loc.register(now, &request(&swap, Some(600), 2)).unwrap();
    assert_eq!(loc.len(), 2);
    let other = RegisterRequest {
        aor: b"sip:bob@example.com",
        ..request(&c[..2], Some(600), 1)
    };
    assert_eq!(loc.register(now, &other), Err(RegisterError::Full));
}

#[test]
fn a_binding_keeps_what_routing_needs() {
    let (mut loc, now) = setup();
    let mut c = contact("sip:alice@10.0.0.5:5060;ob");
    c.instance = Some(b"\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
    c.reg_id = Some(1);
    let contacts = [c];
    let req = RegisterRequest {
        path: b"<sip:edge.example.com;lr>",
        ..request(&contacts, Some(600), 1)
    };
    loc.register(now, &req).unwrap();
    let b = loc.bindings(AOR).next().unwrap();
    assert_eq!(b.contact(), b"sip:alice@10.0.0.5:5060;ob");
    assert_eq!(b.call_id(), b"reg-1");
    assert_eq!(
        b.instance(),
        b"\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""
    );
    assert_eq!(b.path(), b"<sip:edge.example.com;lr>");
    assert_eq!(b.reg_id, Some(1));
    assert_eq!(b.flow, flow());
}

/// Bindings that all expire at one instant go in batches of at most `EXPIRE_BUDGET` a call:
/// the deadline stays past until the last is gone, so the shard calls again, and a consumer
/// that drains the events between calls loses none.
#[test]
fn a_mass_expiry_is_spread_over_calls() {
    let (mut loc, now) = setup();
    let n = 2 * EXPIRE_BUDGET + 100;
    for i in 0..n {
        let aor = format!("sip:user{i}@example.com");
        let uri = format!("sip:user{i}@192.0.2.1");
        let c = [contact(&uri)];
        let req = RegisterRequest {
            aor: aor.as_bytes(),
            ..request(&c, Some(60), 1)
        };
        loc.register(now, &req).unwrap();
    }
    kinds(&mut loc);
    let at = now + Duration::from_secs(60);
    let mut batches = Vec::new();
    while loc.next_deadline().is_some_and(|d| d <= at) {
        loc.expire(at);
        let events = kinds(&mut loc);
        assert!(events.iter().all(|k| *k == RegEventKind::Expired));
        if !events.is_empty() {
            batches.push(events.len());
        }
    }
    assert_eq!(batches, [EXPIRE_BUDGET, EXPIRE_BUDGET, 100]);
    assert!(loc.is_empty());
    assert_eq!(loc.aors(), 0);
    assert_eq!(loc.events_dropped(), 0);
    assert_eq!(loc.next_deadline(), None);
}

/// The fixed part of a binding and of an AoR, for the memory figures.
#[test]
fn footprint() {
    println!(
        "Binding {} B, AoR slot {} B, plus the strings and the AoR key",
        std::mem::size_of::<Binding>(),
        crate::core::slots::slot_bytes::<Aor>()
    );
    assert!(std::mem::size_of::<Binding>() <= 160);
}
