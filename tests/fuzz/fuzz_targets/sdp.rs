//! Any bytes through the SDP parser; an unedited write must give the same bytes back.
#![no_main]
use drongo::core::sdp::{Sdp, SdpEditor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = Sdp::parse(data) else { return };
    let _ = (sdp.origin(), sdp.connection(), sdp.direction());
    for i in 0..sdp.media_count() {
        if let Some(m) = sdp.media(i) {
            let _ = (m.port(), m.rtpmaps().count(), m.rtcp(), m.direction());
        }
    }
    let mut out = Vec::new();
    SdpEditor::new(&sdp).write_to(&mut out);
    assert_eq!(out, data);
});
