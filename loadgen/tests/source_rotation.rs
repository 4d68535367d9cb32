//! Connections to a loopback server leave from many loopback source
//! addresses (so the generator's own TIME_WAIT ports never cap its connect
//! rate), each answered and checked as before; a server on another address
//! family sees the one source the route gives.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use loadgen::{Mode, Target};

/// An echo server on a thread of this test that notes every peer's address;
/// the guard stops it (and joins it) when dropped.
struct Recorder {
    addr: SocketAddr,
    peers: Arc<Mutex<BTreeSet<IpAddr>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start(bind: &str) -> Recorder {
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        let peers = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, done) = (Arc::clone(&peers), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                if let Ok(peer) = conn.peer_addr() {
                    seen.lock().unwrap().insert(peer.ip());
                }
                echo(&mut conn);
            }
        });
        Recorder {
            addr,
            peers,
            stop,
            handle: Some(handle),
        }
    }

    fn peers(&self) -> BTreeSet<IpAddr> {
        self.peers.lock().unwrap().clone()
    }
}

/// Echoes until the peer closes (a probe that sends nothing just closes).
fn echo(conn: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn crr(addr: SocketAddr) -> loadgen::LoadReport {
    let mut plan = common::plan(Target::Tcp(addr), Mode::Crr);
    plan.connections = 1;
    plan.threads = 1;
    plan.duration = Duration::from_millis(300);
    loadgen::run(&plan, &AtomicBool::new(false)).unwrap()
}

#[test]
fn connections_to_ipv4_loopback_rotate_their_source_address() {
    let _serial = common::serial();
    let server = Recorder::start("127.0.0.1:0");
    let report = crr(server.addr);
    assert!(report.requests >= 10, "only {} requests", report.requests);
    assert_eq!(report.errors.total, 0, "{:?}", report.errors);
    let peers = server.peers();
    assert!(
        peers.iter().all(|ip| ip.is_loopback()),
        "a source outside loopback: {peers:?}"
    );
    assert!(
        peers.len() >= 8,
        "{} requests came from only {peers:?}",
        report.requests
    );
}

#[test]
fn connections_to_ipv6_loopback_keep_the_routes_source() {
    let _serial = common::serial();
    // No IPv6 on this machine: nothing to check.
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return;
    };
    drop(listener);
    let server = Recorder::start("[::1]:0");
    let report = crr(server.addr);
    assert!(
        report.requests > 0 && report.errors.total == 0,
        "{report:?}"
    );
    assert_eq!(
        server.peers(),
        BTreeSet::from([IpAddr::from(std::net::Ipv6Addr::LOCALHOST)])
    );
}
