//! The location service as the core sees it: the [`Registrar`] trait, which every storage
//! backend implements, and the choice of backend from the configuration.
//!
//! Owns: the operations the shard needs of a location service and their contract. Must not:
//! read the wire format or know where a backend keeps its bindings.
//!
//! Every operation is synchronous and takes time as an argument, like the rest of the core.
//! The embedded [`Location`](super::Location) answers from memory. A remote backend (Redis,
//! SQL) answers from a shard-local view of the AoRs the shard owns and issues its writes as
//! storage operations that the shell completes: the REGISTER that changed the view is then
//! answered once its write is confirmed, which needs a variant of `register` that can answer
//! later. That variant comes with the first such backend; nothing here blocks it, because the
//! answer to a REGISTER is built from [`Registrar::bindings`] after the change, not from what
//! `register` returns.

use std::time::Instant;

use smallvec::SmallVec;

use super::gruu::{Gruu, TempGruus};
use super::{
    aor_key, without_port, Binding, RegEvent, RegisterError, RegisterRequest, RegistrarConfig,
};
use crate::core::sip::text::unescape;
use crate::core::sip::uri::Uri;

/// Where the bindings live (`registrar.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// In this process, one [`Location`](super::Location) per shard: the default.
    #[default]
    Memory,
}

impl Backend {
    /// The configuration names, in the order the docs list them.
    pub const NAMES: &'static [&'static str] = &["memory"];

    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "memory" => Some(Backend::Memory),
            _ => None,
        }
    }
}

/// Opens the location service `config.backend` names for one shard.
pub fn open(config: RegistrarConfig, now: Instant) -> Box<dyn Registrar> {
    match config.backend {
        Backend::Memory => Box::new(super::Location::new(config, now)),
    }
}

/// A location service (RFC 3261 §10.3, RFC 5627, RFC 5626): the bindings of the AoRs one
/// shard owns.
///
/// Contract: `register` applies a whole REGISTER or nothing; every change is a [`RegEvent`];
/// lookups never return a binding whose time has passed once `expire` ran for that instant;
/// `next_deadline` says when `expire` must run next.
pub trait Registrar {
    /// The limits the service enforces.
    fn config(&self) -> &RegistrarConfig;

    /// Applies a REGISTER (§10.3 steps 6 to 8) at `now`: all of its contacts, or none when it
    /// is refused.
    fn register(&mut self, now: Instant, req: &RegisterRequest<'_>) -> Result<(), RegisterError>;

    /// The bindings of an AoR (canonical key), highest q first.
    fn bindings<'a>(&'a self, aor: &[u8]) -> Bindings<'a>;

    /// The bindings of one instance of an AoR (RFC 5627 §6: the targets of its public GRUU).
    /// `instance` is the `gr` value: the `+sip.instance` without its quotes and angle
    /// brackets, compared without regard to case.
    fn instance_bindings<'a>(&'a self, aor: &[u8], instance: &[u8]) -> Bindings<'a>;

    /// Names the current registration of an instance of an AoR, for a temporary GRUU to
    /// refer to (RFC 5627 §5.1): the same value while the instance stays registered with the
    /// same Call-ID, never the same value again once that registration has ended. `None`
    /// when the instance has no binding.
    fn registration(&self, aor: &[u8], instance: &[u8]) -> Option<u64>;

    /// The bindings of the registration `registration` names, while it lives; empty once it
    /// has ended (the temporary GRUUs that name it are then invalid).
    fn registration_bindings<'a>(&'a self, registration: u64) -> Bindings<'a>;

    /// The flow on connection `conn` has ended (RFC 5626 §5.3): an outbound binding over it
    /// (`+sip.instance` and `reg-id`) is unreachable from now on, until its UA registers
    /// again.
    fn flow_failed(&mut self, conn: u64);

    /// Removes every binding whose time has come.
    fn expire(&mut self, now: Instant);

    /// When [`Registrar::expire`] must next run.
    fn next_deadline(&self) -> Option<Instant>;

    /// Takes the next registration-changed event.
    fn poll_event(&mut self) -> Option<RegEvent>;

    /// Events dropped because nobody drained them.
    fn events_dropped(&self) -> u64;

    /// Bindings held.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// AoRs with at least one binding.
    fn aors(&self) -> usize;
}

/// Bindings found by a lookup, highest q first. Up to four are held without allocating, and
/// one (as most AoRs have) without a list.
pub struct Bindings<'a> {
    list: List<'a>,
}

