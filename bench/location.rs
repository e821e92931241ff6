//! The in-memory location service at scale, printed as plain figures.
//!
//!   cargo bench --bench location              (about 15 s after the build)
//!   cargo bench --bench location -- --shards 4
//!   cargo bench --bench location -- --outbound 0     (every binding a UDP phone)
//!
//! The bindings are spread over one [`Location`] per shard by [`aor_shard`], as the running
//! binary spreads them (default: one shard per CPU this process may use). One AoR per
//! binding, as most phones register: `sip:user123456@example.com`, a 32-character Call-ID,
//! and a contact `sip:user123456@192.0.2.x:5060;transport=udp` from behind a NAT; every
//! fourth one (every `--outbound N`th, none with 0) is an RFC 5626 outbound phone over TCP
//! (`;ob`, `+sip.instance`, `reg-id`).
//!
//! - memory per binding at 10 000, 100 000 and 1 000 000 bindings (all shards together): the
//!   heap bytes the location service asked for, what mimalloc gave (its size classes), and
//!   the process's resident growth; spare capacity of the grown tables is included;
//! - lookup (`bindings(aor)`, every binding read: its contact and its flow) of a random AoR
//!   and refresh (a re-REGISTER of a random binding with a higher CSeq, its event drained) at
//!   each size: thread CPU time per operation, the requests prepared beforehand so that only
//!   the location service is timed, in random order over the whole table so that caches are
//!   as cold as they are in service; best of 3 rounds. Lookups are timed twice: back to back,
//!   where the CPU overlaps the memory misses of several lookups, and alone, each one's key
//!   depending on what the one before read, as a lookup in service runs between other work;
//! - 100 000 bindings that expire at the same instant, beside the million: `expire` driven as
//!   the shard drives it (called again while its deadline has passed); the longest single
//!   call, the calls, and the total.
//!
//! Under `cargo test --benches` (no `--bench` argument) it runs small sizes, as a smoke test;
//! `--quick` does the same under `cargo bench`. `--profile lookup` (or `refresh`) fills
//! 100 000 bindings and then repeats only that operation, for a profiler to watch.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use drongo::core::registrar::{
    aor_shard, Contact, FlowInfo, Location, RegisterRequest, RegistrarConfig,
};
use drongo::sim::epoch;
use mimalloc::MiMalloc;

// ---------------------------------------------------------------------------------------------
// Allocation counting
// ---------------------------------------------------------------------------------------------

/// mimalloc (the allocator the binary runs on), counting live heap bytes while [`COUNTING`]
/// is set: the bytes asked for, and the bytes mimalloc's size class gave. Counting is on only
/// in the memory pass, never while operations are timed.
struct CountingAlloc;

/// Every how many bindings one is an outbound TCP phone (`--outbound`; 0: none).
static OUTBOUND_EVERY: AtomicU32 = AtomicU32::new(4);

static COUNTING: AtomicBool = AtomicBool::new(false);
static ASKED: AtomicUsize = AtomicUsize::new(0);
static GIVEN: AtomicUsize = AtomicUsize::new(0);

extern "C" {
    /// mimalloc's usable size of a block it allocated (part of the library the `mimalloc`
    /// crate links; the crate exposes it only behind a feature).
    fn mi_usable_size(p: *const c_void) -> usize;
    /// Makes mimalloc give freed memory back to the system now rather than later.
    fn mi_collect(force: bool);
}

fn add(ptr: *mut u8, size: usize) {
    if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
        ASKED.fetch_add(size, Ordering::Relaxed);
        // SAFETY: `ptr` was just returned by mimalloc.
        GIVEN.fetch_add(unsafe { mi_usable_size(ptr.cast()) }, Ordering::Relaxed);
    }
}

