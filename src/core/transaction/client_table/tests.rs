use super::*;
use std::time::Duration;

const INVITE: &str = "INVITE sip:bob@192.0.2.20 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-c1\r\n\
    Max-Forwards: 70\r\n\
    From: <sip:alice@127.0.0.1>;tag=a1\r\n\
    To: <sip:bob@192.0.2.20>\r\n\
    Call-ID: ct-1@127.0.0.1\r\n\
    CSeq: 1 INVITE\r\n\
    Content-Length: 0\r\n\r\n";

fn options() -> String {
    INVITE
        .replace("INVITE sip", "OPTIONS sip")
        .replace("1 INVITE", "1 OPTIONS")
}

fn response(request: &str, status: u16, reason: &str) -> Vec<u8> {
    let method = request.split(' ').next().unwrap();
    format!(
        "SIP/2.0 {status} {reason}\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-c1\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:bob@192.0.2.20>;tag=b9\r\n\
         Call-ID: ct-1@127.0.0.1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// What the table asked for, with the virtual time in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Send(u64, String),
    Cancel(u64, String),
    Tu(u64, TuEvent),
}

struct Fixture {
    table: ClientTable<()>,
    wheel: TimerWheel<ClientTimer>,
    t0: Instant,
    now: Instant,
    seen: Vec<Seen>,
}

impl Fixture {
    fn new() -> Self {
        let t0 = crate::sim::epoch();
        Fixture {
            table: ClientTable::new(TimerConfig::RFC),
            wheel: TimerWheel::new(t0, Duration::from_millis(10)),
            t0,
            now: t0,
            seen: Vec::new(),
        }
    }

    fn sink(
        t0: Instant,
        now: Instant,
        seen: &mut Vec<Seen>,
    ) -> impl FnMut(ClientEvent<'_, ()>) + '_ {
        let ms = (now - t0).as_millis() as u64;
        move |e| match e {
            ClientEvent::Send { bytes, .. } => {
                let first = String::from_utf8_lossy(bytes)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                seen.push(Seen::Send(ms, first))
            }
            ClientEvent::SendCancel { bytes, .. } => seen.push(Seen::Cancel(
                ms,
                String::from_utf8_lossy(bytes)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )),
            ClientEvent::Tu(_, _, event) => seen.push(Seen::Tu(ms, event)),
        }
    }

    fn start(&mut self, request: &str, reliability: Reliability) -> ClientTxId {
        let msg = Message::parse(request.as_bytes(), Framing::Datagram).unwrap();
        let key = ClientKey::of_request(&msg).unwrap();
        let start = Start {
            request: request.as_bytes(),
            invite: request.starts_with("INVITE"),
            reliability,
            timer_c: false,
        };
        let mut sink = Self::sink(self.t0, self.now, &mut self.seen);
        self.table
            .start(key, start, (), self.now, &mut self.wheel, &mut sink)
    }

    fn receive(&mut self, bytes: &[u8]) {
        let msg = Message::parse(bytes, Framing::Datagram).unwrap();
        let key = ClientKey::of_response(&msg).unwrap();
        let Some(id) = self.table.find(&key) else {
            return;
        };
        let mut sink = Self::sink(self.t0, self.now, &mut self.seen);
        self.table
            .response(id, &msg, self.now, &mut self.wheel, &mut sink);
    }

    fn cancel(&mut self, id: ClientTxId) -> bool {
        let mut sink = Self::sink(self.t0, self.now, &mut self.seen);
        self.table.cancel(id, self.now, &mut self.wheel, &mut sink)
    }

    fn advance_to(&mut self, ms: u64) {
        let end = self.t0 + Duration::from_millis(ms);
        while let Some(at) = self.wheel.next_deadline().filter(|d| *d <= end) {
            self.now = self.now.max(at);
            while let Some((timer, payload)) = self.wheel.poll(self.now) {
                let mut sink = Self::sink(self.t0, self.now, &mut self.seen);
                self.table
                    .timer(timer, payload, self.now, &mut self.wheel, &mut sink);
            }
        }
        self.now = end;
    }

    fn sends(&self) -> Vec<u64> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Send(ms, _) => Some(*ms),
                _ => None,
            })
            .collect()
    }
}