enum List<'a> {
    One(Option<Binding<'a>>),
    Many(smallvec::IntoIter<[Binding<'a>; 4]>),
}

impl<'a> Bindings<'a> {
    /// `list` in the order of §16.6: highest q first, a contact without q ranking as q=1.0
    /// (absent means no preference below others); equal q keep their order.
    pub fn by_q(mut list: SmallVec<[Binding<'a>; 4]>) -> Self {
        list.sort_by_key(|b| std::cmp::Reverse(b.q().unwrap_or(1000)));
        Bindings {
            list: List::Many(list.into_iter()),
        }
    }

    /// [`Bindings::by_q`] of what `bindings` yields.
    pub fn by_q_of(mut bindings: impl Iterator<Item = Binding<'a>>) -> Self {
        let Some(first) = bindings.next() else {
            return Bindings::empty();
        };
        let Some(second) = bindings.next() else {
            return Bindings {
                list: List::One(Some(first)),
            };
        };
        let mut list: SmallVec<[Binding<'a>; 4]> = SmallVec::new();
        list.push(first);
        list.push(second);
        list.extend(bindings);
        Bindings::by_q(list)
    }

    pub fn empty() -> Self {
        Bindings {
            list: List::One(None),
        }
    }
}

impl<'a> Iterator for Bindings<'a> {
    type Item = Binding<'a>;

    fn next(&mut self) -> Option<Binding<'a>> {
        match &mut self.list {
            List::One(one) => one.take(),
            List::Many(list) => list.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.list {
            List::One(one) => {
                let n = usize::from(one.is_some());
                (n, Some(n))
            }
            List::Many(list) => list.size_hint(),
        }
    }
}

impl ExactSizeIterator for Bindings<'_> {}

/// The bindings a request may be sent to (RFC 5626 §5.3): an outbound binding (one with
/// `+sip.instance` and `reg-id`) whose flow has failed is unreachable, and of the live
/// outbound bindings of one instance only the most recently registered is a target, since
/// they are flows to the same UA. Order is kept.
pub fn reachable<'a>(bindings: impl Iterator<Item = Binding<'a>>) -> SmallVec<[Binding<'a>; 4]> {
    let mut out: SmallVec<[Binding<'a>; 4]> = SmallVec::new();
    for b in bindings {
        if b.outbound() && b.flow_failed() {
            continue;
        }
        if !b.outbound() {
            out.push(b);
            continue;
        }
        let same = out
            .iter()
            .position(|o| o.outbound() && o.instance_id().eq_ignore_ascii_case(b.instance_id()));
        match same {
            Some(i) if b.newer_than(&out[i]) => out[i] = b,
            Some(_) => {}
            None => out.push(b),
        }
    }
    out
}

/// What a Request-URI in a served domain reaches.
pub enum Lookup<'a> {
    /// The bindings it reaches, possibly none. `gruu`: it is a GRUU, whose instance is
    /// unavailable (480) rather than unknown when it has no binding (RFC 5627 §6.1).
    Found { bindings: Bindings<'a>, gruu: bool },
    /// A GRUU that names nothing: a temporary GRUU not minted here, or whose registration
    /// has ended (404, RFC 5627 §6.1).
    Unknown,
}

/// Looks up the bindings a Request-URI reaches (RFC 3261 §16.5, RFC 5627 §6.1): those of its
/// AoR; for a public GRUU, those of its AoR with its instance; for a temporary GRUU, those of
/// the registration it was minted for, while that lives. `key` is scratch for the AoR key.
/// A URI with a port that finds nothing is tried without it, so `sip:alice@host:5060` also
/// finds `sip:alice@host`.
pub fn lookup<'a>(
    location: &'a dyn Registrar,
    gruus: &TempGruus,
    uri: &Uri<'_>,
    key: &mut Vec<u8>,
) -> Lookup<'a> {
    let gruu = Gruu::of(uri);
    if let Some(Gruu::Temporary(token)) = gruu {
        let bindings = gruus
            .open(token)
            .map(|registration| location.registration_bindings(registration))
            .filter(|b| b.len() > 0);
        return match bindings {
            Some(bindings) => Lookup::Found {
                bindings,
                gruu: true,
            },
            None => Lookup::Unknown,
        };
    }
    if aor_key(uri, key).is_err() {
        return Lookup::Unknown;
    }
    let instance: SmallVec<[u8; 64]> = match gruu {
        Some(Gruu::Public(escaped)) => unescape(escaped).collect(),
        _ => SmallVec::new(),
    };
    let find = |aor: &[u8]| match gruu {
        Some(_) => location.instance_bindings(aor, &instance),
        None => location.bindings(aor),
    };
    let mut bindings = find(key);
    if bindings.len() == 0 {
        bindings = find(without_port(key));
    }
    Lookup::Found {
        bindings,
        gruu: gruu.is_some(),
    }
}
