//! Whole-description tests: real-world offers, RFC examples, malformed input, rewrites.

use std::net::IpAddr;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// A desk phone's G.711 offer with RFC 4733 telephone-event.
const G711_OFFER: &str = "v=0
o=- 3724394400 3724394400 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 49170 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
";

/// RFC 8866 §5 example, with the video section's own IPv6 connection.
const RFC8866_EXAMPLE: &str = "v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
a=rtpmap:99 h263-1998/90000
";

/// RFC 5118 §4.6 body, bare LF as archived.
const RFC5118_IPV6: &str = "v=0
o=assistant 971731711378798081 0 IN IP6 2001:db8::20
s=Live video feed for today's meeting
c=IN IP6 2001:db8::20
t=3338481189 3370017201
m=audio 6000 RTP/AVP 2
a=rtpmap:2 G726-32/8000
m=video 6024 RTP/AVP 107
a=rtpmap:107 H263-1998/90000
";

/// RFC 5118 §4.8 body: an IP4 and an IP6 `c=`, and an empty `s=`.
const RFC5118_MULT_IP: &str = "v=0
o=bob 280744730 28977631 IN IP4 host.example.com
s=
t=0 0
m=audio 22334 RTP/AVP 0
c=IN IP4 192.0.2.1
m=video 6024 RTP/AVP 107
c=IN IP6 2001:db8::1
a=rtpmap:107 H263-1998/90000
";

/// RFC 5118 §4.9 body: IPv4-mapped IPv6 addresses.
const RFC5118_MAPPED: &str = "v=0
o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.2
s=Call me soon, please!
c=IN IP6 ::ffff:192.0.2.2
t=3338481189 3370017201
m=audio 6000 RTP/AVP 2
a=rtpmap:2 G726-32/8000
m=video 6024 RTP/AVP 107
a=rtpmap:107 H263-1998/90000
";

/// A softphone offer with RFC 3605 `a=rtcp` carrying an address, and `a=rtcp-mux`.
const RTCP_OFFER: &str = "v=0
o=alice 2890844526 2890844526 IN IP4 10.0.0.5
s= 
c=IN IP4 10.0.0.5
t=0 0
a=sendonly
m=audio 53018 RTP/SAVP 111 0
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtcp:53020 IN IP4 126.16.64.4
a=rtcp-mux
m=video 0 RTP/AVP 96
a=rtpmap:96 VP8/90000
a=rtcp:9
a=inactive
";

#[test]
fn g711_offer() {
    let buf = crlf(G711_OFFER);
    let sdp = Sdp::parse(&buf).unwrap();
    assert_eq!(sdp.version(), 0);
    let o = sdp.origin();
    assert_eq!(
        (o.username, o.sess_id, o.sess_version),
        ("-", "3724394400", "3724394400")
    );
    assert_eq!(o.ip(), Some(ip("192.0.2.10")));
    assert_eq!(sdp.session_name(), b"-");
    assert_eq!(
        sdp.connection().and_then(|c| c.ip()),
        Some(ip("192.0.2.10"))
    );
    assert!(sdp.timings().eq([Timing { start: 0, stop: 0 }]));
    assert_eq!(sdp.media_count(), 1);
    let audio = sdp.media(0).unwrap();
    assert_eq!(
        (
            audio.media(),
            audio.port(),
            audio.port_count(),
            audio.proto()
        ),
        ("audio", 49170, None, "RTP/AVP")
    );
    assert!(audio.formats().eq(["0", "8", "101"]));
    assert_eq!(audio.connection(), None);
    assert_eq!(
        audio.effective_connection().map(|c| c.address),
        Some("192.0.2.10")
    );
    let names: Vec<_> = audio
        .rtpmaps()
        .map(|r| (r.payload_type, r.encoding_name, r.clock_rate))
        .collect();
    assert_eq!(
        names,
        [
            (0, "PCMU", 8000),
            (8, "PCMA", 8000),
            (101, "telephone-event", 8000)
        ]
    );
    assert_eq!(
        audio.rtpmap(101).map(|r| r.encoding_name),
        Some("telephone-event")
    );
    assert_eq!(audio.fmtp("101").map(|f| f.params), Some(&b"0-16"[..]));
    assert_eq!((audio.ptime(), audio.maxptime()), (Some(20), Some(150)));
    assert_eq!(audio.direction(), Direction::SendRecv);
    assert_eq!((audio.rtcp(), audio.rtcp_mux()), (None, false));
    assert_eq!(audio.line_range(), 5..13);
    assert_eq!(
        sdp.line(12).map(|l| (l.kind, l.value, l.raw)),
        Some((b'a', &b"sendrecv"[..], &b"a=sendrecv\r\n"[..]))
    );
}

