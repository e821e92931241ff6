//! Bounded property tests of the SIP codec: arbitrary bytes never panic the parser, the
//! framer or a whole shard; what the writer builds parses back to the same values; a stream
//! cut at any points frames to the same messages; the editor's output always parses.

use proptest::prelude::*;

use drongo::core::sip::framer::{Frame, Framer, FramerLimits};
use drongo::core::sip::writer::{Editor, Writer};
use drongo::core::sip::{validate, Framing, HeaderName, Message, Method};
use drongo::sim::Sim;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const METHODS: [Method<'static>; 6] = [
    Method::Invite,
    Method::Options,
    Method::Register,
    Method::Bye,
    Method::Message,
    Method::Other(b"FROB"),
];

/// A request's parts: method index, user, host, port, extension headers, body.
type Parts = (usize, String, String, u16, Vec<(String, String)>, Vec<u8>);

fn request_parts() -> impl Strategy<Value = Parts> {
    (
        0..METHODS.len(),
        "[a-z][a-z0-9._-]{0,15}",
        "[a-z]([a-z0-9-]{0,9}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,9}[a-z0-9])?){0,3}",
        1u16..,
        prop::collection::vec(("X-[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,40}"), 0..8),
        prop::collection::vec(any::<u8>(), 0..300),
    )
}

fn build(parts: &Parts) -> Vec<u8> {
    let (m, user, host, port, extra, body) = parts;
    let method = METHODS[*m];
    let uri = format!("sip:{user}@{host}:{port}");
    let mut out = Vec::new();
    let mut w = Writer::request(&mut out, method, uri.as_bytes());
    w.header(
        "Via",
        format!("SIP/2.0/UDP {host}:{port};branch=z9hG4bK-{user}").as_bytes(),
    )
    .header("From", format!("<sip:{user}@{host}>;tag=f1").as_bytes())
    .header("To", format!("<{uri}>").as_bytes())
    .header("Call-ID", format!("{user}@{host}").as_bytes())
    .header_fmt(
        "CSeq",
        format_args!("{} {}", port, String::from_utf8_lossy(method.as_bytes())),
    )
    .header("Max-Forwards", b"70");
    for (name, value) in extra {
        w.header(name, value.trim().as_bytes());
    }
    w.finish(body);
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for framing in [Framing::Datagram, Framing::Stream] {
            if let Ok(msg) = Message::parse(&bytes, framing) {
                let _ = validate::message(&msg);
                let mut out = Vec::new();
                Editor::new(&msg).write_to(&mut out);
                prop_assert!(Message::parse(&out, Framing::Stream).is_ok());
            }
        }
        let server = "127.0.0.1:5060".parse().unwrap();
        let mut sim = Sim::new(1, Sim::template(server), 1);
        sim.send("192.0.2.1:5060".parse().unwrap(), server, &bytes);
        let stats = sim.shards()[0].stats();
        prop_assert_eq!(stats.accounted(), stats.received);
    }

    #[test]
    fn mutated_requests_never_panic_a_shard(
        parts in request_parts(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = build(&parts);
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let server = "127.0.0.1:5060".parse().unwrap();
        let mut sim = Sim::new(1, Sim::template(server), 2);
        sim.send("192.0.2.1:5060".parse().unwrap(), server, &bytes);
        let stats = sim.shards()[0].stats();
        prop_assert_eq!(stats.accounted(), stats.received);
        for d in sim.take_all() {
            prop_assert!(Message::parse(&d.bytes, Framing::Stream).is_ok(), "answers always parse");
        }
    }

    #[test]
    fn written_requests_parse_back(parts in request_parts()) {
        let bytes = build(&parts);
        let msg = Message::parse(&bytes, Framing::Stream).expect("parses");
        prop_assert!(validate::message(&msg).is_ok());
        let (m, user, host, port, extra, body) = &parts;
        prop_assert_eq!(msg.method(), Some(METHODS[*m]));
        let uri = format!("sip:{user}@{host}:{port}");
        prop_assert_eq!(msg.request().unwrap().uri, uri.as_bytes());
        for (name, value) in extra {
            let got = msg.headers().all(HeaderName::Other)
                .zip(msg.headers().fields().iter().filter(|f| f.name == HeaderName::Other));
            let found = got.into_iter().any(|(v, f)| msg.headers().name(f) == name.as_bytes() && v == value.trim().as_bytes());
            prop_assert!(found, "{} kept", name);
        }
        prop_assert_eq!(msg.body(), &body[..]);
    }

    #[test]
    fn a_stream_cut_anywhere_frames_the_same_messages(
        a in request_parts(),
        b in request_parts(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let (ma, mb) = (build(&a), build(&b));
        let mut stream = ma.clone();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(&mb);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len())).collect();
        points.push(stream.len());
        points.sort_unstable();
        let limits = FramerLimits { max_header_section: 8192, max_body: 8192 };
        let mut framer = Framer::new(limits);
        let (mut buf, mut got, mut skipped, mut fed) = (Vec::new(), Vec::new(), 0, 0);
        for p in points {
            buf.extend_from_slice(&stream[fed..p]);
            fed = p;
            loop {
                match framer.next(&buf).expect("well-formed stream") {
                    Frame::Partial => break,
                    Frame::Message(n) => got.push(buf.drain(..n).collect::<Vec<u8>>()),
                    Frame::Ping(n) => { skipped += n; buf.drain(..n); }
                    Frame::Pong(n) => { skipped += n; buf.drain(..n); }
                }
            }
        }
        prop_assert_eq!(got, vec![ma, mb]);
        // The keep-alive between them is skipped whole (as one ping, or as two CRLFs when a
        // read boundary splits it).
        prop_assert_eq!(skipped, 4);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn edited_messages_parse_with_the_edits(parts in request_parts(), new_body in prop::collection::vec(any::<u8>(), 0..200)) {
        let bytes = build(&parts);
        let msg = Message::parse(&bytes, Framing::Stream).unwrap();
        let mut out = Vec::new();
        let mut e = Editor::new(&msg);
        e.set_request_uri(b"sip:next@192.0.2.9:5080")
            .prepend_via(b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-edit")
            .add_record_route(b"<sip:192.0.2.1;lr>")
            .set_body(&new_body, Some(b"application/octet-stream"));
        e.write_to(&mut out);
        let edited = Message::parse(&out, Framing::Stream).expect("edited message parses");
        prop_assert!(validate::message(&edited).is_ok());
        prop_assert_eq!(edited.request().unwrap().uri, &b"sip:next@192.0.2.9:5080"[..]);
        prop_assert_eq!(edited.header(HeaderName::Via), Some(&b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-edit"[..]));
        prop_assert_eq!(edited.body(), &new_body[..]);
    }
}
