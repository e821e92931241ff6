//! SIPp against the real `drongo` binary on loopback: an OPTIONS load, every request
//! answered 200, nothing lost, and the process alive and stopping cleanly afterwards.
//! Bounded: a fixed number of requests at a fixed rate, with a global SIPp timeout.

mod common;
use common::{run_sipp, Drongo};

#[test]
fn options_load_over_udp_is_answered_in_full() {
    let d = Drongo::start("");
    let (ok, failed) = run_sipp(&d, "u1", 5_000, 1_000);
    assert_eq!((ok, failed), (5_000, 0));
    assert!(d.stop(), "drongo exits cleanly on SIGTERM");
}

#[test]
fn options_load_over_one_tcp_connection_is_answered_in_full() {
    let d = Drongo::start("");
    let (ok, failed) = run_sipp(&d, "t1", 3_000, 500);
    assert_eq!((ok, failed), (3_000, 0));
    assert!(d.stop(), "drongo exits cleanly on SIGTERM");
}

#[test]
fn options_load_over_a_tcp_connection_per_request_is_answered_in_full() {
    let d = Drongo::start("");
    let (ok, failed) = run_sipp(&d, "tn", 1_000, 200);
    assert_eq!((ok, failed), (1_000, 0));
    assert!(d.stop(), "drongo exits cleanly on SIGTERM");
}
