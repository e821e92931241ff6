//! Timer wheel and server-transaction costs, printed as plain figures.
//!
//!   cargo bench --bench transactions            (about 20 s after the build)
//!
//! - arm and cancel of one timer in a wheel already holding 100 000 timers, 1 000 000 at
//!   random deadlines within 64 s, in room a first pass left (the 100 000 were armed among
//!   that pass's timers, so the wheel keeps the room as a running shard's does);
//! - the same 1 000 000 armed into a wheel holding only the 100 000, then cancelled: the
//!   wheel allocates its storage as it grows and releases it as it drains;
//! - a complete non-INVITE server transaction through one sans-IO shard on a virtual clock
//!   (no sockets): parse, validate, match, answer (the transaction keeps the response), then
//!   expire on Timer J; CPU time per transaction over many, the clock moved on at the end so
//!   every transaction also ends.
//!
//! Under `cargo test --benches` it runs a few iterations only, as a smoke test.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drongo::core::shard::Shard;
use drongo::core::timer::TimerWheel;
use drongo::sim::{epoch, Sim};

/// The allocator the binary runs with, so per-transaction allocations cost what they cost there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Timers to hold in the wheel while the timed ones are armed and cancelled.
const HELD: u32 = 100_000;

/// Arm and cancel costs, ns per timer, of `n` timers in a wheel holding `HELD`: first with
/// the room for them already there, then growing into it and draining.
fn timer_arm_cancel(n: u32) -> ((f64, f64), (f64, f64)) {
    let t0 = epoch();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let held: Vec<Instant> = (0..HELD)
        .map(|_| t0 + Duration::from_millis(next() % 3_600_000))
        .collect();
    let deadlines: Vec<Instant> = (0..n)
        .map(|_| t0 + Duration::from_millis(next() % 64_000))
        .collect();
    let mut ids = Vec::with_capacity(n as usize);
    let timed = |wheel: &mut TimerWheel<u32>, ids: &mut Vec<_>| {
        let start = cpu_now();
        for (i, d) in deadlines.iter().enumerate() {
            ids.push(wheel.arm(*d, i as u32));
        }
        let armed = cpu_now() - start;
        let start = cpu_now();
        for id in ids.drain(..) {
            black_box(wheel.cancel(id));
        }
        let cancelled = cpu_now() - start;
        (
            armed.as_nanos() as f64 / f64::from(n),
            cancelled.as_nanos() as f64 / f64::from(n),
        )
    };

    // A first pass arms the held timers spread evenly among the timed ones, then cancels the
    // timed ones: the room they took stays around the held ones.
    let mut wheel: TimerWheel<u32> = TimerWheel::new(t0, Duration::from_millis(10));
    let total = u64::from(n + HELD);
    let (mut h, mut d) = (held.iter(), deadlines.iter());
    for i in 0..total {
        let hold = (i * u64::from(HELD)) / total != ((i + 1) * u64::from(HELD)) / total;
        if hold {
            if let Some(at) = h.next() {
                wheel.arm(*at, u32::MAX);
            }
        } else if let Some(at) = d.next() {
            ids.push(wheel.arm(*at, 0));
        }
    }
    for id in ids.drain(..) {
        wheel.cancel(id);
    }
    assert_eq!(wheel.len(), HELD as usize);
    let in_room = timed(&mut wheel, &mut ids);

    // The held timers alone, then the timed ones grow the wheel and drain it.
    let mut wheel: TimerWheel<u32> = TimerWheel::new(t0, Duration::from_millis(10));
    for at in &held {
        wheel.arm(*at, u32::MAX);
    }
    let growing = timed(&mut wheel, &mut ids);
    (in_room, growing)
}

/// OPTIONS request `i` of a stream in which each is a new transaction from one of many
/// sources, written into `buf` as a receive loop would find it: a hot buffer the datagram was
/// just read into. Fixed-width fields, so writing one is a few byte stores.
struct Requests {
    template: Vec<u8>,
    /// Offsets of the 3-digit last octet, 5-digit port and 8-digit sequence fields.
    octets: Vec<usize>,
    ports: Vec<usize>,
    sequences: Vec<usize>,
}

impl Requests {
    fn new() -> Self {
        let template = "OPTIONS sip:127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.OOO:PPPPP;branch=z9hG4bK-bench-SSSSSSSS;rport\r\n\
             From: <sip:bench@192.0.2.OOO:PPPPP>;tag=bSSSSSSSS\r\n\
             To: <sip:127.0.0.1>\r\n\
             Call-ID: bench-SSSSSSSS@192.0.2.OOO\r\n\
             CSeq: 1 OPTIONS\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
            .as_bytes()
            .to_vec();
        let find = |pat: &[u8]| -> Vec<usize> {
            (0..template.len() - pat.len())
                .filter(|&i| &template[i..i + pat.len()] == pat)
                .collect()
        };
        let (octets, ports, sequences) = (find(b"OOO"), find(b"PPPPP"), find(b"SSSSSSSS"));
        Requests {
            template,
            octets,
            ports,
            sequences,
        }
    }

