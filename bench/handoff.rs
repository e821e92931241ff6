//! Cross-shard handoff costs (DESIGN §3), printed as plain figures.
//!
//!   cargo bench --bench handoff            (about 15 s after the build)
//!
//! 1. Core, no sockets, no channel: the ACK of a 404, absorbed by the server transaction that
//!    sent the 404, arriving on its owner shard; against the same ACK arriving on the other
//!    shard, which parses it, finds the owner in the To tag and copies it into a handoff, and
//!    the owner, which handles the handoff. CPU time per ACK on each shard.
//! 2. The mesh (`drongo::shell::mesh`): two glommio executors pinned to two CPUs, connected as
//!    two shards are. Shard 0 hands shard 1 a stream of handoffs (the ACK's bytes in a pooled
//!    buffer, as the core builds them); shard 1 takes them and keeps the buffers in its pool.
//!    Thread CPU time per message on each side, and messages a second. A full channel is
//!    retried after a yield here (the shards drop instead), and counted.
//! 3. The mesh, one message at a time: shard 0 hands one message to shard 1, which sends the
//!    buffer back; half the round trip is the one-way latency with both executors asleep in
//!    between (each message wakes the other executor).
//!
//! Under `cargo test --benches` it runs a few iterations only, as a smoke test.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drongo::core::handoff::Handoff;
use drongo::core::ids;
use drongo::core::shard::{ConnId, Flow, Shard, ShardConfig};
use drongo::core::sip::{Framing, HeaderName, Message};
use drongo::shell::mesh::{self, Delivery, Envelope, Mesh};
use drongo::sim::{epoch, Sim};
use futures_lite::future;
use glommio::{LocalExecutorBuilder, Placement};

/// The allocator the binary runs with, so buffer allocations cost what they cost there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// io_uring memory per executor, as the shards ask for it.
const IO_MEMORY: usize = 512 << 10;

