//! CPU per call through one shard's registrar and stateful proxy, on a virtual clock.
//!
//!   cargo bench --bench calls                 (about 20 s after the build)
//!   cargo bench --bench calls -- --profile N  (N calls only, for a profiler)
//!
//! The call is the one `bench/sipp-calls.sh` runs with SIPp, without sockets: a UAS registers
//! as `uas`, then each call is an INVITE from the caller (Drongo answers 100 and forwards it),
//! 180 and 200 from the UAS (forwarded back), the ACK and, a second later, the BYE along the
//! Record-Route, and the BYE's 200. New calls arrive at a fixed rate of virtual time, the
//! shard's timers run every 10 ms tick as the shell runs them, and the clock runs long enough
//! that transactions end as fast as they start (Timers J, K, L and M), so the figure is a
//! running shard's.
//!
//! What is timed is all of it: the shard's work and the harness that writes each incoming
//! message (it copies the lines a UA copies from the message it answers, a few hundred bytes
//! per message). The figure compares with `bench/sipp-calls.sh`, whose server CPU adds the
//! kernel's UDP work and the event loop's wake-ups.
//!
//! Under `cargo test --benches` it runs a few calls only, as a smoke test.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drongo::core::shard::Shard;
use drongo::sim::{epoch, Sim};

/// The allocator the binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVER: &str = "127.0.0.1:5060";
const CALLER: &str = "127.0.0.1:5061";
const UAS: &str = "127.0.0.1:5080";

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The caller's messages of call `i`, as SIPp's uac.xml writes them.
fn invite(i: u32, out: &mut Vec<u8>) {
    out.clear();
    let sdp = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    use std::io::Write;
    let _ = write!(
        out,
        "INVITE sip:uas@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{i}-1-0\r\n\
         From: <sip:uac@127.0.0.1:5061>;tag=1SIPpTag00{i}\r\n\
         To: <sip:uas@127.0.0.1:5060>\r\n\
         Call-ID: {i}-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:uac@127.0.0.1:5061;transport=UDP>\r\n\
         Max-Forwards: 70\r\n\
         Subject: Performance Test\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
}

/// The ACK (`cseq` 1) or BYE (`cseq` 2) of call `i`, inside the dialog the 200 made.
fn in_dialog(i: u32, method: &str, cseq: u32, out: &mut Vec<u8>) {
    out.clear();
    use std::io::Write;
    let _ = write!(
        out,
        "{method} sip:uas@127.0.0.1:5080;transport=UDP SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{i}-{cseq}-{method}\r\n\
         Route: <sip:127.0.0.1:5060;lr>\r\n\
         From: <sip:uac@127.0.0.1:5061>;tag=1SIPpTag00{i}\r\n\
         To: <sip:uas@127.0.0.1:5060>;tag=2SIPpTag01{i}\r\n\
         Call-ID: {i}-1@127.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:uac@127.0.0.1:5061;transport=UDP>\r\n\
         Max-Forwards: 70\r\n\
         Subject: Performance Test\r\n\
         Content-Length: 0\r\n\r\n"
    );
}

/// The UAS's answer to a request it received: the status line, then every Via,
/// Record-Route, From, To (tagged), Call-ID and CSeq line copied as received, then Contact
/// and, on the INVITE's 200, an SDP answer, as SIPp's uas.xml does.
fn answer(request: &[u8], status: &str, i: u32, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\n");
    let head_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len());
    let mut invite = false;
    for line in request[..head_end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let copy = [
            &b"Via:"[..],
            b"Record-Route:",
            b"From:",
            b"Call-ID:",
            b"CSeq:",
        ]
        .iter()
        .any(|p| line.starts_with(p));
        if copy {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
            invite |= line.starts_with(b"CSeq:") && line.ends_with(b"INVITE");
        } else if line.starts_with(b"To:") {
            out.extend_from_slice(line);
            use std::io::Write;
            let _ = write!(out, ";tag=2SIPpTag01{i}\r\n");
        }
    }
    out.extend_from_slice(b"Contact: <sip:uas@127.0.0.1:5080;transport=UDP>\r\n");
    if invite && status.starts_with("200") {
        let sdp = b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        out.extend_from_slice(b"Content-Type: application/sdp\r\n");
        use std::io::Write;
        let _ = write!(out, "Content-Length: {}\r\n\r\n", sdp.len());
        out.extend_from_slice(sdp);
    } else {
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    }
}

/// One shard with the UAS registered, on a virtual clock.
struct Bench {
    shard: Shard,
    now: Instant,
    next_tick: Instant,
    server: SocketAddr,
    caller: SocketAddr,
    uas: SocketAddr,
    /// What the shard sent the UAS since it was last looked at.
    to_uas: Vec<Vec<u8>>,
    /// How many messages reached the caller.
    to_caller: u64,
    scratch: Vec<u8>,
}