#[test]
fn rfc8866_example() {
    let buf = crlf(RFC8866_EXAMPLE);
    let sdp = Sdp::parse(&buf).unwrap();
    assert_eq!(sdp.origin().sess_version_u64(), Some(3724394405));
    assert_eq!(sdp.session_name(), b"Call to John Smith");
    assert_eq!(sdp.lines().filter(|l| b"iuep".contains(&l.kind)).count(), 4);
    assert_eq!(sdp.line(6).map(|l| l.value), Some(&b"+1 617 555-6011"[..]));
    let ports: Vec<_> = sdp
        .media_sections()
        .map(|m| (m.media(), m.port()))
        .collect();
    assert_eq!(
        ports,
        [("audio", 49170), ("audio", 49180), ("video", 51372)]
    );
    let video = sdp.media(2).unwrap();
    let c = video.connection().unwrap();
    assert_eq!((c.addrtype, c.address), (AddrType::Ip6, "2001:db8::2"));
    assert_eq!(
        sdp.media(1)
            .unwrap()
            .effective_connection()
            .map(|c| c.address),
        Some("198.51.100.1")
    );
    assert_eq!(video.rtpmap(99).map(|r| r.encoding_name), Some("h263-1998"));
    assert_eq!(sdp.attributes().count(), 0);
}

#[test]
fn rfc5118_ipv6_offer_bare_lf() {
    let sdp = Sdp::parse(RFC5118_IPV6.as_bytes()).unwrap();
    assert_eq!(sdp.eol(), b"\n");
    assert_eq!(sdp.origin().addrtype, AddrType::Ip6);
    assert_eq!(sdp.origin().ip(), Some(ip("2001:db8::20")));
    assert_eq!(
        sdp.connection().and_then(|c| c.ip()),
        Some(ip("2001:db8::20"))
    );
    assert!(sdp.timings().eq([Timing {
        start: 3338481189,
        stop: 3370017201
    }]));
    assert_eq!(
        sdp.media(1).unwrap().rtpmap(107).map(|r| r.clock_rate),
        Some(90000)
    );
}

#[test]
fn rfc5118_ip4_and_ip6_connections() {
    let buf = crlf(RFC5118_MULT_IP);
    let sdp = Sdp::parse(&buf).unwrap();
    assert_eq!(sdp.session_name(), b"");
    assert_eq!(sdp.origin().unicast_address, "host.example.com");
    assert_eq!(sdp.origin().ip(), None);
    assert_eq!(sdp.connection(), None);
    let c0 = sdp.media(0).unwrap().effective_connection().unwrap();
    let c1 = sdp.media(1).unwrap().effective_connection().unwrap();
    assert_eq!(
        (c0.addrtype, c0.ip()),
        (AddrType::Ip4, Some(ip("192.0.2.1")))
    );
    assert_eq!(
        (c1.addrtype, c1.ip()),
        (AddrType::Ip6, Some(ip("2001:db8::1")))
    );
}

#[test]
fn rfc5118_ipv4_mapped() {
    let sdp = Sdp::parse(RFC5118_MAPPED.as_bytes()).unwrap();
    let c = sdp.connection().unwrap();
    assert_eq!((c.addrtype, c.address), (AddrType::Ip6, "::ffff:192.0.2.2"));
    assert_eq!(c.ip(), Some(ip("::ffff:192.0.2.2")));
    let buf = RFC5118_MAPPED.replace("c=IN IP6", "c=IN IP4");
    let sdp = Sdp::parse(buf.as_bytes()).unwrap();
    let c = sdp.connection().unwrap();
    assert_eq!(
        (c.addrtype, c.address, c.ip()),
        (AddrType::Ip4, "::ffff:192.0.2.2", Some(ip("192.0.2.2")))
    );
}

