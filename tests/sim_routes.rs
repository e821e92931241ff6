//! Routing on the simulator (RFC 3261 §16.5 to §16.7): static routes to trunks from the
//! configuration (serial failover, parallel, longest user prefix, Drongo's own domain), a
//! router written in Rust, and serial forking of bindings by q, stopped by a 2xx, a 6xx or
//! the caller's CANCEL.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use drongo::config::Config;
use drongo::core::proxy::{Decision, Fork, ForkMode, NextHop, RouteRequest, RouterFactory};
use drongo::core::shard::ShardConfig;
use drongo::core::sip::{Framing, HeaderName, Message, Method};
use drongo::core::transaction::TimerConfig;
use drongo::sim::{Datagram, Sim};

const SERVER: &str = "127.0.0.1:5060";
const CALLER: &str = "198.51.100.5:5060";
const PHONE_A: &str = "192.0.2.10:40000";
const PHONE_B: &str = "192.0.2.11:40000";
const TRUNK_1: &str = "10.0.0.1:5060";
const TRUNK_2: &str = "10.0.0.2:5060";
const TRUNK_3: &str = "10.0.0.3:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One shard on the virtual network with the `[[routes]]` of `toml`.
fn sim_with(toml: &str, template: ShardConfig) -> Sim {
    let config = Config::from_toml_str(toml).unwrap();
    let template = ShardConfig {
        routes: Arc::new(config.static_routes().unwrap()),
        ..template
    };
    Sim::new(1, template, 11)
}

fn sim(toml: &str) -> Sim {
    sim_with(toml, Sim::template(addr(SERVER)))
}

/// A REGISTER of alice's `phone`, with `;q=` when `q` is given.
fn register(sim: &mut Sim, phone: &str, n: u32, q: Option<&str>) {
    let q = q.map(|q| format!(";q={q}")).unwrap_or_default();
    let req = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {phone};branch=z9hG4bK-reg{n};rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=r{n}\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: reg-{n}@{phone}\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@{phone}>{q};expires=3600\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sim.send(addr(phone), addr(SERVER), req.as_bytes());
    assert_eq!(statuses(&sim.take(addr(phone))), [200]);
}

