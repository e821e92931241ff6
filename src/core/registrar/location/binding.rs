//! How the location service keeps an AoR and its bindings, and the [`Binding`] view that
//! lookups hand out.
//!
//! Memory is the point: one AoR is one slot holding its first binding's fixed part inline
//! ([`Stored`], 48 bytes) and one allocation holding the AoR key and every binding's strings
//! one after the other, so a lookup reads the key and the contact from the same few cache
//! lines. What a binding keeps compactly:
//! - the Call-ID as a 64-bit hash (see [`call_id_hash`] for why that is enough);
//! - the expiry as a whole second of the location's clock (`u32`, see `expiry.rs`);
//! - the flow's local address as an index into the location's table of local addresses (a
//!   shard has a handful), an IPv4 source address inline, and what only some bindings have
//!   (the connection id of a stream, a `reg-id`, an IPv6 source address) before the
//!   binding's strings, in the cache line of the AoR key.
//!
//! Must not: apply §10.3 rules (the location does); everything here is storage.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use smallvec::SmallVec;

use super::{instance_id, Contact, FlowInfo};
use crate::core::sip::uri::{uri_eq, Uri};
use crate::core::slots::Keyed;

/// Flags of a [`Stored`] binding.
const RELIABLE: u8 = 1;
const FAILED: u8 = 1 << 1;
const HAS_Q: u8 = 1 << 2;
/// The flow's connection id (8 bytes, little-endian) comes first in the binding's text.
const HAS_CONN: u8 = 1 << 3;
/// The contact's `reg-id` (4 bytes, little-endian) comes next.
const HAS_REG_ID: u8 = 1 << 4;
/// The flow's source address is IPv6: its address, flow info and scope id (24 bytes) come
/// next, before the strings.
const REMOTE_V6: u8 = 1 << 5;

const CONN_BYTES: usize = 8;
const REG_ID_BYTES: usize = 4;
const V6_BYTES: usize = 24;
/// The most that comes before a binding's strings.
const MAX_EXTRA: usize = CONN_BYTES + REG_ID_BYTES + V6_BYTES;

/// The seed of the Call-ID hash (fixed: see [`call_id_hash`]).
const CALL_ID_SEED: u64 = 0x6a09_e667_f3bc_c908;

/// The Call-ID of a REGISTER as a binding keeps it: a 64-bit hash.
///
/// §10.3 compares Call-IDs in two places: a REGISTER whose Call-ID equals a binding's must
/// carry a higher CSeq (step 7), and the bindings of an instance registered with the same
/// Call-ID share a registration for temporary GRUUs (RFC 5627 §5.1). Two different Call-IDs
/// with the same hash would be taken for one, and a REGISTER with a lower CSeq refused with
/// 400 (or temporary GRUUs from before a UA restarted kept valid) until the binding expires.
/// For Call-IDs that are not chosen to collide that happens with probability 2^-64 per
/// comparison: at 100 000 REGISTERs a second, once in about 5 million years, far below the
/// rate of memory errors. Choosing them to collide gains nothing: only bindings of the same
/// AoR are compared, and whoever can register to an AoR can already remove its bindings
/// (`Contact: *`). So the seed is fixed, which keeps the simulator deterministic, and the
/// binding saves the Call-ID's bytes (32 to 60 in common phones).
pub(crate) fn call_id_hash(call_id: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(CALL_ID_SEED).hash_one(call_id)
}

/// What a binding's view needs from its location: the clock the expiry seconds count on,
/// and the local addresses flows name by index.
#[derive(Debug)]
pub(crate) struct Context {
    /// Second 0 of the expiry clock (the location's creation).
    pub(super) start: Instant,
    locals: Vec<SocketAddr>,
    local_index: HashMap<SocketAddr, u16>,
}

impl Context {
    pub(super) fn new(start: Instant) -> Self {
        Context {
            start,
            locals: Vec::new(),
            local_index: HashMap::new(),
        }
    }

    /// The index of a local address, added when new; `None` once 65 536 distinct ones are
    /// known (a shard listens on a handful).
    pub(super) fn local(&mut self, addr: SocketAddr) -> Option<u16> {
        if let Some(&i) = self.local_index.get(&addr) {
            return Some(i);
        }
        let i = u16::try_from(self.locals.len()).ok()?;
        self.locals.push(addr);
        self.local_index.insert(addr, i);
        Some(i)
    }

