//! UDP accounting: against servers that drop, duplicate and answer late, every
//! datagram sent is answered or lost (exactly), a late answer is never a
//! success, and the counts match what the server did.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use common::{plan, serial, FaultyUdp, InProcess, UdpFault};
use loadgen::{LoadError, Mode, Target, Workload};
use servers::{Model, ServiceKind, Transport};

fn udp_plan(server: &FaultyUdp, flows: usize) -> loadgen::LoadPlan {
    let mut p = plan(Target::Udp(server.addr), Mode::Udp);
    p.connections = flows;
    p.request_timeout = Duration::from_millis(20);
    p
}

#[test]
fn drops_duplicates_and_late_answers_are_told_apart() {
    let _guard = serial();
    let server = FaultyUdp::start(|seq| {
        if seq % 5 == 0 {
            UdpFault::Drop
        } else if seq % 7 == 3 {
            UdpFault::Duplicate
        } else if seq % 11 == 6 {
            UdpFault::Late(Duration::from_millis(60))
        } else {
            UdpFault::Answer
        }
    });
    let flows = 4;
    let r = loadgen::run(&udp_plan(&server, flows), &AtomicBool::new(false)).unwrap();
    let u = r.udp.expect("udp counts");
    let flows = flows as u64;

    assert!(u.sent > 500, "{u:?}");
    assert_eq!(
        u.sent,
        u.answered + u.lost,
        "sent == answered + lost: {u:?}"
    );
    // The preflight probe is the one datagram the server saw outside the run.
    assert_eq!(server.get(|c| &c.received), u.sent + 1, "{u:?}");
    // Dropped and late-answered datagrams are exactly the lost ones.
    let dropped = server.get(|c| &c.dropped);
    let held = server.get(|c| &c.late);
    assert_eq!(
        u.lost,
        dropped + held,
        "{u:?}, dropped {dropped}, held {held}"
    );
    // Late answers still in flight when the run ended are not seen.
    assert!(
        u.late <= held && u.late + flows >= held,
        "late {} of {held}",
        u.late
    );
    let duplicated = server.get(|c| &c.duplicated);
    assert!(
        u.duplicates <= duplicated && u.duplicates + flows >= duplicated,
        "dups {} of {duplicated}",
        u.duplicates
    );
    // Only answers in time are samples, and they are the requests.
    assert_eq!(r.requests, u.answered);
    assert_eq!(r.latency_ns.count, u.answered);
    assert!(
        r.latency_ns.max < 20_000_000,
        "no late answer is a sample: max {}",
        r.latency_ns.max
    );
    assert_eq!(r.errors.total, 0, "{:?}", r.errors);
}

#[test]
fn random_loss_is_measured_within_statistical_bounds() {
    let _guard = serial();
    let rng = Mutex::new(fastrand::Rng::with_seed(0x5eed));
    let server = FaultyUdp::start(move |_| {
        if rng.lock().unwrap().f64() < 0.2 {
            UdpFault::Drop
        } else {
            UdpFault::Answer
        }
    });
    let r = loadgen::run(&udp_plan(&server, 16), &AtomicBool::new(false)).unwrap();
    let u = r.udp.unwrap();
    assert_eq!(u.sent, u.answered + u.lost, "{u:?}");
    assert_eq!(u.lost, server.get(|c| &c.dropped), "{u:?}");
    let n = u.sent as f64;
    assert!(n >= 1000.0, "{u:?}");
    let sigma = (0.2 * 0.8 / n).sqrt();
    let ratio = u.lost as f64 / n;
    assert!(
        (ratio - 0.2).abs() < 5.0 * sigma,
        "loss {ratio:.4} vs 0.2 (sigma {sigma:.4})"
    );
    assert_eq!((u.late, u.duplicates), (0, 0));
}

#[test]
fn the_udp_iterative_model_answers_everything() {
    let _guard = serial();
    for (service, workload) in [
        (ServiceKind::Echo, Workload::Echo { size: 100 }),
        (
            ServiceKind::Synthetic,
            Workload::Synthetic {
                payload_len: 16,
                response_len: 500,
                cpu_us: 0,
                wait_us: 0,
            },
        ),
    ] {
        let server = InProcess::start(Model::UdpIterative, Transport::Udp, service, None);
        let mut p = plan(Target::Udp(server.addr()), Mode::Udp);
        p.workload = workload;
        p.connections = 4;
        p.duration = Duration::from_millis(500);
        p.warmup = Duration::from_millis(100);
        let r = loadgen::run(&p, &AtomicBool::new(false)).unwrap();
        let u = r.udp.unwrap();
        assert!(u.sent > 100, "{u:?}");
        assert_eq!(u.sent, u.answered + u.lost);
        assert_eq!(u.lost, 0, "{service:?}: {u:?}");
        assert_eq!(r.errors.total, 0, "{service:?}: {:?}", r.errors);
    }
}

#[test]
fn a_udp_port_nobody_listens_at_is_unreachable() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    drop(socket);
    let mut p = plan(Target::Udp(addr), Mode::Udp);
    p.request_timeout = Duration::from_millis(300);
    let err = loadgen::run(&p, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, LoadError::Unreachable { .. }), "{err}");
}