/// §17.1.1.2: an INVITE over UDP with no answer is sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and
/// 31.5 s and times out at 32 s (Timer B).
#[test]
fn unanswered_invite_over_udp_follows_timers_a_and_b() {
    let mut f = Fixture::new();
    f.start(INVITE, Reliability::Unreliable);
    assert_eq!(f.table.counts().by_state[0], 1, "Calling");
    f.advance_to(40_000);
    assert_eq!(f.sends(), [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    assert_eq!(f.seen.last(), Some(&Seen::Tu(32_000, TuEvent::Timeout)));
    assert!(f.table.is_empty());
    assert_eq!(f.table.counts(), ClientCounts::default());
}

/// §17.1.2.2: a non-INVITE over UDP doubles Timer E up to T2 and times out on Timer F.
#[test]
fn unanswered_non_invite_over_udp_follows_timers_e_and_f() {
    let mut f = Fixture::new();
    f.start(&options(), Reliability::Unreliable);
    f.advance_to(40_000);
    assert_eq!(
        f.sends(),
        [0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(f.seen.last(), Some(&Seen::Tu(32_000, TuEvent::Timeout)));
    assert!(f.table.is_empty());
}

/// Over a reliable transport nothing is retransmitted; a failed send is reported (§17.1.4).
#[test]
fn reliable_transport_sends_once_and_reports_a_transport_error() {
    let mut f = Fixture::new();
    let id = f.start(INVITE, Reliability::Reliable);
    f.advance_to(20_000);
    assert_eq!(f.sends(), [0]);
    {
        let mut sink = Fixture::sink(f.t0, f.now, &mut f.seen);
        f.table.transport_error(id, f.now, &mut f.wheel, &mut sink);
    }
    assert_eq!(
        f.seen.last(),
        Some(&Seen::Tu(20_000, TuEvent::TransportError))
    );
    assert!(f.table.is_empty());
}

/// §17.1.1.3: a non-2xx final is ACKed by the transaction, and every retransmission of it
/// gets the same ACK and is not passed up again; Timer D ends the transaction.
#[test]
fn a_non_2xx_final_is_acked_for_each_retransmission() {
    let mut f = Fixture::new();
    f.start(INVITE, Reliability::Unreliable);
    f.advance_to(100);
    f.receive(&response(INVITE, 486, "Busy Here"));
    f.advance_to(600);
    f.receive(&response(INVITE, 486, "Busy Here"));
    let acks: Vec<&Seen> = f
        .seen
        .iter()
        .filter(|s| matches!(s, Seen::Send(_, l) if l.starts_with("ACK ")))
        .collect();
    assert_eq!(
        acks,
        [
            &Seen::Send(100, "ACK sip:bob@192.0.2.20 SIP/2.0".into()),
            &Seen::Send(600, "ACK sip:bob@192.0.2.20 SIP/2.0".into())
        ]
    );
    let finals = f
        .seen
        .iter()
        .filter(|s| matches!(s, Seen::Tu(_, TuEvent::Final(_))))
        .count();
    assert_eq!(finals, 1, "the retransmission is not passed up");
    assert_eq!(
        f.sends()[..1],
        [0],
        "no INVITE retransmission after the final"
    );
    assert_eq!(f.table.counts().by_state[2], 1, "Completed");
    f.advance_to(40_000);
    assert!(f.table.is_empty(), "Timer D ended it");
}

/// §9.1: a CANCEL waits for a provisional; it goes out when one arrives, and the INVITE then
/// gives up 64*T1 later if no final comes.
#[test]
fn a_cancel_waits_for_a_provisional() {
    let mut f = Fixture::new();
    let id = f.start(INVITE, Reliability::Unreliable);
    assert!(f.cancel(id), "wanted, held until a provisional");
    assert!(!f.seen.iter().any(|s| matches!(s, Seen::Cancel(..))));
    f.advance_to(200);
    f.receive(&response(INVITE, 180, "Ringing"));
    assert!(f.seen.contains(&Seen::Cancel(
        200,
        "CANCEL sip:bob@192.0.2.20 SIP/2.0".into()
    )));
    assert!(!f.cancel(id), "cancelled once only");
    f.advance_to(40_000);
    assert_eq!(f.seen.last(), Some(&Seen::Tu(32_200, TuEvent::Timeout)));
    assert!(f.table.is_empty());
}

/// A 2xx ends the chance to cancel; the INVITE stays in Accepted for Timer M (RFC 6026).
#[test]
fn no_cancel_after_a_final() {
    let mut f = Fixture::new();
    let id = f.start(INVITE, Reliability::Unreliable);
    f.receive(&response(INVITE, 200, "OK"));
    assert!(!f.cancel(id));
    assert_eq!(f.table.counts().by_state[3], 1, "Accepted");
    f.advance_to(40_000);
    assert!(f.table.is_empty(), "Timer M ended it");
}

/// A response for another branch or method matches nothing.
#[test]
fn responses_match_by_branch_and_method() {
    let mut f = Fixture::new();
    f.start(INVITE, Reliability::Unreliable);
    let other_method = response(&options(), 200, "OK");
    f.receive(&other_method);
    let other_branch = String::from_utf8(response(INVITE, 200, "OK"))
        .unwrap()
        .replace("z9hG4bK-c1", "z9hG4bK-c2");
    f.receive(other_branch.as_bytes());
    assert!(!f.seen.iter().any(|s| matches!(s, Seen::Tu(..))));
}
