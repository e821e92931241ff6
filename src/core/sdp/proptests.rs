//! Bounded property tests: the parser never panics, an editor without edits reproduces its
//! input byte-for-byte, edited output parses, and builder output parses back to its values.
//! Fixed seed, so a run is reproducible; no regression files are written.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::*;

fn config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x5d9_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Reads every view of a parsed description, so none of them may panic either.
fn touch_everything(sdp: &Sdp<'_>) {
    let _ = (
        sdp.origin().ip(),
        sdp.origin().sess_version_u64(),
        sdp.session_name(),
    );
    let _ = (
        sdp.connections().count(),
        sdp.bandwidths().count(),
        sdp.timings().count(),
    );
    let _ = (sdp.direction(), sdp.lines().count());
    for a in sdp.attributes() {
        let _ = (
            a.rtpmap(),
            a.fmtp(),
            a.ptime(),
            a.maxptime(),
            a.direction(),
            a.rtcp(),
            a.value_str(),
        );
    }
    for m in sdp.media_sections() {
        let _ = (
            m.formats().count(),
            m.effective_connection().and_then(|c| c.ip()),
        );
        let _ = (
            m.rtpmaps().count(),
            m.fmtp("0"),
            m.ptime(),
            m.maxptime(),
            m.direction(),
            m.rtcp(),
            m.rtcp_mux(),
        );
        let _ = m.bandwidths().count();
    }
}

/// Writes with no edits (must be identical) and with a relay's edits (must parse).
fn check_writes(buf: &[u8], sdp: &Sdp<'_>) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    SdpEditor::new(sdp).write_to(&mut out);
    prop_assert_eq!(&out[..], buf);

    let relay = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    let mut editor = SdpEditor::new(sdp);
    editor.set_origin_address(relay).increment_sess_version();
    editor.set_connection(Scope::Session, relay).unwrap();
    editor
        .set_direction(Scope::Session, Direction::SendRecv)
        .unwrap();
    for m in sdp.media_sections() {
        let n = m.index();
        editor.set_connection(Scope::Media(n), relay).unwrap();
        let port = if m.formats().next().is_some() {
            40000
        } else {
            0
        };
        editor
            .set_media_port(n, port)
            .unwrap()
            .set_rtcp(n, 40001, Some(relay))
            .unwrap();
        editor
            .add_attribute(Scope::Media(n), NewAttribute::RtcpMux)
            .unwrap();
        let _ = editor.retain_formats(n, |f| f != "8");
    }
    out.clear();
    editor.write_to(&mut out);
    let again = Sdp::parse(&out);
    prop_assert!(
        again.is_ok(),
        "{:?}\n{}",
        again,
        String::from_utf8_lossy(&out)
    );
    let again = again.unwrap();
    prop_assert_eq!(again.media_count(), sdp.media_count());
    prop_assert_eq!(again.origin().ip(), Some(relay));
    Ok(())
}

/// Lines that are mostly valid SDP, with some junk, joined with mixed line ends.
fn sdp_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just("c=IN IP4 192.0.2.1".to_string()),
        Just("c=IN IP6 2001:db8::1".to_string()),
        Just("c=IN IP4 224.2.1.1/127/3".to_string()),
        Just("t=0 0".to_string()),
        Just("b=AS:64".to_string()),
        Just("a=sendonly".to_string()),
        Just("a=rtcp-mux".to_string()),
        Just("a=rtcp:9 IN IP4 0.0.0.0".to_string()),
        Just("a=fmtp:101 0-16".to_string()),
        "a=rtpmap:[0-9]{1,3} [A-Za-z0-9-]{1,8}/[0-9]{1,6}(/[0-9])?",
        "m=(audio|video) [0-9]{1,5}(/[0-9])? RTP/AVP( [0-9]{1,3}){0,4}",
        "[a-z]=[ -~]{0,12}",
        "[ -~]{0,8}",
        Just(String::new()),
    ];
    let end = prop_oneof![Just("\r\n"), Just("\n"), Just(" \r\n"), Just("\t\n")];
    (proptest::collection::vec((line, end), 0..14), any::<bool>()).prop_map(|(lines, last_end)| {
        let mut text = String::from("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n");
        let count = lines.len();
        for (i, (line, end)) in lines.into_iter().enumerate() {
            text.push_str(&line);
            if i + 1 < count || last_end {
                text.push_str(end);
            }
        }
        text.into_bytes()
    })
}

fn ip_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
    ]
}

#[derive(Debug, Clone)]
struct MediaValues {
    media: String,
    port: u16,
    formats: Vec<String>,
    rtpmap: (u8, String, u32, Option<u16>),
    ptime: u32,
    direction: Direction,
    rtcp: Option<u16>,
}