/// A request from the caller; a CANCEL with the same `call` matches its INVITE.
fn request(method: &str, uri: &str, from_user: &str, call: u32, extra: &str) -> Vec<u8> {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bK-call{call}\r\n\
         From: <sip:{from_user}@example.net>;tag=c{call}\r\n\
         To: <{uri}>\r\n\
         Call-ID: call-{call}@198.51.100.5\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:{from_user}@198.51.100.5>\r\n\
         {extra}\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn invite(uri: &str) -> Vec<u8> {
    request("INVITE", uri, "carol", 1, "")
}

/// A UA's response to a request it received: every Via, From, To (with `tag`), Call-ID and
/// CSeq copied.
fn reply(request: &Datagram, status: u16, tag: &str) -> Vec<u8> {
    let msg = Message::parse(&request.bytes, Framing::Datagram).unwrap();
    let mut out = format!("SIP/2.0 {status} Whatever\r\n");
    for f in msg.headers().fields() {
        let line = String::from_utf8_lossy(&msg.buf()[f.line.range()]).into_owned();
        match f.name {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                out.push_str(&line);
                out.push_str("\r\n");
            }
            HeaderName::To if status > 100 => out.push_str(&format!("{line};tag={tag}\r\n")),
            HeaderName::To => out.push_str(&format!("{line}\r\n")),
            _ => {}
        }
    }
    if (200..300).contains(&status) {
        out.push_str("Contact: <sip:callee@192.0.2.99>\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

fn statuses(got: &[Datagram]) -> Vec<u16> {
    got.iter().filter_map(Datagram::status).collect()
}

fn methods(got: &[Datagram]) -> Vec<String> {
    got.iter()
        .map(|d| d.text().split(' ').next().unwrap_or_default().to_string())
        .collect()
}

/// The one request `peer` received, checked to be a `method`.
fn one(sim: &mut Sim, peer: &str, method: &str) -> Datagram {
    let mut got = sim.take(addr(peer));
    assert_eq!(methods(&got), [method], "{peer}: {got:?}");
    got.remove(0)
}

fn header(d: &Datagram, name: &str) -> Vec<String> {
    d.text()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
        .collect()
}

fn assert_accounted(sim: &Sim) {
    for s in sim.shards() {
        let s = s.stats();
        assert_eq!(s.accounted(), s.received, "{s:?}");
    }
}

const TRUNK: &str = r#"
[[routes]]
domain = "carrier.example"
user_prefix = "+44"
next_hops = ["sip:10.0.0.1:5060;transport=tcp", "sip:10.0.0.2", "sip:10.0.0.3"]
"#;

/// Serial failover: hop 1 cannot be reached (its TCP connection fails: 503), hop 2 answers
/// 503, hop 3 answers 200, which goes up. The Request-URI stays the carrier's; each hop is a
/// loose-routing Route.
#[test]
fn a_serial_trunk_route_fails_over_to_the_hop_that_answers() {
    let mut sim = sim(TRUNK);
    sim.set_unreachable(addr(TRUNK_1), true);
    let uri = "sip:+442071234567@carrier.example";
    sim.send(addr(CALLER), addr(SERVER), &invite(uri));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [100]);
    assert!(sim.take(addr(TRUNK_1)).is_empty(), "hop 1 is unreachable");
    let to_2 = one(&mut sim, TRUNK_2, "INVITE");
    assert!(sim.take(addr(TRUNK_3)).is_empty(), "one hop at a time");
    let text = to_2.text();
    assert!(
        text.starts_with(&format!("INVITE {uri} SIP/2.0\r\n")),
        "{text}"
    );
    assert_eq!(header(&to_2, "Route"), ["<sip:10.0.0.2:5060;lr>"]);
    assert_eq!(header(&to_2, "Record-Route"), ["<sip:127.0.0.1:5060;lr>"]);
    assert_eq!(header(&to_2, "Max-Forwards"), ["69"]);
    sim.send(addr(TRUNK_2), addr(SERVER), &reply(&to_2, 503, "t2"));
    assert_eq!(methods(&sim.take(addr(TRUNK_2))), ["ACK"]);
    assert!(
        sim.take(addr(CALLER)).is_empty(),
        "a 503 does not end the search"
    );
    let to_3 = one(&mut sim, TRUNK_3, "INVITE");
    sim.send(addr(TRUNK_3), addr(SERVER), &reply(&to_3, 180, "t3"));
    sim.send(addr(TRUNK_3), addr(SERVER), &reply(&to_3, 200, "t3"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [180, 200]);
    assert_eq!(sim.shards()[0].proxied_calls(), 0, "the call is over");
    assert_accounted(&sim);
}

/// A hop that never answers fails over after Timer B (64*T1 = 32 s) as a 408.
#[test]
fn a_serial_trunk_route_fails_over_from_a_silent_hop() {
    let mut sim = sim(TRUNK);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("sip:+441611234567@carrier.example"),
    );
    sim.take(addr(CALLER));
    // Over TCP: no retransmissions, only Timer B.
    assert_eq!(methods(&sim.take(addr(TRUNK_1))), ["INVITE"]);
    sim.advance(Duration::from_secs(31));
    assert!(sim.take(addr(TRUNK_2)).is_empty());
    sim.advance(Duration::from_millis(1_100));
    let to_2 = one(&mut sim, TRUNK_2, "INVITE");
    sim.send(addr(TRUNK_2), addr(SERVER), &reply(&to_2, 200, "t2"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [200]);
    assert!(sim.take(addr(TRUNK_3)).is_empty());
}

/// Every hop fails: the best response of them all goes up (§16.7 step 6).
#[test]
fn when_every_hop_fails_the_best_response_goes_up() {
    let mut sim = sim(TRUNK);
    sim.set_unreachable(addr(TRUNK_1), true);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("sip:+442071234567@carrier.example"),
    );
    sim.take(addr(CALLER));
    let to_2 = one(&mut sim, TRUNK_2, "INVITE");
    sim.send(addr(TRUNK_2), addr(SERVER), &reply(&to_2, 486, "t2"));
    let to_3 = one(&mut sim, TRUNK_3, "INVITE");
    assert!(sim.take(addr(CALLER)).is_empty());
    sim.send(addr(TRUNK_3), addr(SERVER), &reply(&to_3, 500, "t3"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [486]);
    assert_eq!(sim.shards()[0].proxied_calls(), 0);
}

/// A 6xx from a hop ends the search: the hops after it are not tried.
#[test]
fn a_6xx_from_a_trunk_ends_the_search() {
    let mut sim = sim(TRUNK);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("sip:+442071234567@carrier.example"),
    );
    sim.take(addr(CALLER));
    let to_1 = one(&mut sim, TRUNK_1, "INVITE");
    sim.send(addr(TRUNK_1), addr(SERVER), &reply(&to_1, 603, "t1"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [603]);
    assert!(sim.take(addr(TRUNK_2)).is_empty());
}

/// `mode = "parallel"`: every hop at once; the first 2xx wins and the other hop is cancelled.
#[test]
fn a_parallel_route_forks_to_every_hop() {
    let mut sim = sim(r#"
        [[routes]]
        domain = "carrier.example"
        next_hops = ["sip:10.0.0.1", "sip:10.0.0.2"]
        mode = "parallel"
    "#);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("sip:bob@carrier.example"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [100]);
    let to_1 = one(&mut sim, TRUNK_1, "INVITE");
    let to_2 = one(&mut sim, TRUNK_2, "INVITE");
    assert_eq!(header(&to_1, "Route"), ["<sip:10.0.0.1:5060;lr>"]);
    sim.send(addr(TRUNK_1), addr(SERVER), &reply(&to_1, 180, "t1"));
    sim.send(addr(TRUNK_2), addr(SERVER), &reply(&to_2, 200, "t2"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [180, 200]);
    let cancel = one(&mut sim, TRUNK_1, "CANCEL");
    sim.send(addr(TRUNK_1), addr(SERVER), &reply(&cancel, 200, "t1"));
    sim.send(addr(TRUNK_1), addr(SERVER), &reply(&to_1, 487, "t1"));
    assert_eq!(methods(&sim.take(addr(TRUNK_1))), ["ACK"]);
    assert!(sim.take(addr(CALLER)).is_empty());
    assert_eq!(sim.shards()[0].proxied_calls(), 0);
    assert_accounted(&sim);
}

/// The longest user prefix wins, whatever the domain; a route also takes calls to users of
/// Drongo's own domain that have no binding, with the hop as Request-URI; a registered user
/// is reached before any route; a request no route matches gets 404.
#[test]
fn the_longest_user_prefix_wins() {
    let mut sim = sim(r#"
        [[routes]]
        user_prefix = "+44"
        next_hops = ["sip:10.0.0.1"]

        [[routes]]
        user_prefix = "+4420"
        next_hops = ["sip:10.0.0.2:5080;transport=tcp"]

        [[routes]]
        user_prefix = "alice"
        next_hops = ["sip:10.0.0.3"]
    "#);
    let trunk_2_tcp = addr("10.0.0.2:5080");
    let calls = [
        ("sip:+442071234567@carrier.example", trunk_2_tcp),
        ("sip:+441611234567@carrier.example", addr(TRUNK_1)),
        ("tel:+442071234567", trunk_2_tcp),
    ];
    for (n, (uri, trunk)) in calls.into_iter().enumerate() {
        sim.send(
            addr(CALLER),
            addr(SERVER),
            &request("INVITE", uri, "carol", 10 + n as u32, ""),
        );
        let got = sim.take(trunk);
        assert_eq!(methods(&got), ["INVITE"], "{uri}");
        assert!(
            got[0].text().starts_with(&format!("INVITE {uri} ")),
            "{uri}"
        );
    }
    // Drongo's own domain, no binding: the hop becomes the Request-URI, user kept.
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("INVITE", "sip:+442071234567@127.0.0.1", "carol", 20, ""),
    );
    let got = sim.take(trunk_2_tcp);
    assert_eq!(methods(&got), ["INVITE"]);
    assert!(got[0]
        .text()
        .starts_with("INVITE sip:+442071234567@10.0.0.2:5080;transport=tcp SIP/2.0\r\n"));
    assert!(header(&got[0], "Route").is_empty());
    // A registered user is reached at its binding, not by the "alice" route.
    register(&mut sim, PHONE_A, 1, None);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("INVITE", "sip:alice@127.0.0.1", "carol", 21, ""),
    );
    one(&mut sim, PHONE_A, "INVITE");
    assert!(sim.take(addr(TRUNK_3)).is_empty());
    // No route for +33.
    sim.take(addr(CALLER));
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("INVITE", "sip:+33123456@carrier.example", "carol", 22, ""),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [404]);
    assert_accounted(&sim);
}

/// A PBX that uses Drongo as its outbound proxy (a Route naming Drongo, the carrier's URI)
/// is routed like a request sent to Drongo directly.
#[test]
fn a_request_through_drongo_as_outbound_proxy_takes_the_route() {
    let mut sim = sim(TRUNK);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request(
            "INVITE",
            "sip:+442071234567@carrier.example",
            "carol",
            1,
            "Route: <sip:127.0.0.1:5060;lr>\r\n",
        ),
    );
    let to_1 = one(&mut sim, TRUNK_1, "INVITE");
    assert_eq!(
        header(&to_1, "Route"),
        ["<sip:10.0.0.1:5060;transport=tcp;lr>"],
        "Drongo's own Route came off, the hop's went on"
    );
}

/// A router installed through the shard configuration (one per shard): it answers 403 to a
/// barred caller, sends calls to `sip:*@lab.example` to hops it computes, in parallel, and
/// leaves the rest to the location service and the static routes.
#[test]
fn a_custom_router_answers_forwards_or_falls_through() {
    let router = RouterFactory::new(|_shard| {
        Box::new(|r: &RouteRequest<'_, '_>| {
            let host = r.request_uri.as_bytes();
            if r.from.uri().user() == Some(&b"mallory"[..]) {
                Decision::Respond(403)
            } else if r.method == Method::Invite && host.ends_with(b"@lab.example") {
                Decision::Forward(Fork {
                    hops: vec![
                        NextHop::new(addr(TRUNK_2), false),
                        NextHop::new(addr(TRUNK_3), false),
                    ]
                    .into(),
                    mode: ForkMode::Parallel,
                })
            } else {
                Decision::FallThrough
            }
        })
    });
    let template = ShardConfig {
        router: Some(router),
        ..Sim::template(addr(SERVER))
    };
    let mut sim = sim_with(TRUNK, template);
    register(&mut sim, PHONE_A, 1, None);
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("INVITE", "sip:alice@127.0.0.1", "mallory", 1, ""),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [403]);
    assert!(sim.take(addr(PHONE_A)).is_empty());
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("INVITE", "sip:alice@127.0.0.1", "carol", 2, ""),
    );
    one(&mut sim, PHONE_A, "INVITE");
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("INVITE", "sip:bob@lab.example", "carol", 3, ""),
    );
    one(&mut sim, TRUNK_2, "INVITE");
    one(&mut sim, TRUNK_3, "INVITE");
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request(
            "INVITE",
            "sip:+442071234567@carrier.example",
            "carol",
            4,
            "",
        ),
    );
    one(&mut sim, TRUNK_1, "INVITE");
    assert_accounted(&sim);
}