#[test]
fn rtcp_and_rtcp_mux() {
    let buf = crlf(RTCP_OFFER);
    let sdp = Sdp::parse(&buf).unwrap();
    assert_eq!(sdp.session_name(), b"");
    assert_eq!(sdp.direction(), Some(Direction::SendOnly));
    let audio = sdp.media(0).unwrap();
    assert!(audio.rtcp_mux());
    let rtcp = audio.rtcp().unwrap();
    let address = rtcp.address.unwrap();
    assert_eq!(
        (rtcp.port, address.addrtype, address.address),
        (53020, AddrType::Ip4, "126.16.64.4")
    );
    assert_eq!(audio.rtpmap(111).map(|r| r.channels), Some(Some(2)));
    assert_eq!(
        audio.fmtp("111").map(|f| f.params),
        Some(&b"minptime=10;useinbandfec=1"[..])
    );
    assert_eq!(
        audio.direction(),
        Direction::SendOnly,
        "inherited from session level"
    );
    let video = sdp.media(1).unwrap();
    assert_eq!(
        video.rtcp(),
        Some(Rtcp {
            port: 9,
            address: None
        })
    );
    assert!(!video.rtcp_mux());
    assert_eq!(
        video.direction(),
        Direction::Inactive,
        "media level overrides"
    );
    assert_eq!(video.attribute("RTPMAP").map(|a| a.line), Some(12));
}

#[test]
fn multicast_bandwidth_and_port_count() {
    let text = "v=0\no=- 1 1 IN IP4 h\ns=x\nc=IN IP4 224.2.36.42/127/2\nb=CT:128\nt=0 0\n\
                m=video 49170/2 RTP/AVP 31\nb=AS:64\nb=TIAS:64000\n";
    let sdp = Sdp::parse(text.as_bytes()).unwrap();
    let c = sdp.connection().unwrap();
    assert_eq!(
        (c.address, c.ttl, c.numaddr),
        ("224.2.36.42", Some(127), Some(2))
    );
    assert!(sdp.bandwidths().eq([Bandwidth {
        bwtype: "CT",
        bandwidth: 128
    }]));
    let video = sdp.media(0).unwrap();
    assert_eq!(video.port_count(), Some(2));
    let bw: Vec<_> = video
        .bandwidths()
        .map(|b| (b.bwtype, b.bandwidth))
        .collect();
    assert_eq!(bw, [("AS", 64), ("TIAS", 64000)]);
}

#[test]
fn liberal_where_phones_are() {
    // no t=, an unknown x= line, trailing whitespace, tabs between fields, blank lines, and
    // no final line end
    let text = "v=0 \r\no=-\t1  1 IN IP4 192.0.2.1\r\ns=-\r\nx=vendor thing\r\n\r\nc=IN IP4 192.0.2.1  \r\n\
                m=audio 4000 RTP/AVP 0\t\r\n\r\n\r\na=sendrecv";
    let sdp = Sdp::parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.timings().count(), 0);
    assert_eq!(
        sdp.line(3).map(|l| (l.kind, l.value)),
        Some((b'x', &b"vendor thing"[..]))
    );
    assert_eq!(sdp.connection().map(|c| c.address), Some("192.0.2.1"));
    assert!(sdp.media(0).unwrap().formats().eq(["0"]));
    assert_eq!(sdp.line_count(), 7);
    assert_eq!(
        sdp.line(5).map(|l| l.raw),
        Some(&b"m=audio 4000 RTP/AVP 0\t\r\n\r\n\r\n"[..])
    );
    assert_eq!(sdp.media(0).unwrap().direction(), Direction::SendRecv);
}

