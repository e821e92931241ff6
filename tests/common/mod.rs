//! Shared by the integration tests: the conformance corpora and the manifest's grading.
#![allow(dead_code)]

use std::path::PathBuf;

use drongo::sim::Datagram;

pub fn corpus_dir(corpus: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(corpus)
}

/// `(name, expect)` rows of a manifest.
pub fn manifest(corpus: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(corpus_dir(corpus).join("MANIFEST.tsv")).expect("manifest");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("name\t") && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[5].to_string())
        })
        .collect()
}

/// The bytes to send: RFC 5118 vectors in their CRLF wire form.
pub fn vector(corpus: &str, name: &str) -> Vec<u8> {
    let dir = corpus_dir(corpus);
    let wire = dir.join("wire").join(format!("{name}.dat"));
    let path = if wire.exists() {
        wire
    } else {
        dir.join(format!("{name}.dat"))
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Grades replies against one alternative of the manifest's `expect` grammar.
fn matches(expect: &str, replies: &[Datagram]) -> bool {
    let codes: Vec<u16> = replies.iter().filter_map(Datagram::status).collect();
    let decisive = codes.iter().find(|c| **c >= 200).or(codes.last()).copied();
    match expect {
        "accept" => !codes.is_empty() && !codes.contains(&400),
        "reject" => codes.iter().any(|c| *c >= 400),
        "drop" => codes.is_empty() || codes.iter().all(|c| (400..500).contains(c)),
        "silent" => replies.is_empty(),
        class if class.ends_with("xx") => {
            let digit = u16::from(class.as_bytes()[0] - b'0');
            decisive.is_some_and(|c| c / 100 == digit)
        }
        code => decisive == Some(code.parse().expect("status code in manifest")),
    }
}

/// Grades replies against the manifest's `expect` (alternatives separated by `|`).
pub fn grade(expect: &str, replies: &[Datagram]) -> bool {
    expect.split('|').any(|alt| matches(alt, replies))
}
