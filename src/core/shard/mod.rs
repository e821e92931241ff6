//! One signalling shard's sans-IO state: everything a core owns. The shell feeds it inputs
//! (`handle_*`) and drains its outputs (`poll_*`) after every input (DESIGN §2).
//!
//! What a shard does with a datagram, in the order RFC 3261 asks for it:
//! 1. parse (§7) and validate the headers every request needs (§8.1.1); a broken request is
//!    answered with the codec's status (400, 505) when it can be answered at all, otherwise
//!    dropped and counted; a message whose ids name another shard (a response's top Via
//!    branch, a request's To tag) is handed to that shard instead (`core::handoff`);
//! 2. responses are absorbed (no transaction matches them yet) and ACKs that match nothing are
//!    absorbed (§17.2.3);
//! 3. request validation as a proxy does it (§16.3): URI scheme (416), Max-Forwards (483 when
//!    the request is not for Drongo itself), Proxy-Require (420); then as a UAS (§8.2) when the
//!    request is for Drongo: Require (420), method (501);
//! 4. a request routed through Drongo goes on along its route set; an initial request goes
//!    where routing sends it (`routing.rs`: a router, the location service, static routes) or
//!    is answered as the router says;
//! 5. OPTIONS to Drongo gets 200 with Allow, Accept and Supported (§11.2); CANCEL matching
//!    nothing gets 481 (§9.2); anything else nobody routed gets 404.
//!
//! Responses go to the datagram's source address and port when `rport` is present (RFC 3581)
//! or when the shard is configured for symmetric responses (the default at an edge); otherwise
//! to the `received` address and the Via sent-by port (§18.2.2). Over a stream they go back on
//! the request's connection, with the §18.2.2 address as the transmit's `remote` for the shell
//! to open a new connection to if that one has closed (see `core::flow`).

mod proxy;
mod routing;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::core::flow::{self, ConnCommand, TransportError};
use crate::core::handoff::{self, Handoff};
use crate::core::ids::{self, Rng};
use crate::core::registrar::gruu::{self, Gruu, TempGruus};
use crate::core::registrar::register::{self, Answer, Minter};
use crate::core::registrar::{self, FlowInfo, RegisterError, Registrar, RegistrarConfig};
use crate::core::sip::error::{DropReason, Effect, ParseError};
use crate::core::sip::header::HeaderName;
use crate::core::sip::headers::{NameAddr, OptionTags, Via, Vias};
use crate::core::sip::message::{Framing, Headers, Kind, Message};
use crate::core::sip::method::{Method, ALLOW_VALUE};
use crate::core::sip::uri::{Host, Scheme, Uri};
use crate::core::sip::validate::{self, Checked};
use crate::core::sip::writer::{
    header_lines, header_lines_len, push_decimal, response_to, HeaderLines, ViaStamp, Writer,
};
use crate::core::timer::TimerWheel;
use crate::core::transaction::client_table::{ClientTable, ClientTimer};
use crate::core::transaction::table::{
    Event, Resend, ServerCounts, ServerTable, ServerTimer, ServerTxId,
};
use crate::core::transaction::{Reliability, ServerKey, TimerConfig};

/// Option tags Drongo implements in its current role: GRUUs (RFC 5627) and outbound flows
/// (RFC 5626) at its registrar. A Require or Proxy-Require naming any other tag is answered
/// 420 with the tag in Unsupported (§8.2.2.3, §16.3 step 5).
pub const SUPPORTED: &[&[u8]] = &[b"gruu", b"outbound"];

/// What Drongo's answer to OPTIONS says it can do (§11.2): Allow, Accept and Supported.
const OPTIONS_HEADERS: HeaderLines<'_> = &[
    (b"Allow", &[ALLOW_VALUE.as_bytes()]),
    (b"Accept", &[b"application/sdp"]),
    (b"Supported", SUPPORTED),
];

/// [`OPTIONS_HEADERS`] written out once.
static OPTIONS_LINES: [u8; header_lines_len(OPTIONS_HEADERS)] = header_lines(OPTIONS_HEADERS);

/// What a shard needs to know about its place in the process.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// This shard's index, 0-based.
    pub id: u16,
    /// How many signalling shards the process runs.
    pub shard_count: u16,
    /// Every local address a socket is bound to (requests for these are "for Drongo").
    pub local_addrs: Vec<SocketAddr>,
    /// Domains served besides the local addresses.
    pub domains: Vec<String>,
    /// Answer to the datagram's source even without `rport` (see `config::SipConfig`).
    pub symmetric_response: bool,
    /// `Server` header token; empty sends none.
    pub server_header: String,
    /// Drop requests whose User-Agent names a known scanner, without an answer.
    pub drop_scanners: bool,
    /// T1, T2, T4 and Timer C for this shard's transactions.
    pub timers: TimerConfig,
    /// The timer wheel's tick: timers fire at most this late.
    pub timer_tick: std::time::Duration,
    /// The registrar's limits.
    pub registrar: RegistrarConfig,
    /// Digest authentication of REGISTER; `None` registers anyone.
    pub auth: Option<std::sync::Arc<crate::core::auth::AuthSetup>>,
    /// The static routes (`[[routes]]`), shared by every shard.
    pub routes: std::sync::Arc<crate::core::proxy::StaticRoutes>,
    /// Makes each shard's router, consulted before the location service and the static
    /// routes; `None`: no router.
    pub router: Option<crate::core::proxy::RouterFactory>,
}

/// A connection id the shell assigns to each TCP connection it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// How a message came in, and so how its answer leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// A UDP datagram.
    Udp,
    /// A stream connection; its id names the shard whose shell owns the connection. A
    /// response whose connection has closed goes to the transmit's `remote` over a new one
    /// (§18.2.2).
    Stream(ConnId),
    /// Over TCP to the transmit's `remote`, from its `local` address: on an open connection
    /// to that address (one Drongo opened, one the peer opened from it, or one aliased to it
    /// with RFC 5923 `alias`), else on one connection the shell opens for it.
    Tcp,
}