fn sub(ptr: *mut u8, size: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        ASKED.fetch_sub(size, Ordering::Relaxed);
        // SAFETY: `ptr` is a live mimalloc block, about to be freed.
        GIVEN.fetch_sub(unsafe { mi_usable_size(ptr.cast()) }, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to mimalloc; counting only reads block sizes and
// touches atomics. Counting is switched only while no block allocated under the other
// setting is freed (see `memory_pass`).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let ptr = unsafe { MiMalloc.alloc(layout) };
        add(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { MiMalloc.alloc_zeroed(layout) };
        add(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(ptr, layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract, passed on as is.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        sub(ptr, layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as is.
        let new = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if new.is_null() {
            add(ptr, layout.size()); // the old block stays
        } else {
            add(new, new_size);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn live() -> (usize, usize) {
    (ASKED.load(Ordering::Relaxed), GIVEN.load(Ordering::Relaxed))
}

/// Resident set size of this process, from /proc/self/statm.
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as usize;
    pages * page
}

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

// ---------------------------------------------------------------------------------------------
// Registrations
// ---------------------------------------------------------------------------------------------

const AOR_TEMPLATE: &[u8] = b"sip:user000000@example.com";
const UDP_TEMPLATE: &[u8] = b"sip:user000000@192.0.2.000:5060;transport=udp";
const TCP_TEMPLATE: &[u8] = b"sip:user000000@198.51.100.000:50000;transport=tcp;ob";
const INSTANCE_TEMPLATE: &[u8] = b"\"<urn:uuid:00000000-0000-1000-8000-000000000000>\"";
/// Where the six digits of the user start, in the AoR and both contacts.
const USER_AT: usize = 8;

/// Registrations granted for an hour, as most phones ask.
const EXPIRES: u32 = 3600;

fn digits(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One REGISTER's fields, fixed-width and inline, so that a list of them is read in order
/// while the location service is timed.
#[derive(Clone, Copy)]
struct Prepared {
    aor: [u8; AOR_TEMPLATE.len()],
    contact: [u8; TCP_TEMPLATE.len()],
    contact_len: u8,
    outbound: bool,
    call_id: [u8; 32],
    shard: u16,
    user: u32,
}

impl Prepared {
    /// Binding `user` (0 to 999 999) of `prefix` (`user` or another 4-letter name).
    fn new(prefix: &[u8; 4], user: u32, shards: u16) -> Self {
        let mut aor = [0u8; AOR_TEMPLATE.len()];
        aor.copy_from_slice(AOR_TEMPLATE);
        aor[4..USER_AT].copy_from_slice(prefix);
        digits(&mut aor[USER_AT..USER_AT + 6], u64::from(user));
        let every = OUTBOUND_EVERY.load(Ordering::Relaxed);
        let outbound = every != 0 && user % every == 0;
        let template = if outbound { TCP_TEMPLATE } else { UDP_TEMPLATE };
        let mut contact = [0u8; TCP_TEMPLATE.len()];
        contact[..template.len()].copy_from_slice(template);
        contact[4..USER_AT].copy_from_slice(prefix);
        digits(&mut contact[USER_AT..USER_AT + 6], u64::from(user));
        // The host's last octet (the `000` after the `@`), then the port of a TCP contact.
        let after_user = USER_AT + 6;
        let octet_at = after_user
            + template[after_user..]
                .windows(3)
                .position(|w| w == b"000")
                .unwrap_or(0);
        digits(
            &mut contact[octet_at..octet_at + 3],
            u64::from(1 + user % 250),
        );
        if outbound {
            let port_at = octet_at + 4;
            digits(
                &mut contact[port_at..port_at + 5],
                10_000 + u64::from(user % 50_000),
            );
        }
        let mut call_id = [0u8; 32];
        let hex = b"0123456789abcdef";
        let words = [mix(u64::from(user)), mix(u64::from(user) ^ 0x5eed)];
        for (i, c) in call_id.iter_mut().enumerate() {
            let word = words[i / 16];
            *c = hex[((word >> ((i % 16) * 4)) & 15) as usize];
        }
        Prepared {
            shard: aor_shard(&aor, shards),
            aor,
            contact,
            contact_len: template.len() as u8,
            outbound,
            call_id,
            user,
        }
    }

    fn register(&self, loc: &mut Location, now: Instant, cseq: u32, expires: u32) {
        let mut instance = [0u8; INSTANCE_TEMPLATE.len()];
        instance.copy_from_slice(INSTANCE_TEMPLATE);
        let at = INSTANCE_TEMPLATE.len() - 14;
        digits(&mut instance[at..at + 12], u64::from(self.user));
        let contacts = [Contact {
            uri: &self.contact[..usize::from(self.contact_len)],
            expires: None,
            q: None,
            instance: self.outbound.then_some(&instance[..]),
            reg_id: self.outbound.then_some(1),
        }];
        let octet = (1 + self.user % 250) as u8;
        let flow = FlowInfo {
            reliable: self.outbound,
            local: SocketAddr::from(([203, 0, 113, 1], 5060)),
            remote: SocketAddr::from(([198, 51, 100, octet], 10_000 + (self.user % 50_000) as u16)),
            conn: self.outbound.then_some(u64::from(self.user)),
            shard: self.shard,
        };
        let req = RegisterRequest {
            aor: &self.aor,
            star: false,
            contacts: &contacts,
            expires: Some(expires),
            call_id: &self.call_id,
            cseq,
            path: b"",
            flow,
        };
        let result = loc.register(now, &req);
        // The consumer of registration events drains them (none is dropped or kept).
        while let Some(event) = loc.poll_event() {
            black_box(event);
        }
        assert_eq!(result, Ok(()), "REGISTER {}", self.user);
    }
}

struct Table {
    shards: Vec<Location>,
    /// Bindings registered so far (users 0 to `filled - 1`).
    filled: u32,
    now: Instant,
    /// CSeq of the next refresh, above every one used before.
    cseq: u32,
}

impl Table {
    fn new(shards: u16) -> Self {
        let now = epoch();
        let config = RegistrarConfig {
            max_bindings: 4_000_000,
            ..RegistrarConfig::DEFAULT
        };
        Table {
            shards: (0..shards).map(|_| Location::new(config, now)).collect(),
            filled: 0,
            now,
            cseq: 2,
        }
    }

    fn count(&self) -> u16 {
        self.shards.len() as u16
    }

    fn len(&self) -> usize {
        self.shards.iter().map(Location::len).sum()
    }

    /// Registers users up to `to`, one a millisecond of virtual time, running every shard's
    /// expiry each 100 ms as the shard's timer does. Returns CPU ns per new binding.
    fn fill(&mut self, to: u32) -> f64 {
        let count = self.count();
        let from = self.filled;
        let start = cpu_now();
        for user in from..to {
            let p = Prepared::new(b"user", user, count);
            self.now += Duration::from_millis(1);
            p.register(&mut self.shards[usize::from(p.shard)], self.now, 1, EXPIRES);
            if user % 100 == 99 {
                for loc in &mut self.shards {
                    loc.expire(self.now);
                }
            }
        }
        let spent = cpu_now() - start;
        self.filled = to;
        assert_eq!(self.len(), to as usize);
        spent.as_nanos() as f64 / f64::from((to - from).max(1))
    }

    /// `n` users drawn at random from the table.
    fn sample(&self, n: u32, seed: u64) -> Vec<Prepared> {
        let count = self.count();
        (0..u64::from(n))
            .map(|i| {
                let user = (mix(seed ^ (i << 20)) % u64::from(self.filled)) as u32;
                Prepared::new(b"user", user, count)
            })
            .collect()
    }

    /// The AoRs and shards of `n` users drawn at random from the table.
    fn sample_aors(&self, n: u32, seed: u64) -> Vec<([u8; AOR_TEMPLATE.len()], u16)> {
        let count = self.count();
        (0..u64::from(n))
            .map(|i| {
                let user = (mix(seed ^ (i << 20)) % u64::from(self.filled)) as u32;
                let mut aor = [0u8; AOR_TEMPLATE.len()];
                aor.copy_from_slice(AOR_TEMPLATE);
                digits(&mut aor[USER_AT..USER_AT + 6], u64::from(user));
                (aor, aor_shard(&aor, count))
            })
            .collect()
    }

    /// CPU ns per `bindings(aor)` with every binding read. `alone`: each lookup waits for
    /// the one before (its key depends on the contact the one before read), so that the
    /// figure is a lookup's latency rather than that of lookups overlapping in the CPU.
    fn lookups(&self, sample: &[([u8; AOR_TEMPLATE.len()], u16)], alone: bool) -> f64 {
        let start = cpu_now();
        let mut after = 0u8;
        for (aor, shard) in sample {
            let loc = &self.shards[usize::from(*shard)];
            let mut key = *aor;
            if alone {
                // NOTE: always 0 (no contact is 2^60 bytes long), which the compiler cannot
                // know: the next lookup waits for this one's contact.
                key[0] |= after;
            }
            let mut found = 0;
            for b in loc.bindings(&key) {
                after = (black_box(b.contact()).len() >> 60) as u8;
                black_box(b.flow());
                found += 1;
            }
            debug_assert_eq!(found, 1);
            black_box(found);
        }
        (cpu_now() - start).as_nanos() as f64 / sample.len().max(1) as f64
    }

    /// CPU ns per re-REGISTER of an existing binding (same contact and Call-ID, higher CSeq).
    fn refreshes(&mut self, sample: &[Prepared]) -> f64 {
        let bindings = self.len();
        let start = cpu_now();
        for p in sample {
            self.cseq += 1;
            p.register(
                &mut self.shards[usize::from(p.shard)],
                self.now,
                self.cseq,
                EXPIRES,
            );
        }
        let spent = cpu_now() - start;
        assert_eq!(self.len(), bindings, "a refresh adds nothing");
        spent.as_nanos() as f64 / sample.len().max(1) as f64
    }
}

/// Memory per binding, all shards together, at each size: (bindings, asked, given by
/// mimalloc, resident growth), bytes per binding. A table of its own, filled with counting
/// on and nothing else happening, then dropped: every byte must come back.
fn memory_pass(shards: u16, sizes: &[u32]) -> Vec<(u32, f64, f64, f64)> {
    let rss0 = rss_bytes();
    let mut figures = Vec::with_capacity(sizes.len());
    COUNTING.store(true, Ordering::SeqCst);
    let (asked0, given0) = live();
    let mut table = Table::new(shards);
    for &size in sizes {
        table.fill(size);
        let (asked, given) = live();
        let per = |bytes: usize| bytes as f64 / f64::from(size);
        figures.push((
            size,
            per(asked - asked0),
            per(given - given0),
            per(rss_bytes().saturating_sub(rss0)),
        ));
    }
    drop(table);
    let (asked, _) = live();
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(asked, asked0, "the location service gave back every byte");
    // mimalloc returns freed pages to the system lazily, from within a later free: without
    // this, the first call that frees much (an `expire`) would pay for this whole table.
    // SAFETY: a plain call into the allocator the process runs on.
    unsafe { mi_collect(true) };
    figures
}

/// 100 000 (or `n`) bindings registered at one instant, so they expire at one instant, into
/// the table, then every shard's `expire` called as the shard calls it: at its deadline, and
/// again at once while the deadline has passed. Returns (bindings expired, calls, longest
/// call, all calls in CPU time, registration events dropped on the way).
fn mass_expiry(table: &mut Table, n: u32) -> (usize, usize, Duration, Duration, u64) {
    let count = table.count();
    let burst: Vec<Prepared> = (0..n).map(|u| Prepared::new(b"gone", u, count)).collect();
    let at = table.now;
    for p in &burst {
        p.register(&mut table.shards[usize::from(p.shard)], at, 1, 60);
    }
    let before = table.len();
    let until = at + Duration::from_secs(61);
    // As after the memory pass: what the tables freed while they grew goes back now, not
    // inside the first `expire`.
    // SAFETY: a plain call into the allocator the process runs on.
    unsafe { mi_collect(true) };
    let (mut calls, mut longest, mut total) = (0, Duration::ZERO, Duration::ZERO);
    let mut now = at;
    loop {
        let next = table
            .shards
            .iter()
            .filter_map(Location::next_deadline)
            .filter(|d| *d <= until)
            .min();
        let Some(next) = next else { break };
        now = now.max(next);
        for loc in &mut table.shards {
            if loc.next_deadline().is_some_and(|d| d <= now) {
                let start = cpu_now();
                loc.expire(now);
                let spent = cpu_now() - start;
                while let Some(event) = loc.poll_event() {
                    black_box(event);
                }
                calls += 1;
                longest = longest.max(spent);
                total += spent;
            }
        }
    }
    table.now = until;
    let expired = before - table.len();
    assert_eq!(expired, n as usize, "every burst binding expired, no other");
    let dropped = table.shards.iter().map(Location::events_dropped).sum();
    (expired, calls, longest, total, dropped)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--quick");
    let shards = args
        .iter()
        .position(|a| a == "--shards")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()) as u16)
        .max(1);
    if let Some(every) = args
        .iter()
        .position(|a| a == "--outbound")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
    {
        OUTBOUND_EVERY.store(every, Ordering::Relaxed);
    }
    let mix = match OUTBOUND_EVERY.load(Ordering::Relaxed) {
        0 => "every one a UDP contact".to_string(),
        1 => "every one an outbound TCP contact with +sip.instance".to_string(),
        n => format!("1 in {n} an outbound TCP contact with +sip.instance"),
    };
    // `--profile lookup|refresh`: 100 000 bindings, then only that operation, for a profiler.
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let mut table = Table::new(shards);
        table.fill(100_000);
        let lookup = args.get(i + 1).is_some_and(|a| a == "lookup");
        let mut spent = f64::MAX;
        for round in 0..20 {
            spent = spent.min(if lookup {
                table.lookups(&table.sample_aors(1_000_000, round), false)
            } else {
                table.refreshes(&table.sample(200_000, round))
            });
        }
        println!("{spent:.0} ns CPU per operation");
        return;
    }
    let (sizes, lookups, refreshes, burst, rounds) = if smoke {
        (vec![1_000, 2_000, 5_000], 2_000, 2_000, 3_000, 1)
    } else {
        (
            vec![10_000, 100_000, 1_000_000],
            1_000_000,
            200_000,
            100_000,
            3,
        )
    };

    let memory = memory_pass(shards, &sizes);

    let mut table = Table::new(shards);
    let mut costs = Vec::new();
    for &size in &sizes {
        let add = table.fill(size);
        let (mut lookup, mut alone, mut refresh) = (f64::MAX, f64::MAX, f64::MAX);
        for round in 0..rounds {
            let seed = u64::from(size) * 31 + round;
            let sample = table.sample_aors(lookups, seed);
            lookup = lookup.min(table.lookups(&sample, false));
            alone = alone.min(table.lookups(&sample, true));
            let sample = table.sample(refreshes, seed ^ 0xf00d);
            refresh = refresh.min(table.refreshes(&sample));
        }
        costs.push((add, lookup, alone, refresh));
    }
    let (expired, calls, longest, total, dropped) = mass_expiry(&mut table, burst);

    println!(
        "location service, {shards} shard(s) (one Location each, AoRs spread by aor_shard), one AoR per binding, {mix}:"
    );
    println!(
        "{:>10} | {:>26} | {:>12} | {:>10} | {:>12} | {:>11} | {:>14}",
        "bindings",
        "bytes/binding asked/given",
        "RSS/binding",
        "lookup",
        "lookup alone",
        "refresh",
        "new binding"
    );
    for ((size, asked, given, rss), (add, lookup, alone, refresh)) in memory.iter().zip(&costs) {
        println!(
            "{size:>10} | {:>26} | {rss:>12.0} | {lookup:>7.0} ns | {alone:>9.0} ns | {refresh:>8.0} ns | {add:>11.0} ns",
            format!("{asked:.0} / {given:.0}"),
        );
    }
    println!(
        "lookup: bindings(aor) of a random AoR, every binding read (contact and flow), back to back or alone (each waiting for the one before); refresh: re-REGISTER of a random binding, higher CSeq, event drained; thread CPU time, best of {rounds}"
    );
    println!(
        "{expired} bindings expiring at one instant beside {} others: expire called {calls} times, longest call {:.2} ms, all calls {:.1} ms ({:.0} ns a binding); {dropped} registration events dropped",
        table.len(),
        longest.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        total.as_nanos() as f64 / expired.max(1) as f64,
    );
    if smoke {
        println!("(smoke run: figures are not measurements)");
    }
}