    fn write(&self, i: u32, buf: &mut Vec<u8>) -> SocketAddr {
        fn digits(out: &mut [u8], mut n: u32) {
            for d in out.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        if buf.len() != self.template.len() {
            buf.clear();
            buf.extend_from_slice(&self.template);
        }
        let octet = 100 + i % 150;
        let port = 10_000 + (i / 150) % 50_000;
        for &at in &self.octets {
            digits(&mut buf[at..at + 3], octet);
        }
        for &at in &self.ports {
            digits(&mut buf[at..at + 5], port);
        }
        for &at in &self.sequences {
            digits(&mut buf[at..at + 8], i);
        }
        SocketAddr::from(([192, 0, 2, octet as u8], port as u16))
    }
}

/// CPU ns per transaction through one shard receiving `rate` new OPTIONS transactions a
/// second of virtual time, with its timers run every tick as the shell runs them. Returns
/// (the first 40 s from a fresh shard, while the table and the allocator grow; the next
/// `measured` transactions, once Timer J ends as many transactions as arrive).
fn transactions(rate: u32, measured: u32) -> (f64, f64, f64) {
    let rss_before = rss_bytes();
    let server: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut shard = Shard::new(Sim::template(server), 1);
    let requests = Requests::new();
    let mut buf = Vec::with_capacity(2048);
    let warmup = rate * 40;
    let gap = Duration::from_secs(1) / rate;
    let tick = Duration::from_millis(10);
    let mut now = epoch();
    let mut next_tick = now + tick;
    let mut run = |count: u32, from_index: u32| {
        let start = cpu_now();
        for i in from_index..from_index + count {
            let from = requests.write(i, &mut buf);
            now += gap;
            if now >= next_tick {
                shard.handle_timeout(now);
                next_tick = now + tick;
            }
            shard.handle_datagram(now, server, from, &buf);
            while let Some(t) = shard.poll_transmit() {
                black_box(&t.payload);
                shard.recycle(t.payload);
            }
        }
        (cpu_now() - start).as_nanos() as f64 / f64::from(count)
    };
    let cold = run(warmup, 0);
    let warm = run(measured, warmup);
    let live = shard.server_transactions().non_invite();
    let per_live = rss_bytes().saturating_sub(rss_before) as f64 / live as f64;
    // About 32 s of arrivals are live (Timer J is 64*T1 over UDP).
    assert!(
        live > (rate * 30) as usize && live < (rate * 34) as usize,
        "{live}"
    );
    assert_eq!(shard.stats().answered(2), u64::from(warmup + measured));
    (cold, warm, per_live)
}

/// Resident set size of this process, from /proc/self/statm.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    pages * page
}

/// New transactions a second of virtual time.
const RATE: u32 = 10_000;

fn main() {
    // `--profile N`: only transactions, N rounds, for a profiler to watch; `--timers`: only
    // the timer wheel, 5 rounds.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--timers") {
        for _ in 0..5 {
            let ((arm, cancel), (grow, drain)) = timer_arm_cancel(1_000_000);
            println!("arm {arm:.1} ns, cancel {cancel:.1} ns; growing {grow:.1} ns, draining {drain:.1} ns");
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let count = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(2_000_000);
        let (_, warm, _) = transactions(RATE, count);
        println!("running shard: {warm:.0} ns CPU per transaction");
        return;
    }
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (timers, rates, txs) = if smoke {
        (1_000, vec![100], 1_000)
    } else {
        (1_000_000, vec![RATE / 10, RATE], 400_000)
    };
    let rounds = if smoke { 1 } else { 5 };
    let (mut arm, mut cancel, mut grow, mut drain) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    // Per rate: best cold, best warm, first round's bytes per live transaction.
    let mut figures = vec![(f64::MAX, f64::MAX, 0f64); rates.len()];
    for round in 0..rounds {
        // Transactions first: the memory figure is the first round's, in a fresh process.
        for (rate, fig) in rates.iter().zip(figures.iter_mut()) {
            let (cold, warm, per_live) = transactions(*rate, txs);
            fig.0 = fig.0.min(cold);
            fig.1 = fig.1.min(warm);
            if round == 0 {
                fig.2 = per_live;
            }
        }
        let ((a, c), (g, d)) = timer_arm_cancel(timers);
        (arm, cancel) = (arm.min(a), cancel.min(c));
        (grow, drain) = (grow.min(g), drain.min(d));
    }
    println!("timer wheel (100 000 armed, 10 ms tick): arm {arm:.1} ns, cancel {cancel:.1} ns (best of {rounds})");
    println!(
        "  growing to {} armed and back: arm {grow:.1} ns, cancel {drain:.1} ns",
        timers + HELD
    );
    println!(
        "non-INVITE server transaction through one shard on a virtual clock (parse, validate, match, answer, expire on Timer J), best of {rounds}:"
    );
    for (rate, (cold, warm, bytes)) in rates.iter().zip(&figures) {
        println!(
            "  {rate} new a second, about {} live: running shard {warm:.0} ns CPU each ({:.0} a second per core); first 40 s of a fresh shard {cold:.0} ns; {bytes:.0} bytes resident per live transaction",
            rate * 32,
            1e9 / warm
        );
    }
    if smoke {
        println!("(smoke run: figures are not measurements)");
    }
}
