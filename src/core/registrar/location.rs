//! The in-memory location service of one shard: AoRs in reusable slots, each with its
//! first binding inline and one allocation for its key and its bindings' strings
//! (`binding.rs`), and the AoRs filed by the second their bindings fall due (`expiry.rs`).
//!
//! Besides §10.3 it keeps what GRUUs and outbound flows need (RFC 5627, RFC 5626):
//! - a contact with `+sip.instance` and `reg-id` is the same binding as an earlier one with
//!   the same instance and `reg-id`, whatever its URI (RFC 5626 §6), so a UA that reconnects
//!   replaces its flow instead of adding one;
//! - the bindings of one instance share a registration number (`epoch`), kept while the
//!   instance stays registered with the same Call-ID and never reused; a temporary GRUU names
//!   the AoR's slot and that number, so it is checked without a table of GRUUs and dies with
//!   the registration (RFC 5627 §5.1);
//! - outbound bindings over a connection are indexed by connection, so a failed flow marks
//!   them unreachable at once (RFC 5626 §5.3).

mod binding;
mod expiry;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use hashbrown::HashMap;
use smallvec::SmallVec;

use super::service::{Bindings, Registrar};
use super::RegistrarConfig;
use crate::core::sip::uri::{uri_eq, Uri};
use crate::core::slots::Slots;
pub use binding::Binding;
use binding::{call_id_hash, Aor, Context, Fields, Stored};
use expiry::Due;

/// Events kept for a consumer that does not drain them; older ones are dropped and counted.
const MAX_EVENTS: usize = 4096;

/// Bindings one [`Location::expire`] call removes at most: about 0.1 ms of work when every
/// one is a cache miss (`cargo bench --bench location`), and fewer than [`MAX_EVENTS`], so
/// a consumer that drains the events after each call loses none.
const EXPIRE_BUDGET: usize = 1024;

/// Entries of the due buckets one [`Location::expire`] call looks at, at most: removals,
/// bindings filed again for a later expiry, and stale entries (see `expiry.rs`) all count.
const EXPIRE_STEPS: usize = 4 * EXPIRE_BUDGET;

/// The flow a REGISTER came over: requests to its contacts go back over it (RFC 5626, and the
/// NAT case: the source address rather than the Contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowInfo {
    /// A stream transport (TCP, TLS) rather than UDP.
    pub reliable: bool,
    /// The local address the REGISTER reached.
    pub local: SocketAddr,
    /// The address it came from.
    pub remote: SocketAddr,
    /// The connection it came on, for a stream transport.
    pub conn: Option<u64>,
    /// The shard that owns that connection (or received the datagram).
    pub shard: u16,
}

/// One Contact of a REGISTER, as the header views decoded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact<'a> {
    /// The contact URI as written (without the `<>` of a name-addr).
    pub uri: &'a [u8],
    /// The `expires` parameter.
    pub expires: Option<u32>,
    /// The `q` parameter in thousandths.
    pub q: Option<u16>,
    /// `+sip.instance` (RFC 5626): `<urn:uuid:...>`, its quotes dropped or kept (both are
    /// understood).
    pub instance: Option<&'a [u8]>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<u32>,
}

/// What the registrar needs of a REGISTER.
#[derive(Debug, Clone, Copy)]
pub struct RegisterRequest<'a> {
    /// The canonical AoR ([`super::aor_key`] of the To URI).
    pub aor: &'a [u8],
    /// `Contact: *`.
    pub star: bool,
    pub contacts: &'a [Contact<'a>],
    /// The Expires header.
    pub expires: Option<u32>,
    pub call_id: &'a [u8],
    pub cseq: u32,
    /// The Path header values (RFC 3327), joined with `, `; empty without Path.
    pub path: &'a [u8],
    pub flow: FlowInfo,
}

/// Why a REGISTER changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// `Contact: *` beside other contacts, or with an Expires other than 0 (§10.3 step 6).
    BadStar,
    /// A contact URI that does not parse.
    BadContact,
    /// The CSeq is not above the one a binding holds for the same Call-ID (§10.3 step 7).
    OutOfOrder,
    /// A contact asks for less than the minimum: 423 with this Min-Expires (§10.3 step 7).
    IntervalTooBrief(u32),
    /// The AoR would hold more contacts than allowed.
    TooManyContacts,
    /// The shard holds as many bindings as allowed.
    Full,
}

