//! Any bytes through the URI parser and its accessors.
#![no_main]
use drongo::core::sip::uri::Uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(uri) = Uri::parse(data) {
        let _ = (uri.scheme(), uri.user(), uri.host(), uri.port(), uri.param(b"transport"));
    }
});