    fn local_addr(&self, index: u16) -> SocketAddr {
        self.locals
            .get(usize::from(index))
            .copied()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The instant of a second of the expiry clock.
    pub(super) fn instant(&self, second: u32) -> Instant {
        self.start + Duration::from_secs(u64::from(second))
    }

    /// The first whole second at or after `now` (a binding never expires early).
    pub(super) fn second_ceil(&self, now: Instant) -> u32 {
        let d = now.saturating_duration_since(self.start);
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// The last whole second `now` has reached.
    pub(super) fn second_floor(&self, now: Instant) -> u32 {
        let secs = now.saturating_duration_since(self.start).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// The fixed part of a binding; its strings are in its AoR's text.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// [`call_id_hash`] of the REGISTER's Call-ID.
    pub(super) call_id: u64,
    pub(super) cseq: u32,
    /// The second of the location's clock at which it expires.
    pub(super) expires: u32,
    /// The second whose bucket of due AoRs holds an entry for this binding: at or before
    /// `expires` (see `expiry.rs`).
    pub(super) filed: u32,
    /// Names the binding's registration among all: a later one has a higher serial.
    pub(super) serial: u32,
    /// The registration of its instance (see the module docs of the location); 0 without an
    /// instance.
    pub(super) epoch: u32,
    /// The flow's IPv4 source address (unused when it is IPv6).
    remote_v4: [u8; 4],
    contact_len: u16,
    instance_len: u16,
    path_len: u16,
    /// In thousandths, when [`HAS_Q`].
    q: u16,
    /// Index of the flow's local address in the [`Context`].
    local: u16,
    shard: u16,
    remote_port: u16,
    flags: u8,
}

/// A new binding's text, as parts to copy into its AoR's text: what the flow needs besides
/// the fixed part, then the strings.
pub(super) struct Parts<'a> {
    contact: &'a [u8],
    instance: &'a [u8],
    path: &'a [u8],
    extra: [u8; MAX_EXTRA],
    extra_len: usize,
}

impl<'a> Parts<'a> {
    fn list(&self) -> [&[u8]; 4] {
        [
            self.extra.get(..self.extra_len).unwrap_or_default(),
            self.contact,
            self.instance,
            self.path,
        ]
    }

    fn len(&self) -> usize {
        self.list().iter().map(|p| p.len()).sum()
    }

    /// Whether `region` holds exactly these parts.
    fn equal(&self, region: &[u8]) -> bool {
        let mut rest = region;
        for part in self.list() {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

/// What [`Stored::new`] needs besides the contact.
pub(super) struct Fields<'a> {
    pub(super) call_id: u64,
    pub(super) cseq: u32,
    pub(super) path: &'a [u8],
    pub(super) flow: &'a FlowInfo,
    /// The flow's local address as a [`Context`] index.
    pub(super) local: u16,
    pub(super) expires: u32,
    pub(super) serial: u32,
    pub(super) epoch: u32,
}

impl Stored {
    /// A binding of `contact` and the strings to store with it.
    pub(super) fn new<'a>(contact: &Contact<'a>, f: Fields<'a>) -> (Stored, Parts<'a>) {
        // NOTE: a message is at most 64 KiB (the codec's cap), so each part fits a u16; one
        // that did not would be cut, keeping the lengths and the text in step.
        let len16 = |s: &[u8]| u16::try_from(s.len()).unwrap_or(u16::MAX);
        let cut = |s: &'a [u8]| s.get(..usize::from(len16(s))).unwrap_or(s);
        let (uri, instance, path) = (
            cut(contact.uri),
            cut(contact.instance.unwrap_or_default()),
            cut(f.path),
        );
        let mut parts = Parts {
            contact: uri,
            instance,
            path,
            extra: [0; MAX_EXTRA],
            extra_len: 0,
        };
        let mut flags = 0;
        let mut push = |bytes: &[u8]| {
            if let Some(to) = parts
                .extra
                .get_mut(parts.extra_len..parts.extra_len + bytes.len())
            {
                to.copy_from_slice(bytes);
                parts.extra_len += bytes.len();
            }
        };
        if let Some(conn) = f.flow.conn {
            flags |= HAS_CONN;
            push(&conn.to_le_bytes());
        }
        if let Some(reg_id) = contact.reg_id {
            flags |= HAS_REG_ID;
            push(&reg_id.to_le_bytes());
        }
        let remote_v4 = match f.flow.remote {
            SocketAddr::V4(a) => a.ip().octets(),
            SocketAddr::V6(a) => {
                flags |= REMOTE_V6;
                push(&a.ip().octets());
                push(&a.flowinfo().to_le_bytes());
                push(&a.scope_id().to_le_bytes());
                [0; 4]
            }
        };
        if f.flow.reliable {
            flags |= RELIABLE;
        }
        if contact.q.is_some() {
            flags |= HAS_Q;
        }
        let stored = Stored {
            call_id: f.call_id,
            cseq: f.cseq,
            expires: f.expires,
            filed: f.expires,
            serial: f.serial,
            epoch: f.epoch,
            remote_v4,
            contact_len: len16(uri),
            instance_len: len16(instance),
            path_len: len16(path),
            q: contact.q.unwrap_or(0),
            local: f.local,
            shard: f.flow.shard,
            remote_port: f.flow.remote.port(),
            flags,
        };
        (stored, parts)
    }

    /// Bytes before its strings in its text. Without branches, as [`Stored::text_len`]: a
    /// lookup's next steps need not wait for the flags to arrive.
    fn extra_len(&self) -> usize {
        self.v6_at() + V6_BYTES * usize::from(self.flags & REMOTE_V6 != 0)
    }

    /// Where the `reg-id` is in its text, when it has one.
    fn reg_id_at(&self) -> usize {
        CONN_BYTES * usize::from(self.flags & HAS_CONN != 0)
    }

    /// Where the IPv6 source is in its text, when it has one.
    fn v6_at(&self) -> usize {
        self.reg_id_at() + REG_ID_BYTES * usize::from(self.flags & HAS_REG_ID != 0)
    }

    /// Bytes of its text in the AoR's.
    fn text_len(&self) -> usize {
        self.extra_len()
            + usize::from(self.contact_len)
            + usize::from(self.instance_len)
            + usize::from(self.path_len)
    }

    /// Registered with RFC 5626 outbound: an instance and a `reg-id`.
    pub(super) fn outbound(&self) -> bool {
        self.flags & HAS_REG_ID != 0 && self.instance_len > 0
    }

    pub(super) fn set_failed(&mut self) {
        self.flags |= FAILED;
    }
}

/// One binding of an AoR as a lookup sees it: a contact of the AoR, until it expires.
#[derive(Clone, Copy)]
pub struct Binding<'a> {
    stored: &'a Stored,
    /// Its text: what the flow needs, then its strings.
    text: &'a [u8],
    context: &'a Context,
}

impl<'a> Binding<'a> {
    fn part(&self, from: usize, len: u16) -> &'a [u8] {
        self.text
            .get(from..from + usize::from(len))
            .unwrap_or_default()
    }

    /// The contact URI as registered.
    pub fn contact(&self) -> &'a [u8] {
        self.part(self.stored.extra_len(), self.stored.contact_len)
    }

