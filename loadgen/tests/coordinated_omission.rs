//! Coordinated omission: a server stalls once for a known time. The open-loop
//! run (latency from each request's intended send time) shows the stall in its
//! high percentiles; the closed-loop run, which simply waits, hides it behind a
//! single slow sample; the open run's uncorrected figures hide it too.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{plan, serial, stalling_server};
use loadgen::{Mode, Target};

const STALL: Duration = Duration::from_millis(300);
const STALL_NS: u64 = 300_000_000;

#[test]
fn open_loop_sees_the_stall_that_closed_loop_hides() {
    let _guard = serial();

    // Open loop: 1000 requests/s on one connection for 1.5 s, stall at 0.5 s.
    let server = stalling_server(Duration::from_millis(500), STALL);
    let mut p = plan(Target::Tcp(server.addr), Mode::Open { rate_rps: 1000.0 });
    p.connections = 1;
    p.duration = Duration::from_millis(1500);
    let open = loadgen::run(&p, &AtomicBool::new(false)).unwrap();
    assert_eq!(server.faults(), 1, "the server stalled once");
    drop(server);

    // Closed loop, same server behaviour.
    let server = stalling_server(Duration::from_millis(500), STALL);
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.connections = 1;
    p.duration = Duration::from_millis(1500);
    let closed = loadgen::run(&p, &AtomicBool::new(false)).unwrap();
    assert_eq!(server.faults(), 1, "the server stalled once");

    assert_eq!(open.errors.total, 0, "{:?}", open.errors);
    assert_eq!(closed.errors.total, 0, "{:?}", closed.errors);

    // No sample was omitted: all the scheduled requests were sent and timed.
    assert!(
        (1490..=1500).contains(&open.requests),
        "open loop sent {} of 1500 scheduled requests",
        open.requests
    );
    // The stall delayed ~300 of the 1500 requests, by up to 300 ms: a fifth of the samples.
    let open_p = open.latency_ns;
    assert!(open_p.max >= STALL_NS * 9 / 10, "open max {}", open_p.max);
    assert!(
        open_p.p99 >= STALL_NS * 3 / 4,
        "open p99 {} should show the stall",
        open_p.p99
    );
    assert!(
        open_p.p90 >= STALL_NS / 4,
        "open p90 {} should show the stall",
        open_p.p90
    );

    // The uncorrected (service time) view sees one slow answer only.
    let service = open.uncorrected_latency_ns.unwrap();
    assert!(service.max >= STALL_NS * 9 / 10);
    assert!(
        service.p99 < STALL_NS / 10,
        "uncorrected p99 {}",
        service.p99
    );

    // Closed loop: one slow sample among thousands; p99 hides the stall.
    let closed_p = closed.latency_ns;
    assert!(
        closed_p.max >= STALL_NS * 9 / 10,
        "closed max {}",
        closed_p.max
    );
    assert!(
        closed_p.p99 < STALL_NS / 10,
        "closed p99 {} hides the stall",
        closed_p.p99
    );
    assert!(open_p.p99 > 5 * closed_p.p99);
}

#[test]
fn open_loop_offers_the_rate_asked_for() {
    let _guard = serial();
    let server =
        common::FaultyServer::start(loadgen::Workload::Echo { size: 64 }, common::Fault::None, 0);
    let mut p = plan(Target::Tcp(server.addr), Mode::Open { rate_rps: 2000.0 });
    p.connections = 4;
    let r = loadgen::run(&p, &AtomicBool::new(false)).unwrap();
    assert_eq!(r.offered_rps, Some(2000.0));
    assert_eq!(r.errors.total, 0);
    assert!(
        (1990..=2000).contains(&r.requests),
        "{} requests",
        r.requests
    );
    assert!(
        (r.throughput_rps - 2000.0).abs() < 40.0,
        "{} req/s",
        r.throughput_rps
    );
    // Corrected latency is never below the service time it includes.
    let u = r.uncorrected_latency_ns.unwrap();
    assert!(r.latency_ns.p50 >= u.p50);
    assert_eq!(u.count, r.requests);
}
