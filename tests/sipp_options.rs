//! SIPp against the real `drongo` binary on loopback: an OPTIONS load, every request
//! answered 200, nothing lost, and the process alive and stopping cleanly afterwards.
//! Bounded: a fixed number of requests at a fixed rate, with a global SIPp timeout.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{sipp, Drongo};

fn scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/sipp/options.xml")
}

/// Runs `count` OPTIONS at `rate`/s over `transport` (`u1`, `t1`, `tn`); returns SIPp's
/// successful and failed counts from its final statistics.
fn run_sipp(d: &Drongo, transport: &str, count: u32, rate: u32) -> (u64, u64) {
    // One SIPp at a time: parallel runs compete for the two CPUs and for local ports.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let stats = d.dir.join(format!("sipp-{transport}.csv"));
    let local_port = common::free_port().to_string();
    let out = Command::new(sipp())
        .arg(d.addr().to_string())
        .args(["-sf"])
        .arg(scenario())
        .args(["-t", transport, "-i", "127.0.0.1", "-p", &local_port])
        .args([
            "-m",
            &count.to_string(),
            "-r",
            &rate.to_string(),
            "-l",
            "2000",
        ])
        .args([
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
            "-max_socket",
            "4096",
        ])
        .args(["-trace_stat", "-stf"])
        .arg(&stats)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("sipp: {e}"),
    };
    let text = std::fs::read_to_string(&stats).unwrap_or_default();
    let (ok, failed) = final_counts(&text);
    assert!(
        out.status.success(),
        "sipp exit {:?}, {ok} ok / {failed} failed\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    (ok, failed)
}

/// SuccessfulCall(C) and FailedCall(C) of the last row of SIPp's statistics file.
fn final_counts(csv: &str) -> (u64, u64) {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else {
        return (0, 0);
    };
    let cols: Vec<&str> = header.split(';').collect();
    let Some(last) = lines.rfind(|l| !l.trim().is_empty()) else {
        return (0, 0);
    };
    let vals: Vec<&str> = last.split(';').collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .and_then(|i| vals.get(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (col("SuccessfulCall(C)"), col("FailedCall(C)"))
}

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