    /// `+sip.instance`, empty when none was given.
    pub fn instance(&self) -> &'a [u8] {
        let at = self.stored.extra_len() + usize::from(self.stored.contact_len);
        self.part(at, self.stored.instance_len)
    }

    /// The Path the REGISTER carried, empty when none.
    pub fn path(&self) -> &'a [u8] {
        let at = self.stored.extra_len()
            + usize::from(self.stored.contact_len)
            + usize::from(self.stored.instance_len);
        self.part(at, self.stored.path_len)
    }

    /// What comes before the strings: the connection id, the `reg-id`, an IPv6 source.
    fn extra(&self) -> &'a [u8] {
        self.text.get(..self.stored.extra_len()).unwrap_or_default()
    }

    /// The instance id (RFC 5627 §3.1.1: the `gr` value of the public GRUU): `+sip.instance`
    /// without its quotes and angle brackets; empty when none was given.
    pub fn instance_id(&self) -> &'a [u8] {
        instance_id(self.instance())
    }

    pub fn cseq(&self) -> u32 {
        self.stored.cseq
    }

    /// In thousandths; `None` when the contact named none.
    pub fn q(&self) -> Option<u16> {
        (self.stored.flags & HAS_Q != 0).then_some(self.stored.q)
    }

    /// `reg-id` (RFC 5626).
    pub fn reg_id(&self) -> Option<u32> {
        if self.stored.flags & HAS_REG_ID == 0 {
            return None;
        }
        let at = self.stored.reg_id_at();
        let bytes = self.extra().get(at..at + REG_ID_BYTES)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }

    /// Whether the binding was registered with this Call-ID (see [`call_id_hash`]).
    pub fn has_call_id(&self, call_id: &[u8]) -> bool {
        self.stored.call_id == call_id_hash(call_id)
    }

    /// The connection of the flow it came over, for a stream transport.
    pub fn conn(&self) -> Option<u64> {
        // Read whether or not there is one, and without a branch on the flags, which are
        // often still on their way from memory when this runs.
        let first = self
            .text
            .get(..CONN_BYTES)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes);
        (self.stored.flags & HAS_CONN != 0).then_some(first)
    }

    /// The flow the REGISTER came over.
    pub fn flow(&self) -> FlowInfo {
        let s = self.stored;
        let remote = if s.flags & REMOTE_V6 != 0 {
            let at = s.v6_at();
            let v6 = self.extra().get(at..at + V6_BYTES).unwrap_or_default();
            let mut ip = [0u8; 16];
            let mut flowinfo = [0u8; 4];
            let mut scope = [0u8; 4];
            if let (Some(a), Some(b), Some(c)) = (v6.get(..16), v6.get(16..20), v6.get(20..24)) {
                ip.copy_from_slice(a);
                flowinfo.copy_from_slice(b);
                scope.copy_from_slice(c);
            }
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                s.remote_port,
                u32::from_le_bytes(flowinfo),
                u32::from_le_bytes(scope),
            ))
        } else {
            SocketAddr::V4(SocketAddrV4::new(s.remote_v4.into(), s.remote_port))
        };
        FlowInfo {
            reliable: s.flags & RELIABLE != 0,
            local: self.context.local_addr(s.local),
            remote,
            conn: self.conn(),
            shard: s.shard,
        }
    }

    /// Registered with RFC 5626 outbound: an instance and a `reg-id`. Requests reach it over
    /// its flow only.
    pub fn outbound(&self) -> bool {
        self.stored.outbound()
    }

    /// The flow of this outbound binding has ended (the shell reported it); it is
    /// unreachable until its UA registers again.
    pub fn flow_failed(&self) -> bool {
        self.stored.flags & FAILED != 0
    }

    /// Registered (added or refreshed) after `other`.
    pub(in crate::core::registrar) fn newer_than(&self, other: &Binding<'_>) -> bool {
        (self.stored.serial.wrapping_sub(other.stored.serial) as i32) > 0
    }

    /// When it expires (whole seconds of the location's clock: at most a second after the
    /// instant its expiry interval ends).
    pub fn expires_at(&self) -> Instant {
        self.context.instant(self.stored.expires)
    }

    /// Whole seconds left at `now` (the `expires` of the binding in a 200).
    pub fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at().saturating_duration_since(now);
        u32::try_from(left.as_secs()).unwrap_or(u32::MAX)
    }

    pub(super) fn stored(&self) -> &'a Stored {
        self.stored
    }

    fn same_contact(&self, uri: &Uri<'_>) -> bool {
        // A phone refreshes with the contact it registered, byte for byte: equal without
        // parsing the stored one (§19.1.4 equality holds for identical text).
        self.contact() == uri.as_bytes()
            || Uri::parse(self.contact()).is_ok_and(|mine| uri_eq(&mine, uri))
    }

    /// Whether a contact of a REGISTER names this binding: the same URI (§10.3 step 7), or,
    /// for an outbound contact, the same instance and `reg-id` (RFC 5626 §6).
    pub(super) fn matches(&self, contact: &Contact<'_>, uri: &Uri<'_>) -> bool {
        let same_flow = match (contact.instance, contact.reg_id) {
            (Some(instance), Some(reg_id)) => {
                self.reg_id() == Some(reg_id)
                    && self
                        .instance_id()
                        .eq_ignore_ascii_case(instance_id(instance))
            }
            _ => false,
        };
        same_flow || self.same_contact(uri)
    }
}

