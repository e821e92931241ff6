//! Every header of the RFC 4475 and RFC 5118 torture messages through the typed views, and
//! every Request-URI through the URI parser. Each message asserts exactly which decodes fail.
//!
//! The corpora are the copy under `tests/conformance` (see its SOURCE.md). The
//! header section is split here with folding kept inside each value, the way the message
//! parser hands values over.

use std::path::PathBuf;

use super::*;
use crate::core::sip::text::Invalid;
use crate::core::sip::uri::{Host, Scheme, Uri};

/// Headers whose decode fails, by message, as canonical lower-case names.
const FAILING_HEADERS: &[(&str, &[&str])] = &[
    // RFC 4475 §3.1.2.1: extra ';' and ',' in Via, extra ';' in Contact.
    ("badinv01", &["contact", "via"]),
    // §3.1.2.3: negative Content-Length.
    ("ncl", &["content-length"]),
    // §3.1.2.4: CSeq, Max-Forwards, Expires and contact expires out of range.
    ("scalar02", &["contact", "cseq", "expires", "max-forwards"]),
    // §3.1.2.5: CSeq out of range (Retry-After and Warning are not viewed here).
    ("scalarlg", &["cseq"]),
    // §3.1.2.6: unterminated quoted string.
    ("quotbal", &["to"]),
    // §3.1.2.13: escaped header in a Contact URI without <>.
    ("regbadct", &["contact"]),
    // §3.1.2.15: unquoted display names with commas.
    ("baddn", &["from", "to"]),
    // §3.1.2.16: SIP/7.0 in the Via too; the request line is answered 505 before any Via
    // decode.
    ("badvers", &["via"]),
    // Unreferenced test.dat: To and From without a scheme.
    ("test", &["from", "to"]),
];

/// Request-URIs that do not parse.
const BAD_REQUEST_URIS: &[&str] = &[
    "lwsruri",  // RFC 4475 §3.1.2.8: LWS inside.
    "ltgtruri", // RFC 4475 §3.1.2.7: enclosed in <>.
    "ipv6-bad", // RFC 5118 §4.2: IPv6 without brackets.
];

fn corpus(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(dir)
}

/// Message names listed in a MANIFEST.tsv.
fn manifest(dir: &str) -> Vec<String> {
    let path = corpus(dir).join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("name\t"))
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `(name, value)` of one header line.
type Field<'a> = (&'a [u8], &'a [u8]);

