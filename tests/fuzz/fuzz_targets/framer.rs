//! Any byte stream, cut into reads at fuzzer-chosen points, through the TCP framer.
#![no_main]
use drongo::core::sip::framer::{Frame, Framer, FramerLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let limits = FramerLimits { max_header_section: 4096, max_body: 4096 };
    let mut framer = Framer::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    for chunk in stream.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match framer.next(&buf) {
                Ok(Frame::Partial) => break,
                Ok(Frame::Ping(n) | Frame::Pong(n) | Frame::Message(n)) => {
                    assert!(n > 0 && n <= buf.len());
                    buf.drain(..n);
                }
                Err(_) => return,
            }
        }
    }
});