/// Where a message came from (and where a server transaction's responses go).
#[derive(Debug, Clone, Copy)]
pub struct Source {
    flow: Flow,
    local: SocketAddr,
    remote: SocketAddr,
}

/// One message to send: a datagram from `local` to `remote`, or bytes for connection `conn`
/// when `flow` is [`Flow::Stream`]. The buffer came from the shard's pool; hand it back with
/// [`Shard::recycle`] once sent so the steady state allocates nothing.
#[derive(Debug)]
pub struct Transmit {
    pub flow: Flow,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
    /// Opaque to the shell: comes back in [`TransportError::Undelivered`] when the message
    /// cannot be delivered. 0 when nothing waits on the message.
    pub token: u64,
}

/// Counters a shard keeps about its own work. Plain integers: only the owning shard writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Datagrams handed to the shard.
    pub received: u64,
    /// Requests that parsed and validated.
    pub requests: u64,
    /// Responses that parsed and validated.
    pub responses: u64,
    /// Requests refused by the codec with a 4xx/5xx answer (also counted in `answered`).
    pub rejected: u64,
    /// Responses Drongo sent, by class (index 1 = 1xx ... 6 = 6xx).
    pub answered: [u64; 7],
    /// Datagrams dropped without an answer, by [`DropReason`].
    pub dropped: [u64; DropReason::COUNT],
    /// Requests matched to a live server transaction: retransmissions (answered again from
    /// the transaction) and ACKs of non-2xx finals.
    pub absorbed: u64,
    /// Responses sent again by server transactions (retransmitted requests, Timer G).
    pub resent: u64,
    /// Messages the shell reported it could not deliver ([`TransportError::Undelivered`]).
    pub undelivered: u64,
    /// Kept flows the shell reported ended ([`TransportError::FlowFailed`]).
    pub flows_failed: u64,
    /// Messages whose ids name another shard, handed to it (`core::handoff`). That is their
    /// fate here; the owner counts what becomes of them.
    pub handed_off: u64,
    /// Messages another shard handed to this one. Each is also in `received`, and its fate is
    /// counted like any other message's.
    pub handed_in: u64,
    /// Requests forwarded by the proxy (that is their fate; Drongo's 100 Trying for an
    /// INVITE and the responses relayed for it are not counted in `answered`).
    pub proxied: u64,
    /// Responses matched to a client transaction of the proxy.
    pub matched: u64,
    /// Responses from downstream the proxy sent upstream.
    pub relayed: u64,
}

impl ShardStats {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    pub fn answered(&self, class: u16) -> u64 {
        self.answered.get(class as usize).copied().unwrap_or(0)
    }

    /// Datagrams whose fate is known: each is answered, absorbed by a transaction, dropped or
    /// handed off to its owner shard, once. Equal to `received` after every input; tests and
    /// the fuzz target check it.
    pub fn accounted(&self) -> u64 {
        self.answered.iter().sum::<u64>()
            + self.dropped.iter().sum::<u64>()
            + self.absorbed
            + self.handed_off
            + self.proxied
            + self.matched
    }
}

/// Buffer capacity kept for each pooled transmit buffer.
const TRANSMIT_CAPACITY: usize = 2048;
/// Pooled buffers kept at most; more are freed.
const POOL_MAX: usize = 1024;

/// User-Agent substrings of scanners (SIPVicious and friends).
const SCANNERS: &[&[u8]] = &[
    b"friendly-scanner",
    b"sipvicious",
    b"sipcli",
    b"VaxSIPUserAgent",
    b"pplsip",
    b"sundayddr",
];

/// A signalling shard.
pub struct Shard {
    config: ShardConfig,
    /// Secret for stateless ids (To tags of Drongo's own answers).
    secret: u64,
    rng: Rng,
    transmits: VecDeque<Transmit>,
    pool: Vec<Vec<u8>>,
    stats: ShardStats,
    /// Server transactions for every request Drongo answers (§17.2).
    servers: ServerTable<Source>,
    /// The shard's timers; started at the first input's instant.
    wheel: Option<TimerWheel<ServerTimer>>,
    /// The instant of the input being handled.
    now: Option<Instant>,
    /// The server transaction the next response creates: set while a new request is handled.
    pending: Option<(ServerKey, bool, Reliability, Resend)>,
    /// Set while a transaction's response is built again for a retransmitted request
    /// ([`Resend::Rebuilt`]): the answer is sent as it is, counted as resent.
    rebuilding: bool,
    /// The `Server` header line of Drongo's answers (empty for none), written once.
    server_line: Box<[u8]>,
    /// Connection commands for the shell ([`Shard::poll_conn_command`]).
    commands: VecDeque<ConnCommand>,
    /// The location service holding the bindings of the AoRs this shard serves
    /// (`registrar.backend`); started at the first input's instant.
    location: Option<Box<dyn Registrar>>,
    /// Mints and opens this shard's temporary GRUUs.
    gruus: TempGruus,
    /// The canonical AoR of the REGISTER being answered.
    aor_scratch: Vec<u8>,
    /// Messages owned by other shards, waiting for the shell (`core::handoff`).
    handoffs: VecDeque<Handoff>,
    /// The proxy's client transactions (§17.1), one per branch and per CANCEL.
    clients: ClientTable<proxy::Leg>,
    /// Their timers; started at the first request forwarded.
    client_wheel: Option<TimerWheel<ClientTimer>>,
    /// Proxied requests.
    calls: proxy::Calls,
    /// The registrar's authenticator, when it requires authentication; built at the first
    /// input's instant.
    auth: Option<crate::core::auth::Authenticator>,
    /// Code-defined routing, consulted first (`routing.rs`).
    router: Option<Box<dyn crate::core::proxy::Router>>,
}

