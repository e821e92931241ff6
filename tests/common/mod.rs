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

/// A `drongo` process started from the built binary with its own config file, on a free
/// loopback port. It is stopped by PID (SIGTERM, then SIGKILL) when dropped.
pub struct Drongo {
    pub child: std::process::Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drongo {
    /// Starts `drongo run` with `[sip] listen = ["127.0.0.1:<free port>"]` plus `extra` TOML
    /// (other sections), and waits until it answers an OPTIONS.
    pub fn start(extra: &str) -> Drongo {
        Drongo::start_with_env(extra, &[])
    }

    /// [`Drongo::start`] with extra environment variables for the process.
    pub fn start_with_env(extra: &str, env: &[(&str, &str)]) -> Drongo {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("drongo-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("drongo.toml");
        let text = format!("[sip]\nlisten = [\"127.0.0.1:{port}\"]\n{extra}\n");
        std::fs::write(&config, text).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_drongo"))
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("spawn drongo");
        let d = Drongo { child, port, dir };
        d.wait_ready();
        d
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn wait_ready(&self) {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        let me = s.local_addr().unwrap();
        let ping = format!(
            "OPTIONS sip:{0} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-ready;rport\r\n\
             From: <sip:ready@{me}>;tag=r\r\nTo: <sip:{0}>\r\nCall-ID: ready\r\nCSeq: 1 OPTIONS\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.addr()
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut buf = [0u8; 2048];
        while std::time::Instant::now() < deadline {
            s.send_to(ping.as_bytes(), self.addr()).unwrap();
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 200") {
                    return;
                }
            }
        }
        panic!("drongo did not answer on {} within 30 s", self.addr());
    }

    /// Stops the process by PID and returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    fn terminate(&mut self) -> bool {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling a child we spawned and have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Drongo {
    fn drop(&mut self) {
        if self.alive() {
            self.terminate();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The `sipp` binary, or a panic that says how to get it.
pub fn sipp() -> &'static str {
    let found = std::process::Command::new("sipp")
        .arg("-v")
        .output()
        .is_ok();
    assert!(
        found,
        "sipp not found: run tests/run.sh, which installs Debian's sip-tester"
    );
    "sipp"
}

/// The OPTIONS scenario the benchmarks use.
pub fn scenario() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/sipp/options.xml")
}

/// Runs `count` OPTIONS at `rate`/s over `transport` (`u1`, `t1`, `tn`); returns SIPp's
/// successful and failed counts from its final statistics.
pub fn run_sipp(d: &Drongo, transport: &str, count: u32, rate: u32) -> (u64, u64) {
    // One SIPp at a time: parallel runs compete for the two CPUs and for local ports.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let stats = d.dir.join(format!("sipp-{transport}.csv"));
    let local_port = free_port().to_string();
    let out = std::process::Command::new(sipp())
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
pub fn final_counts(csv: &str) -> (u64, u64) {
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
