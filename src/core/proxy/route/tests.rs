use super::*;

fn hop(text: &str) -> NextHop {
    NextHop::parse(text).unwrap()
}

fn route(domain: Option<&str>, prefix: &str, hops: &[&str], mode: ForkMode) -> Route {
    Route {
        domain: domain.map(RouteDomain::parse),
        user_prefix: prefix.as_bytes().into(),
        hops: hops.iter().map(|h| hop(h)).collect(),
        mode,
    }
}

/// The first hop of the route a Request-URI takes.
fn first_hop(table: &StaticRoutes, uri: &str) -> Option<String> {
    let uri = Uri::parse(uri.as_bytes()).unwrap();
    table.lookup(&uri).map(|r| r.hops[0].to_string())
}

#[test]
fn next_hops_are_ip_literals_with_udp_or_tcp() {
    let h = hop("sip:10.0.0.1:5070;transport=tcp");
    assert_eq!(h.addr(), "10.0.0.1:5070".parse().unwrap());
    assert!(h.is_tcp());
    let h = hop("sip:10.0.0.2");
    assert_eq!((h.addr().port(), h.is_tcp()), (5060, false));
    let h = hop("sip:[2001:db8::1];transport=UDP;lr");
    assert_eq!(h.addr(), "[2001:db8::1]:5060".parse().unwrap());
    assert_eq!(h.to_string(), "sip:[2001:db8::1]:5060");
    assert_eq!(
        hop("SIP:10.0.0.1;TRANSPORT=TCP").to_string(),
        "sip:10.0.0.1:5060;transport=tcp"
    );
    for (text, error) in [
        ("10.0.0.1:5060", HopError::Malformed),
        ("sip:10.0.0.1 ", HopError::Malformed),
        ("sips:10.0.0.1", HopError::Scheme),
        ("tel:+4420", HopError::Scheme),
        ("sip:trunk.example.com", HopError::HostName),
        ("sip:gw@10.0.0.1", HopError::User),
        ("sip:10.0.0.1:0", HopError::Port),
        (
            "sip:10.0.0.1;transport=tls",
            HopError::Transport("tls".into()),
        ),
        (
            "sip:10.0.0.1;maddr=10.0.0.2",
            HopError::Param("maddr".into()),
        ),
        ("sip:10.0.0.1?Subject=x", HopError::Headers),
    ] {
        assert_eq!(NextHop::parse(text), Err(error), "{text}");
    }
    assert!(HopError::HostName.to_string().contains("DNS"));
}

#[test]
fn a_hop_writes_a_loose_route_and_a_request_uri() {
    let mut out = Vec::new();
    hop("sip:10.0.0.1;transport=tcp").write_route(&mut out);
    assert_eq!(out, b"<sip:10.0.0.1:5060;transport=tcp;lr>");
    out.clear();
    hop("sip:[2001:db8::1]:5080").write_route(&mut out);
    assert_eq!(out, b"<sip:[2001:db8::1]:5080;lr>");
    out.clear();
    hop("sip:10.0.0.1;transport=tcp").write_uri(Some(b"+442071234567"), &mut out);
    assert_eq!(out, b"sip:+442071234567@10.0.0.1:5060;transport=tcp");
    out.clear();
    hop("sip:10.0.0.1").write_uri(None, &mut out);
    assert_eq!(out, b"sip:10.0.0.1:5060");
}