impl RegisterError {
    /// The response status and reason.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegisterError::BadStar | RegisterError::BadContact => (400, "Bad Request"),
            RegisterError::OutOfOrder => (400, "Out of Order CSeq"),
            RegisterError::IntervalTooBrief(_) => (423, "Interval Too Brief"),
            RegisterError::TooManyContacts => (403, "Too Many Contacts"),
            RegisterError::Full => (503, "Service Unavailable"),
        }
    }
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegEventKind {
    Added,
    Refreshed,
    Removed,
    Expired,
}

/// A registration-changed event: one binding of one AoR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegEvent {
    pub kind: RegEventKind,
    pub aor: Box<[u8]>,
    pub contact: Box<[u8]>,
}

/// `"<urn:uuid:...>"` as `urn:uuid:...`: a `+sip.instance` value without its quotes and
/// angle brackets.
pub(super) fn instance_id(value: &[u8]) -> &[u8] {
    let value = value.trim_ascii();
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    value
        .strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(value)
}

/// The bindings one shard holds.
pub struct Location {
    config: RegistrarConfig,
    aors: Slots<Aor>,
    /// The expiry clock and the local addresses bindings name.
    context: Context,
    due: Due,
    bindings: usize,
    serial: u32,
    /// The last instance registration number given out (see the module docs).
    epochs: u32,
    /// Connection -> the AoR slots with an outbound binding over it. A slot may be stale (its
    /// AoR gone, or another there): the bindings are checked for the connection anyway.
    flows: HashMap<u64, SmallVec<[u32; 2]>>,
    events: VecDeque<RegEvent>,
    events_dropped: u64,
}

/// A contact of a REGISTER, checked and with its expiry decided.
struct Checked<'a> {
    contact: &'a Contact<'a>,
    uri: Uri<'a>,
    expires: u32,
    /// The binding it refreshes or removes.
    existing: Option<usize>,
}

impl Location {
    pub fn new(config: RegistrarConfig, now: Instant) -> Self {
        Location {
            config,
            aors: Slots::new(),
            context: Context::new(now),
            due: Due::default(),
            bindings: 0,
            serial: 0,
            epochs: 0,
            flows: HashMap::new(),
            events: VecDeque::new(),
            events_dropped: 0,
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Bindings held.
    pub fn len(&self) -> usize {
        self.bindings
    }

    pub fn is_empty(&self) -> bool {
        self.bindings == 0
    }

    /// AoRs with at least one binding.
    pub fn aors(&self) -> usize {
        self.aors.len()
    }

    /// The bindings of an AoR (canonical key), highest q first; empty when it has none.
    pub fn bindings(&self, aor: &[u8]) -> Bindings<'_> {
        self.select(aor, |_| true)
    }

    /// The bindings of one instance of an AoR, highest q first (see
    /// [`Registrar::instance_bindings`]).
    pub fn instance_bindings(&self, aor: &[u8], instance: &[u8]) -> Bindings<'_> {
        if instance.is_empty() {
            return Bindings::empty();
        }
        self.select(aor, |b| b.instance_id().eq_ignore_ascii_case(instance))
    }

    /// Names the current registration of an instance (see [`Registrar::registration`]): its
    /// AoR's slot and the instance's registration number.
    pub fn registration(&self, aor: &[u8], instance: &[u8]) -> Option<u64> {
        let slot = self.aors.find(aor)?;
        let b =
            self.aors.get(slot)?.views(&self.context).find(|b| {
                b.stored().epoch != 0 && b.instance_id().eq_ignore_ascii_case(instance)
            })?;
        Some(u64::from(slot) << 32 | u64::from(b.stored().epoch))
    }

