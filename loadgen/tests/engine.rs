//! The engine against the project's own server models (run in this process):
//! every mode over TCP and Unix domain, the bounds, think time, idle
//! connections, Ctrl-C, the timeline, and the plans it refuses.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{plan, serial, Fault, FaultyServer, InProcess};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use loadgen::report::LoadErrors;
use loadgen::stats::decode_v2;
use loadgen::{LoadError, LoadPlan, LoadReport, Mode, Target, Workload};
use servers::{Endpoint, Model, ServiceKind, Transport};

const SYNTHETIC: Workload = Workload::Synthetic {
    payload_len: 100,
    response_len: 3000,
    cpu_us: 0,
    wait_us: 0,
};

fn target_of(server: &InProcess) -> Target {
    match &server.endpoint {
        Endpoint::Inet(a) => Target::Tcp(*a),
        Endpoint::Unix(p) => Target::Unix(p.clone()),
    }
}

fn run(p: &LoadPlan) -> LoadReport {
    loadgen::run(p, &AtomicBool::new(false)).unwrap()
}

fn assert_clean(r: &LoadReport, what: &str) {
    assert_eq!(r.errors, LoadErrors::default(), "{what}");
    assert!(r.requests > 50, "{what}: {} requests", r.requests);
    assert_eq!(r.latency_ns.count, r.requests, "{what}");
    assert!(
        r.latency_ns.p50 > 0 && r.latency_ns.p50 <= r.latency_ns.p99,
        "{what}"
    );
    assert!(!r.partial, "{what}");
}

