//! The engine's rendezvous (`run_together`): called once the idle
//! connections are open (the active ones connect at the start, in the
//! warm-up, as always) and before a single request is sent, holding the
//! start until it returns; an error from it cancels the run with a
//! `Rendezvous` error instead of a report.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{plan, serial, Fault, FaultyServer};
use loadgen::{LoadError, Mode, Target, Workload};

#[test]
fn the_rendezvous_comes_after_the_idle_connections_are_open_and_before_any_request() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.connections = 2;
    p.idle_connections = 20;
    p.duration = Duration::from_millis(200);
    let stop = AtomicBool::new(false);
    let mut seen = None;
    let meet = Box::new(|| {
        // The server's accept thread may trail the kernel's handshakes.
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.counts.connections.load(Ordering::SeqCst) < 1 + 20 && Instant::now() < deadline
        {
            std::thread::yield_now();
        }
        seen = Some((
            server.counts.connections.load(Ordering::SeqCst),
            server.requests(),
        ));
        Ok(())
    });
    let r = loadgen::run_together(&p, &stop, None, None, Some(meet)).expect("the run");
    // The preflight's connection and the idle ones; nothing sent yet.
    assert_eq!(seen, Some((1 + 20, 0)), "idle ones open, nothing sent");
    assert!(r.requests > 0);
    assert_eq!(r.errors.total, 0);
}

#[test]
fn a_failed_rendezvous_cancels_the_run_with_its_reason() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.connections = 4;
    let stop = AtomicBool::new(false);
    let meet = Box::new(|| Err(std::io::Error::other("client host b: no readiness line")));
    match loadgen::run_together(&p, &stop, None, None, Some(meet)) {
        Err(e @ LoadError::Rendezvous { .. }) => {
            let text = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(text.contains("client host b: no readiness line"), "{text}");
        }
        other => panic!(
            "expected a rendezvous error, got {:?}",
            other.map(|r| r.requests)
        ),
    }
    assert_eq!(server.requests(), 0, "nothing was sent");
}
