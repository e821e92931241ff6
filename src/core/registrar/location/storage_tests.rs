//! The storage behind the rules: flows, strings and expiry seconds as a binding keeps them,
//! and the sizes.

use super::tests::{
    contact, flow, instance_contact, kinds, request, setup, AOR, INSTANCE_A, INSTANCE_B,
};
use super::*;
use std::time::Duration;

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
