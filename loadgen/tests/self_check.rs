//! The instrument checks itself: open runs record their send lag and say
//! whether they offered the load asked for, and the calibration measures the
//! generator's floor against a reflector it starts itself.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{plan, serial, Fault, FaultyServer};
use loadgen::stats::decode_v2;
use loadgen::{merge, CalibrationPlan, LoadReport, Mode, Target, Workload};

fn open_run(server: &FaultyServer, rate_rps: f64, warmup: Duration) -> LoadReport {
    let mut p = plan(Target::Tcp(server.addr), Mode::Open { rate_rps });
    p.connections = 1;
    p.threads = 1;
    p.warmup = warmup;
    p.duration = Duration::from_millis(1000);
    loadgen::run(&p, &AtomicBool::new(false)).unwrap()
}

#[test]
fn an_easy_open_run_records_its_send_lag_and_is_valid() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    // Requests 500 ms apart: the bound is 50 ms, above the lag even a busy
    // machine's scheduler adds (a quiet one stays in microseconds). The
    // warm-up keeps the first send (made as the threads start) out.
    let r = open_run(&server, 2.0, Duration::from_millis(150));
    assert_eq!(r.errors.total, 0, "{:?}", r.errors);
    let lag = r.send_lag_ns.expect("open runs record the send lag");
    assert_eq!(lag.count, r.requests, "one lag sample per recorded send");
    let h = decode_v2(r.send_lag_histogram_v2.as_ref().unwrap()).unwrap();
    assert_eq!(h.len(), r.requests);
    let v = r.validity.clone().expect("open runs are judged");
    assert_eq!(r.requests, 2);
    assert_eq!(v.send_lag_bound_ns, 50_000_000);
    assert!(v.valid, "{:?} {lag:?}", v.reasons);
    assert!(
        v.rate_error.abs() < 1e-9,
        "both left in the interval: {v:?}"
    );
    assert!(loadgen::output::summary(&r).contains("Send lag"));

    // Closed-loop runs have no schedule to lag behind.
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.duration = Duration::from_millis(200);
    let rr = loadgen::run(&p, &AtomicBool::new(false)).unwrap();
    assert!(rr.send_lag_ns.is_none() && rr.validity.is_none());
}

#[test]
fn an_open_run_far_above_what_the_server_allows_is_invalid_for_both_reasons() {
    let _guard = serial();
    // Every answer takes 5 ms: one connection completes at most 200 req/s.
    let server = FaultyServer::start(
        Workload::Echo { size: 64 },
        Fault::Delay(Duration::from_millis(5)),
        1,
    );
    let r = open_run(&server, 1000.0, Duration::ZERO);
    let v = r.validity.clone().unwrap();
    assert!(!v.valid);
    assert!(v.rate_error < -0.5, "rate error {}", v.rate_error);
    assert!(
        v.send_lag_p99_ns > v.send_lag_bound_ns,
        "lag p99 {} bound {}",
        v.send_lag_p99_ns,
        v.send_lag_bound_ns
    );
    assert_eq!(v.reasons.len(), 2, "{:?}", v.reasons);
    assert!(v.reasons[0].contains("off the offered"), "{:?}", v.reasons);
    assert!(v.reasons[1].contains("send lag"), "{:?}", v.reasons);
    // The lag is what the corrected latency adds to the service time.
    let lag = r.send_lag_ns.unwrap();
    assert!(lag.max >= 100_000_000, "lag max {}", lag.max);
    assert!(loadgen::output::summary(&r).contains("INVALID POINT"));

    // Merging keeps the lag exact and the verdict: one bad run spoils the point.
    let m = merge(&[r.clone(), r.clone()]).unwrap();
    assert_eq!(m.send_lag_ns.unwrap().count, 2 * lag.count);
    let mv = m.validity.unwrap();
    assert!(!mv.valid);
    assert!(mv.reasons.iter().any(|x| x.starts_with("run 2: ")));
}

#[test]
fn calibration_measures_a_real_reflector() {
    let _guard = serial();
    let plan = CalibrationPlan {
        phase: Duration::from_millis(300),
        warmup: Duration::from_millis(50),
        connections: 8,
        ..CalibrationPlan::default()
    };
    let c = loadgen::calibrate(&plan).unwrap();
    let one = c.one_connection;
    assert_eq!(one.connections, 1);
    assert_eq!((one.errors, c.max_rate.errors), (0, 0));
    assert!(one.requests > 0 && one.throughput_rps > 0.0);
    assert!(0 < one.latency_ns.p50 && one.latency_ns.p50 <= one.latency_ns.p99);
    assert_eq!(one.latency_ns.count, one.requests);
    assert_eq!(c.max_rate.connections, 8);
    assert!(c.max_rate.requests > 0 && c.max_rate.throughput_rps > 0.0);
    assert!(c.elapsed_s > 0.6, "two phases of 0.35 s ran");
    // It is data: it round-trips through JSON.
    let back: loadgen::Calibration =
        serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back.one_connection.latency_ns.p99, one.latency_ns.p99);
    assert_eq!(back.max_rate.requests, c.max_rate.requests);
}