fn media_values() -> impl Strategy<Value = MediaValues> {
    let direction = prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive)
    ];
    (
        "audio|video|text|application",
        any::<u16>(),
        proptest::collection::vec("[0-9]{1,3}", 1..6),
        (
            0u8..128,
            "[A-Za-z0-9-]{1,12}",
            any::<u32>(),
            proptest::option::of(any::<u16>()),
        ),
        any::<u32>(),
        direction,
        proptest::option::of(any::<u16>()),
    )
        .prop_map(
            |(media, port, formats, rtpmap, ptime, direction, rtcp)| MediaValues {
                media,
                port,
                formats,
                rtpmap,
                ptime,
                direction,
                rtcp,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(sdp) = Sdp::parse(&bytes) {
            touch_everything(&sdp);
            check_writes(&bytes, &sdp)?;
        }
    }

    #[test]
    fn sdp_like_input_round_trips(buf in sdp_like()) {
        if let Ok(sdp) = Sdp::parse(&buf) {
            touch_everything(&sdp);
            check_writes(&buf, &sdp)?;
        }
    }

    #[test]
    fn corrupted_offer_never_panics(flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..6)) {
        let mut buf = b"v=0\r\no=- 3724394400 3724394400 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
                        t=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
                        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=rtcp:49171\r\n".to_vec();
        for (at, byte) in flips {
            let at = at % buf.len();
            buf[at] = byte;
        }
        if let Ok(sdp) = Sdp::parse(&buf) {
            touch_everything(&sdp);
            check_writes(&buf, &sdp)?;
        };
    }

    #[test]
    fn builder_output_parses_back(
        username in "[a-zA-Z0-9_-]{1,10}",
        sess_id in "[0-9]{1,25}",
        sess_version in "[0-9]{1,25}",
        origin_ip in ip_addr(),
        session_name in "([!-~][ -~]{0,20}[!-~])?",
        connection_ip in proptest::option::of(ip_addr()),
        timing in (any::<u64>(), any::<u64>()),
        media in proptest::collection::vec(media_values(), 0..4),
    ) {
        let origin_text = IpText::new(origin_ip);
        let origin = Origin {
            username: &username,
            sess_id: &sess_id,
            sess_version: &sess_version,
            nettype: "IN",
            addrtype: AddrType::of(&origin_ip),
            unicast_address: origin_text.as_str(),
        };
        let connection_text = connection_ip.map(IpText::new);
        let timing = Timing { start: timing.0, stop: timing.1 };
        let mut builder = SdpBuilder::new(origin, session_name.as_bytes()).timing(timing);
        if let (Some(ip), Some(text)) = (connection_ip, &connection_text) {
            builder = builder.connection(Connection::unicast(AddrType::of(&ip), text.as_str()));
        }
        for m in &media {
            let (payload_type, ref encoding_name, clock_rate, channels) = m.rtpmap;
            let mut section = MediaBuilder::new(&m.media, m.port, "RTP/AVP")
                .attribute(NewAttribute::Rtpmap(Rtpmap { payload_type, encoding_name, clock_rate, channels }))
                .attribute(NewAttribute::Ptime(m.ptime))
                .attribute(NewAttribute::Direction(m.direction));
            for f in &m.formats {
                section = section.format(f);
            }
            if let Some(port) = m.rtcp {
                section = section.attribute(NewAttribute::Rtcp(Rtcp { port, address: None }));
            }
            builder = builder.media(section);
        }
        let mut out = Vec::new();
        builder.write_to(&mut out).unwrap();

        let sdp = Sdp::parse(&out).unwrap();
        prop_assert_eq!(sdp.origin(), &origin);
        prop_assert_eq!(sdp.origin().ip(), Some(origin_ip));
        prop_assert_eq!(sdp.session_name(), session_name.as_bytes());
        prop_assert_eq!(sdp.connection().and_then(|c| c.ip()), connection_ip);
        prop_assert!(sdp.timings().eq([timing]));
        prop_assert_eq!(sdp.media_count(), media.len());
        for (parsed, m) in sdp.media_sections().zip(&media) {
            prop_assert_eq!((parsed.media(), parsed.port(), parsed.proto()), (&m.media[..], m.port, "RTP/AVP"));
            prop_assert!(parsed.formats().eq(m.formats.iter().map(String::as_str)));
            let (payload_type, ref encoding_name, clock_rate, channels) = m.rtpmap;
            let rtpmap = Rtpmap { payload_type, encoding_name, clock_rate, channels };
            prop_assert_eq!(parsed.rtpmap(payload_type), Some(rtpmap));
            prop_assert_eq!(parsed.ptime(), Some(m.ptime));
            prop_assert_eq!(parsed.direction(), m.direction);
            prop_assert_eq!(parsed.rtcp().map(|r| r.port), m.rtcp);
        }
    }
}
