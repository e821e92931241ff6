use super::*;
use crate::core::registrar::{reachable, Bindings, Registrar};
use std::time::Duration;

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
    assert!(loc.bindings(AOR).next().unwrap().has_call_id(b"reg-2"));
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
    assert!(b.has_call_id(b"reg-1") && !b.has_call_id(b"reg-2"));
    assert_eq!(
        b.instance(),
        b"\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""
    );
    assert_eq!(b.path(), b"<sip:edge.example.com;lr>");
    assert_eq!(b.reg_id(), Some(1));
    assert_eq!(b.flow(), flow());
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

const INSTANCE_A: &[u8] = b"\"<urn:uuid:00000000-0000-1000-8000-00000000000A>\"";
const INSTANCE_B: &[u8] = b"\"<urn:uuid:00000000-0000-1000-8000-00000000000B>\"";

/// A contact of instance `instance`, with `reg_id` when it registers an outbound flow.
fn instance_contact<'a>(uri: &'a str, instance: &'a [u8], reg_id: Option<u32>) -> Contact<'a> {
    Contact {
        instance: Some(instance),
        reg_id,
        ..contact(uri)
    }
}

/// A REGISTER over TCP connection `conn`.
fn over_conn<'a>(
    contacts: &'a [Contact<'a>],
    call_id: &'a [u8],
    cseq: u32,
    conn: u64,
) -> RegisterRequest<'a> {
    RegisterRequest {
        call_id,
        flow: FlowInfo {
            reliable: true,
            conn: Some(conn),
            ..flow()
        },
        ..request(contacts, Some(600), cseq)
    }
}

fn contacts_in(bindings: Bindings<'_>) -> Vec<String> {
    bindings
        .map(|b| String::from_utf8_lossy(b.contact()).into_owned())
        .collect()
}

/// The shard drives the memory backend through the trait only.
#[test]
fn the_memory_backend_answers_through_the_trait() {
    let now = crate::sim::epoch();
    let mut reg: Box<dyn Registrar> = crate::core::registrar::open(RegistrarConfig::DEFAULT, now);
    assert!(reg.is_empty());
    assert_eq!(reg.next_deadline(), None);
    let c = [contact("sip:alice@192.0.2.7:40000")];
    reg.register(now, &request(&c, Some(60), 1)).unwrap();
    assert_eq!((reg.len(), reg.aors()), (1, 1));
    assert_eq!(
        contacts_in(reg.bindings(AOR)),
        ["sip:alice@192.0.2.7:40000"]
    );
    assert_eq!(reg.poll_event().map(|e| e.kind), Some(RegEventKind::Added));
    // Run `expire` whenever the service asks, as the shard does, until the binding is gone.
    let mut at = now;
    for _ in 0..100 {
        if reg.is_empty() {
            break;
        }
        at = reg
            .next_deadline()
            .expect("a deadline while a binding lives");
        reg.expire(at);
    }
    assert!(reg.is_empty());
    assert!(at >= now + Duration::from_secs(60), "not before its time");
    assert_eq!(
        reg.poll_event().map(|e| e.kind),
        Some(RegEventKind::Expired)
    );
    assert_eq!(reg.events_dropped(), 0);
    assert_eq!(
        reg.config().max_expires,
        RegistrarConfig::DEFAULT.max_expires
    );
}

/// RFC 5626 §6: an outbound contact is the binding of its instance and reg-id, so a UA
/// that comes back on a new flow with a new Contact replaces its binding.
#[test]
fn outbound_contacts_are_the_binding_of_their_instance_and_reg_id() {
    let (mut loc, now) = setup();
    let first = [instance_contact(
        "sip:alice@192.0.2.7:40001;ob",
        INSTANCE_A,
        Some(1),
    )];
    loc.register(now, &over_conn(&first, b"reg-a", 1, 5))
        .unwrap();
    let again = [instance_contact(
        "sip:alice@192.0.2.7:40002;ob",
        INSTANCE_A,
        Some(1),
    )];
    loc.register(now, &over_conn(&again, b"reg-a", 2, 6))
        .unwrap();
    assert_eq!(
        contacts_in(loc.bindings(AOR)),
        ["sip:alice@192.0.2.7:40002;ob"]
    );
    assert_eq!(loc.bindings(AOR).next().unwrap().conn(), Some(6));
    // A second flow of the same instance is a second binding.
    let second = [instance_contact(
        "sip:alice@192.0.2.7:40003;ob",
        INSTANCE_A,
        Some(2),
    )];
    loc.register(now, &over_conn(&second, b"reg-a", 3, 7))
        .unwrap();
    assert_eq!(loc.len(), 2);
    assert_eq!(
        kinds(&mut loc),
        [
            RegEventKind::Added,
            RegEventKind::Refreshed,
            RegEventKind::Added
        ]
    );
    // The old flow's connection left the index with the binding it carried.
    assert!(!loc.flows.contains_key(&5));
    assert!(loc.flows.contains_key(&6) && loc.flows.contains_key(&7));
}