/// The start line and every header field, folding kept in the value.
fn split_message(msg: &[u8]) -> (&[u8], Vec<Field<'_>>) {
    let mut lines = Vec::new();
    let mut at = 0;
    while at < msg.len() {
        let end = msg[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(msg.len(), |i| at + i);
        let line = &msg[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        lines.push((at, at + line.len()));
        at = end + 1;
    }
    let start = lines.first().map_or(&msg[..0], |&(s, e)| &msg[s..e]);
    let mut headers: Vec<(usize, usize)> = Vec::new();
    for &(s, e) in lines.iter().skip(1) {
        match (msg[s], headers.last_mut()) {
            (b' ' | b'\t', Some(last)) => last.1 = e,
            _ => headers.push((s, e)),
        }
    }
    let fields = headers
        .into_iter()
        .filter_map(|(s, e)| {
            let line = &msg[s..e];
            let colon = line.iter().position(|&b| b == b':')?;
            Some((
                crate::core::sip::text::trim(&line[..colon]),
                &line[colon + 1..],
            ))
        })
        .collect();
    (start, fields)
}

/// Runs the view for header `name`; `None` for headers without a view here.
fn decode(name: &str, value: &[u8]) -> Option<(&'static str, Result<(), Invalid>)> {
    let all = |r: &mut dyn Iterator<Item = Result<(), Invalid>>| r.collect::<Result<(), _>>();
    Some(match name {
        "via" | "v" => ("via", all(&mut Vias::new(value).map(|r| r.map(drop)))),
        "from" | "f" => ("from", NameAddr::parse(value).map(drop)),
        "to" | "t" => ("to", NameAddr::parse(value).map(drop)),
        "contact" | "m" => (
            "contact",
            ContactValue::parse(value).and_then(|c| match c {
                ContactValue::Star => Ok(()),
                ContactValue::Contacts(mut list) => all(&mut list.by_ref().map(|r| r.map(drop))),
            }),
        ),
        "route" | "record-route" | "path" => (
            "route",
            all(&mut NameAddrs::bracketed(value).map(|r| r.map(drop))),
        ),
        "cseq" => ("cseq", CSeq::parse(value).map(drop)),
        "call-id" | "i" => ("call-id", CallId::parse(value).map(drop)),
        "max-forwards" => ("max-forwards", MaxForwards::parse(value).map(drop)),
        "content-length" | "l" => ("content-length", ContentLength::parse(value).map(drop)),
        "content-type" | "c" => ("content-type", ContentType::parse(value).map(drop)),
        "expires" => ("expires", Expires::parse(value).map(drop)),
        "require" | "proxy-require" | "supported" | "k" | "unsupported" => (
            "option-tags",
            all(&mut OptionTags::new(value).map(|r| r.map(drop))),
        ),
        "allow" => ("allow", all(&mut Allow::new(value).map(|r| r.map(drop)))),
        _ => return None,
    })
}

fn check_corpus(dir: &str, files: &str, expected_count: usize) {
    let names = manifest(dir);
    assert_eq!(names.len(), expected_count, "{dir} manifest");
    let mut viewed = 0;
    for name in &names {
        let path = corpus(dir).join(files).join(format!("{name}.dat"));
        let msg = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let (start, fields) = split_message(&msg);
        let mut failing: Vec<&str> = Vec::new();
        for (hname, value) in fields {
            let hname = String::from_utf8_lossy(hname).to_ascii_lowercase();
            if let Some((canonical, result)) = decode(&hname, value) {
                viewed += 1;
                if result.is_err() {
                    failing.push(canonical);
                }
            }
        }
        failing.sort_unstable();
        failing.dedup();
        let want = FAILING_HEADERS
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[][..], |(_, h)| h);
        assert_eq!(failing, want, "{name}: failing header views");

        if !start.starts_with(b"SIP/") {
            let uri = start
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty())
                .nth(1)
                .unwrap_or_default();
            let ok = Uri::parse(uri).is_ok();
            let want = !BAD_REQUEST_URIS.contains(&name.as_str());
            assert_eq!(
                ok,
                want,
                "{name}: Request-URI {:?}",
                String::from_utf8_lossy(uri)
            );
        }
    }
    assert!(
        viewed > expected_count * 4,
        "{dir}: only {viewed} headers viewed"
    );
}

#[test]
fn rfc4475_every_message() {
    check_corpus("rfc4475", ".", 50);
}

#[test]
fn rfc5118_every_message() {
    check_corpus("rfc5118", "wire", 12);
}

#[test]
fn rfc5118_hosts_decode_as_ipv6() {
    let msg = std::fs::read(corpus("rfc5118").join("wire/ipv4-mapped-ipv6.dat")).unwrap();
    let (_, fields) = split_message(&msg);
    let vias: Vec<_> = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"via"))
        .map(|(_, v)| Via::parse(v).unwrap())
        .collect();
    let mapped = |s: &str| Host::V6(s.parse().unwrap());
    assert_eq!(vias[0].host(), mapped("::ffff:192.0.2.10"));
    assert_eq!(vias[0].port(), Some(19823));
    assert_eq!(vias[1].host(), mapped("::ffff:192.0.2.2"));
    let contact = fields.iter().find(|(n, _)| n == b"Contact").unwrap().1;
    let contact = NameAddr::parse(contact).unwrap();
    assert_eq!(contact.uri().host(), Some(mapped("::ffff:192.0.2.2")));
}

#[test]
fn rfc4475_unknown_schemes_stay_opaque() {
    for (name, scheme) in [
        ("unkscm", &b"nobodyKnowsThisScheme"[..]),
        ("novelsc", b"soap.beep"),
    ] {
        let msg = std::fs::read(corpus("rfc4475").join(format!("{name}.dat"))).unwrap();
        let (start, _) = split_message(&msg);
        let uri = start.split(|&b| b == b' ').nth(1).unwrap();
        assert_eq!(Uri::parse(uri).unwrap().scheme(), Scheme::Other(scheme));
    }
}
