//! RFC 4475 and RFC 5118 torture messages, each asserting the outcome its manifest gives.
//!
//! The vectors are the archived bytes under `tests/conformance/` (a copy of the shared
//! corpus; `SOURCE.md` says where they come from). Each one is sent as a UDP datagram to a
//! simulated shard serving `127.0.0.1:5060`, and what comes back is graded with the
//! manifest's grammar: a status code or class, `accept`, `reject`, `drop` or `silent`.
//! A test also checks that every manifest row has a test, so none is skipped in silence.

use std::net::SocketAddr;

use drongo::sim::{Datagram, Sim};

mod common;
use common::{grade, manifest, vector};

const SERVER: &str = "127.0.0.1:5060";
const PEER: &str = "192.0.2.200:5060";

/// What the peer got back for one datagram.
fn exchange(bytes: &[u8]) -> Vec<Datagram> {
    let server: SocketAddr = SERVER.parse().unwrap();
    let peer: SocketAddr = PEER.parse().unwrap();
    let mut sim = Sim::new(1, Sim::template(server), 4475);
    sim.send(peer, server, bytes);
    let got = sim.take(peer);
    let stats = sim.shards()[0].stats();
    assert_eq!(
        stats.accounted(),
        1,
        "every datagram is accounted for once: {stats:?}"
    );
    got
}

fn check(corpus: &str, name: &str) {
    let rows = manifest(corpus);
    let (_, expect) = rows
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not in manifest"));
    let replies = exchange(&vector(corpus, name));
    let got: Vec<String> = replies
        .iter()
        .map(|d| d.text().lines().next().unwrap_or_default().to_string())
        .collect();
    assert!(
        grade(expect, &replies),
        "{corpus}/{name}: expected {expect}, got {got:?}\n{}",
        replies.first().map(Datagram::text).unwrap_or_default()
    );
    for r in &replies {
        assert_eq!(r.to, PEER.parse().unwrap(), "replies go back to the source");
        assert!(
            drongo::core::sip::Message::parse(&r.bytes, drongo::core::sip::Framing::Stream).is_ok()
        );
    }
}

macro_rules! vectors {
    ($corpus:literal, $list:ident: $($name:ident => $file:literal),* $(,)?) => {
        const $list: &[&str] = &[$($file),*];
        $(
            #[test]
            fn $name() {
                check($corpus, $file);
            }
        )*
    };
}

mod rfc4475 {
    use super::*;

    vectors!("rfc4475", TESTED:
        wsinv => "wsinv", intmeth => "intmeth", esc01 => "esc01", escnull => "escnull",
        esc02 => "esc02", lwsdisp => "lwsdisp", longreq => "longreq", dblreq => "dblreq",
        semiuri => "semiuri", transports => "transports", mpart01 => "mpart01",
        unreason => "unreason", noreason => "noreason", badinv01 => "badinv01", clerr => "clerr",
        ncl => "ncl", scalar02 => "scalar02", scalarlg => "scalarlg", quotbal => "quotbal",
        ltgtruri => "ltgtruri", lwsruri => "lwsruri", lwsstart => "lwsstart", trws => "trws",
        escruri => "escruri", baddate => "baddate", regbadct => "regbadct",
        badaspec => "badaspec", baddn => "baddn", badvers => "badvers",
        mismatch01 => "mismatch01", mismatch02 => "mismatch02", bigcode => "bigcode",
        badbranch => "badbranch", insuf => "insuf", unkscm => "unkscm", novelsc => "novelsc",
        unksm2 => "unksm2", bext01 => "bext01", invut => "invut", regaut01 => "regaut01",
        multi01 => "multi01", mcl01 => "mcl01", bcast => "bcast", zeromf => "zeromf",
        cparam01 => "cparam01", cparam02 => "cparam02", regescrt => "regescrt", sdp01 => "sdp01",
        inv2543 => "inv2543", test => "test",
    );

    #[test]
    fn every_manifest_row_is_tested() {
        let rows: Vec<String> = manifest("rfc4475").into_iter().map(|(n, _)| n).collect();
        let mut tested: Vec<&str> = TESTED.to_vec();
        tested.sort_unstable();
        let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        rows.sort_unstable();
        assert_eq!(rows, tested);
    }
}

mod rfc5118 {
    use super::*;

    vectors!("rfc5118", TESTED:
        ipv6_good => "ipv6-good", ipv6_bad => "ipv6-bad", port_ambiguous => "port-ambiguous",
        port_unambiguous => "port-unambiguous",
        via_received_param_with_delim => "via-received-param-with-delim",
        via_received_param_no_delim => "via-received-param-no-delim",
        ipv6_in_sdp => "ipv6-in-sdp", mult_ip_in_header => "mult-ip-in-header",
        mult_ip_in_sdp => "mult-ip-in-sdp", ipv4_mapped_ipv6 => "ipv4-mapped-ipv6",
        ipv6_bug_abnf_3_colons => "ipv6-bug-abnf-3-colons",
        ipv6_correct_abnf_2_colons => "ipv6-correct-abnf-2-colons",
    );

    #[test]
    fn every_manifest_row_is_tested() {
        let rows: Vec<String> = manifest("rfc5118").into_iter().map(|(n, _)| n).collect();
        let mut tested: Vec<&str> = TESTED.to_vec();
        tested.sort_unstable();
        let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        rows.sort_unstable();
        assert_eq!(rows, tested);
    }
}

/// The same corpus through the TCP framer (RFC 3261 §18.3): the framing vectors close the
/// connection or wait, as RFC 4475 says for streams; every other request frames whole.
mod stream {
    use super::*;
    use drongo::core::sip::framer::{Frame, FrameError, Framer, FramerLimits};

    fn frame(name: &str) -> Result<Frame, FrameError> {
        let limits = FramerLimits {
            max_header_section: 16 * 1024,
            max_body: 16 * 1024,
        };
        Framer::new(limits).next(&vector("rfc4475", name))
    }

    #[test]
    fn clerr_waits_for_the_missing_body() {
        assert_eq!(frame("clerr"), Ok(Frame::Partial));
    }

    #[test]
    fn ncl_and_mcl01_lose_the_framing() {
        assert_eq!(frame("ncl"), Err(FrameError::BadContentLength));
        assert_eq!(frame("mcl01"), Err(FrameError::DuplicateContentLength));
    }

    #[test]
    fn inv2543_has_no_content_length_and_cannot_be_framed() {
        assert_eq!(frame("inv2543"), Err(FrameError::MissingContentLength));
    }

    #[test]
    fn messages_with_a_content_length_frame_whole() {
        for name in [
            "wsinv", "intmeth", "esc01", "longreq", "mpart01", "badinv01", "multi01", "sdp01",
        ] {
            let bytes = vector("rfc4475", name);
            assert_eq!(frame(name), Ok(Frame::Message(bytes.len())), "{name}");
        }
        // dblreq's REGISTER frames alone; the INVITE after it is the next frame.
        let bytes = vector("rfc4475", "dblreq");
        let Ok(Frame::Message(n)) = frame("dblreq") else {
            panic!("dblreq")
        };
        assert!(n < bytes.len());
        assert!(bytes[..n].starts_with(b"REGISTER"));
    }
}
