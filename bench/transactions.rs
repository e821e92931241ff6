//! Timer wheel and server-transaction costs, printed as plain figures.
//!
//!   cargo bench --bench transactions            (about 20 s after the build)
//!
//! - arm and cancel of one timer in a wheel already holding 100 000 timers;
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

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn timer_arm_cancel(n: u32) -> (f64, f64) {
    let t0 = epoch();
    let mut wheel: TimerWheel<u32> = TimerWheel::new(t0, Duration::from_millis(10));
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..100_000u32 {
        wheel.arm(t0 + Duration::from_millis(next() % 3_600_000), i);
    }
    let mut ids = Vec::with_capacity(n as usize);
    let deadlines: Vec<Instant> = (0..n)
        .map(|_| t0 + Duration::from_millis(next() % 64_000))
        .collect();
    let start = cpu_now();
    for (i, d) in deadlines.iter().enumerate() {
        ids.push(wheel.arm(*d, i as u32));
    }
    let armed = cpu_now() - start;
    let start = cpu_now();
    for id in &ids {
        black_box(wheel.cancel(*id));
    }
    let cancelled = cpu_now() - start;
    (
        armed.as_nanos() as f64 / f64::from(n),
        cancelled.as_nanos() as f64 / f64::from(n),
    )
}

fn transactions(n: u32) -> f64 {
    let server: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut shard = Shard::new(Sim::template(server), 1);
    let t0 = epoch();
    let requests: Vec<(SocketAddr, Vec<u8>)> = (0..n)
        .map(|i| {
            let from =
                SocketAddr::from(([192, 0, 2, (i % 250) as u8 + 1], 5060 + (i % 1000) as u16));
            let bytes = format!(
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {from};branch=z9hG4bK-bench-{i};rport\r\n\
                 From: <sip:bench@{from}>;tag=b{i}\r\n\
                 To: <sip:127.0.0.1>\r\n\
                 Call-ID: bench-{i}@{from}\r\n\
                 CSeq: 1 OPTIONS\r\n\
                 Max-Forwards: 70\r\n\
                 Content-Length: 0\r\n\r\n"
            )
            .into_bytes();
            (from, bytes)
        })
        .collect();
    let start = cpu_now();
    for (i, (from, bytes)) in requests.iter().enumerate() {
        // 100 000 new transactions a second of virtual time.
        let now = t0 + Duration::from_micros(10 * i as u64);
        shard.handle_datagram(now, server, *from, bytes);
        while let Some(t) = shard.poll_transmit() {
            black_box(&t.payload);
            shard.recycle(t.payload);
        }
    }
    // Every transaction ends on Timer J (64*T1 = 32 s over UDP).
    let end = t0 + Duration::from_micros(10 * u64::from(n)) + Duration::from_secs(40);
    shard.handle_timeout(end);
    let spent = cpu_now() - start;
    assert_eq!(shard.server_transactions().non_invite, 0);
    assert_eq!(shard.stats().answered(2), u64::from(n));
    spent.as_nanos() as f64 / f64::from(n)
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (timers, txs) = if smoke {
        (1_000, 1_000)
    } else {
        (1_000_000, 200_000)
    };
    let rounds = if smoke { 1 } else { 5 };
    let mut arm = f64::MAX;
    let mut cancel = f64::MAX;
    let mut tx = f64::MAX;
    for _ in 0..rounds {
        let (a, c) = timer_arm_cancel(timers);
        arm = arm.min(a);
        cancel = cancel.min(c);
        tx = tx.min(transactions(txs));
    }
    println!("timer wheel (100 000 armed, 10 ms tick): arm {arm:.1} ns, cancel {cancel:.1} ns (best of {rounds})");
    println!(
        "non-INVITE server transaction through one shard on a virtual clock (parse, validate, match, answer, expire on Timer J): {:.0} ns CPU each, {:.0} per second per core",
        tx,
        1e9 / tx
    );
    if smoke {
        println!("(smoke run: figures are not measurements)");
    }
}