#[test]
fn a_public_gruu_finds_the_bindings_of_its_instance_only() {
    let (mut loc, now) = setup();
    let c = [
        instance_contact("sip:alice@192.0.2.7:40000", INSTANCE_A, None),
        instance_contact("sip:alice@192.0.2.8:40000", INSTANCE_B, None),
        contact("sip:alice@192.0.2.9:40000"),
    ];
    loc.register(now, &request(&c, Some(600), 1)).unwrap();
    let reg: &dyn Registrar = &loc;
    assert_eq!(reg.bindings(AOR).count(), 3);
    assert_eq!(
        contacts_in(reg.instance_bindings(AOR, b"urn:uuid:00000000-0000-1000-8000-00000000000b")),
        ["sip:alice@192.0.2.8:40000"],
        "the instance id compares without regard to case"
    );
    assert_eq!(reg.instance_bindings(AOR, b"urn:uuid:0").count(), 0);
    assert_eq!(reg.instance_bindings(AOR, b"").count(), 0);
    assert_eq!(
        reg.instance_bindings(b"sip:bob@example.com", b"urn:uuid:0")
            .count(),
        0
    );
}

/// RFC 5627 §5.1: the temporary GRUUs of an instance stay valid while it stays registered
/// with the same Call-ID; a new Call-ID, or the end of the registration, ends them.
#[test]
fn an_instance_registration_lives_until_it_ends_or_starts_over() {
    let (mut loc, now) = setup();
    let id = b"urn:uuid:00000000-0000-1000-8000-00000000000A";
    let a = [instance_contact(
        "sip:alice@192.0.2.7:40000",
        INSTANCE_A,
        None,
    )];
    let req = |cseq, call_id: &'static [u8]| RegisterRequest {
        call_id,
        ..request(&a, Some(600), cseq)
    };
    assert_eq!(loc.registration(AOR, id), None);
    loc.register(now, &req(1, b"boot-1")).unwrap();
    let first = loc.registration(AOR, id).expect("registered");
    assert_eq!(loc.registration_bindings(first).count(), 1);
    loc.register(now, &req(2, b"boot-1")).unwrap();
    assert_eq!(loc.registration(AOR, id), Some(first), "a refresh keeps it");
    // The UA restarted: a new Call-ID.
    loc.register(now, &req(1, b"boot-2")).unwrap();
    let second = loc.registration(AOR, id).unwrap();
    assert_ne!(second, first);
    assert_eq!(loc.registration_bindings(first).count(), 0);
    assert_eq!(loc.registration_bindings(second).count(), 1);
    // Another contact of the instance with the same Call-ID joins the registration.
    let b = [instance_contact(
        "sip:alice@192.0.2.7:40001",
        INSTANCE_A,
        None,
    )];
    let join = RegisterRequest {
        call_id: b"boot-2",
        ..request(&b, Some(600), 2)
    };
    loc.register(now, &join).unwrap();
    assert_eq!(loc.registration_bindings(second).count(), 2);
    // It ends when the last binding of the instance goes, and is never given out again.
    let mut gone = a[0];
    gone.expires = Some(0);
    let mut gone_b = b[0];
    gone_b.expires = Some(0);
    let both = [gone, gone_b];
    let remove = RegisterRequest {
        call_id: b"boot-2",
        ..request(&both, None, 3)
    };
    loc.register(now, &remove).unwrap();
    assert_eq!(loc.registration(AOR, id), None);
    assert_eq!(loc.registration_bindings(second).count(), 0);
    loc.register(now, &req(4, b"boot-2")).unwrap();
    let third = loc.registration(AOR, id).unwrap();
    assert!(third != first && third != second);
    assert_eq!(loc.registration_bindings(0).count(), 0);
    assert_eq!(loc.registration_bindings(u64::MAX).count(), 0);
}