#[test]
fn malformed_inputs_are_errors() {
    let head = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n";
    let with = |tail: &str| format!("{head}{tail}");
    let cases: Vec<(String, SdpError)> = vec![
        (String::new(), SdpError::Empty),
        ("\r\n\r\n".into(), SdpError::MissingVersion),
        (
            "o=- 1 1 IN IP4 h\r\ns=-\r\n".into(),
            SdpError::MissingVersion,
        ),
        (
            "v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\n".into(),
            SdpError::BadVersion,
        ),
        (
            "GET / HTTP/1.1\r\n\r\n".into(),
            SdpError::BadLine { line: 1 },
        ),
        ("v=0\r\ns=-\r\n".into(), SdpError::MissingOrigin),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\n".into(),
            SdpError::MissingSessionName,
        ),
        (
            "v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n".into(),
            SdpError::BadOrigin { line: 2 },
        ),
        (with("garbage\r\n"), SdpError::BadLine { line: 4 }),
        (with("ab=c\r\n"), SdpError::BadLine { line: 4 }),
        (with("v=0\r\n"), SdpError::BadLine { line: 4 }),
        (with("o=- 1 1 IN IP4 h\r\n"), SdpError::BadLine { line: 4 }),
        (
            with("m=audio 1 RTP/AVP 0\r\ns=-\r\n"),
            SdpError::BadLine { line: 5 },
        ),
        (with("c=IN IP4\r\n"), SdpError::BadConnection { line: 4 }),
        (
            with("b=AS:99999999999999999999999\r\n"),
            SdpError::BadBandwidth { line: 4 },
        ),
        (
            with("t=0 99999999999999999999999\r\n"),
            SdpError::BadTiming { line: 4 },
        ),
        (with("t=x 0\r\n"), SdpError::BadTiming { line: 4 }),
        (with("a=:x\r\n"), SdpError::BadAttribute { line: 4 }),
        (with("m=audio\r\n"), SdpError::BadMedia { line: 4 }),
        (with("m=audio 49170\r\n"), SdpError::BadMedia { line: 4 }),
        (
            with("m=audio 49170 RTP/AVP"),
            SdpError::BadMedia { line: 4 },
        ),
        (
            with("m=audio port RTP/AVP 0\r\n"),
            SdpError::BadMedia { line: 4 },
        ),
        (
            with("m=audio 65536 RTP/AVP 0\r\n"),
            SdpError::BadMedia { line: 4 },
        ),
        (
            with("m=audio 99999999999999999999999999 RTP/AVP 0\r\n"),
            SdpError::BadMedia { line: 4 },
        ),
        (
            with("m=audio 1/99999 RTP/AVP 0\r\n"),
            SdpError::BadMedia { line: 4 },
        ),
        (with("\r\na=x\0y\r\n"), SdpError::BadLine { line: 5 }),
    ];
    for (text, expected) in cases {
        assert_eq!(
            Sdp::parse(text.as_bytes()).err(),
            Some(expected),
            "{text:?}"
        );
    }
    assert!(
        Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=\xff\xfe\r\n").is_ok(),
        "s= is a byte-string"
    );
}

#[test]
fn no_edits_is_byte_identical() {
    let samples = [
        crlf(G711_OFFER),
        crlf(RFC8866_EXAMPLE),
        RFC5118_IPV6.as_bytes().to_vec(),
        crlf(RTCP_OFFER),
        b"v=0 \r\no=- 1 1 IN IP4 h\n\n\ns=-\r\nm=audio 1 RTP/AVP 0   ".to_vec(),
    ];
    for buf in &samples {
        let sdp = Sdp::parse(buf).unwrap();
        let mut out = b"prefix".to_vec();
        SdpEditor::new(&sdp).write_to(&mut out);
        assert_eq!(&out[6..], &buf[..]);
    }
}

/// Every line of `original` not in `edited` appears in `out`, byte-for-byte and in order.
fn assert_untouched_preserved(original: &Sdp<'_>, edited: &[usize], out: &[u8]) {
    let mut from = 0;
    for line in original.lines().filter(|l| !edited.contains(&l.index)) {
        let at = out[from..]
            .windows(line.raw.len())
            .position(|w| w == line.raw);
        let at = at.unwrap_or_else(|| panic!("line {} not preserved", line.index));
        from += at + line.raw.len();
    }
}