impl std::fmt::Debug for Binding<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding")
            .field("contact", &String::from_utf8_lossy(self.contact()))
            .field("instance", &String::from_utf8_lossy(self.instance()))
            .field("path", &String::from_utf8_lossy(self.path()))
            .field("cseq", &self.cseq())
            .field("q", &self.q())
            .field("reg_id", &self.reg_id())
            .field("flow", &self.flow())
            .field("expires_at", &self.expires_at())
            .field("failed", &self.flow_failed())
            .finish()
    }
}

/// An address-of-record and its bindings.
pub(super) struct Aor {
    /// The key's length (2 bytes, little-endian), the key, then each binding's text, in the
    /// order of `bindings`.
    text: Box<[u8]>,
    pub(super) bindings: SmallVec<[Stored; 1]>,
}

impl Keyed for Aor {
    type Key = [u8];
    fn key(&self) -> &[u8] {
        Aor::key(self)
    }
}

/// Bytes before the key in an AoR's text.
const KEY_AT: usize = 2;

impl Aor {
    /// An AoR without bindings yet.
    pub(super) fn new(key: &[u8]) -> Aor {
        // NOTE: the key comes from a message's To URI, so it fits a u16 (64 KiB cap).
        let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
        let key = key.get(..usize::from(len)).unwrap_or_default();
        let mut text = Vec::with_capacity(KEY_AT + key.len());
        text.extend_from_slice(&len.to_le_bytes());
        text.extend_from_slice(key);
        Aor {
            text: text.into_boxed_slice(),
            bindings: SmallVec::new(),
        }
    }

