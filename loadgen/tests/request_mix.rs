//! Two request shapes beyond one kind of request per run: a share of
//! synthetic requests that block (the rest answered at once), and several
//! requests on each `crr` connection before it closes. Both against the
//! project's own servers, with every response checked.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{plan, serial, InProcess};
use loadgen::report::LoadErrors;
use loadgen::stats::decode_v2;
use loadgen::{LoadReport, Mode, Target, Workload};
use servers::{Endpoint, Model, ServiceKind, Transport};

const WAIT_US: u32 = 2_000;

fn target_of(server: &InProcess) -> Target {
    match &server.endpoint {
        Endpoint::Inet(a) => Target::Tcp(*a),
        Endpoint::Unix(p) => Target::Unix(p.clone()),
    }
}

fn run(p: &loadgen::LoadPlan) -> LoadReport {
    loadgen::run(p, &AtomicBool::new(false)).unwrap()
}

/// Share of the recorded requests that took at least the wait.
fn share_waited(r: &LoadReport) -> f64 {
    let h = decode_v2(&r.histogram_v2).unwrap();
    let slow = h.count_between(u64::from(WAIT_US) * 1000, h.max().max(1));
    slow as f64 / h.len() as f64
}

#[test]
fn a_share_of_waiting_requests_waits_and_every_answer_is_checked() {
    let _guard = serial();
    let server = InProcess::start(
        Model::ThreadPool,
        Transport::Tcp,
        ServiceKind::Synthetic,
        None,
    );
    for (mode, share) in [(Mode::Rr, 0.25), (Mode::Crr, 0.25), (Mode::Rr, 0.0)] {
        let mut p = plan(target_of(&server), mode);
        p.workload = Workload::Synthetic {
            payload_len: 32,
            response_len: 512,
            cpu_us: 0,
            wait_us: WAIT_US,
        };
        p.wait_share = Some(share);
        p.connections = 2;
        p.max_requests = Some(400);
        p.duration = Duration::from_secs(30);
        let r = run(&p);
        let what = format!("{} share {share}", mode.name());
        assert_eq!(r.errors, LoadErrors::default(), "{what}");
        assert_eq!(r.requests, 400, "{what}");
        // Every response was checked byte by byte: 400 whole answers arrived.
        assert_eq!(
            r.bytes_received,
            400 * (servers::wire::RESPONSE_HEADER_LEN as u64 + 512),
            "{what}"
        );
        // A waiting request cannot answer before its wait; the others are
        // not made to wait, so the share that took the wait is near the plan's.
        let waited = share_waited(&r);
        if share == 0.0 {
            assert!(waited < 0.1, "{what}: {waited}");
        } else {
            assert!((0.15..0.45).contains(&waited), "{what}: {waited}");
        }
    }
}

#[test]
fn crr_sends_the_planned_requests_on_each_connection() {
    let _guard = serial();
    let server = InProcess::start(Model::Mio, Transport::Tcp, ServiceKind::Echo, None);
    for per in [1u64, 5, 50] {
        let mut p = plan(target_of(&server), Mode::Crr);
        p.requests_per_connection = Some(per);
        p.connections = 2;
        p.max_requests = Some(500);
        p.duration = Duration::from_secs(30);
        let r = run(&p);
        assert_eq!(r.errors, LoadErrors::default(), "{per} per connection");
        assert_eq!(r.requests, 500, "{per} per connection");
        let connects = r.connect_latency_ns.expect("crr records connects").count;
        // The request budget may end a connection before its count.
        let least = 500 / per;
        assert!(
            (least..=least + p.connections as u64).contains(&connects),
            "{per} per connection: {connects} connects for 500 requests"
        );
    }
}

#[test]
fn the_new_settings_are_refused_where_they_cannot_apply() {
    let target = Target::Tcp("127.0.0.1:9".parse().unwrap());
    let mut p = plan(target.clone(), Mode::Rr);
    p.wait_share = Some(0.5);
    let why = loadgen::validate(&p).unwrap_err().to_string();
    assert!(why.contains("synthetic"), "{why}");
    p.workload = Workload::Synthetic {
        payload_len: 0,
        response_len: 0,
        cpu_us: 0,
        wait_us: 10,
    };
    p.wait_share = Some(1.5);
    assert!(loadgen::validate(&p).is_err());
    p.wait_share = Some(1.0);
    assert!(loadgen::validate(&p).is_ok());
    p.requests_per_connection = Some(3);
    let why = loadgen::validate(&p).unwrap_err().to_string();
    assert!(why.contains("crr"), "{why}");
    let mut c = plan(target, Mode::Crr);
    c.requests_per_connection = Some(0);
    assert!(loadgen::validate(&c).is_err());
}

#[test]
fn open_loop_goodput_counts_the_answers_inside_the_window() {
    let _guard = serial();
    let server = InProcess::start(Model::Mio, Transport::Tcp, ServiceKind::Synthetic, None);
    let mut p = plan(target_of(&server), Mode::Open { rate_rps: 1000.0 });
    // One connection whose every request blocks the server 2 ms: it can
    // answer at most 500 a second, half the offered rate.
    p.workload = Workload::Synthetic {
        payload_len: 16,
        response_len: 16,
        cpu_us: 0,
        wait_us: WAIT_US,
    };
    p.duration = Duration::from_millis(500);
    p.request_timeout = Duration::from_secs(5);
    let r = run(&p);
    let goodput = r.goodput_rps.expect("open mode reports its goodput");
    assert!(goodput > 0.0 && goodput <= 520.0, "goodput {goodput}");
    assert!(
        r.throughput_rps > goodput,
        "throughput {} counts every scheduled request",
        r.throughput_rps
    );
    let mut closed = plan(target_of(&server), Mode::Rr);
    closed.duration = Duration::from_millis(100);
    closed.workload = p.workload;
    assert_eq!(run(&closed).goodput_rps, None);
}
