//! The plan's attackers against the project's own servers, in process:
//! slowloris connections are opened before the measured clients start, hold
//! on, never finish a request, and starve a pool with fewer workers than
//! them while an event loop goes on serving; a flood opens and resets
//! connections and is counted. The counts in the report are checked against
//! what the server itself saw.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use loadgen::{Attack, Mode, Target, Workload};
use servers::{Endpoint, Model, ServerConfig, ServiceKind, StopSignal, Summary};

/// A model served on a thread of this test, with `workers` workers; its
/// summary comes back when the guard is stopped (or dropped).
struct Server {
    addr: std::net::SocketAddr,
    stop: StopSignal,
    handle: Option<std::thread::JoinHandle<Summary>>,
}

impl Server {
    fn start(model: Model, workers: usize) -> Server {
        let mut config = ServerConfig::new(model);
        config.service = ServiceKind::Synthetic;
        config.workers = workers;
        let stop = StopSignal::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let server_stop = stop.clone();
        let handle = std::thread::spawn(move || {
            servers::serve(&config, server_stop, |ready| {
                tx.send(ready.endpoint().unwrap()).unwrap();
            })
            .unwrap()
        });
        let addr = match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            Endpoint::Inet(a) => a,
            other => panic!("{other}"),
        };
        Server {
            addr,
            stop,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> Summary {
        self.stop.trigger();
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

const WORK: Workload = Workload::Synthetic {
    payload_len: 64,
    response_len: 64,
    cpu_us: 0,
    wait_us: 0,
};
/// A synthetic request's length: header and payload.
const REQUEST_LEN: u64 = servers::wire::REQUEST_HEADER_LEN as u64 + 64;

fn plan(server: &Server, attack: Attack) -> loadgen::LoadPlan {
    let mut p = common::plan(Target::Tcp(server.addr), Mode::Crr);
    p.workload = WORK;
    p.connections = 2;
    p.duration = Duration::from_millis(400);
    p.attack = Some(attack);
    p
}

#[test]
fn slow_connections_hold_on_and_starve_a_smaller_pool_but_not_an_event_loop() {
    let _serial = common::serial();
    let slow = Attack::Slowloris {
        connections: 4,
        interval_ms: 20,
    };

    let pool = Server::start(Model::ThreadPool, 2);
    let starved = loadgen::run(&plan(&pool, slow), &AtomicBool::new(false)).unwrap();
    let attack = starved.attack.expect("the report counts the attack");
    assert_eq!((attack.opened, attack.failed), (4, 0), "{attack:?}");
    assert_eq!(
        attack.held_at_end, 4,
        "the pool closed a slow connection: {attack:?}"
    );
    assert!(
        attack.bytes_sent >= 4 && attack.bytes_sent <= 4 * (REQUEST_LEN - 1),
        "each sent at least a byte and never a whole request: {attack:?}"
    );
    // Two workers held by slow connections, two more queued for them: the
    // measured clients wait behind, in the backlog.
    assert_eq!(
        starved.requests, 0,
        "a starved pool served {} requests",
        starved.requests
    );
    drop(pool);

    let event_loop = Server::start(Model::Mio, 0);
    let served = loadgen::run(&plan(&event_loop, slow), &AtomicBool::new(false)).unwrap();
    let attack = served.attack.unwrap();
    assert_eq!((attack.opened, attack.held_at_end), (4, 4), "{attack:?}");
    assert!(
        served.requests > 0,
        "the event loop served nobody beside 4 slow connections"
    );
    assert_eq!(served.errors.total, 0, "{:?}", served.errors);
    let summary = event_loop.stop();
    // Every measured request completed; the slow ones never did.
    assert!(summary.requests >= served.requests, "{summary:?}");
}

#[test]
fn a_flood_opens_and_resets_connections_and_counts_them() {
    let _serial = common::serial();
    let server = Server::start(Model::Mio, 0);
    let report = loadgen::run(
        &plan(&server, Attack::Flood { rate_cps: 500.0 }),
        &AtomicBool::new(false),
    )
    .unwrap();
    let attack = report.attack.unwrap();
    assert!(attack.opened > 0 && attack.failed == 0, "{attack:?}");
    // Bounded by its rate over the run (400 ms, plus the grace after it).
    assert!(attack.opened <= 500 * 3, "{attack:?}");
    assert_eq!(attack.bytes_sent, 0, "{attack:?}");
    let summary = server.stop();
    // Besides one connection per measured request, the flood's.
    assert!(
        summary.connections > report.requests,
        "the server accepted {} connections for {} measured requests and {} flood connections",
        summary.connections,
        report.requests,
        attack.opened
    );
}

#[test]
fn a_plan_without_attackers_reports_none_and_bad_attacks_are_refused() {
    let _serial = common::serial();
    let server = Server::start(Model::Mio, 0);
    let mut p = plan(&server, Attack::Flood { rate_cps: 100.0 });
    p.attack = None;
    let report = loadgen::run(&p, &AtomicBool::new(false)).unwrap();
    assert!(report.attack.is_none());
    for bad in [
        Attack::Slowloris {
            connections: 0,
            interval_ms: 10,
        },
        Attack::Slowloris {
            connections: 3,
            interval_ms: 0,
        },
        Attack::Flood { rate_cps: 0.0 },
        Attack::Flood { rate_cps: f64::NAN },
    ] {
        p.attack = Some(bad);
        let err = loadgen::validate(&p).expect_err("a bad attack is refused");
        assert!(
            err.to_string().contains("attack") || err.to_string().contains("flood"),
            "{err}"
        );
    }
}
