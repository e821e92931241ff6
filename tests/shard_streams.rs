//! One shard fed messages from stream connections, as the shell does: where its answers go
//! (§18.2.2), the connection commands it gives (RFC 5923 alias, RFC 5626 keep-alive) and the
//! transport errors it takes. Virtual time from `sim::epoch`; no sockets.

use std::net::SocketAddr;

use drongo::core::flow::{ConnCommand, TransportError};
use drongo::core::shard::{ConnId, Flow, Shard, Transmit};
use drongo::sim::{epoch, Sim};

const SERVER: &str = "127.0.0.1:5060";
const CONN: ConnId = ConnId(7);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn shard() -> Shard {
    Shard::new(Sim::template(addr(SERVER)), 1)
}

fn options(via: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: {via}\r\n\
         From: <sip:pbx@example.com>;tag=p1\r\n\
         To: <sip:127.0.0.1:5060>\r\n\
         Call-ID: stream-1@example.com\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Feeds `bytes` as a message from connection [`CONN`] and returns the one answer.
fn over_stream(shard: &mut Shard, from: &str, bytes: &[u8]) -> Transmit {
    shard.handle_stream_message(epoch(), CONN, addr(SERVER), addr(from), bytes);
    let t = shard.poll_transmit().expect("an answer");
    assert!(shard.poll_transmit().is_none(), "one answer");
    t
}

#[test]
fn an_answer_goes_on_the_connection_with_the_via_address_to_fall_back_to() {
    let mut shard = shard();
    let t = over_stream(
        &mut shard,
        "192.0.2.7:40123",
        &options("SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK-s1"),
    );
    assert!(t.payload.starts_with(b"SIP/2.0 200 OK\r\n"));
    assert_eq!(t.flow, Flow::Stream(CONN));
    assert_eq!(
        t.remote,
        addr("192.0.2.7:5070"),
        "the sent-by, not the source port"
    );
    assert_eq!(t.token, 0);
    // A host name is not resolved: the source address with the sent-by port, 5060 by default.
    let t = over_stream(
        &mut shard,
        "192.0.2.7:40124",
        &options("SIP/2.0/TCP pbx.example.com;branch=z9hG4bK-s2"),
    );
    assert_eq!(t.remote, addr("192.0.2.7:5060"));
    assert!(shard.poll_conn_command().is_none(), "no alias asked for");
}

#[test]
fn an_alias_via_naming_the_source_ip_aliases_the_connection() {
    let mut shard = shard();
    over_stream(
        &mut shard,
        "192.0.2.7:40123",
        &options("SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK-a1;alias"),
    );
    assert_eq!(
        shard.poll_conn_command(),
        Some(ConnCommand::Alias {
            conn: CONN,
            sent_by: addr("192.0.2.7:5070")
        })
    );
    assert!(shard.poll_conn_command().is_none());
    // Another host's address is not taken.
    over_stream(
        &mut shard,
        "192.0.2.7:40123",
        &options("SIP/2.0/TCP 198.51.100.1:5070;branch=z9hG4bK-a2;alias"),
    );
    assert!(shard.poll_conn_command().is_none());
}

#[test]
fn alias_over_udp_means_nothing() {
    let mut shard = shard();
    shard.handle_datagram(
        epoch(),
        addr(SERVER),
        addr("192.0.2.7:5070"),
        &options("SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK-u1;alias"),
    );
    assert_eq!(shard.poll_transmit().map(|t| t.flow), Some(Flow::Udp));
    assert!(shard.poll_conn_command().is_none());
}

#[test]
fn a_kept_connection_is_a_command_for_the_shell() {
    let mut shard = shard();
    shard.keep_connection(ConnId(9));
    assert_eq!(
        shard.poll_conn_command(),
        Some(ConnCommand::KeepAlive(ConnId(9)))
    );
    assert!(shard.poll_conn_command().is_none());
}

#[test]
fn transport_errors_are_counted_by_kind() {
    let mut shard = shard();
    let remote = addr("192.0.2.7:5060");
    shard.handle_transport_error(epoch(), TransportError::Undelivered { token: 3, remote });
    shard.handle_transport_error(epoch(), TransportError::Undelivered { token: 0, remote });
    shard.handle_transport_error(epoch(), TransportError::FlowFailed { conn: CONN, remote });
    let stats = shard.stats().clone();
    assert_eq!((stats.undelivered, stats.flows_failed), (2, 1));
    assert!(
        shard.poll_transmit().is_none(),
        "nothing to send about them yet"
    );
    assert_eq!(
        stats.received,
        stats.accounted(),
        "messages are not transport errors"
    );
}