impl Shard {
    pub fn new(config: ShardConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let secret = rng.next_u64();
        let mut gruu_key = [0u8; 32];
        for part in gruu_key.chunks_exact_mut(8) {
            part.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let gruus = TempGruus::new(gruu_key, config.id);
        let servers = ServerTable::new(config.timers);
        let clients = ClientTable::new(config.timers);
        let router = config.router.as_ref().map(|make| make.make(config.id));
        let server_line = match config.server_header.as_str() {
            "" => Box::default(),
            token => format!("Server: {token}\r\n")
                .into_bytes()
                .into_boxed_slice(),
        };
        Shard {
            config,
            secret,
            rng,
            transmits: VecDeque::new(),
            pool: Vec::new(),
            stats: ShardStats::default(),
            servers,
            wheel: None,
            now: None,
            pending: None,
            rebuilding: false,
            server_line,
            commands: VecDeque::new(),
            location: None,
            gruus,
            aor_scratch: Vec::new(),
            handoffs: VecDeque::new(),
            clients,
            client_wheel: None,
            calls: proxy::Calls::default(),
            auth: None,
            router,
        }
    }

    /// Live server transactions.
    pub fn server_transactions(&self) -> ServerCounts {
        self.servers.counts()
    }

    fn wheel(&mut self, now: Instant) -> &mut TimerWheel<ServerTimer> {
        self.wheel
            .get_or_insert_with(|| TimerWheel::new(now, self.config.timer_tick))
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    pub fn stats(&self) -> &ShardStats {
        &self.stats
    }

    /// One UDP datagram arrived on `local` from `remote`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        let src = Source {
            flow: Flow::Udp,
            local,
            remote,
        };
        self.handle_message(now, src, bytes, Framing::Datagram, true);
    }

    /// One complete message, cut from connection `conn` by the shell's
    /// [`crate::core::sip::framer::Framer`], arrived on `local` from `remote`. Responses to it
    /// go back on the same connection (§18.2.2).
    pub fn handle_stream_message(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        let src = Source {
            flow: Flow::Stream(conn),
            local,
            remote,
        };
        self.handle_message(now, src, bytes, Framing::Stream, true);
    }

    /// `route`: hand the message to its owner shard when its ids name another one (false for
    /// a message handed in, which is handled here whatever it names).
    fn handle_message(
        &mut self,
        now: Instant,
        src: Source,
        bytes: &[u8],
        framing: Framing,
        route: bool,
    ) {
        self.now = Some(now);
        self.wheel(now);
        if self.location.is_none() {
            self.location = Some(registrar::open(self.config.registrar, now));
            if let Some(setup) = self.config.auth.as_deref() {
                self.auth = Some(crate::core::auth::Authenticator::from_setup(
                    setup,
                    self.config.id,
                    now,
                ));
            }
        }
        self.stats.received += 1;
        // The message and what validation decodes are written where they stay (each is
        // several hundred bytes; moving them costs more than most of the checks).
        let mut parsed = Message::unparsed(bytes);
        if let Err(rejected) = parsed.parse_in_place(framing) {
            let headers = rejected.headers.as_ref();
            return self.refuse(src, rejected.kind, rejected.error, headers);
        }
        let msg = &parsed;
        let mut validated = Checked::placeholder();
        if let Err(e) = validate::check(msg, &mut validated) {
            let kind = if msg.is_request() {
                Kind::Request
            } else {
                Kind::Response
            };
            return self.refuse(src, kind, e, Some(msg.headers()));
        }
        let checked = &validated;
        if route {
            let (id, count) = (self.config.id, self.config.shard_count);
            let owner = handoff::owner(id, count, msg, checked)
                .or_else(|| self.aor_owner(msg, checked, src.local));
            if let Some(owner) = owner {
                return self.hand_off(owner, now, src, bytes);
            }
        }
        match msg.method() {
            None => {
                self.stats.responses += 1;
                self.handle_response(msg);
            }
            Some(method) => {
                self.stats.requests += 1;
                if let (Flow::Stream(conn), Some(sent_by)) =
                    (src.flow, flow::alias(&checked.top_via, src.remote))
                {
                    self.commands
                        .push_back(ConnCommand::Alias { conn, sent_by });
                }
                self.handle_request(src, msg, checked, method);
            }
        }
    }

