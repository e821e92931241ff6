//! Routing through the real shell on loopback sockets: a `[[routes]]` table from the
//! configuration sends a call to a trunk (a plain UDP socket here), and a router installed
//! with `shell::start_with_router` answers before it. Every wait is bounded.

use drongo::config::Config;
use drongo::core::proxy::{Decision, RouteRequest, RouterFactory};
use drongo::shell::{self, RunningShards};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// One shard on `127.0.0.1:0` with the routes of `routes`.
fn config(routes: &str) -> Config {
    let cpus = shell::process_cpus().expect("affinity mask");
    let mut config = Config::from_toml_str(routes).unwrap();
    config.sip.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.shards.cores = vec![cpus[0]];
    config.tcp.enabled = false;
    config.udp.recv_buffer = 256 << 10;
    config.udp.send_buffer = 256 << 10;
    config
}

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn invite(caller: SocketAddr, uri: &str) -> Vec<u8> {
    format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {caller};branch=z9hG4bK-loop-1;rport\r\n\
         From: <sip:carol@example.net>;tag=c1\r\n\
         To: <{uri}>\r\n\
         Call-ID: routes-loopback-1\r\n\
         CSeq: 1 INVITE\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The first line of every message `s` receives until it receives one starting `want`.
fn receive_until(s: &UdpSocket, want: &str) -> String {
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = s
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("waiting for {want:?}: {e}"));
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with(want) {
            return text;
        }
    }
}

fn stop(running: RunningShards) {
    running.stop().expect("shards stop cleanly");
}

#[test]
fn a_static_route_sends_the_call_to_the_trunk() {
    let trunk = socket();
    let trunk_addr = trunk.local_addr().unwrap();
    let running = shell::start(config(&format!(
        "[[routes]]\nuser_prefix = \"+44\"\nnext_hops = [\"sip:{trunk_addr}\"]\n"
    )))
    .expect("start");
    let drongo = running.local_addrs()[0];
    let caller = socket();
    let uri = "sip:+442071234567@carrier.example";
    caller
        .send_to(&invite(caller.local_addr().unwrap(), uri), drongo)
        .unwrap();
    receive_until(&caller, "SIP/2.0 100 ");
    let forwarded = receive_until(&trunk, "INVITE ");
    assert!(
        forwarded.starts_with(&format!("INVITE {uri} SIP/2.0\r\n")),
        "{forwarded}"
    );
    assert!(
        forwarded.contains(&format!("Route: <sip:{trunk_addr};lr>\r\n")),
        "{forwarded}"
    );
    stop(running);
}

#[test]
fn a_router_installed_in_the_shell_answers_first() {
    let trunk = socket();
    let trunk_addr = trunk.local_addr().unwrap();
    let router = RouterFactory::new(|_| {
        Box::new(|r: &RouteRequest<'_, '_>| {
            if r.from.uri().user() == Some(&b"carol"[..]) {
                Decision::Respond(403)
            } else {
                Decision::FallThrough
            }
        })
    });
    let running = shell::start_with_router(
        config(&format!("[[routes]]\nnext_hops = [\"sip:{trunk_addr}\"]\n")),
        router,
    )
    .expect("start");
    let drongo = running.local_addrs()[0];
    let caller = socket();
    caller
        .send_to(
            &invite(caller.local_addr().unwrap(), "sip:+4420@carrier.example"),
            drongo,
        )
        .unwrap();
    // Had the route taken the call, a 100 would come and no final: the 403 is the router's.
    let answer = receive_until(&caller, "SIP/2.0 ");
    assert!(answer.starts_with("SIP/2.0 403 Forbidden\r\n"), "{answer}");
    stop(running);
}
