use super::*;
use crate::core::sip::message::Framing;
use crate::core::sip::uri::Host;
use crate::core::sip::validate;

const ME: &str = "192.0.2.1";

fn is_me(uri: &Uri<'_>) -> bool {
    matches!(uri.host(), Some(Host::V4(ip)) if ip.to_string() == ME)
        && uri.port().is_none_or(|p| p == 5060)
}

fn invite(uri: &str, extra: &str) -> String {
    format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-up\r\n\
         {extra}\
         Max-Forwards: 10\r\n\
         From: <sip:carol@example.net>;tag=c1\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: fw-1\r\n\
         CSeq: 1 INVITE\r\n\
         Content-Length: 4\r\n\r\n\
         v=0\n"
    )
}

fn forwarded(req: &str, plan: impl Fn(Preprocess<'_>) -> Plan<'_>) -> (String, String) {
    let msg = Message::parse(req.as_bytes(), Framing::Datagram).unwrap();
    let checked = validate::message(&msg).unwrap();
    let pre = preprocess(&msg, &checked, is_me);
    let plan = plan(pre);
    let mut out = Vec::new();
    write(&msg, &checked, &plan, &mut out);
    let hop = next_hop(&msg, &checked, &plan)
        .map(|u| String::from_utf8_lossy(u.as_bytes()).into_owned())
        .unwrap_or_default();
    (String::from_utf8(out).unwrap(), hop)
}

fn plan<'a>(pre: Preprocess<'a>, request_uri: Option<&'a [u8]>) -> Plan<'a> {
    Plan {
        pre,
        request_uri,
        push_route: b"",
        record_route: Some(b"<sip:192.0.2.1:5060;lr>"),
        via: b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-00-down;rport",
    }
}

fn header_lines<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.lines()
        .filter_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .collect()
}

/// §16.6: the target becomes the Request-URI, Max-Forwards goes down by one, Record-Route
/// and Via are added on top, and the body is untouched.
#[test]
fn a_request_to_a_registered_contact() {
    let req = invite("sip:alice@example.com", "");
    let (out, hop) = forwarded(&req, |pre| plan(pre, Some(b"sip:alice@203.0.113.5:5062")));
    assert!(out.starts_with("INVITE sip:alice@203.0.113.5:5062 SIP/2.0\r\n"));
    assert_eq!(header_lines(&out, "Max-Forwards"), ["9"]);
    assert_eq!(
        header_lines(&out, "Record-Route"),
        ["<sip:192.0.2.1:5060;lr>"]
    );
    assert_eq!(
        header_lines(&out, "Via"),
        [
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-00-down;rport",
            "SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-up"
        ]
    );
    assert!(out.ends_with("Content-Length: 4\r\n\r\nv=0\n"));
    assert_eq!(hop, "sip:alice@203.0.113.5:5062");
    let reparsed = Message::parse(out.as_bytes(), Framing::Datagram).unwrap();
    assert!(validate::message(&reparsed).is_ok());
}

/// §16.4: a loose-routed request whose top Route is Drongo loses that value and goes to the
/// next Route.
#[test]
fn our_route_comes_off_and_the_next_one_is_the_hop() {
    let req = invite(
        "sip:bob@203.0.113.7",
        "Route: <sip:192.0.2.1;lr>, <sip:198.51.100.20;lr>\r\n",
    );
    let (out, hop) = forwarded(&req, |pre| {
        assert!(pre.pop_top_route.is_some());
        plan(pre, None)
    });
    assert_eq!(header_lines(&out, "Route"), ["<sip:198.51.100.20;lr>"]);
    assert!(out.starts_with("INVITE sip:bob@203.0.113.7 SIP/2.0\r\n"));
    assert_eq!(hop, "sip:198.51.100.20;lr");
}

/// A Route line holding only Drongo goes entirely; then the Request-URI is the hop.
#[test]
fn a_route_set_of_only_us_leaves_the_request_uri() {
    let req = invite("sip:bob@203.0.113.7", "Route: <sip:192.0.2.1:5060;lr>\r\n");
    let (out, hop) = forwarded(&req, |pre| plan(pre, None));
    assert!(header_lines(&out, "Route").is_empty());
    assert_eq!(hop, "sip:bob@203.0.113.7");
}

/// §16.4: the previous hop was a strict router, so the Request-URI is Drongo's own
/// Record-Route value: the last Route value becomes the Request-URI and comes off.
#[test]
fn strict_router_repair() {
    let req = invite(
        "sip:192.0.2.1;lr",
        "Route: <sip:198.51.100.20;lr>\r\nRoute: <sip:bob@203.0.113.7>\r\n",
    );
    let (out, hop) = forwarded(&req, |pre| {
        assert_eq!(pre.strict_repair, Some(&b"sip:bob@203.0.113.7"[..]));
        plan(pre, None)
    });
    assert!(
        out.starts_with("INVITE sip:bob@203.0.113.7 SIP/2.0\r\n"),
        "{out}"
    );
    assert_eq!(header_lines(&out, "Route"), ["<sip:198.51.100.20;lr>"]);
    assert_eq!(hop, "sip:198.51.100.20;lr");
}

/// RFC 3327: a binding's Path becomes the Route set, and its first value is the hop.
#[test]
fn a_path_is_pushed_as_route() {
    let req = invite("sip:alice@example.com", "");
    let (out, hop) = forwarded(&req, |pre| Plan {
        push_route: b"<sip:edge.example.net;lr>",
        ..plan(pre, Some(b"sip:alice@10.0.0.5"))
    });
    assert_eq!(header_lines(&out, "Route"), ["<sip:edge.example.net;lr>"]);
    assert_eq!(hop, "sip:edge.example.net;lr");
}

/// A request without Max-Forwards gets 70 (§16.6 step 3).
#[test]
fn max_forwards_is_added_when_missing() {
    let req = invite("sip:alice@example.com", "").replace("Max-Forwards: 10\r\n", "");
    let (out, _) = forwarded(&req, |pre| plan(pre, Some(b"sip:alice@10.0.0.5")));
    assert_eq!(header_lines(&out, "Max-Forwards"), ["70"]);
}

/// Whether a route set goes on past Drongo once its own value is off: an initial request
/// whose only Route is Drongo (Drongo as outbound proxy) is Drongo's to route.
#[test]
fn routes_remain_past_drongo() {
    for (routes, remain) in [
        ("", false),
        ("Route: <sip:192.0.2.1;lr>\r\n", false),
        (
            "Route: <sip:192.0.2.1;lr>, <sip:198.51.100.20;lr>\r\n",
            true,
        ),
        (
            "Route: <sip:192.0.2.1;lr>\r\nRoute: <sip:198.51.100.20;lr>\r\n",
            true,
        ),
        ("Route: <sip:198.51.100.20;lr>\r\n", true),
    ] {
        let req = invite("sip:bob@203.0.113.7", routes);
        let msg = Message::parse(req.as_bytes(), Framing::Datagram).unwrap();
        let checked = validate::message(&msg).unwrap();
        let pre = preprocess(&msg, &checked, is_me);
        assert_eq!(routes_remain(&msg, &pre), remain, "{routes}");
    }
}