/// `Shard::set_router` installs a router on one running shard.
#[test]
fn set_router_replaces_the_routing_of_a_shard() {
    let mut sim = sim(TRUNK);
    sim.shard_mut(0)
        .set_router(Box::new(|_: &RouteRequest<'_, '_>| Decision::Respond(480)));
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &invite("sip:+442071234567@carrier.example"),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [480]);
    assert!(sim.take(addr(TRUNK_1)).is_empty());
    // A fork to no hop at all: nothing to try, 480 (§16.7 step 6 with no response).
    sim.shard_mut(0)
        .set_router(Box::new(|_: &RouteRequest<'_, '_>| {
            Decision::Forward(Fork {
                hops: Vec::new().into(),
                mode: ForkMode::Serial,
            })
        }));
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request(
            "INVITE",
            "sip:+442071234567@carrier.example",
            "carol",
            2,
            "",
        ),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [100, 480]);
    assert_eq!(sim.shards()[0].proxied_calls(), 0);
    // A request for Drongo itself (no user part) is not routed, whatever the router says.
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("MESSAGE", "sip:127.0.0.1", "carol", 3, ""),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [404]);
    assert_accounted(&sim);
}

fn two_phones_by_q() -> Sim {
    let mut sim = sim("");
    register(&mut sim, PHONE_A, 1, Some("1.0"));
    register(&mut sim, PHONE_B, 2, Some("0.5"));
    sim
}

