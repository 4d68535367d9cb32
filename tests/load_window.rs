//! The server's CPU window is the recorded window: a request still in the
//! server when the load stops issuing keeps burning after the window's end,
//! and that tail must not be charged to the window's requests.
//!
//! The server is a `sockbench serve` child, killed by its guard.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::Served;
use loadgen::{LoadPlan, Mode, Target, Workload};
use servers::Endpoint;

/// The recorded window, and the CPU the single request burns: it starts with
/// the window and ends most of a window after it (the server refuses more
/// than 1 s of CPU a request).
const WINDOW: Duration = Duration::from_millis(500);
const BURN_US: u32 = 900_000;

/// One connection on one thread: the blocking fast path.
#[test]
fn cpu_a_request_burns_after_the_window_is_not_counted_in_it() {
    tail_is_not_counted(1);
}

/// Two connections on one thread: the event loop, which drains both.
#[test]
fn cpu_requests_burn_after_the_window_is_not_counted_in_it_on_the_event_loop() {
    tail_is_not_counted(2);
}

fn tail_is_not_counted(connections: usize) {
    // The two tests measure CPU: one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let served = Served::start("thread-per-conn", "tcp", &["--service", "synthetic"]);
    let Endpoint::Inet(addr) = served.endpoint else {
        unreachable!("this test serves TCP")
    };
    let mut plan = LoadPlan::new(Target::Tcp(addr), Mode::Rr);
    plan.workload = Workload::Synthetic {
        payload_len: 16,
        response_len: 16,
        cpu_us: BURN_US,
        wait_us: 0,
    };
    plan.connections = connections;
    plan.threads = 1;
    plan.warmup = Duration::ZERO;
    plan.duration = WINDOW;
    // Longer than the burn: the request completes (in the drain), it is not abandoned.
    plan.request_timeout = Duration::from_secs(10);
    plan.server_pid = Some(served.pid() as u32);
    let report = loadgen::run(&plan, &AtomicBool::new(false)).expect("the load runs");
    let server = report.server.expect("a server cost");
    assert_eq!(report.errors.total, 0, "{:?}", report.errors);
    let n = connections as u64;
    assert_eq!(
        report.requests, n,
        "one request a connection, issued at the window's start"
    );
    eprintln!(
        "{connections} connections, window {:.2} s: server CPU {:.0} ms of {} ms burned ({})",
        report.duration_s,
        server.cpu_ns as f64 / 1e6,
        n * u64::from(BURN_US) / 1000,
        server.cpu_source
    );
    // The service burns by its own thread's CPU clock, so the whole burn
    // (0.9 s a request) is on the server whatever the machine's load; of it,
    // the window holds at most its own length (0.5 s) a request, plus slack.
    assert!(
        server.cpu_ns < n * 700_000_000,
        "the server's CPU after the window was counted: {server:?}"
    );
    // And the burn inside the window is counted (generous: the machine may be busy).
    assert!(
        server.cpu_ns > 50_000_000,
        "the server's CPU in the window was not counted: {server:?}"
    );
    drop(served);
}