/// Buffers a shard keeps in its pool at most (as `Shard` does).
const POOL_MAX: usize = 1024;

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn per(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

const SERVER: &str = "127.0.0.1:5060";

fn shard(id: u16) -> Shard {
    let config = ShardConfig {
        id,
        shard_count: 2,
        ..Sim::template(SERVER.parse().unwrap())
    };
    Shard::new(config, 7 + u64::from(id))
}

/// Shard 1 answers an INVITE with a 404; returns the ACK of that 404 (To tag minted by
/// shard 1) and where it comes from.
fn ack_for_shard_1(owner: &mut Shard) -> (SocketAddr, Vec<u8>) {
    let server: SocketAddr = SERVER.parse().unwrap();
    let phone: SocketAddr = "192.0.2.10:5062".parse().unwrap();
    let invite = format!(
        "INVITE sip:nobody@example.org SIP/2.0\r\n\
         Via: SIP/2.0/UDP {phone};branch=z9hG4bK-bench-handoff;rport\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:nobody@example.org>\r\n\
         Call-ID: bench-handoff@example.com\r\n\
         CSeq: 1 INVITE\r\n\
         Max-Forwards: 70\r\n\
         User-Agent: bench/1.0\r\n\
         Content-Length: 0\r\n\r\n"
    );
    owner.handle_datagram(epoch(), server, phone, invite.as_bytes());
    let answer = owner.poll_transmit().expect("a 404");
    let to = {
        let msg = Message::parse(&answer.payload, Framing::Datagram).expect("parses");
        String::from_utf8_lossy(msg.header(HeaderName::To).expect("To")).into_owned()
    };
    let tag = &to.as_bytes()[to.len() - ids::TAG_LEN..];
    assert_eq!(ids::tag_shard(tag), Some(1));
    let ack = invite
        .replace("INVITE sip:", "ACK sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace("To: <sip:nobody@example.org>", &format!("To: {to}"));
    (phone, ack.into_bytes())
}

/// Core figures: (ACK on its owner; the receiving shard's part of a handoff; the owner's part),
/// CPU ns per ACK.
fn core(acks: usize) -> (f64, f64, f64) {
    let server: SocketAddr = SERVER.parse().unwrap();
    let mut receiver = shard(0);
    let mut owner = shard(1);
    let (phone, ack) = ack_for_shard_1(&mut owner);
    let now = epoch() + Duration::from_millis(1);

    let start = cpu_now();
    for _ in 0..acks {
        owner.handle_datagram(now, server, phone, black_box(&ack));
    }
    let direct = cpu_now() - start;
    assert_eq!(owner.stats().absorbed, acks as u64);

    const BATCH: usize = 1000;
    let mut handoffs: Vec<Handoff> = Vec::with_capacity(BATCH);
    let (mut sending, mut owning) = (Duration::ZERO, Duration::ZERO);
    let mut done = 0;
    while done < acks {
        let n = BATCH.min(acks - done);
        let start = cpu_now();
        for _ in 0..n {
            receiver.handle_datagram(now, server, phone, black_box(&ack));
            // NOTE: the To tag names shard 1, so every ACK is handed off.
            handoffs.push(receiver.poll_handoff().expect("handed off"));
        }
        sending += cpu_now() - start;
        let start = cpu_now();
        for h in handoffs.drain(..) {
            owner.handle_handoff(now, h);
        }
        owning += cpu_now() - start;
        done += n;
    }
    assert_eq!(receiver.stats().handed_off, acks as u64);
    assert_eq!(owner.stats().absorbed, 2 * acks as u64);
    assert!(
        owner.poll_transmit().is_none(),
        "an absorbed ACK sends nothing"
    );
    (per(direct, acks), per(sending, acks), per(owning, acks))
}

/// What each side of the mesh measured.
#[derive(Debug, Default, Clone, Copy)]
struct Side {
    cpu: Duration,
    wall: Duration,
}

/// A handoff of `ack`, in a buffer from `pool` (or a fresh one), as the core builds it.
fn handoff(pool: &mut Vec<Vec<u8>>, ack: &[u8], received: Instant) -> Envelope {
    let mut bytes = pool.pop().unwrap_or_else(|| Vec::with_capacity(2048));
    bytes.extend_from_slice(ack);
    Envelope::Handoff(Handoff {
        to: 1,
        from: 0,
        flow: Flow::Udp,
        local: SocketAddr::from(([127, 0, 0, 1], 5060)),
        remote: SocketAddr::from(([192, 0, 2, 10], 5062)),
        received,
        bytes,
    })
}

/// Keeps a buffer that came over, as a shard's pool does.
fn keep(pool: &mut Vec<Vec<u8>>, mut bytes: Vec<u8>) {
    if pool.len() < POOL_MAX {
        bytes.clear();
        pool.push(bytes);
    }
}

/// Runs `shard0` and `shard1` on two pinned executors joined by Drongo's mesh; returns what
/// each reported.
fn on_two_shards<F0, Fut0, F1, Fut1>(cpus: (usize, usize), shard0: F0, shard1: F1) -> (Side, Side)
where
    F0: FnOnce(Mesh, drongo::shell::mesh::Inbound) -> Fut0 + Send + 'static,
    Fut0: std::future::Future<Output = Side> + 'static,
    F1: FnOnce(Mesh, drongo::shell::mesh::Inbound) -> Fut1 + Send + 'static,
    Fut1: std::future::Future<Output = Side> + 'static,
{
    let mut plans = mesh::plans(2, mesh::channel_capacity(2)).into_iter();
    let (plan0, plan1) = (plans.next().unwrap(), plans.next().unwrap());
    let spawn = |cpu: usize, name: &str| {
        LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(name)
            .io_memory(IO_MEMORY)
    };
    let one = spawn(cpus.1, "bench-s1")
        .spawn(move || async move {
            let (mesh, inbound) = Mesh::connect(plan1).await.expect("mesh");
            shard1(mesh, inbound).await
        })
        .expect("executor for shard 1");
    let zero = spawn(cpus.0, "bench-s0")
        .spawn(move || async move {
            let (mesh, inbound) = Mesh::connect(plan0).await.expect("mesh");
            shard0(mesh, inbound).await
        })
        .expect("executor for shard 0");
    (zero.join().expect("shard 0"), one.join().expect("shard 1"))
}

/// Puts `envelope` on the channel to `to`; a full channel is retried after a yield (the
/// bench must not lose messages; the shards drop instead).
async fn send(mesh: &Mesh, to: u16, mut envelope: Envelope) {
    loop {
        match mesh.send(to, envelope) {
            Delivery::Sent => return,
            Delivery::Refused(_, Some(e)) => {
                envelope = e;
                future::yield_now().await;
            }
            Delivery::Refused(r, None) => panic!("message lost: {r:?}"),
        }
    }
}

/// Bursts of `burst` handoffs from shard 0 to shard 1: shard 0 puts a whole burst on the
/// channel while shard 1 waits, then shard 1 takes it all while shard 0 waits (both wait on
/// a barrier outside the measured time). CPU per handoff on each side, with no wake-up in it.
fn bursts(cpus: (usize, usize), bursts: usize, burst: usize) -> (f64, f64) {
    let ack = ack_for_shard_1(&mut shard(1)).1;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let barrier1 = barrier.clone();
    let (a, b) = on_two_shards(
        cpus,
        move |mesh, _| async move {
            let mut pool = Vec::new();
            let mut side = Side::default();
            for _ in 0..bursts {
                let received = Instant::now();
                let start = cpu_now();
                for _ in 0..burst {
                    send(&mesh, 1, handoff(&mut pool, &ack, received)).await;
                }
                side.cpu += cpu_now() - start;
                barrier.wait(); // the burst is on the channel
                barrier.wait(); // shard 1 took it
            }
            side
        },
        move |_, mut inbound| async move {
            let (_, rx) = inbound.pop().expect("a channel from shard 0");
            let mut pool = Vec::new();
            let mut side = Side::default();
            for _ in 0..bursts {
                barrier1.wait();
                let start = cpu_now();
                for _ in 0..burst {
                    // NOTE: the whole burst is on the channel, so this never waits.
                    match future::poll_once(rx.recv()).await {
                        Some(Some(Envelope::Handoff(h))) => keep(&mut pool, black_box(h).bytes),
                        other => panic!("a handoff expected, got {other:?}"),
                    }
                }
                side.cpu += cpu_now() - start;
                barrier1.wait();
            }
            side
        },
    );
    let n = bursts * burst;
    (per(a.cpu, n), per(b.cpu, n))
}

/// `n` round trips: shard 0 hands one message to shard 1 and waits; shard 1 sends the buffer
/// back. Each side sleeps in between, so every crossing wakes the other executor. Returns
/// (one-way latency in microseconds, CPU per crossing over both sides).
fn one_at_a_time(cpus: (usize, usize), n: usize) -> (f64, f64) {
    let ack = ack_for_shard_1(&mut shard(1)).1;
    let (a, b) = on_two_shards(
        cpus,
        move |mesh, mut inbound| async move {
            let (_, rx) = inbound.pop().expect("a channel from shard 1");
            let mut pool = Vec::new();
            let (cpu0, wall0) = (cpu_now(), Instant::now());
            for _ in 0..n {
                send(&mesh, 1, handoff(&mut pool, &ack, Instant::now())).await;
                match rx.recv().await {
                    Some(Envelope::Write { payload, .. }) => keep(&mut pool, payload),
                    other => panic!("the buffer back expected, got {other:?}"),
                }
            }
            Side {
                cpu: cpu_now() - cpu0,
                wall: wall0.elapsed(),
            }
        },
        move |mesh, mut inbound| async move {
            let (_, rx) = inbound.pop().expect("a channel from shard 0");
            let cpu0 = cpu_now();
            for _ in 0..n {
                let Some(Envelope::Handoff(h)) = rx.recv().await else {
                    panic!("a handoff expected")
                };
                let h = black_box(h);
                let back = Envelope::Write {
                    conn: ConnId(0),
                    payload: h.bytes,
                    local: h.local,
                    remote: h.remote,
                    token: 0,
                };
                send(&mesh, 0, back).await;
            }
            Side {
                cpu: cpu_now() - cpu0,
                wall: Duration::ZERO,
            }
        },
    );
    (
        a.wall.as_secs_f64() * 1e6 / n as f64 / 2.0,
        per(a.cpu + b.cpu, 2 * n),
    )
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (acks, stream, pings, rounds) = if smoke {
        (1_000, 4_096, 200, 1)
    } else {
        (200_000, 1_048_576, 20_000, 5)
    };
    let allowed = drongo::shell::process_cpus().expect("affinity mask");
    let cpus = (allowed[0], allowed[allowed.len().min(2) - 1]);

    let mut best = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let (d, s, o) = core(acks);
        best = (best.0.min(d), best.1.min(s), best.2.min(o));
    }
    let (direct, sending, owning) = best;
    println!("core, sans-IO (best of {rounds}, {acks} ACKs each), CPU per ACK of a 404:");
    println!("  on its owner shard:                          {direct:.0} ns");
    println!("  on the other shard, handed off:              {sending:.0} ns there + {owning:.0} ns on the owner");
    println!(
        "  cost of the handoff in the core:             {:.0} ns",
        sending + owning - direct
    );

    const BURST: usize = 1024;
    let (mut sender, mut owner) = (f64::MAX, f64::MAX);
    let (mut latency, mut crossing) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let (a, b) = bursts(cpus, stream / BURST, BURST);
        (sender, owner) = (sender.min(a), owner.min(b));
        let (l, c) = one_at_a_time(cpus, pings);
        (latency, crossing) = (latency.min(l), crossing.min(c));
    }
    println!(
        "mesh, executors pinned to CPUs {} and {} (best of {rounds}):",
        cpus.0, cpus.1
    );
    println!(
        "  in bursts of {BURST} ({stream} handoffs): {sender:.0} ns CPU on the sending shard + {owner:.0} ns on the owner per handoff"
    );
    println!(
        "  one at a time ({pings} round trips, each side asleep in between): {latency:.1} us one way, {crossing:.0} ns CPU per crossing"
    );
    if cpus.0 == cpus.1 {
        println!("(one CPU only: both executors share it)");
    }
    if smoke {
        println!("(smoke run: figures are not measurements)");
    }
}