#[test]
fn relay_rewrite_round_trip() {
    let buf = crlf(RTCP_OFFER);
    let sdp = Sdp::parse(&buf).unwrap();
    let relay = ip("203.0.113.7");
    let mut editor = SdpEditor::new(&sdp);
    editor.set_origin_address(relay).increment_sess_version();
    editor.set_connection(Scope::Session, relay).unwrap();
    editor
        .set_media_port(0, 30000)
        .unwrap()
        .set_rtcp(0, 30001, Some(relay))
        .unwrap();
    editor
        .set_direction(Scope::Media(0), Direction::RecvOnly)
        .unwrap();
    editor
        .set_media_port(1, 0)
        .unwrap()
        .set_rtcp(1, 30003, None)
        .unwrap();
    let mut out = Vec::new();
    editor.write_to(&mut out);

    let again = Sdp::parse(&out).unwrap();
    let o = again.origin();
    assert_eq!(
        (o.username, o.sess_version, o.ip()),
        ("alice", "2890844527", Some(relay))
    );
    assert_eq!(again.connection().and_then(|c| c.ip()), Some(relay));
    let audio = again.media(0).unwrap();
    assert_eq!(audio.port(), 30000);
    assert!(audio.formats().eq(["111", "0"]));
    let rtcp = audio.rtcp().unwrap();
    assert_eq!(
        (rtcp.port, rtcp.address.map(|a| a.address)),
        (30001, Some("203.0.113.7"))
    );
    assert_eq!(audio.direction(), Direction::RecvOnly);
    assert_eq!(again.direction(), Some(Direction::SendOnly));
    assert_eq!(
        again.media(1).unwrap().rtcp(),
        Some(Rtcp {
            port: 30003,
            address: None
        })
    );
    // o=, c=, both m=, both a=rtcp replaced; the audio direction appended after a=rtcp-mux
    assert_untouched_preserved(&sdp, &[1, 3, 6, 9, 11, 13], &out);
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n').count(),
        again.line_count()
    );
    assert!(core::str::from_utf8(&out)
        .unwrap()
        .contains("a=rtcp-mux\r\na=recvonly\r\nm=video"));
}

#[test]
fn connection_inserted_where_missing() {
    let buf = crlf(RFC5118_MULT_IP);
    let sdp = Sdp::parse(&buf).unwrap();
    let relay = ip("2001:db8::99");
    let mut editor = SdpEditor::new(&sdp);
    editor.set_connection(Scope::Session, relay).unwrap();
    editor
        .set_connection(Scope::Media(1), ip("192.0.2.99"))
        .unwrap();
    let mut out = Vec::new();
    editor.write_to(&mut out);
    let text = core::str::from_utf8(&out).unwrap();
    assert!(text.starts_with("v=0\r\no=bob 280744730 28977631 IN IP4 host.example.com\r\ns=\r\nc=IN IP6 2001:db8::99\r\nt=0 0\r\n"));
    let again = Sdp::parse(&out).unwrap();
    assert_eq!(again.connection().and_then(|c| c.ip()), Some(relay));
    assert_eq!(
        again.media(0).unwrap().connection().map(|c| c.address),
        Some("192.0.2.1")
    );
    let c = again.media(1).unwrap().connection().unwrap();
    assert_eq!((c.addrtype, c.address), (AddrType::Ip4, "192.0.2.99"));

    // a media section without c= gets one right after its m= line
    let buf = crlf(G711_OFFER);
    let sdp = Sdp::parse(&buf).unwrap();
    let mut editor = SdpEditor::new(&sdp);
    editor
        .set_connection(Scope::Media(0), ip("192.0.2.1"))
        .unwrap();
    editor
        .set_connection(Scope::Media(0), ip("192.0.2.2"))
        .unwrap();
    let mut out = Vec::new();
    editor.write_to(&mut out);
    let text = core::str::from_utf8(&out).unwrap();
    assert!(text.contains("m=audio 49170 RTP/AVP 0 8 101\r\nc=IN IP4 192.0.2.2\r\na=rtpmap:0 "));
    assert_eq!(
        Sdp::parse(&out)
            .unwrap()
            .media(0)
            .unwrap()
            .connections()
            .count(),
        1
    );
}