#[test]
fn every_stream_mode_runs_clean_against_mio_over_tcp_and_unix() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    for (transport, path) in [
        (Transport::Tcp, None),
        (Transport::Unix, Some(dir.path().join("mio.sock"))),
    ] {
        for (service, workload) in [
            (ServiceKind::Echo, Workload::Echo { size: 64 }),
            (ServiceKind::Synthetic, SYNTHETIC),
        ] {
            let server = InProcess::start(Model::Mio, transport, service, path.clone());
            // Two rr connections on two threads take the blocking fast path.
            for (mode, connections) in [
                (Mode::Rr, 3),
                (Mode::Rr, 2),
                (Mode::Crr, 3),
                (Mode::Open { rate_rps: 1000.0 }, 3),
            ] {
                let mut p = plan(target_of(&server), mode);
                p.workload = workload;
                p.connections = connections;
                p.duration = Duration::from_millis(400);
                p.warmup = Duration::from_millis(100);
                let r = run(&p);
                let what = format!("{transport:?} {service:?} {} x{connections}", mode.name());
                assert_clean(&r, &what);
                let blocking = mode == Mode::Rr && connections == 2;
                assert_eq!(
                    r.io_path,
                    if blocking {
                        loadgen::report::IoPath::Blocking
                    } else {
                        loadgen::report::IoPath::EventLoop
                    },
                    "{what}"
                );
                let size = (
                    loadgen::check::request_len(&workload),
                    loadgen::check::response_len(&workload),
                );
                assert_eq!(r.bytes_sent, r.requests * size.0 as u64, "{what}");
                assert_eq!(r.bytes_received, r.requests * size.1 as u64, "{what}");
                assert_eq!(r.connect_latency_ns.is_some(), mode == Mode::Crr, "{what}");
                assert_eq!(
                    r.uncorrected_latency_ns.is_some(),
                    mode.name() == "open",
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn crr_with_linger_zero_against_the_thread_pool() {
    let _guard = serial();
    let server = InProcess::start(Model::ThreadPool, Transport::Tcp, ServiceKind::Echo, None);
    let mut p = plan(target_of(&server), Mode::Crr);
    p.connections = 4;
    p.linger_zero = true;
    p.duration = Duration::from_millis(500);
    let r = run(&p);
    assert_clean(&r, "crr linger 0");
    let c = r.connect_latency_ns.unwrap();
    assert_eq!(c.count, r.requests, "one connect per request");
    assert!(c.p50 < r.latency_ns.p50, "connect is part of the request");
}

#[test]
fn a_request_count_bounds_the_run_exactly() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    for (mode, n) in [
        (Mode::Rr, 1001),
        (Mode::Crr, 77),
        (Mode::Open { rate_rps: 5000.0 }, 333),
    ] {
        let mut p = plan(Target::Tcp(server.addr), mode);
        p.connections = 3;
        p.max_requests = Some(n);
        p.duration = Duration::from_secs(60);
        let started = Instant::now();
        let r = run(&p);
        assert_eq!(r.requests, n, "{}", mode.name());
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // The warm-up's requests do not count against the bound.
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.warmup = Duration::from_millis(200);
    p.max_requests = Some(100);
    p.duration = Duration::from_secs(60);
    let before = server.requests();
    let r = run(&p);
    assert_eq!(r.requests, 100);
    assert!(
        server.requests() - before > 100,
        "the warm-up ran requests too"
    );
}

#[test]
fn think_time_paces_a_closed_loop() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.connections = 2;
    p.think_time = Duration::from_millis(10);
    p.duration = Duration::from_millis(500);
    let r = run(&p);
    // Two connections, one request per ~10 ms each: about 100 in 0.5 s.
    assert!((80..=102).contains(&r.requests), "{} requests", r.requests);
    assert_eq!(r.errors.total, 0);
}

#[test]
fn idle_connections_are_held_open_beside_the_active_ones() {
    let _guard = serial();
    let server = FaultyServer::start(Workload::Echo { size: 64 }, Fault::None, 0);
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.connections = 2;
    p.idle_connections = 500;
    p.duration = Duration::from_millis(300);
    let r = run(&p);
    assert_clean(&r, "idle");
    // The preflight, the idle ones and the active ones (the server's accept
    // thread may still be catching up with its backlog).
    let deadline = Instant::now() + Duration::from_secs(5);
    let accepted = || server.counts.connections.load(Ordering::SeqCst);
    while accepted() < 503 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(accepted(), 1 + 500 + 2, "kernel {:?}", r.kernel_tcp);
}

#[test]
fn ctrl_c_ends_the_run_early_with_a_partial_report() {
    // Ctrl-C comes once the server has read this many requests: the run is
    // under way, whatever the machine's load.
    const SERVED: u64 = 20;
    let _guard = serial();
    for mode in [Mode::Rr, Mode::Open { rate_rps: 2000.0 }] {
        let (served, under_way) = std::sync::mpsc::channel();
        let server = FaultyServer::start_with(Workload::Echo { size: 64 }, move |n| {
            if n == SERVED {
                let _ = served.send(());
            }
            Fault::None
        });
        let mut p = plan(Target::Tcp(server.addr), mode);
        p.workload = Workload::Echo { size: 64 };
        p.duration = Duration::from_secs(30);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let setter = std::thread::spawn(move || {
            // Stop in any case, so a run that never gets going still ends
            // (and fails the assertions below) instead of running 30 s.
            let got_there = under_way.recv_timeout(Duration::from_secs(20)).is_ok();
            flag.store(true, Ordering::SeqCst);
            (got_there, Instant::now())
        });
        let started = Instant::now();
        let r = loadgen::run(&p, &stop).unwrap();
        let (elapsed, ended) = (started.elapsed(), Instant::now());
        let (got_there, stopped) = setter.join().unwrap();
        assert!(got_there, "{mode:?}: the server saw {SERVED} requests");
        assert!(
            ended.duration_since(stopped) < Duration::from_secs(2),
            "{mode:?}: the run ends within 2 s of the stop: {:?}",
            ended.duration_since(stopped)
        );
        assert!(r.partial, "{mode:?}");
        assert!(r.requests > 0, "{mode:?}");
        assert!(
            r.duration_s > 0.0 && r.duration_s <= elapsed.as_secs_f64(),
            "{mode:?}: {} s recorded in a run of {elapsed:?}",
            r.duration_s
        );
        assert_eq!(r.errors.total, 0, "{mode:?}: {:?}", r.errors);
    }
}

#[test]
fn the_timeline_and_interval_log_cover_the_recorded_seconds() {
    let _guard = serial();
    let server = InProcess::start(Model::Mio, Transport::Tcp, ServiceKind::Echo, None);
    let mut p = plan(target_of(&server), Mode::Rr);
    p.duration = Duration::from_millis(2500);
    p.warmup = Duration::from_millis(200);
    let r = run(&p);
    assert_eq!(r.timeline.len(), 3);
    assert_eq!(
        r.timeline.iter().map(|t| t.t_s).collect::<Vec<_>>(),
        vec![1.0, 2.0, r.duration_s]
    );
    assert_eq!(
        r.timeline.iter().map(|t| t.requests).sum::<u64>(),
        r.requests
    );
    assert!(r.timeline.iter().all(|t| t.requests > 0 && t.p99_ns > 0));
    let whole = decode_v2(&r.histogram_v2).unwrap();
    let mut sum = loadgen::stats::new_histogram();
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(r.interval_log.as_bytes()) {
        if let Ok(LogEntry::Interval(i)) = entry {
            sum.add(decode_v2(i.encoded_histogram()).unwrap()).unwrap();
            intervals += 1;
        }
    }
    assert_eq!(intervals, 3);
    assert_eq!(sum, whole);
    assert!((r.throughput_rps - r.requests as f64 / r.duration_s).abs() < 1e-6);
    assert!(r.loadgen.cpu_us_per_req > 0.0);
    assert_eq!(r.loadgen.threads, 1, "never more threads than connections");
    assert!(!r.machine.kernel.is_empty());
}

#[test]
fn the_server_cost_is_measured_when_the_pid_is_known() {
    let _guard = serial();
    let server = InProcess::start(Model::Mio, Transport::Tcp, ServiceKind::Echo, None);
    let mut p = plan(target_of(&server), Mode::Rr);
    p.duration = Duration::from_millis(600);
    p.warmup = Duration::from_millis(200);
    // The server runs in this process: its cost includes ours, but it is measured.
    p.server_pid = Some(std::process::id());
    let r = run(&p);
    let s = r.server.expect("server cost");
    assert_eq!(s.pid, std::process::id());
    assert!(s.cpu_us_per_req > 0.0);
    assert!(s.peak_threads >= 3);
}

#[test]
fn plans_that_cannot_run_are_refused_with_the_setting_to_change() {
    let tcp = Target::Tcp("127.0.0.1:9".parse().unwrap());
    let udp = Target::Udp("127.0.0.1:9".parse().unwrap());
    let cases: Vec<(LoadPlan, &str)> = vec![
        (
            {
                let mut p = plan(tcp.clone(), Mode::Rr);
                p.connections = 0;
                p
            },
            "connections",
        ),
        (plan(udp.clone(), Mode::Rr), "stream target"),
        (plan(tcp.clone(), Mode::Udp), "UDP target"),
        (plan(tcp.clone(), Mode::Open { rate_rps: 0.0 }), "rate"),
        (plan(tcp.clone(), Mode::Open { rate_rps: f64::NAN }), "rate"),
        (
            {
                let mut p = plan(tcp.clone(), Mode::Open { rate_rps: 10.0 });
                p.think_time = Duration::from_millis(1);
                p
            },
            "think",
        ),
        (
            {
                let mut p = plan(udp.clone(), Mode::Udp);
                p.idle_connections = 3;
                p
            },
            "idle",
        ),
        (
            {
                let mut p = plan(udp.clone(), Mode::Udp);
                p.workload = Workload::Echo { size: 4 };
                p
            },
            "--size",
        ),
        (
            {
                let mut p = plan(tcp.clone(), Mode::Rr);
                p.workload = Workload::Echo { size: 0 };
                p
            },
            "--size",
        ),
        (
            {
                let mut p = plan(tcp.clone(), Mode::Rr);
                p.duration = Duration::ZERO;
                p
            },
            "bounds",
        ),
        (
            {
                let mut p = plan(tcp.clone(), Mode::Rr);
                p.max_requests = Some(0);
                p
            },
            "request count",
        ),
        (
            {
                let mut p = plan(tcp.clone(), Mode::Rr);
                p.request_timeout = Duration::ZERO;
                p
            },
            "timeout",
        ),
    ];
    for (p, hint) in cases {
        match loadgen::run(&p, &AtomicBool::new(false)) {
            Err(LoadError::BadPlan { why }) => {
                assert!(why.contains(hint), "'{why}' should mention {hint}")
            }
            other => panic!("{p:?} should be refused, got {other:?}"),
        }
    }
}

#[test]
fn a_target_nobody_listens_at_is_one_clear_error() {
    // Bound but never listening: refused, and the port stays ours (a port
    // bound and closed could be taken by anything meanwhile).
    let held = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    held.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let addr = held.local_addr().unwrap().as_socket().unwrap();
    let err =
        loadgen::run(&plan(Target::Tcp(addr), Mode::Rr), &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, LoadError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("start the server first"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let missing = Target::Unix(dir.path().join("nobody.sock"));
    let err = loadgen::run(&plan(missing, Mode::Crr), &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, LoadError::Unreachable { .. }), "{err:?}");
}

#[test]
fn a_server_that_dies_mid_run_shows_as_errors_and_the_run_still_ends() {
    let _guard = serial();
    // The server dies at its 50th request: mid-run by construction, not by a
    // guess at how far a loaded machine has got after some sleep.
    let server = FaultyServer::start_with(Workload::Echo { size: 64 }, |n| {
        if n == 50 {
            Fault::Die
        } else {
            Fault::None
        }
    });
    let mut p = plan(Target::Tcp(server.addr), Mode::Rr);
    p.workload = Workload::Echo { size: 64 };
    p.connections = 2;
    p.duration = Duration::from_millis(800);
    p.request_timeout = Duration::from_millis(200);
    let started = Instant::now();
    let r = run(&p);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(server.faults() >= 1, "the server died during the run");
    assert!(r.requests > 0);
    assert!(r.errors.total > 0, "{:?}", r.errors);
    assert!(r.errors.connect_refused > 0, "{:?}", r.errors);
    assert_eq!(r.latency_ns.count, r.requests);
}