/// RFC 5626 §5.3: an outbound binding whose flow failed is unreachable; a binding over the
/// same connection without outbound is not affected (requests fall back to its Contact).
#[test]
fn a_failed_flow_makes_its_outbound_bindings_unreachable() {
    let (mut loc, now) = setup();
    let c = [
        instance_contact("sip:alice@192.0.2.7:40001;ob", INSTANCE_A, Some(1)),
        contact("sip:alice@192.0.2.7:5060;transport=tcp"),
    ];
    loc.register(now, &over_conn(&c, b"reg-a", 1, 5)).unwrap();
    loc.flow_failed(99);
    assert!(loc.bindings(AOR).all(|b| !b.flow_failed()));
    let reg: &mut dyn Registrar = &mut loc;
    reg.flow_failed(5);
    let failed: Vec<bool> = loc.bindings(AOR).map(|b| b.flow_failed()).collect();
    assert_eq!(failed, [true, false]);
    assert_eq!(
        reachable(loc.bindings(AOR))
            .iter()
            .map(|b| b.contact())
            .collect::<Vec<_>>(),
        [&b"sip:alice@192.0.2.7:5060;transport=tcp"[..]]
    );
    assert!(loc.flows.is_empty(), "a failed connection leaves the index");
    // The UA registers the flow again over a new connection: reachable again.
    loc.register(now, &over_conn(&c[..1], b"reg-a", 2, 6))
        .unwrap();
    assert!(loc.bindings(AOR).all(|b| !b.flow_failed()));
    assert_eq!(reachable(loc.bindings(AOR)).len(), 2);
}

/// RFC 5626 §5.3: never more than one flow of an instance at a time; the most recently
/// registered live one.
#[test]
fn one_flow_of_an_instance_is_reachable() {
    let (mut loc, now) = setup();
    let one = [instance_contact(
        "sip:alice@192.0.2.7:40001;ob",
        INSTANCE_A,
        Some(1),
    )];
    let two = [instance_contact(
        "sip:alice@192.0.2.7:40002;ob",
        INSTANCE_A,
        Some(2),
    )];
    let other = [instance_contact(
        "sip:alice@192.0.2.8:40001;ob",
        INSTANCE_B,
        Some(1),
    )];
    loc.register(now, &over_conn(&one, b"reg-a", 1, 5)).unwrap();
    loc.register(now, &over_conn(&two, b"reg-a", 2, 6)).unwrap();
    loc.register(now, &over_conn(&other, b"reg-b", 1, 7))
        .unwrap();
    let pick = |loc: &Location| -> Vec<Option<u64>> {
        reachable(loc.bindings(AOR))
            .iter()
            .map(|b| b.conn())
            .collect()
    };
    assert_eq!(pick(&loc), [Some(6), Some(7)]);
    loc.flow_failed(6);
    assert_eq!(pick(&loc), [Some(5), Some(7)]);
    loc.flow_failed(5);
    assert_eq!(pick(&loc), [Some(7)]);
}

/// A flow comes back as it was registered, whatever the address family, connection and
/// local address, and the binding's strings around its stored tail stay intact.
#[test]
fn a_flow_comes_back_as_registered() {
    let (mut loc, now) = setup();
    let v6 = |s: &str| -> SocketAddr { s.parse().unwrap() };
    let flows = [
        flow(),
        FlowInfo {
            reliable: true,
            conn: Some(u64::MAX - 1),
            shard: 3,
            ..flow()
        },
        FlowInfo {
            reliable: false,
            local: v6("[2001:db8::1]:5060"),
            remote: SocketAddr::V6(std::net::SocketAddrV6::new(
                "fe80::1:2".parse().unwrap(),
                40_000,
                0x000a_bcde,
                7,
            )),
            conn: None,
            shard: 1,
        },
        FlowInfo {
            reliable: true,
            local: v6("[2001:db8::1]:5061"),
            remote: v6("[::ffff:192.0.2.9]:5070"),
            conn: Some(0),
            shard: u16::MAX,
        },
    ];
    let uris = [
        "sip:a@192.0.2.1",
        "sip:b@192.0.2.2;transport=tcp;ob",
        "sip:c@[2001:db8::9]",
        "sip:d@[2001:db8::a];transport=tcp;ob",
    ];
    for (i, (flow, uri)) in flows.iter().zip(uris).enumerate() {
        let aor = format!("sip:user{i}@example.com");
        let mut c = contact(uri);
        if i % 2 == 1 {
            c.instance = Some(INSTANCE_A);
            c.reg_id = Some(0x7fff_fff0 + i as u32);
        }
        let contacts = [c];
        let req = RegisterRequest {
            aor: aor.as_bytes(),
            path: if i >= 2 {
                b"<sip:edge.example.com;lr>"
            } else {
                b""
            },
            flow: *flow,
            ..request(&contacts, Some(600), 1)
        };
        loc.register(now, &req).unwrap();
        let b = loc.bindings(aor.as_bytes()).next().unwrap();
        assert_eq!(b.flow(), *flow, "flow {i}");
        assert_eq!(b.conn(), flow.conn);
        assert_eq!(b.reg_id(), c.reg_id);
        assert_eq!(b.outbound(), c.reg_id.is_some());
        assert_eq!(b.contact(), uri.as_bytes());
        assert_eq!(b.instance(), c.instance.unwrap_or_default());
        assert_eq!(b.path(), req.path);
    }
    // Three local addresses, each stored once.
    assert_eq!(loc.context.local(flows[3].local), Some(2));
}

