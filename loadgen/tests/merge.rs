//! Merging runs: the merged distribution equals the one histogram that
//! recorded both runs' samples (percentiles and counts exactly), and counts,
//! errors and throughputs add up.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{plan, serial, Fault, FaultyServer};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use loadgen::stats::{decode_v2, encode_v2, new_histogram, percentiles};
use loadgen::{merge, LoadReport, MergeError, Mode, Target, Workload};

fn short_run(server: &FaultyServer, mode: Mode) -> LoadReport {
    let mut p = plan(Target::Tcp(server.addr), mode);
    p.duration = Duration::from_millis(1200);
    p.connections = 2;
    loadgen::run(&p, &AtomicBool::new(false)).unwrap()
}

#[test]
fn merging_equals_recording_both_sample_sets_in_one_histogram() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let template = short_run(&server, Mode::Rr);

    // Two known sample sets, of different shapes.
    let mut rng = fastrand::Rng::with_seed(42);
    let (mut a, mut b, mut both) = (new_histogram(), new_histogram(), new_histogram());
    for _ in 0..50_000 {
        let v = rng.u64(1_000..2_000_000);
        a.record(v).unwrap();
        both.record(v).unwrap();
    }
    for _ in 0..20_000 {
        let v = rng.u64(500_000..900_000_000);
        b.record(v).unwrap();
        both.record(v).unwrap();
    }
    let mut ra = template.clone();
    ra.histogram_v2 = encode_v2(&a).unwrap();
    let mut rb = template.clone();
    rb.histogram_v2 = encode_v2(&b).unwrap();

    let merged = merge(&[ra, rb]).unwrap();
    assert_eq!(merged.latency_ns, percentiles(&both));
    assert_eq!(merged.latency_ns.count, 70_000);
    assert_eq!(decode_v2(&merged.histogram_v2).unwrap(), both);
}

#[test]
fn merging_two_real_runs_adds_everything_up() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::Corrupt, 500);
    let a = short_run(&server, Mode::Open { rate_rps: 3000.0 });
    let b = short_run(&server, Mode::Open { rate_rps: 1000.0 });
    let m = merge(&[a.clone(), b.clone()]).unwrap();

    assert_eq!(m.requests, a.requests + b.requests);
    assert_eq!(m.latency_ns.count, a.latency_ns.count + b.latency_ns.count);
    assert_eq!(m.errors.total, a.errors.total + b.errors.total);
    assert_eq!(m.errors.mismatch, a.errors.mismatch + b.errors.mismatch);
    assert_eq!(m.bytes_received, a.bytes_received + b.bytes_received);
    assert!((m.throughput_rps - (a.throughput_rps + b.throughput_rps)).abs() < 1e-6);
    assert_eq!(m.offered_rps, Some(4000.0));
    assert_eq!(m.plan.mode, Mode::Open { rate_rps: 4000.0 });
    assert_eq!(m.plan.connections, 4);
    assert!(m.latency_ns.max >= a.latency_ns.max.max(b.latency_ns.max));

    // The uncorrected distributions merge too.
    let mut both = decode_v2(a.uncorrected_histogram_v2.as_ref().unwrap()).unwrap();
    both.add(decode_v2(b.uncorrected_histogram_v2.as_ref().unwrap()).unwrap())
        .unwrap();
    assert_eq!(m.uncorrected_latency_ns, Some(percentiles(&both)));

    // The timeline and interval log merge second by second.
    assert_eq!(m.timeline.len(), 2);
    let tick_requests: u64 = m.timeline.iter().map(|t| t.requests).sum();
    assert_eq!(tick_requests, m.requests);
    let mut from_log = new_histogram();
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(m.interval_log.as_bytes()) {
        if let Ok(LogEntry::Interval(i)) = entry {
            from_log
                .add(decode_v2(i.encoded_histogram()).unwrap())
                .unwrap();
            intervals += 1;
        }
    }
    assert_eq!(intervals, 2);
    assert_eq!(from_log, decode_v2(&m.histogram_v2).unwrap());

    // The JSON round-trips, and a merge of one is the run itself.
    let json = serde_json::to_string(&m).unwrap();
    let back: LoadReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.histogram_v2, m.histogram_v2);
    assert_eq!(back.interval_log, m.interval_log);
    assert_eq!(
        (back.requests, back.errors, back.udp),
        (m.requests, m.errors, m.udp)
    );
    assert_eq!(
        merge(std::slice::from_ref(&a)).unwrap().latency_ns,
        a.latency_ns
    );
}

#[test]
fn runs_of_different_kinds_do_not_merge() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let rr = short_run(&server, Mode::Rr);
    let crr = short_run(&server, Mode::Crr);
    assert!(matches!(
        merge(&[rr.clone(), crr.clone()]),
        Err(MergeError::Different { .. })
    ));
    assert!(matches!(merge(&[]), Err(MergeError::Empty)));
    let mut broken = rr.clone();
    broken.histogram_v2 = "not a histogram".into();
    assert!(matches!(
        merge(&[rr, broken]),
        Err(MergeError::Histogram { index: 2, .. })
    ));
    // crr's connect latency merges exactly as well.
    let m = merge(&[crr.clone(), crr.clone()]).unwrap();
    let c = crr.connect_latency_ns.unwrap();
    assert_eq!(m.connect_latency_ns.unwrap().count, 2 * c.count);
}

#[test]
fn histograms_that_do_not_fit_are_an_error_not_a_short_count() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let rr = short_run(&server, Mode::Rr);
    // Another tool's histogram with a wider range and a value past one hour:
    // adding it to ours cannot count that sample.
    let mut wide = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1 << 50, 3).unwrap();
    wide.record(10_000_000_000_000).unwrap();
    let mut foreign = rr.clone();
    foreign.histogram_v2 = encode_v2(&wide).unwrap();
    let err = merge(&[rr.clone(), foreign]).unwrap_err();
    assert!(
        matches!(
            err,
            MergeError::Incompatible {
                index: 2,
                what: "latency",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("re-run that host"), "{err}");
    // The same check covers the optional histograms.
    let mut foreign = rr.clone();
    foreign.connect_histogram_v2 = Some(encode_v2(&wide).unwrap());
    let mut first = rr;
    first.connect_histogram_v2 = Some(encode_v2(&new_histogram()).unwrap());
    assert!(matches!(
        merge(&[first, foreign]),
        Err(MergeError::Incompatible {
            what: "connect latency",
            ..
        })
    ));
}