    pub(super) fn key(&self) -> &[u8] {
        let len = match self.text.get(..KEY_AT) {
            Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
            _ => 0,
        };
        self.text.get(KEY_AT..KEY_AT + len).unwrap_or_default()
    }

    /// Where binding `index`'s text is in the AoR's (an empty range at the end for
    /// `index == bindings.len()`).
    fn region(&self, index: usize) -> Range<usize> {
        let mut at = KEY_AT + self.key().len();
        for b in self.bindings.iter().take(index) {
            at += b.text_len();
        }
        let len = self.bindings.get(index).map_or(0, Stored::text_len);
        at..at + len
    }

    /// The views of its bindings, in order.
    pub(super) fn views<'a>(
        &'a self,
        context: &'a Context,
    ) -> impl Iterator<Item = Binding<'a>> + 'a {
        let mut at = KEY_AT + self.key().len();
        self.bindings.iter().map(move |stored| {
            let len = stored.text_len();
            let text = self.text.get(at..at + len).unwrap_or_default();
            at += len;
            Binding {
                stored,
                text,
                context,
            }
        })
    }

    pub(super) fn view<'a>(&'a self, index: usize, context: &'a Context) -> Option<Binding<'a>> {
        let stored = self.bindings.get(index)?;
        let text = self.text.get(self.region(index)).unwrap_or_default();
        Some(Binding {
            stored,
            text,
            context,
        })
    }

    /// Replaces the bytes in `range` of the text with `parts`.
    fn splice(&mut self, range: Range<usize>, parts: &[&[u8]]) {
        let (Some(before), Some(after)) =
            (self.text.get(..range.start), self.text.get(range.end..))
        else {
            return;
        };
        let len = before.len() + parts.iter().map(|p| p.len()).sum::<usize>() + after.len();
        let mut text = Vec::with_capacity(len);
        text.extend_from_slice(before);
        for part in parts {
            text.extend_from_slice(part);
        }
        text.extend_from_slice(after);
        self.text = text.into_boxed_slice();
    }

    /// Adds a binding at the end.
    pub(super) fn push(&mut self, stored: Stored, parts: &Parts<'_>) {
        let end = self.text.len();
        self.splice(end..end, &parts.list());
        self.bindings.push(stored);
    }

    /// Replaces binding `index`; its text is rewritten only when it changed, as it
    /// seldom does on a refresh.
    pub(super) fn replace(&mut self, index: usize, stored: Stored, parts: &Parts<'_>) {
        let range = self.region(index);
        let same = self
            .text
            .get(range.clone())
            .is_some_and(|old| parts.equal(old));
        debug_assert!(!same || parts.len() == range.len());
        if !same {
            self.splice(range, &parts.list());
        }
        if let Some(slot) = self.bindings.get_mut(index) {
            *slot = stored;
        }
    }

    /// Bytes of its allocation.
    #[cfg(test)]
    pub(super) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Removes binding `index` and its text.
    pub(super) fn remove(&mut self, index: usize) -> Option<Stored> {
        if index >= self.bindings.len() {
            return None;
        }
        let range = self.region(index);
        self.splice(range, &[]);
        Some(self.bindings.remove(index))
    }
}