impl Bench {
    fn new() -> Self {
        let server = addr(SERVER);
        let mut b = Bench {
            shard: Shard::new(Sim::template(server), 1),
            now: epoch(),
            next_tick: epoch() + TICK,
            server,
            caller: addr(CALLER),
            uas: addr(UAS),
            to_uas: Vec::new(),
            to_caller: 0,
            scratch: Vec::with_capacity(2048),
        };
        let register = "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-reg\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:uas@127.0.0.1>;tag=reg\r\n\
             To: <sip:uas@127.0.0.1>\r\n\
             Call-ID: reg@127.0.0.1\r\n\
             CSeq: 1 REGISTER\r\n\
             Contact: <sip:uas@127.0.0.1:5080;transport=UDP>\r\n\
             Expires: 3600\r\n\
             Content-Length: 0\r\n\r\n";
        b.deliver(addr("127.0.0.1:5090"), register.as_bytes().to_vec());
        assert_eq!(b.shard.location().map(|l| l.len()), Some(1));
        b
    }

    /// Moves the clock on by `by`, running the shard's timers on every tick on the way.
    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while self.next_tick <= until {
            self.now = self.next_tick;
            self.shard.handle_timeout(self.now);
            self.next_tick += TICK;
            self.drain();
        }
        self.now = until;
    }

    fn deliver(&mut self, from: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
        self.shard
            .handle_datagram(self.now, self.server, from, &bytes);
        self.drain();
        bytes
    }

    fn drain(&mut self) {
        while let Some(t) = self.shard.poll_transmit() {
            if t.remote == self.uas {
                self.to_uas.push(t.payload);
            } else {
                if t.remote == self.caller {
                    self.to_caller += 1;
                }
                black_box(&t.payload);
                self.shard.recycle(t.payload);
            }
        }
    }

    /// The UAS answers the one request it has been sent.
    fn uas_answers(&mut self, statuses: &[&str], i: u32) {
        let Some(request) = self.to_uas.pop() else {
            panic!("the UAS was sent nothing");
        };
        for status in statuses {
            let mut out = std::mem::take(&mut self.scratch);
            answer(&request, status, i, &mut out);
            self.scratch = self.deliver(self.uas, out);
        }
        self.shard.recycle(request);
    }

    fn caller_sends(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut out = std::mem::take(&mut self.scratch);
        write(&mut out);
        self.scratch = self.deliver(self.caller, out);
    }

    /// Call `i` from INVITE to the BYE's 200, `gap` of virtual time after the previous one.
    /// The call's second of talk is not waited for: the next calls run meanwhile would only
    /// reorder the same work.
    fn call(&mut self, i: u32, gap: Duration) {
        self.advance(gap);
        self.caller_sends(|out| invite(i, out));
        self.uas_answers(&["180 Ringing", "200 OK"], i);
        self.caller_sends(|out| in_dialog(i, "ACK", 1, out));
        // The ACK for a 2xx goes on statelessly.
        let ack = self.to_uas.pop();
        if let Some(ack) = ack {
            self.shard.recycle(ack);
        }
        self.caller_sends(|out| in_dialog(i, "BYE", 2, out));
        self.uas_answers(&["200 OK"], i);
    }
}

const TICK: Duration = Duration::from_millis(10);

/// CPU ns per call with calls arriving at `rate` a second of virtual time: the first 40 s
/// of a fresh shard, then `measured` calls of a running one.
fn calls(rate: u32, measured: u32) -> (f64, f64) {
    let mut b = Bench::new();
    let gap = Duration::from_secs(1) / rate;
    let warmup = rate * 40;
    let run = |b: &mut Bench, from: u32, count: u32| {
        let start = cpu_now();
        for i in from..from + count {
            b.call(i, gap);
        }
        (cpu_now() - start).as_nanos() as f64 / f64::from(count)
    };
    let cold = run(&mut b, 0, warmup);
    let caller_before = b.to_caller;
    let warm = run(&mut b, warmup, measured);
    // Each call: 100, 180, 200 for the INVITE, 200 for the BYE.
    assert_eq!(b.to_caller - caller_before, u64::from(measured) * 4);
    assert!(b.to_uas.is_empty());
    (cold, warm)
}

/// New calls a second of virtual time.
const RATE: u32 = 2_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let count = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(200_000);
        let (_, warm) = calls(RATE, count);
        println!("running shard: {warm:.0} ns CPU per call");
        return;
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    let (rate, measured, rounds) = if smoke {
        (50, 100, 1)
    } else {
        (RATE, 100_000, 5)
    };
    let (mut cold, mut warm) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let (c, w) = calls(rate, measured);
        cold = cold.min(c);
        warm = warm.min(w);
    }
    println!(
        "call through one shard on a virtual clock (INVITE, 100, 180, 200, ACK, BYE, 200 via registrar lookup, Record-Route and loose routing), {rate} new calls a second, best of {rounds}:"
    );
    println!(
        "  running shard {:.2} us CPU per call ({:.0} calls a second per core); first 40 s of a fresh shard {:.2} us",
        warm / 1e3,
        1e9 / warm,
        cold / 1e3
    );
    if smoke {
        println!("(smoke run: figures are not measurements)");
    }
}