#[test]
fn remove_codecs() {
    let buf = crlf(G711_OFFER);
    let sdp = Sdp::parse(&buf).unwrap();
    let mut editor = SdpEditor::new(&sdp);
    editor.remove_format(0, "8").unwrap();
    editor.retain_formats(0, |f| f != "101").unwrap();
    assert_eq!(
        editor.remove_format(0, "0").err(),
        Some(EditError::LastFormat)
    );
    assert_eq!(
        editor.remove_format(0, "9").err(),
        Some(EditError::NoSuchFormat)
    );
    assert_eq!(
        editor.remove_format(1, "0").err(),
        Some(EditError::NoSuchMedia)
    );
    assert_eq!(
        editor.retain_formats(0, |_| false).err(),
        Some(EditError::LastFormat)
    );
    let rejected = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=video 0 RTP/AVP\r\n").unwrap();
    let mut other = SdpEditor::new(&rejected);
    assert_eq!(
        other.set_media_port(0, 5004).err(),
        Some(EditError::NoFormats)
    );
    assert!(other.set_media_port(0, 0).is_ok());
    let mut out = Vec::new();
    editor.write_to(&mut out);
    let again = Sdp::parse(&out).unwrap();
    let audio = again.media(0).unwrap();
    assert!(audio.formats().eq(["0"]));
    assert_eq!(audio.rtpmaps().count(), 1);
    assert_eq!(audio.fmtp("101"), None);
    assert_eq!(
        (audio.ptime(), audio.direction()),
        (Some(20), Direction::SendRecv)
    );
    assert_untouched_preserved(&sdp, &[5, 7, 8, 9], &out);
}

#[test]
fn attribute_edits() {
    let buf = crlf(G711_OFFER);
    let sdp = Sdp::parse(&buf).unwrap();
    let mut editor = SdpEditor::new(&sdp);
    editor
        .add_attribute(
            Scope::Session,
            NewAttribute::Value {
                name: "tool",
                value: b"drongo",
            },
        )
        .unwrap();
    editor
        .add_attribute(Scope::Media(0), NewAttribute::RtcpMux)
        .unwrap();
    editor
        .add_attribute(Scope::Media(0), NewAttribute::Flag("x-gone"))
        .unwrap();
    editor
        .remove_attributes(Scope::Media(0), "maxptime")
        .unwrap();
    editor.set_rtcp(0, 9, None).unwrap();
    editor.remove_attributes(Scope::Media(0), "X-GONE").unwrap();
    editor.remove_attributes(Scope::Media(0), "rtcp").unwrap();
    editor
        .replace_attribute(10, NewAttribute::Ptime(30))
        .unwrap();
    editor
        .set_direction(Scope::Media(0), Direction::Inactive)
        .unwrap();
    assert_eq!(
        editor.replace_attribute(0, NewAttribute::RtcpMux).err(),
        Some(EditError::NoSuchLine)
    );
    assert_eq!(
        editor
            .add_attribute(Scope::Media(0), NewAttribute::Flag("a b"))
            .err(),
        Some(EditError::BadValue)
    );
    assert_eq!(editor.remove_line(5).err(), Some(EditError::Required));
    assert_eq!(editor.remove_line(99).err(), Some(EditError::NoSuchLine));
    let mut out = Vec::new();
    editor.write_to(&mut out);
    let again = Sdp::parse(&out).unwrap();
    assert_eq!(
        again.attribute("tool").and_then(|a| a.value),
        Some(&b"drongo"[..])
    );
    let audio = again.media(0).unwrap();
    assert_eq!(
        (audio.ptime(), audio.maxptime(), audio.direction()),
        (Some(30), None, Direction::Inactive)
    );
    assert!(audio.rtcp_mux() && !audio.has_attribute("x-gone") && audio.rtcp().is_none());
    assert_eq!(audio.attributes().filter(|a| a.is("ptime")).count(), 1);

    let mut editor = SdpEditor::new(&sdp);
    editor
        .remove_line(3)
        .unwrap()
        .set_sess_version(7)
        .set_origin_username("sbc")
        .unwrap();
    let mut out = Vec::new();
    editor.write_to(&mut out);
    let again = Sdp::parse(&out).unwrap();
    assert_eq!(again.connection(), None);
    assert_eq!(
        (again.origin().username, again.origin().sess_version),
        ("sbc", "7")
    );
}