/// Bindings with q 1.0 and 0.5: the q=1.0 phone alone first; its 486 does not end the search
/// (only a 2xx or a 6xx does, §16.7), so the q=0.5 phone is tried and its 200 goes up.
#[test]
fn bindings_are_forked_serially_by_q() {
    let mut sim = two_phones_by_q();
    sim.send(addr(CALLER), addr(SERVER), &invite("sip:alice@127.0.0.1"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [100]);
    let to_a = one(&mut sim, PHONE_A, "INVITE");
    assert!(sim.take(addr(PHONE_B)).is_empty(), "q=0.5 waits");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 180, "a"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [180]);
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 486, "a"));
    assert_eq!(methods(&sim.take(addr(PHONE_A))), ["ACK"]);
    assert!(sim.take(addr(CALLER)).is_empty(), "a 486 does not end it");
    let to_b = one(&mut sim, PHONE_B, "INVITE");
    assert!(to_b
        .text()
        .starts_with("INVITE sip:alice@192.0.2.11:40000 SIP/2.0\r\n"));
    sim.send(addr(PHONE_B), addr(SERVER), &reply(&to_b, 200, "b"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [200]);
    assert_eq!(sim.shards()[0].proxied_calls(), 0);
    assert_accounted(&sim);
}

/// Both groups fail: the best response over both goes up, once the last group is done.
#[test]
fn the_best_response_covers_every_group() {
    let mut sim = two_phones_by_q();
    sim.send(addr(CALLER), addr(SERVER), &invite("sip:alice@127.0.0.1"));
    sim.take(addr(CALLER));
    let to_a = one(&mut sim, PHONE_A, "INVITE");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 486, "a"));
    let to_b = one(&mut sim, PHONE_B, "INVITE");
    sim.send(addr(PHONE_B), addr(SERVER), &reply(&to_b, 503, "b"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [486]);
}

