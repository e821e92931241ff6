//! Any datagram through a whole shard: it must answer or drop, never panic, and account for
//! every datagram exactly once.
#![no_main]
use drongo::sim::Sim;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let server = "127.0.0.1:5060".parse().unwrap();
    let mut sim = Sim::new(1, Sim::template(server), 1);
    sim.send("192.0.2.1:5060".parse().unwrap(), server, data);
    assert_eq!(sim.shards()[0].stats().accounted(), 1);
});
