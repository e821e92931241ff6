//! Calls through the real `drongo` binary with SIPp on loopback, over UDP and TCP: a SIPp
//! UAS registers as `uas`, a SIPp UAC calls `sip:uas@drongo` (INVITE, 180, 200, ACK, BYE
//! through Drongo's Record-Route); a call to a user nobody registered gets 404; a call the
//! callee never answers gets 408 when Drongo's Timer C ends the branch. Every SIPp run is
//! bounded in calls and time.

mod common;
use common::{final_counts, free_port, sipp, Drongo};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("bench/sipp/{name}"))
}

/// One SIPp at a time: parallel runs compete for the two CPUs and for local ports.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A SIPp UAS running `uas.xml` in the background for `calls` calls.
struct Uas {
    child: Child,
    port: u16,
}

impl Uas {
    fn start(transport: &str, calls: u32) -> Uas {
        let port = free_port();
        let child = Command::new(sipp())
            .args(["-sf"])
            .arg(scenario("uas.xml"))
            .args(["-t", transport, "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &calls.to_string(), "-timeout", "60s", "-nostdin"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp uas");
        std::thread::sleep(std::time::Duration::from_millis(300));
        Uas { child, port }
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a SIPp client scenario against Drongo; returns (successful, failed) calls.
fn client(
    d: &Drongo,
    transport: &str,
    file: &str,
    args: &[&str],
    count: u32,
    rate: u32,
) -> (u64, u64) {
    let stats = d.dir.join(format!("sipp-{file}-{transport}.csv"));
    let out = Command::new(sipp())
        .arg(d.addr().to_string())
        .args(["-sf"])
        .arg(scenario(file))
        .args([
            "-t",
            transport,
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
        ])
        .args(args)
        .args(["-m", &count.to_string(), "-r", &rate.to_string()])
        .args([
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
            "-max_socket",
            "1024",
        ])
        .args(["-trace_stat", "-stf"])
        .arg(&stats)
        .output()
        .expect("sipp");
    let (ok, failed) = final_counts(&std::fs::read_to_string(&stats).unwrap_or_default());
    assert!(
        out.status.success() || failed > 0,
        "sipp {file}: exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    (ok, failed)
}

/// The UAS registers its Contact as `uas`.
fn register_uas(d: &Drongo, transport: &str, uas_port: u16) {
    let contact = format!("127.0.0.1:{uas_port}");
    let (ok, failed) = client(
        d,
        transport,
        "reg_uas.xml",
        &[
            "-key",
            "aor_user",
            "uas",
            "-key",
            "contact_hostport",
            &contact,
        ],
        1,
        1,
    );
    assert_eq!((ok, failed), (1, 0), "the UAS registered");
}

fn calls_complete(transport: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Drongo::start("");
    let calls = 300;
    let uas = Uas::start(transport, calls);
    register_uas(&d, transport, uas.port);
    let (ok, failed) = client(
        &d,
        transport,
        "uac.xml",
        &[
            "-s",
            "uas",
            "-d",
            "100",
            "-default_behaviors",
            "all,-abortunexp",
            "-recv_timeout",
            "10000",
        ],
        calls,
        100,
    );
    assert_eq!((ok, failed), (u64::from(calls), 0));
    assert!(d.stop(), "drongo exits cleanly on SIGTERM");
}

#[test]
fn calls_through_drongo_complete_over_udp() {
    calls_complete("u1");
}

#[test]
fn calls_through_drongo_complete_over_tcp() {
    calls_complete("t1");
}

#[test]
fn a_call_to_an_unknown_user_gets_404() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Drongo::start("");
    let (ok, failed) = client(&d, "u1", "uac_404.xml", &["-s", "nobody"], 50, 50);
    assert_eq!((ok, failed), (50, 0));
}

/// The registered contact never answers (nothing listens there): Timer C, set to 2 s, ends
/// each branch and the caller gets 408.
#[test]
fn a_call_nobody_answers_gets_408() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Drongo::start("[sip.timers]\ntimer_c_secs = 2\n");
    register_uas(&d, "u1", free_port());
    let (ok, failed) = client(&d, "u1", "uac_noanswer.xml", &["-s", "uas"], 20, 20);
    assert_eq!((ok, failed), (20, 0));
}
