//! Against a server that misbehaves on purpose, every fault is counted as the
//! right kind of error, and never as a latency sample: each issued request
//! ends as exactly one success or one error.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{plan, serial, Fault, FaultyServer};
use loadgen::report::{IoPath, LoadErrors};
use loadgen::{LoadReport, Mode, Target, Workload};

const REQUESTS: u64 = 400;
const EVERY: u64 = 40;

const ECHO: Workload = Workload::Echo { size: 64 };
const SYNTHETIC: Workload = Workload::Synthetic {
    payload_len: 32,
    response_len: 200,
    cpu_us: 0,
    wait_us: 0,
};

/// `REQUESTS` requests on 2 connections against a server faulting every `EVERY`-th.
/// With one connection per thread, `rr` takes the blocking fast path.
fn run_against(workload: Workload, fault: Fault, mode: Mode) -> (LoadReport, FaultyServer) {
    run_on(workload, fault, mode, 2)
}

/// The same on `threads` engine threads (1: both `rr` connections on one event loop).
fn run_on(
    workload: Workload,
    fault: Fault,
    mode: Mode,
    threads: usize,
) -> (LoadReport, FaultyServer) {
    let _guard = serial();
    let server = FaultyServer::start(workload, fault, EVERY);
    let mut p = plan(Target::Tcp(server.addr), mode);
    p.workload = workload;
    p.connections = 2;
    p.max_requests = Some(REQUESTS);
    p.duration = Duration::from_secs(30);
    p.request_timeout = Duration::from_millis(300);
    p.threads = threads;
    let report = loadgen::run(&p, &AtomicBool::new(false)).expect("run");
    (report, server)
}

/// The one error kind expected, and the accounting around it.
fn assert_faults(
    report: &LoadReport,
    server: &FaultyServer,
    pick: fn(&LoadErrors) -> u64,
    name: &str,
) {
    let faults = server.faults();
    assert_eq!(faults, REQUESTS / EVERY, "the server faulted as planned");
    assert_eq!(
        server.requests(),
        REQUESTS,
        "the server saw every request once"
    );
    assert_eq!(
        pick(&report.errors),
        faults,
        "{name} counted once per fault: {:?}",
        report.errors
    );
    assert_eq!(
        report.errors.total, faults,
        "no other error: {:?}",
        report.errors
    );
    assert_eq!(
        report.requests + report.errors.total,
        REQUESTS,
        "each request ends once"
    );
    assert_eq!(
        report.latency_ns.count, report.requests,
        "only successes are samples"
    );
    assert!(!report.partial);
}

#[test]
fn a_correct_server_gives_no_errors() {
    let (r, server) = run_against(ECHO, Fault::None, Mode::Rr);
    assert_eq!(r.errors, LoadErrors::default());
    assert_eq!(r.requests, REQUESTS);
    assert_eq!(server.requests(), REQUESTS);
    assert_eq!(r.bytes_sent, REQUESTS * 64);
    assert_eq!(r.bytes_received, REQUESTS * 64);
    assert_eq!(r.latency_ns.count, REQUESTS);
}

#[test]
fn corrupt_bytes_are_mismatches() {
    let (r, s) = run_against(ECHO, Fault::Corrupt, Mode::Rr);
    assert_faults(&r, &s, |e| e.mismatch, "mismatch");
}

#[test]
fn extra_bytes_are_mismatches() {
    let (r, s) = run_against(ECHO, Fault::Extra, Mode::Rr);
    assert_faults(&r, &s, |e| e.mismatch, "mismatch");
}

#[test]
fn truncated_answers_are_short_responses() {
    let (r, s) = run_against(ECHO, Fault::Truncate, Mode::Rr);
    assert_faults(&r, &s, |e| e.short_response, "short_response");
    // The connection was reopened each time and the run went on.
    assert!(
        s.counts
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
            > REQUESTS / EVERY
    );
}

#[test]
fn resets_are_resets() {
    let (r, s) = run_against(ECHO, Fault::Reset, Mode::Rr);
    assert_faults(&r, &s, |e| e.reset, "reset");
}

#[test]
fn unanswered_requests_time_out() {
    let (r, s) = run_against(ECHO, Fault::Drop, Mode::Rr);
    assert_faults(&r, &s, |e| e.timeout, "timeout");
    // A timed-out request is no sample: nothing near the timeout was recorded.
    assert!(r.latency_ns.max < 300_000_000, "max {}", r.latency_ns.max);
}

#[test]
fn faults_in_crr_count_the_same() {
    let (r, s) = run_against(ECHO, Fault::Corrupt, Mode::Crr);
    assert_faults(&r, &s, |e| e.mismatch, "mismatch");
    let connect = r.connect_latency_ns.expect("crr reports connect latency");
    assert_eq!(connect.count, REQUESTS, "every recorded request connected");
}

#[test]
fn faults_in_open_mode_count_the_same() {
    let (r, s) = run_against(ECHO, Fault::Truncate, Mode::Open { rate_rps: 2000.0 });
    assert_faults(&r, &s, |e| e.short_response, "short_response");
    assert_eq!(r.uncorrected_latency_ns.unwrap().count, r.requests);
}

#[test]
fn synthetic_error_status_is_a_server_error() {
    let (r, s) = run_against(SYNTHETIC, Fault::ServerError, Mode::Rr);
    assert_faults(&r, &s, |e| e.server_error, "server_error");
}

#[test]
fn synthetic_wrong_tag_is_a_mismatch() {
    let (r, s) = run_against(SYNTHETIC, Fault::WrongTag, Mode::Rr);
    assert_faults(&r, &s, |e| e.mismatch, "mismatch");
}

#[test]
fn synthetic_corrupt_body_is_a_mismatch() {
    let (r, s) = run_against(SYNTHETIC, Fault::Corrupt, Mode::Rr);
    assert_faults(&r, &s, |e| e.mismatch, "mismatch");
}

#[test]
fn delays_are_latency_not_errors() {
    let delay = Duration::from_millis(50);
    let (r, s) = run_against(ECHO, Fault::Delay(delay), Mode::Rr);
    assert_eq!(r.errors.total, 0, "{:?}", r.errors);
    assert_eq!(r.requests, REQUESTS);
    let h = loadgen::stats::decode_v2(&r.histogram_v2).unwrap();
    let slow = h.count_between(delay.as_nanos() as u64, u64::MAX);
    assert!(
        slow >= s.faults(),
        "{slow} samples at or above the delay, {} delayed",
        s.faults()
    );
    assert!(
        slow <= s.faults() + 2,
        "{slow} slow samples for {} delays",
        s.faults()
    );
}

#[test]
fn both_io_paths_count_every_fault_the_same_way() {
    type Pick = fn(&LoadErrors) -> u64;
    let cases: [(Fault, Pick, &str); 5] = [
        (Fault::Corrupt, |e| e.mismatch, "mismatch"),
        (Fault::Extra, |e| e.mismatch, "mismatch"),
        (Fault::Truncate, |e| e.short_response, "short_response"),
        (Fault::Reset, |e| e.reset, "reset"),
        (Fault::Drop, |e| e.timeout, "timeout"),
    ];
    for (fault, pick, name) in cases {
        for (threads, path) in [(2, IoPath::Blocking), (1, IoPath::EventLoop)] {
            let (r, s) = run_on(ECHO, fault, Mode::Rr, threads);
            assert_eq!(r.io_path, path, "{fault:?} on {threads} threads");
            assert_faults(&r, &s, pick, name);
        }
    }
}