    /// The deadline returned by [`Shard::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        if let Some(location) = self.location.as_mut() {
            location.expire(now);
        }
        self.client_timeout(now);
        let Shard {
            servers,
            wheel,
            transmits,
            pool,
            stats,
            ..
        } = self;
        let Some(wheel) = wheel.as_mut() else { return };
        while let Some((timer, payload)) = wheel.poll(now) {
            servers.timer(timer, payload, now, wheel, &mut |event| {
                if send_event(transmits, pool, event) {
                    stats.resent += 1;
                }
            });
        }
    }

    /// The registrar's location service (none before the first input).
    pub fn location(&self) -> Option<&dyn Registrar> {
        self.location.as_deref()
    }

    /// Takes the next registration-changed event.
    pub fn poll_registration(&mut self) -> Option<crate::core::registrar::RegEvent> {
        self.location.as_mut().and_then(|l| l.poll_event())
    }

    /// Next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next connection command for the shell, if any.
    pub fn poll_conn_command(&mut self) -> Option<ConnCommand> {
        self.commands.pop_front()
    }

    /// Asks the shell to keep connection `conn` open with keep-alives (RFC 5626 §4.4.1).
    pub fn keep_connection(&mut self, conn: ConnId) {
        self.commands.push_back(ConnCommand::KeepAlive(conn));
    }

    /// The shell could not deliver a message or keep a flow. An undelivered message fails
    /// the client transaction that sent it; a failed flow makes the outbound bindings over it
    /// unreachable (RFC 5626 §5.3). Both are counted.
    pub fn handle_transport_error(&mut self, now: Instant, error: TransportError) {
        self.now = Some(now);
        match error {
            TransportError::Undelivered { token, .. } => {
                self.stats.undelivered += 1;
                self.client_undelivered(token);
            }
            TransportError::FlowFailed { conn, .. } => {
                self.stats.flows_failed += 1;
                if let Some(location) = self.location.as_mut() {
                    location.flow_failed(conn.0);
                }
            }
        }
    }

    /// The earliest instant at which [`Shard::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.wheel.as_ref().and_then(TimerWheel::next_deadline),
            self.client_wheel
                .as_ref()
                .and_then(TimerWheel::next_deadline),
            self.location.as_ref().and_then(|l| l.next_deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Return a sent payload buffer to the pool.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_MAX && buf.capacity() <= 4 * TRANSMIT_CAPACITY {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Counts a datagram the shell dropped before it reached the shard (e.g. truncated).
    pub fn count_drop(&mut self, reason: DropReason) {
        self.stats.received += 1;
        self.drop(reason);
    }

    fn drop(&mut self, reason: DropReason) {
        self.stats.dropped[reason as usize] += 1;
    }

    fn buffer(&mut self) -> Vec<u8> {
        self.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(TRANSMIT_CAPACITY))
    }

    /// A message the codec refused: answer a request if it can be answered, else drop.
    fn refuse(
        &mut self,
        src: Source,
        kind: Kind,
        error: ParseError,
        headers: Option<&Headers<'_>>,
    ) {
        match (kind, error.effect(), headers) {
            (Kind::Request, Effect::Respond(status, reason), Some(h))
                if h.get(HeaderName::Via).is_some() =>
            {
                self.stats.rejected += 1;
                let via = h
                    .get(HeaderName::Via)
                    .and_then(|v| Vias::new(v).next())
                    .and_then(Result::ok);
                let to_tagged = h
                    .get(HeaderName::To)
                    .is_some_and(|to| NameAddr::parse(to).is_ok_and(|n| n.tag().is_some()));
                let request = Request {
                    src,
                    h,
                    via,
                    to_tagged,
                };
                self.respond(&request, status, reason, |_| {});
            }
            (Kind::Request, Effect::Respond(..), _) => self.drop(DropReason::Unanswerable),
            (Kind::Response, _, _) => self.drop(DropReason::BadResponse),
            (_, Effect::Drop(reason), _) => self.drop(reason),
            (Kind::Unknown, Effect::Respond(..), _) => self.drop(DropReason::Garbage),
        }
    }

    fn handle_request(
        &mut self,
        src: Source,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        method: Method<'_>,
    ) {
        let key = ServerKey::of_checked(msg, checked);
        let existing = key.as_ref().and_then(|k| self.servers.find(k));
        if let Some(id) = existing {
            // §17.2.3: a retransmission, or the ACK of a non-2xx final, goes to its
            // transaction, which resends the response or stops resending it.
            self.stats.absorbed += 1;
            let Some(now) = self.now else { return };
            let Shard {
                servers,
                wheel,
                transmits,
                pool,
                stats,
                ..
            } = self;
            let Some(wheel) = wheel.as_mut() else { return };
            let mut rebuild = false;
            servers.request(id, method == Method::Ack, now, wheel, &mut |event| {
                if let Event::Rebuild { .. } = event {
                    rebuild = true;
                } else if send_event(transmits, pool, event) {
                    stats.resent += 1;
                }
            });
            if rebuild {
                self.rebuilding = true;
                self.answer_request(src, msg, checked, method, false);
                self.rebuilding = false;
            }
            return;
        }
        if method == Method::Ack {
            // §17.2.3: an ACK that matches no transaction is passed to the core. One routed
            // through Drongo (the ACK for a 2xx, its top Route Drongo's) goes on statelessly
            // (§16.11); any other is absorbed.
            let pre = self.route_preprocess(msg, checked, src.local);
            if pre.pop_top_route.is_some() || pre.strict_repair.is_some() {
                return self.forward_ack(src, msg, checked, pre);
            }
            return self.drop(DropReason::StrayAck);
        }
        let reliability = match src.flow {
            Flow::Udp => Reliability::Unreliable,
            Flow::Stream(_) | Flow::Tcp => Reliability::Reliable,
        };
        // §9.2: a CANCEL whose INVITE transaction is live (already answered, so nothing to
        // cancel) gets 200; one matching nothing gets 481.
        let cancelled = (method == Method::Cancel)
            .then(|| key.as_ref().and_then(ServerKey::cancel_target))
            .flatten()
            .and_then(|t| self.servers.find(&t));
        let cancels_live_invite = cancelled.is_some();
        // Drongo's own answers are a function of the request, except an INVITE's (Timer G
        // resends it with no request at hand), a CANCEL's (whether its INVITE is live
        // changes) and a REGISTER's (the bindings change): only those keep their bytes.
        let resend = if matches!(method, Method::Invite | Method::Cancel | Method::Register) {
            Resend::Kept
        } else {
            Resend::Rebuilt
        };
        self.pending = key.map(|k| (k, method == Method::Invite, reliability, resend));
        self.answer_request(src, msg, checked, method, cancels_live_invite);
        self.pending = None;
        // §16.10: a CANCEL for an INVITE the proxy forwarded cancels its pending branches,
        // whose 487s make the INVITE's final answer.
        if let Some(invite) = cancelled {
            self.cancel_call(invite);
        }
    }

    /// Decides Drongo's answer to a new request (the TU of its server transaction).
    fn answer_request(
        &mut self,
        src: Source,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        method: Method<'_>,
        cancels_live_invite: bool,
    ) {
        let h = msg.headers();
        if self.config.drop_scanners && checked.user_agent.is_some_and(is_scanner) {
            return self.drop(DropReason::Scanner);
        }
        let Some(uri) = checked.request_uri.as_ref() else {
            return self.drop(DropReason::Internal);
        };
        let to_tagged = checked.to.tag().is_some();
        let r = Request {
            src,
            h,
            via: Some(checked.top_via),
            to_tagged,
        };
        if !matches!(uri.scheme(), Scheme::Sip | Scheme::Sips | Scheme::Tel) {
            return self.respond(&r, 416, "Unsupported URI Scheme", |_| {});
        }
        let for_us = self.is_for_us(uri, src.local);
        if !for_us && checked.max_forwards == Some(0) {
            return self.respond(&r, 483, "Too Many Hops", |_| {});
        }
        if checked.has_proxy_require && self.unsupported(h, HeaderName::ProxyRequire) {
            let tags = h.all(HeaderName::ProxyRequire);
            return self.respond_unsupported(&r, tags);
        }
        if for_us
            && method != Method::Cancel
            && checked.has_require
            && self.unsupported(h, HeaderName::Require)
        {
            let tags = h.all(HeaderName::Require);
            return self.respond_unsupported(&r, tags);
        }
        // A GRUU of Drongo's reaches its instance whatever the method, inside a dialog too
        // (it is a remote target, RFC 5627 §6.1); a REGISTER to one is Drongo's to answer.
        let gruu = (for_us && method != Method::Register)
            .then(|| Gruu::of(uri))
            .flatten()
            .is_some();
        let mut looked_up = false;
        if !matches!(method, Method::Cancel | Method::Other(_)) {
            // §16.4: a request whose route set goes on past Drongo (in a dialog, or an
            // initial request with more Route values) follows it. §16.5: an initial request
            // whose route set ends here goes where routing says (a router, the location
            // service, static routes); REGISTER and OPTIONS to Drongo, and requests for
            // Drongo itself (no user part), are its own to answer.
            let pre = self.route_preprocess(msg, checked, src.local);
            let onward = || {
                routing::TargetSet::one(proxy::Target {
                    uri: None,
                    path: Vec::new(),
                    dest: None,
                })
            };
            let along_route = pre.strict_repair.is_some()
                || (pre.pop_top_route.is_some()
                    && (to_tagged || crate::core::proxy::routes_remain(msg, &pre)));
            // A GRUU of Drongo's as the target reaches its instance only, ahead of any router
            // or route, when the route set ends here.
            let routed = pre.pop_top_route.is_some() || pre.strict_repair.is_some();
            let to_gruu = gruu && (!routed || route_set_ends_here(msg, &pre));
            let targets = if to_gruu {
                looked_up = true;
                let set = self.binding_targets(uri);
                (!set.is_empty()).then_some(set)
            } else if along_route {
                Some(onward())
            } else if to_tagged
                || (for_us
                    && (uri.user().is_none()
                        || matches!(method, Method::Register | Method::Options)))
            {
                None
            } else {
                match self.route_new_request(src, msg, checked, method, uri, for_us) {
                    routing::Routing::Targets(set) => Some(set),
                    routing::Routing::Answer(status) => {
                        let reason = crate::core::proxy::reason_phrase(status);
                        return self.respond(&r, status, reason, |_| {});
                    }
                    // Drongo was named as the next hop (its Route came off) for a domain it
                    // does not serve, and nothing chose a target: on to the Request-URI.
                    routing::Routing::Nothing if pre.pop_top_route.is_some() && !for_us => {
                        Some(onward())
                    }
                    // A user of Drongo's with no reachable binding and no route: 480 or 404
                    // as its bindings say (below).
                    routing::Routing::Nothing => {
                        looked_up = for_us && uri.user().is_some();
                        None
                    }
                }
            };
            if let Some(targets) = targets {
                if checked.max_forwards == Some(0) {
                    return self.respond(&r, 483, "Too Many Hops", |_| {});
                }
                return self.proxy(src, msg, checked, method, pre, targets);
            }
        }
        if looked_up {
            let (status, reason) = self.no_target_status(uri);
            return self.respond(&r, status, reason, |_| {});
        }
        match method {
            Method::Other(_) => self.respond(&r, 501, "Not Implemented", write_allow),
            Method::Cancel if cancels_live_invite => self.respond(&r, 200, "OK", |_| {}),
            Method::Cancel => self.respond(&r, 481, "Call/Transaction Does Not Exist", |_| {}),
            // §12.2.2: a request inside a dialog Drongo does not have.
            _ if to_tagged && for_us => {
                self.respond(&r, 481, "Call/Transaction Does Not Exist", |_| {})
            }
            Method::Register if for_us => self.answer_register(&r, msg, checked),
            Method::Options if for_us => self.respond(&r, 200, "OK", |w| {
                w.lines(&OPTIONS_LINES);
            }),
            _ => self.respond(&r, 404, "Not Found", |_| {}),
        }
    }

    /// A REGISTER to Drongo: the registrar applies it and the answer lists the AoR's
    /// bindings (§10.3).
    fn answer_register(&mut self, r: &Request<'_, '_>, msg: &Message<'_>, checked: &Checked<'_>) {
        let Some(now) = self.now else {
            return self.drop(DropReason::Internal);
        };
        // RFC 3261 §10.3 steps 3 and 4: authenticate, then the user may change only its own
        // AoR.
        if let Some(mut auth) = self.auth.take() {
            let verdict = auth.check(b"REGISTER", r.h.all(HeaderName::Authorization), now);
            let refusal = match verdict {
                crate::core::auth::Verdict::Authenticated(user) => {
                    let own = checked.to.uri().user() == Some(user);
                    (!own).then_some(None)
                }
                crate::core::auth::Verdict::Challenge { stale } => Some(Some(stale)),
            };
            match refusal {
                None => self.auth = Some(auth),
                Some(None) => {
                    self.auth = Some(auth);
                    return self.respond(r, 403, "Forbidden", |_| {});
                }
                Some(Some(stale)) => {
                    self.respond(r, 401, "Unauthorized", |w| {
                        auth.write_challenges(stale, now, w)
                    });
                    self.auth = Some(auth);
                    return;
                }
            }
        }
        let Some(mut location) = self.location.take() else {
            return self.drop(DropReason::Internal);
        };
        let flow = FlowInfo {
            reliable: matches!(r.src.flow, Flow::Stream(_)),
            local: r.src.local,
            remote: r.src.remote,
            conn: match r.src.flow {
                Flow::Stream(c) => Some(c.0),
                Flow::Udp | Flow::Tcp => None,
            },
            shard: self.config.id,
        };
        let mut aor = std::mem::take(&mut self.aor_scratch);
        let local = r.src.local;
        let answer = register::register(
            &mut *location,
            now,
            msg,
            checked,
            flow,
            |uri| self.serves(uri, local),
            &mut aor,
        );
        let (status, reason) = answer.status();
        let asks = |tag: &[u8]| {
            register::lists_tag(msg, HeaderName::Supported, tag)
                || register::lists_tag(msg, HeaderName::Require, tag)
        };
        // RFC 5627 §5.2: GRUUs for a UA that supports them. RFC 5626 §6: Require: outbound
        // tells a UA that registered a flow that Drongo keeps it.
        let mint = matches!(answer, Answer::Ok { .. }) && asks(b"gruu");
        let require_outbound = matches!(answer, Answer::Ok { outbound: true }) && asks(b"outbound");
        let gruus = self.gruus.clone();
        let mut rng = Rng::new(self.rng.next_u64());
        let out = self.build_response(r, status, reason, |w| match answer {
            Answer::Ok { .. } => {
                if require_outbound {
                    w.header("Require", b"outbound");
                }
                let minter = mint.then_some(Minter {
                    gruus: &gruus,
                    rng: &mut rng,
                });
                register::write_contacts(&*location, &aor, now, minter, w);
            }
            Answer::Refused(RegisterError::IntervalTooBrief(min)) => {
                let mut v = Vec::with_capacity(10);
                push_decimal(&mut v, u64::from(min));
                w.header("Min-Expires", &v);
            }
            _ => {}
        });
        // The flow a binding came over is kept open with keep-alives while the binding uses
        // it, so requests can come back over it (RFC 5626 §4.4.1, §5.3).
        let keep = match r.src.flow {
            Flow::Stream(conn) if matches!(answer, Answer::Ok { .. }) => location
                .bindings(&aor)
                .any(|b| b.conn() == Some(conn.0))
                .then_some(conn),
            _ => None,
        };
        self.location = Some(location);
        self.aor_scratch = aor;
        if let Some((out, route)) = out {
            self.send_answer(out, route, status);
        }
        if let Some(conn) = keep {
            self.keep_connection(conn);
        }
    }

    /// The shard that holds the bindings of the AoR a request is about, when it is another:
    /// AoRs are spread over the shards by a hash of their canonical form, so a REGISTER (by
    /// its To) and an initial request to Drongo for a user (by its Request-URI) go to the
    /// one shard that has them. Retransmissions, ACKs and CANCELs name the same AoR, so they
    /// follow.
    fn aor_owner(
        &mut self,
        msg: &Message<'_>,
        checked: &Checked<'_>,
        local: SocketAddr,
    ) -> Option<u16> {
        let count = self.config.shard_count;
        if count < 2 {
            return None;
        }
        let method = msg.method()?;
        let uri = match method {
            Method::Register => *checked.to.uri(),
            _ => checked.request_uri?,
        };
        // A GRUU reaches its instance inside a dialog too (RFC 5627 §6.1).
        let gruu = Gruu::of(&uri).filter(|_| method != Method::Register);
        if checked.to.tag().is_some() && gruu.is_none() {
            return None;
        }
        uri.user()?;
        if !self.serves(&uri, local) {
            return None;
        }
        // A temporary GRUU names the shard that minted it, the one that holds its AoR.
        if let Some(Gruu::Temporary(token)) = gruu {
            if let Some(shard) = gruu::token_shard(token).filter(|s| *s < count) {
                return (shard != self.config.id).then_some(shard);
            }
        }
        let mut key = std::mem::take(&mut self.aor_scratch);
        let owner = crate::core::registrar::aor_key(&uri, &mut key)
            .ok()
            .map(|()| crate::core::registrar::aor_shard(&key, count));
        self.aor_scratch = key;
        owner.filter(|o| *o != self.config.id)
    }

    /// §16.4 route preprocessing of a request; one without Route has none to do.
    fn route_preprocess<'a>(
        &self,
        msg: &Message<'a>,
        checked: &Checked<'a>,
        local: SocketAddr,
    ) -> crate::core::proxy::Preprocess<'a> {
        if !checked.has_route {
            return crate::core::proxy::Preprocess::default();
        }
        self.preprocess(msg, checked, local)
    }

    /// Whether a URI's host is a domain or address served here, on any port: the domain
    /// part of an AoR.
    fn serves(&self, uri: &Uri<'_>, local: SocketAddr) -> bool {
        match uri.host() {
            Some(Host::V4(ip)) => self.is_local(IpAddr::V4(ip), None, local),
            Some(Host::V6(ip)) => self.is_local(IpAddr::V6(ip), None, local),
            Some(Host::Domain(name)) => self.serves_domain(name, local),
            None => false,
        }
    }

    fn serves_domain(&self, name: &[u8], local: SocketAddr) -> bool {
        let name = name.strip_suffix(b".").unwrap_or(name);
        name.eq_ignore_ascii_case(b"localhost") && local.ip().is_loopback()
            || self.config.domains.iter().any(|d| {
                let d = d.strip_suffix('.').unwrap_or(d);
                d.as_bytes().eq_ignore_ascii_case(name)
            })
    }

    /// True when some option tag in any `name` header is not in [`SUPPORTED`].
    fn unsupported(&self, h: &Headers<'_>, name: HeaderName) -> bool {
        h.all(name)
            .flat_map(OptionTags::new)
            .flatten()
            .any(|tag| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
    }

    fn respond_unsupported<'a>(
        &mut self,
        r: &Request<'_, 'a>,
        tags: impl Iterator<Item = &'a [u8]>,
    ) {
        let mut list = [&b""[..]; 16];
        let mut n = 0;
        for tag in tags.flat_map(OptionTags::new).flatten() {
            if n < list.len() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)) {
                list[n] = tag;
                n += 1;
            }
        }
        self.respond(r, 420, "Bad Extension", |w| {
            w.header_list("Unsupported", list[..n].iter().copied());
        })
    }

    /// Is the Request-URI one of Drongo's own addresses or domains? A URI without a port
    /// matches on any port Drongo listens on; an explicit port must be one of them.
    fn is_for_us(&self, uri: &Uri<'_>, local: SocketAddr) -> bool {
        let port = uri.port();
        match uri.host() {
            Some(Host::V4(ip)) => self.is_local(IpAddr::V4(ip), port, local),
            Some(Host::V6(ip)) => self.is_local(IpAddr::V6(ip), port, local),
            Some(Host::Domain(name)) => {
                port.is_none_or(|p| p == local.port()) && self.serves_domain(name, local)
            }
            None => false,
        }
    }

    fn is_local(&self, ip: IpAddr, port: Option<u16>, local: SocketAddr) -> bool {
        let ip = canonical(ip);
        let matches =
            |a: &SocketAddr| canonical(a.ip()) == ip && port.is_none_or(|p| p == a.port());
        matches(&local) || self.config.local_addrs.iter().any(matches)
    }

    /// Sends a response built from the request's headers; `extra` adds headers.
    fn respond(
        &mut self,
        r: &Request<'_, '_>,
        status: u16,
        reason: &str,
        extra: impl FnOnce(&mut Writer<'_>),
    ) {
        let Some((out, route)) = self.build_response(r, status, reason, extra) else {
            return;
        };
        self.send_answer(out, route, status);
    }

    /// Sends a response [`Shard::build_response`] built, counted as answered (or resent).
    fn send_answer(&mut self, out: Vec<u8>, route: Source, status: u16) {
        if self.rebuilding {
            self.stats.resent += 1;
        } else {
            self.stats.answered[(status / 100).min(6) as usize] += 1;
        }
        self.dispatch(out, route, status);
    }

    /// Builds a response to a request (§8.2.6) and where it goes; `None` (counted as a drop)
    /// when it cannot be answered.
    fn build_response(
        &mut self,
        r: &Request<'_, '_>,
        status: u16,
        reason: &str,
        extra: impl FnOnce(&mut Writer<'_>),
    ) -> Option<(Vec<u8>, Source)> {
        let (src, h, via) = (r.src, r.h, r.via.as_ref());
        let Some(top) = h.get(HeaderName::Via) else {
            self.drop(DropReason::Unanswerable);
            return None;
        };
        let Some(dest) = self.response_destination(src, via) else {
            self.drop(DropReason::NoRoute);
            return None;
        };
        // §8.2.6.2: a To without a tag gets one (not on 100). Derived from the request so a
        // retransmission gets the same tag; from the branch and the CSeq number but not the
        // method, so the answers to an INVITE and to its CANCEL carry the same tag (§9.2).
        let mut tag_buf = [0u8; ids::TAG_LEN];
        let to_tag = if status > 100 && !r.to_tagged && h.get(HeaderName::To).is_some() {
            let branch = via
                .filter(|v| v.is_rfc3261_branch())
                .and_then(Via::branch)
                .unwrap_or(top);
            let call_id = h.get(HeaderName::CallId).unwrap_or_default();
            let cseq = h.get(HeaderName::CSeq).unwrap_or_default();
            let key = ids::tag_hash(self.secret, &[call_id, branch, cseq_number(cseq)]);
            Some(ids::write_tag(self.config.id, key, &mut tag_buf))
        } else {
            None
        };
        let stamp = via.map_or_else(ViaStamp::default, |v| via_stamp(v, h.buf(), src.remote));
        let mut out = self.buffer();
        let mut w = response_to(&mut out, h, status, reason, stamp, to_tag);
        if !self.server_line.is_empty() {
            w.lines(&self.server_line);
        }
        extra(&mut w);
        w.finish(b"");
        let route = Source {
            flow: src.flow,
            local: src.local,
            remote: dest,
        };
        Some((out, route))
    }

    /// Sends Drongo's answer: through a new server transaction when the request has one
    /// pending, else as it is.
    fn dispatch(&mut self, out: Vec<u8>, route: Source, status: u16) {
        match (self.pending.take(), self.now) {
            (Some((key, invite, reliability, resend)), Some(_)) => {
                // The answer goes through a server transaction, which keeps it for
                // retransmissions and runs Timers G/H/I/J/K (§17.2).
                let id = self.servers.create(key, invite, reliability, route);
                self.respond_through(id, status, out, resend);
            }
            _ => self.transmits.push_back(Transmit {
                flow: route.flow,
                local: route.local,
                remote: route.remote,
                payload: out,
                token: 0,
            }),
        }
    }

    /// Gives a response to server transaction `id`; when the transaction sends it, `out`
    /// itself becomes the transmit (no copy), else it goes back to the pool.
    fn respond_through(&mut self, id: ServerTxId, status: u16, out: Vec<u8>, resend: Resend) {
        let Some(now) = self.now else { return };
        let Shard {
            servers,
            wheel,
            transmits,
            pool,
            ..
        } = self;
        let Some(wheel) = wheel.as_mut() else { return };
        let mut send_given = None;
        servers.respond(id, status, &out, resend, now, wheel, &mut |event| {
            if let Event::SendGiven { route } = event {
                send_given = Some(*route);
            } else {
                send_event(transmits, pool, event);
            }
        });
        match send_given {
            Some(route) => self.transmits.push_back(Transmit {
                flow: route.flow,
                local: route.local,
                remote: route.remote,
                payload: out,
                token: 0,
            }),
            None => self.recycle(out),
        }
    }

    /// §18.2.2 with RFC 3581: where a response goes.
    fn response_destination(&self, src: Source, via: Option<&Via<'_>>) -> Option<SocketAddr> {
        let remote = src.remote;
        let Some(via) = via else { return Some(remote) };
        if matches!(src.flow, Flow::Stream(_) | Flow::Tcp) {
            // The connection the request came on; the address is where the shell opens a new
            // one if that has closed (§18.2.2).
            return Some(flow::stream_fallback(via, remote));
        }
        if self.config.symmetric_response || via.rport().is_some() {
            return Some(remote);
        }
        let port = via.port().unwrap_or(5060);
        if port == 0 {
            return None;
        }
        Some(SocketAddr::new(remote.ip(), port))
    }

    /// Draws a fresh 64-bit value (branches and tags minted for new work).
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

/// Cross-shard handoff (`core::handoff`).
impl Shard {
    /// A message another shard received whose ids name this one: handled as if it had arrived
    /// here. Its buffer joins this shard's pool.
    pub fn handle_handoff(&mut self, now: Instant, handoff: Handoff) {
        self.stats.handed_in += 1;
        let src = Source {
            flow: handoff.flow,
            local: handoff.local,
            remote: handoff.remote,
        };
        let framing = match handoff.flow {
            Flow::Udp => Framing::Datagram,
            Flow::Stream(_) | Flow::Tcp => Framing::Stream,
        };
        self.handle_message(now, src, &handoff.bytes, framing, false);
        self.recycle(handoff.bytes);
    }

    /// Next message to hand to the shard that owns it, if any.
    pub fn poll_handoff(&mut self) -> Option<Handoff> {
        self.handoffs.pop_front()
    }

    /// The shell could not deliver `handoff` (`reason`: the channel to the owner was full, or
    /// the owner has stopped): it is counted as dropped instead of handed off.
    pub fn handoff_undelivered(&mut self, handoff: Handoff, reason: DropReason) {
        self.stats.handed_off = self.stats.handed_off.saturating_sub(1);
        self.drop(reason);
        self.recycle(handoff.bytes);
    }

    fn hand_off(&mut self, to: u16, now: Instant, src: Source, bytes: &[u8]) {
        let mut copy = self.buffer();
        copy.extend_from_slice(bytes);
        self.stats.handed_off += 1;
        self.handoffs.push_back(Handoff {
            to,
            from: self.config.id,
            flow: src.flow,
            local: src.local,
            remote: src.remote,
            received: now,
            bytes: copy,
        });
    }
}

/// A request being answered: where it came from, its headers, and what validation decoded
/// of them (the top Via, unless it did not parse; whether To has a tag).
struct Request<'m, 'a> {
    src: Source,
    h: &'m Headers<'a>,
    via: Option<Via<'a>>,
    to_tagged: bool,
}

/// Whether no Route value is left once preprocessing took Drongo's off (§16.4), so that the
/// Request-URI decides where the request goes (§16.5).
fn route_set_ends_here(msg: &Message<'_>, pre: &crate::core::proxy::Preprocess<'_>) -> bool {
    if pre.strict_repair.is_some() {
        return false;
    }
    let routes = msg
        .headers()
        .all(HeaderName::Route)
        .flat_map(crate::core::sip::headers::NameAddrs::bracketed)
        .count();
    routes == usize::from(pre.pop_top_route.is_some())
}

fn write_allow(w: &mut Writer<'_>) {
    w.header("Allow", ALLOW_VALUE.as_bytes());
}

fn is_scanner(ua: &[u8]) -> bool {
    SCANNERS
        .iter()
        .any(|s| memchr::memmem::find(ua, s).is_some())
}

/// The sequence number of a CSeq value as written (what precedes the method).
fn cseq_number(value: &[u8]) -> &[u8] {
    let value = value.trim_ascii_start();
    let end = value
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(value.len());
    value.get(..end).unwrap_or_default()
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// §18.2.1 and RFC 3581 §4: the top Via of the response gets `received` when the sent-by
/// host differs from the source address (always when `rport` is present), and a valueless
/// `rport` gets the source port. `via` is the first value of the request's first Via line,
/// in `buf`; the additions are given as offsets into `buf` (none when nothing changes).
fn via_stamp(via: &Via<'_>, buf: &[u8], remote: SocketAddr) -> ViaStamp {
    let src = canonical(remote.ip());
    let sent_by_matches = match via.host() {
        Host::V4(ip) => canonical(IpAddr::V4(ip)) == src,
        Host::V6(ip) => canonical(IpAddr::V6(ip)) == src,
        Host::Domain(_) => false,
    };
    let rport = via.rport();
    let fill_rport = matches!(rport, Some(None));
    let add_received = (!sent_by_matches || rport.is_some()) && via.received().is_none();
    if !fill_rport && !add_received {
        return ViaStamp::default();
    }
    // NOTE: the Via was decoded from `buf`, so its bytes lie inside it; a Via from elsewhere
    // gets no additions.
    let raw = via.as_bytes();
    let Some(start) = (raw.as_ptr() as usize)
        .checked_sub(buf.as_ptr() as usize)
        .filter(|start| start + raw.len() <= buf.len())
    else {
        return ViaStamp::default();
    };
    ViaStamp {
        rport: via
            .bare_rport_end()
            .filter(|_| fill_rport)
            .map(|end| (start + end, remote.port())),
        received: add_received.then_some((start + raw.len(), src)),
    }
}

/// Executes a server-transaction event: a send becomes a transmit in a pooled buffer. Returns
/// whether something was sent.
fn send_event(
    transmits: &mut VecDeque<Transmit>,
    pool: &mut Vec<Vec<u8>>,
    event: Event<'_, Source>,
) -> bool {
    match event {
        Event::Send { route, bytes } => {
            let mut payload = pool
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(TRANSMIT_CAPACITY));
            payload.extend_from_slice(bytes);
            transmits.push_back(Transmit {
                flow: route.flow,
                local: route.local,
                remote: route.remote,
                payload,
                token: 0,
            });
            true
        }
        // NOTE: only a retransmitted request asks for a rebuild (timers resend kept INVITE
        // responses), and `handle_request` takes that event before it gets here; only a
        // response given now is sent as given, and `respond` takes that event.
        Event::Rebuild { .. } | Event::SendGiven { .. } => false,
        // Drongo's answers need nothing from their transactions yet (no dialogs).
        Event::Tu(..) => false,
    }
}