/// An AoR keeps its bindings' strings in one allocation after its key: removing or replacing
/// one binding leaves the others' strings as they were.
#[test]
fn bindings_keep_their_strings_through_changes_to_their_neighbours() {
    let (mut loc, now) = setup();
    let with_v6 = FlowInfo {
        reliable: true,
        remote: "[2001:db8::7]:40000".parse().unwrap(),
        conn: Some(9),
        ..flow()
    };
    let path = b"<sip:edge.example.com;lr>, <sip:core.example.com;lr>";
    let c = [
        contact("sip:first@192.0.2.1"),
        instance_contact("sip:second@192.0.2.2;ob", INSTANCE_A, Some(1)),
        instance_contact("sip:third-longer@192.0.2.3", INSTANCE_B, None),
    ];
    let req = RegisterRequest {
        path,
        flow: with_v6,
        ..request(&c, Some(600), 1)
    };
    loc.register(now, &req).unwrap();
    let check = |loc: &Location, want: &[(&str, &[u8])]| {
        let mut got: Vec<(String, Vec<u8>, Vec<u8>, FlowInfo)> = loc
            .bindings(AOR)
            .map(|b| {
                let contact = String::from_utf8_lossy(b.contact()).into_owned();
                (contact, b.instance().to_vec(), b.path().to_vec(), b.flow())
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got.len(), want.len());
        for ((contact, instance, got_path, got_flow), (uri, want_instance)) in got.iter().zip(want)
        {
            assert_eq!((contact.as_str(), &instance[..]), (*uri, *want_instance));
            assert_eq!(&got_path[..], &path[..]);
            assert_eq!(*got_flow, with_v6);
        }
    };
    check(
        &loc,
        &[
            ("sip:first@192.0.2.1", b""),
            ("sip:second@192.0.2.2;ob", INSTANCE_A),
            ("sip:third-longer@192.0.2.3", INSTANCE_B),
        ],
    );
    // The outbound flow comes back with another contact: its strings change in place.
    let again = [instance_contact(
        "sip:second-again@192.0.2.2;ob",
        INSTANCE_A,
        Some(1),
    )];
    loc.register(
        now,
        &RegisterRequest {
            path,
            flow: with_v6,
            ..request(&again, Some(600), 2)
        },
    )
    .unwrap();
    check(
        &loc,
        &[
            ("sip:first@192.0.2.1", b""),
            ("sip:second-again@192.0.2.2;ob", INSTANCE_A),
            ("sip:third-longer@192.0.2.3", INSTANCE_B),
        ],
    );
    // The first one goes: the others' strings move up, whole.
    let mut gone = c[0];
    gone.expires = Some(0);
    let gone = [gone];
    loc.register(now, &request(&gone, None, 3)).unwrap();
    check(
        &loc,
        &[
            ("sip:second-again@192.0.2.2;ob", INSTANCE_A),
            ("sip:third-longer@192.0.2.3", INSTANCE_B),
        ],
    );
    let aor = loc.aors.get(loc.aors.find(AOR).unwrap()).unwrap();
    assert_eq!(aor.key(), AOR, "the key stays in front");
}

/// Expiry counts whole seconds from the location's creation: a binding registered at any
/// instant, however long after, says the interval it was granted, leaves within a second
/// after its interval ends and never before.
#[test]
fn expiry_counts_seconds_from_the_location_start() {
    let start = crate::sim::epoch();
    let mut loc = Location::new(RegistrarConfig::DEFAULT, start);
    let ten_years = Duration::from_secs(10 * 365 * 86_400);
    for at in [
        Duration::ZERO,
        Duration::from_millis(300),
        Duration::from_millis(999),
        ten_years + Duration::from_millis(1),
    ] {
        let now = start + at;
        let c = [contact("sip:alice@192.0.2.7")];
        loc.register(now, &request(&c, Some(600), 1)).unwrap();
        let b = loc.bindings(AOR).next().unwrap();
        assert_eq!(b.remaining(now), 600, "registered at {at:?}");
        let ends = now + Duration::from_secs(600);
        assert!(b.expires_at() >= ends && b.expires_at() < ends + Duration::from_secs(1));
        let due = b.expires_at();
        assert_eq!(loc.next_deadline(), Some(due));
        loc.expire(due - Duration::from_millis(1));
        assert_eq!(loc.len(), 1, "not before its second");
        loc.expire(due);
        assert!(loc.is_empty(), "gone at its second");
        assert_eq!(loc.next_deadline(), None);
    }
    // The clock's seconds: rounded up for an expiry, down for now; before the start is 0,
    // and beyond 2^32 seconds they stay at the last one.
    let context = &loc.context;
    let half = start + Duration::from_millis(1500);
    assert_eq!(
        (context.second_ceil(half), context.second_floor(half)),
        (2, 1)
    );
    let later = start + Duration::from_secs(u64::from(u32::MAX) + 5);
    assert_eq!(context.second_ceil(later), u32::MAX);
    assert_eq!(context.second_floor(later), u32::MAX);
    let early = Location::new(RegistrarConfig::DEFAULT, start + Duration::from_secs(5));
    assert_eq!(early.context.second_ceil(start), 0);
}

/// A refresh that pushes the expiry later files nothing new: the binding is filed again
/// when its old second comes. One that brings it earlier is filed at the earlier second.
#[test]
fn refreshes_do_not_pile_up_due_entries() {
    let (mut loc, now) = setup();
    let c = [contact("sip:alice@192.0.2.7")];
    loc.register(now, &request(&c, Some(600), 1)).unwrap();
    for cseq in 2..100 {
        let at = now + Duration::from_secs(u64::from(cseq));
        loc.register(at, &request(&c, Some(600), cseq)).unwrap();
    }
    assert_eq!(loc.due.len(), 1);
    assert_eq!(loc.next_deadline(), Some(now + Duration::from_secs(600)));
    // At its first second it is filed again for the last refresh's expiry (99 + 600).
    loc.expire(now + Duration::from_secs(600));
    assert_eq!((loc.len(), loc.due.len()), (1, 1));
    assert_eq!(loc.next_deadline(), Some(now + Duration::from_secs(699)));
    // A shorter one: filed at its own second; the later entry is stale and goes quietly.
    let at = now + Duration::from_secs(620);
    loc.register(at, &request(&c, Some(60), 100)).unwrap();
    assert_eq!(loc.due.len(), 2);
    assert_eq!(loc.next_deadline(), Some(now + Duration::from_secs(680)));
    kinds(&mut loc);
    loc.expire(now + Duration::from_secs(680));
    assert!(loc.is_empty());
    assert_eq!(kinds(&mut loc), [RegEventKind::Expired]);
    assert_eq!(loc.due.len(), 1, "the stale entry waits for its second");
    loc.expire(now + Duration::from_secs(699));
    assert_eq!((loc.due.len(), loc.next_deadline()), (0, None));
    assert!(kinds(&mut loc).is_empty());
}

/// The fixed part of a binding, an AoR's slot and its allocation, for the memory figures
/// (`cargo test --lib registrar::footprint -- --nocapture`).
pub(in crate::core::registrar) fn footprint() {
    let (mut loc, now) = setup();
    let key = b"sip:user123456@example.com";
    let udp = [contact("sip:user123456@192.0.2.1:5060;transport=udp")];
    let req = RegisterRequest {
        aor: key,
        call_id: b"0123456789abcdef0123456789abcdef",
        ..request(&udp, Some(3600), 1)
    };
    loc.register(now, &req).unwrap();
    let aor = loc.aors.get(loc.aors.find(key).unwrap()).unwrap();
    let text = aor.text_len();
    let stored = std::mem::size_of::<Stored>();
    let slot = crate::core::slots::slot_bytes::<Aor>();
    println!(
        "binding's fixed part {stored} B, inline in its AoR's slot of {slot} B; one allocation \
         of {text} B for the AoR key ({} B) and a UDP contact ({} B), the Call-ID kept as a \
         hash; a due entry 4 B",
        key.len(),
        udp[0].uri.len()
    );
    assert!(stored <= 48 && slot <= 72);
    assert_eq!(text, 2 + key.len() + udp[0].uri.len());
    assert_eq!(loc.due.len(), 1);
}