#[test]
fn edits_keep_line_end_style() {
    let text = "v=0\no=- 99 99 IN IP4 h\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0";
    let sdp = Sdp::parse(text.as_bytes()).unwrap();
    let mut editor = SdpEditor::new(&sdp);
    editor
        .increment_sess_version()
        .set_media_port(0, 2)
        .unwrap();
    editor
        .set_direction(Scope::Media(0), Direction::SendOnly)
        .unwrap();
    let mut out = Vec::new();
    editor.write_to(&mut out);
    assert_eq!(
        out,
        b"v=0\no=- 99 100 IN IP4 h\ns=-\nt=0 0\nm=audio 2 RTP/AVP 0\na=sendonly\n"
    );
}

#[test]
fn builder_writes_what_parses_back() {
    let relay = IpText::new(ip("2001:db8::7"));
    let origin = Origin {
        username: "drongo",
        sess_id: "42",
        sess_version: "1",
        nettype: "IN",
        addrtype: AddrType::Ip6,
        unicast_address: relay.as_str(),
    };
    let rtpmap = Rtpmap {
        payload_type: 0,
        encoding_name: "PCMU",
        clock_rate: 8000,
        channels: None,
    };
    let audio = MediaBuilder::new("audio", 30000, "RTP/AVP")
        .format("0")
        .format("101")
        .bandwidth(Bandwidth {
            bwtype: "AS",
            bandwidth: 80,
        })
        .attribute(NewAttribute::Rtpmap(rtpmap))
        .attribute(NewAttribute::Fmtp(Fmtp {
            format: "101",
            params: b"0-16",
        }))
        .attribute(NewAttribute::Rtcp(Rtcp {
            port: 30001,
            address: None,
        }))
        .attribute(NewAttribute::Direction(Direction::SendRecv));
    let video = MediaBuilder::new("video", 0, "RTP/AVP")
        .port_count(2)
        .connection(Connection::unicast(AddrType::Ip4, "192.0.2.1"));
    let mut out = Vec::new();
    SdpBuilder::new(origin, b"")
        .connection(Connection::unicast(AddrType::Ip6, relay.as_str()))
        .timing(Timing { start: 1, stop: 2 })
        .attribute(NewAttribute::Flag("ice-lite"))
        .media(audio)
        .media(video)
        .write_to(&mut out)
        .unwrap();
    let sdp = Sdp::parse(&out).unwrap();
    assert_eq!(sdp.origin(), &origin);
    assert_eq!(sdp.session_name(), b"");
    assert_eq!(
        sdp.connection().and_then(|c| c.ip()),
        Some(ip("2001:db8::7"))
    );
    assert!(sdp.timings().eq([Timing { start: 1, stop: 2 }]));
    assert!(sdp.attribute("ice-lite").is_some());
    let a = sdp.media(0).unwrap();
    assert!(a.formats().eq(["0", "101"]));
    assert_eq!(
        (a.rtpmap(0), a.rtcp().map(|r| r.port)),
        (Some(rtpmap), Some(30001))
    );
    assert!(a.bandwidths().eq([Bandwidth {
        bwtype: "AS",
        bandwidth: 80
    }]));
    let v = sdp.media(1).unwrap();
    assert_eq!(
        (v.port(), v.port_count(), v.formats().count()),
        (0, Some(2), 0)
    );
    assert_eq!(v.connection().map(|c| c.address), Some("192.0.2.1"));
}