/// A 6xx from the first group ends the search: the q=0.5 phone never rings.
#[test]
fn a_6xx_ends_serial_forking() {
    let mut sim = two_phones_by_q();
    sim.send(addr(CALLER), addr(SERVER), &invite("sip:alice@127.0.0.1"));
    sim.take(addr(CALLER));
    let to_a = one(&mut sim, PHONE_A, "INVITE");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 600, "a"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [600]);
    assert_eq!(methods(&sim.take(addr(PHONE_A))), ["ACK"]);
    assert!(sim.take(addr(PHONE_B)).is_empty());
    assert_eq!(sim.shards()[0].proxied_calls(), 0);
}

/// §16.10: the caller's CANCEL while the q=1.0 phone rings cancels it and stops the search;
/// its 487 is the INVITE's answer and the q=0.5 phone is never tried.
#[test]
fn the_callers_cancel_stops_the_later_groups() {
    let mut sim = two_phones_by_q();
    sim.send(addr(CALLER), addr(SERVER), &invite("sip:alice@127.0.0.1"));
    sim.take(addr(CALLER));
    let to_a = one(&mut sim, PHONE_A, "INVITE");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 180, "a"));
    sim.take(addr(CALLER));
    sim.send(
        addr(CALLER),
        addr(SERVER),
        &request("CANCEL", "sip:alice@127.0.0.1", "carol", 1, ""),
    );
    assert_eq!(statuses(&sim.take(addr(CALLER))), [200]);
    let cancel = one(&mut sim, PHONE_A, "CANCEL");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&cancel, 200, "a"));
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 487, "a"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [487]);
    assert_eq!(methods(&sim.take(addr(PHONE_A))), ["ACK"]);
    assert!(sim.take(addr(PHONE_B)).is_empty(), "no later group");
    assert_eq!(sim.shards()[0].proxied_calls(), 0);
    assert_accounted(&sim);
}

/// Timer C ends a group that rings too long (§16.8: CANCEL, then its 487), and the search
/// goes on to the next group.
#[test]
fn timer_c_moves_the_search_on() {
    let template = ShardConfig {
        timers: TimerConfig {
            timer_c: Duration::from_secs(20),
            ..TimerConfig::RFC
        },
        ..Sim::template(addr(SERVER))
    };
    let mut sim = sim_with("", template);
    register(&mut sim, PHONE_A, 1, Some("0.9"));
    register(&mut sim, PHONE_B, 2, Some("0.1"));
    sim.send(addr(CALLER), addr(SERVER), &invite("sip:alice@127.0.0.1"));
    sim.take(addr(CALLER));
    let to_a = one(&mut sim, PHONE_A, "INVITE");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 180, "a"));
    sim.advance(Duration::from_secs(19));
    assert!(sim.take(addr(PHONE_A)).is_empty());
    sim.advance(Duration::from_millis(1_100));
    let cancel = one(&mut sim, PHONE_A, "CANCEL");
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&cancel, 200, "a"));
    sim.send(addr(PHONE_A), addr(SERVER), &reply(&to_a, 487, "a"));
    let to_b = one(&mut sim, PHONE_B, "INVITE");
    sim.send(addr(PHONE_B), addr(SERVER), &reply(&to_b, 200, "b"));
    assert_eq!(statuses(&sim.take(addr(CALLER))), [180, 200]);
}
