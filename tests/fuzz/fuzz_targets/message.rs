//! Any bytes through the message parser, validation, typed views and the editor.
#![no_main]
use drongo::core::sip::{validate, writer::Editor, Framing, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for framing in [Framing::Datagram, Framing::Stream] {
        let Ok(msg) = Message::parse(data, framing) else { continue };
        let _ = validate::message(&msg);
        let mut out = Vec::new();
        Editor::new(&msg).write_to(&mut out);
        // An unedited message written back must parse again.
        assert!(Message::parse(&out, Framing::Stream).is_ok());
    }
});