    /// The bindings of the registration `registration` names, while it lives.
    pub fn registration_bindings(&self, registration: u64) -> Bindings<'_> {
        let (slot, epoch) = ((registration >> 32) as u32, registration as u32);
        if epoch == 0 {
            return Bindings::empty();
        }
        match self.aors.get(slot) {
            Some(a) => {
                Bindings::by_q_of(a.views(&self.context).filter(|b| b.stored().epoch == epoch))
            }
            None => Bindings::empty(),
        }
    }

    fn select(&self, aor: &[u8], keep: impl Fn(&Binding<'_>) -> bool) -> Bindings<'_> {
        match self.aors.find(aor).and_then(|i| self.aors.get(i)) {
            Some(a) => Bindings::by_q_of(a.views(&self.context).filter(|b| keep(b))),
            None => Bindings::empty(),
        }
    }

    /// The flow on connection `conn` has ended: outbound bindings over it are unreachable.
    pub fn flow_failed(&mut self, conn: u64) {
        let Some(slots) = self.flows.remove(&conn) else {
            return;
        };
        for slot in slots {
            let Some(aor) = self.aors.get_mut(slot) else {
                continue;
            };
            let over: SmallVec<[usize; 4]> = aor
                .views(&self.context)
                .enumerate()
                .filter(|(_, b)| b.outbound() && b.conn() == Some(conn))
                .map(|(i, _)| i)
                .collect();
            for i in over {
                if let Some(b) = aor.bindings.get_mut(i) {
                    b.set_failed();
                }
            }
        }
    }

    /// Takes the next registration-changed event.
    pub fn poll_event(&mut self) -> Option<RegEvent> {
        self.events.pop_front()
    }

    /// Events dropped because nobody drained them.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// When [`Location::expire`] must next run.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.due.first().map(|second| self.context.instant(second))
    }

    /// Removes the bindings whose time has come, at most [`EXPIRE_BUDGET`] of them a call, so
    /// that a mass expiry (a site's phones that all registered in the same second and went
    /// away together) never stalls the shard. The rest stay due: [`Location::next_deadline`]
    /// is then already past, and the shard calls again on its next timer turn, after serving
    /// what arrived in between (and draining the events of the first batch).
    pub fn expire(&mut self, now: Instant) {
        let now = self.context.second_floor(now);
        let mut removed = 0;
        for _ in 0..EXPIRE_STEPS {
            if removed == EXPIRE_BUDGET {
                return;
            }
            let Some((second, slot)) = self.due.peek(now) else {
                return;
            };
            // A binding of the slot filed under this second, and when it expires.
            let filed = self.aors.get(slot).and_then(|aor| {
                let i = aor.bindings.iter().position(|b| b.filed == second)?;
                Some((i, aor.bindings.get(i)?.expires))
            });
            match filed {
                // The entry is done with (or was stale: see `expiry.rs`).
                None => self.due.pop(second),
                Some((i, expires)) if expires <= now => {
                    self.remove_binding(slot, i, RegEventKind::Expired);
                    self.drop_if_empty(slot);
                    removed += 1;
                }
                // Refreshed since it was filed: filed again for its expiry.
                Some((i, expires)) => {
                    let aor = self.aors.get_mut(slot);
                    if let Some(b) = aor.and_then(|a| a.bindings.get_mut(i)) {
                        b.filed = expires;
                        self.due.file(expires, slot);
                    }
                }
            }
        }
    }

    /// Applies a REGISTER (§10.3 steps 6 to 8) at `now`: every contact is checked before any
    /// binding changes, so a refused request changes nothing.
    pub fn register(
        &mut self,
        now: Instant,
        req: &RegisterRequest<'_>,
    ) -> Result<(), RegisterError> {
        let call_id = call_id_hash(req.call_id);
        // Known before anything changes, so that applying cannot fail.
        let local = self
            .context
            .local(req.flow.local)
            .ok_or(RegisterError::Full)?;
        let slot = self.aors.find(req.aor);
        let current: SmallVec<[Binding<'_>; 4]> = slot
            .and_then(|i| self.aors.get(i))
            .map(|a| a.views(&self.context).collect())
            .unwrap_or_default();
        let out_of_order = |b: &Binding<'_>| b.stored().call_id == call_id && req.cseq <= b.cseq();
        if req.star {
            if !req.contacts.is_empty() || req.expires != Some(0) {
                return Err(RegisterError::BadStar);
            }
            if current.iter().any(out_of_order) {
                return Err(RegisterError::OutOfOrder);
            }
            drop(current);
            if let Some(slot) = slot {
                self.remove_all(slot);
            }
            return Ok(());
        }
        let mut checked: SmallVec<[Checked<'_>; 4]> = SmallVec::new();
        let mut too_brief = false;
        for contact in req.contacts {
            let uri = Uri::parse(contact.uri).map_err(|_| RegisterError::BadContact)?;
            let asked = contact
                .expires
                .or(req.expires)
                .unwrap_or(self.config.default_expires);
            too_brief |= asked != 0 && asked < self.config.min_expires;
            let expires = asked.min(self.config.max_expires);
            let existing = current.iter().position(|b| b.matches(contact, &uri));
            if existing
                .and_then(|i| current.get(i))
                .is_some_and(out_of_order)
            {
                return Err(RegisterError::OutOfOrder);
            }
            // The same contact twice in one request: the later one wins (§10.3 step 8 applies
            // the contacts in order).
            checked.retain(|c| !uri_eq(&c.uri, &uri));
            checked.push(Checked {
                contact,
                uri,
                expires,
                existing,
            });
        }
        if too_brief {
            return Err(RegisterError::IntervalTooBrief(self.config.min_expires));
        }
        let added = checked
            .iter()
            .filter(|c| c.existing.is_none() && c.expires > 0)
            .count();
        let removed = checked
            .iter()
            .filter(|c| c.existing.is_some() && c.expires == 0)
            .count();
        // NOTE: `removed` counts existing bindings only, so it is at most `current.len()`.
        if current.len() + added - removed > self.config.max_contacts_per_aor {
            return Err(RegisterError::TooManyContacts);
        }
        if self.bindings + added > self.config.max_bindings {
            return Err(RegisterError::Full);
        }
        drop(current);
        // Apply: removals first (indices into `current` stay valid while only removals by
        // descending index happen), then refreshes and additions.
        let slot = match slot {
            Some(s) => s,
            None if added == 0 => return Ok(()),
            None => self.aors.insert(|_| Aor::new(req.aor)),
        };
        let mut removals: SmallVec<[usize; 4]> = checked
            .iter()
            .filter(|c| c.expires == 0)
            .filter_map(|c| c.existing)
            .collect();
        removals.sort_unstable_by(|a, b| b.cmp(a));
        for i in removals {
            self.remove_binding(slot, i, RegEventKind::Removed);
        }
        for c in checked.iter().filter(|c| c.expires > 0) {
            self.put(now, slot, c, req, call_id, local);
        }
        self.drop_if_empty(slot);
        Ok(())
    }

    /// Adds a binding, or refreshes the one the contact names.
    fn put(
        &mut self,
        now: Instant,
        slot: u32,
        c: &Checked<'_>,
        req: &RegisterRequest<'_>,
        call_id: u64,
        local: u16,
    ) {
        self.serial = self.serial.wrapping_add(1);
        let epoch = self.epoch_for(slot, c.contact, call_id);
        let expires = self.context.second_ceil(now).saturating_add(c.expires);
        let (mut stored, parts) = Stored::new(
            c.contact,
            Fields {
                call_id,
                cseq: req.cseq,
                path: req.path,
                flow: &req.flow,
                local,
                expires,
                serial: self.serial,
                epoch,
            },
        );
        let Some(aor) = self.aors.get_mut(slot) else {
            return;
        };
        // The binding it replaces: its index, where it is filed, its connection if outbound.
        let same = aor
            .views(&self.context)
            .enumerate()
            .find(|(_, b)| b.matches(c.contact, &c.uri))
            .map(|(i, b)| {
                (
                    i,
                    b.stored().filed,
                    b.outbound().then(|| b.conn()).flatten(),
                )
            });
        // A refreshed binding stays filed where it was unless it now expires earlier (see
        // `expiry.rs`).
        match same {
            Some((_, filed, _)) if filed <= expires => stored.filed = filed,
            _ => self.due.file(expires, slot),
        }
        let indexed = stored.outbound().then_some(req.flow.conn).flatten();
        let (kind, old_conn) = match same {
            Some((i, _, old_conn)) => {
                aor.replace(i, stored, &parts);
                (RegEventKind::Refreshed, old_conn)
            }
            None => {
                aor.push(stored, &parts);
                self.bindings += 1;
                (RegEventKind::Added, None)
            }
        };
        let key: Box<[u8]> = aor.key().into();
        if let Some(conn) = old_conn {
            self.unindex(slot, conn);
        }
        if let Some(conn) = indexed {
            let slots = self.flows.entry(conn).or_default();
            if !slots.contains(&slot) {
                slots.push(slot);
            }
        }
        self.event(kind, key, c.contact.uri);
    }

    /// The registration number of a contact's instance (see the module docs): that of the
    /// instance's bindings registered with the same Call-ID, else a new one, which then
    /// becomes the number of every binding of the instance (a new Call-ID means the UA
    /// started over, and the temporary GRUUs given out before die, RFC 5627 §5.1).
    fn epoch_for(&mut self, slot: u32, contact: &Contact<'_>, call_id: u64) -> u32 {
        let Some(instance) = contact.instance.map(instance_id).filter(|i| !i.is_empty()) else {
            return 0;
        };
        let Some(aor) = self.aors.get_mut(slot) else {
            return 0;
        };
        let siblings: SmallVec<[usize; 4]> = aor
            .views(&self.context)
            .enumerate()
            .filter(|(_, b)| {
                b.stored().epoch != 0 && b.instance_id().eq_ignore_ascii_case(instance)
            })
            .map(|(i, _)| i)
            .collect();
        let same = siblings
            .iter()
            .filter_map(|&i| aor.bindings.get(i))
            .find(|b| b.call_id == call_id);
        if let Some(same) = same {
            return same.epoch;
        }
        self.epochs = self.epochs.wrapping_add(1).max(1);
        for i in siblings {
            if let Some(b) = aor.bindings.get_mut(i) {
                b.epoch = self.epochs;
            }
        }
        self.epochs
    }

    /// Drops connection `conn` (that of an outbound binding gone from `slot`) from the flow
    /// index when no other outbound binding of the slot uses it.
    fn unindex(&mut self, slot: u32, conn: u64) {
        let still_used = self.aors.get(slot).is_some_and(|a| {
            a.views(&self.context)
                .any(|b| b.outbound() && b.conn() == Some(conn))
        });
        if still_used {
            return;
        }
        if let Some(slots) = self.flows.get_mut(&conn) {
            slots.retain(|s| *s != slot);
            if slots.is_empty() {
                self.flows.remove(&conn);
            }
        }
    }

    fn remove_binding(&mut self, slot: u32, index: usize, kind: RegEventKind) {
        let Some(aor) = self.aors.get_mut(slot) else {
            return;
        };
        let Some(gone) = aor.view(index, &self.context) else {
            return;
        };
        let contact: Box<[u8]> = gone.contact().into();
        let conn = gone.outbound().then(|| gone.conn()).flatten();
        let key: Box<[u8]> = aor.key().into();
        aor.remove(index);
        self.bindings -= 1;
        if let Some(conn) = conn {
            self.unindex(slot, conn);
        }
        self.event(kind, key, contact);
    }

    fn remove_all(&mut self, slot: u32) {
        let count = self.aors.get(slot).map_or(0, |a| a.bindings.len());
        for i in (0..count).rev() {
            self.remove_binding(slot, i, RegEventKind::Removed);
        }
        self.drop_if_empty(slot);
    }

    fn drop_if_empty(&mut self, slot: u32) {
        if self.aors.get(slot).is_some_and(|a| a.bindings.is_empty()) {
            self.aors.remove(slot, |_| Vec::new());
        }
    }

    fn event(&mut self, kind: RegEventKind, aor: Box<[u8]>, contact: impl Into<Box<[u8]>>) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(RegEvent {
            kind,
            aor,
            contact: contact.into(),
        });
    }
}

impl Registrar for Location {
    fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    fn register(&mut self, now: Instant, req: &RegisterRequest<'_>) -> Result<(), RegisterError> {
        Location::register(self, now, req)
    }

    fn bindings<'a>(&'a self, aor: &[u8]) -> Bindings<'a> {
        Location::bindings(self, aor)
    }

    fn instance_bindings<'a>(&'a self, aor: &[u8], instance: &[u8]) -> Bindings<'a> {
        Location::instance_bindings(self, aor, instance)
    }

    fn registration(&self, aor: &[u8], instance: &[u8]) -> Option<u64> {
        Location::registration(self, aor, instance)
    }

    fn registration_bindings<'a>(&'a self, registration: u64) -> Bindings<'a> {
        Location::registration_bindings(self, registration)
    }

    fn flow_failed(&mut self, conn: u64) {
        Location::flow_failed(self, conn)
    }

    fn expire(&mut self, now: Instant) {
        Location::expire(self, now)
    }

    fn next_deadline(&self) -> Option<Instant> {
        Location::next_deadline(self)
    }

    fn poll_event(&mut self) -> Option<RegEvent> {
        Location::poll_event(self)
    }

    fn events_dropped(&self) -> u64 {
        Location::events_dropped(self)
    }

    fn len(&self) -> usize {
        Location::len(self)
    }

    fn aors(&self) -> usize {
        Location::aors(self)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(super) use tests::footprint;