#[test]
fn the_longest_user_prefix_wins_then_a_named_domain() {
    let table = StaticRoutes::new(vec![
        route(None, "", &["sip:10.0.0.9"], ForkMode::Serial),
        route(None, "+44", &["sip:10.0.0.1"], ForkMode::Serial),
        route(None, "+4420", &["sip:10.0.0.2"], ForkMode::Serial),
        route(
            Some("carrier.example"),
            "+44",
            &["sip:10.0.0.3"],
            ForkMode::Serial,
        ),
        route(
            Some("carrier.example"),
            "",
            &["sip:10.0.0.4"],
            ForkMode::Serial,
        ),
        route(Some("192.0.2.50"), "", &["sip:10.0.0.5"], ForkMode::Serial),
    ]);
    let cases = [
        ("sip:+442071234567@other.example", "sip:10.0.0.2:5060"),
        ("sip:+441611234567@other.example", "sip:10.0.0.1:5060"),
        ("sip:+441611234567@Carrier.Example.", "sip:10.0.0.3:5060"),
        ("sip:+442071234567@carrier.example", "sip:10.0.0.2:5060"),
        ("sip:+331234@carrier.example", "sip:10.0.0.4:5060"),
        ("sip:carrier.example", "sip:10.0.0.4:5060"),
        ("sip:+331234@other.example", "sip:10.0.0.9:5060"),
        ("tel:+442071234567", "sip:10.0.0.2:5060"),
        ("sip:bob@192.0.2.50:5062", "sip:10.0.0.5:5060"),
        ("sip:bob@[::ffff:192.0.2.50]", "sip:10.0.0.5:5060"),
    ];
    for (uri, want) in cases {
        assert_eq!(first_hop(&table, uri).as_deref(), Some(want), "{uri}");
    }
}

#[test]
fn no_route_matches_without_a_catch_all() {
    let table = StaticRoutes::new(vec![
        route(
            Some("carrier.example"),
            "",
            &["sip:10.0.0.4"],
            ForkMode::Serial,
        ),
        route(None, "+44", &["sip:10.0.0.1"], ForkMode::Serial),
    ]);
    for uri in [
        "sip:+44123@notcarrier.example",
        "sip:4420@other.example",
        "sip:alice@carrier.example.net",
        "tel:+33123",
    ] {
        let got = first_hop(&table, uri);
        assert!(
            got.is_none() || uri.contains("+44123"),
            "{uri} matched {got:?}"
        );
    }
    assert_eq!(
        first_hop(&table, "sip:+44123@notcarrier.example").as_deref(),
        Some("sip:10.0.0.1:5060")
    );
    assert!(StaticRoutes::default().is_empty());
}

fn request_for(uri: &'static str, run: impl FnOnce(&RouteRequest<'_, '_>)) {
    use crate::core::sip::message::{Framing, Message};
    let text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-1\r\n\
         From: <sip:carol@example.net>;tag=1\r\nTo: <{uri}>\r\nCall-ID: r1\r\n\
         CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let msg = Message::parse(text.as_bytes(), Framing::Datagram).unwrap();
    let checked = crate::core::sip::validate::message(&msg).unwrap();
    let request = RouteRequest {
        method: Method::Invite,
        request_uri: checked.request_uri.unwrap(),
        from: checked.from,
        to: checked.to,
        call_id: checked.call_id,
        headers: msg.headers(),
        source: "192.0.2.9:5060".parse().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        reliable: false,
        served: false,
    };
    run(&request);
}

#[test]
fn the_static_table_is_a_router_that_lends_its_hops() {
    let mut table = StaticRoutes::new(vec![route(
        None,
        "+44",
        &["sip:10.0.0.1;transport=tcp", "sip:10.0.0.2"],
        ForkMode::Parallel,
    )]);
    request_for("sip:+4420@carrier.example", |r| match table.route(r) {
        Decision::Forward(fork) => {
            assert!(matches!(fork.hops, Cow::Borrowed(_)));
            assert_eq!(fork.hops.len(), 2);
            assert_eq!(fork.mode, ForkMode::Parallel);
        }
        other => panic!("{other:?}"),
    });
    request_for("sip:+33@carrier.example", |r| {
        assert_eq!(table.route(r), Decision::FallThrough)
    });
}

#[test]
fn a_closure_is_a_router() {
    let mut calls = 0;
    let mut router = |r: &RouteRequest<'_, '_>| {
        calls += 1;
        if r.from.uri().user() == Some(&b"carol"[..]) {
            Decision::Respond(403)
        } else {
            Decision::FallThrough
        }
    };
    request_for("sip:bob@example.com", |r| {
        assert_eq!(Router::route(&mut router, r), Decision::Respond(403));
    });
    assert_eq!(calls, 1);
}

#[test]
fn reason_phrases() {
    assert_eq!(reason_phrase(403), "Forbidden");
    assert_eq!(reason_phrase(480), "Temporarily Unavailable");
    assert_eq!(reason_phrase(499), "Client Error");
    assert_eq!(reason_phrase(699), "Global Failure");
}
