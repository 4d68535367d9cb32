//! Claim 9: `listen(fd, 5)` — the backlog bounds how many clients can wait.

use std::time::Duration;

use loadgen::{LoadReport, Mode, Workload};
use servers::{Model, ServiceKind};

use super::stats::{self, cell, ratio, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "backlog";
const CLIENTS: usize = 64;

fn series_name(backlog: u32) -> String {
    format!("backlog {backlog}")
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "The listen() backlog (5 in the lab) is the number of connections that can wait while the server is busy; past it, clients are turned away and must retry.",
        method: "64 clients connect at once, each asking one request that makes the iterative server wait 1 ms, against `tcp-iterative` with \
                 `listen(fd, 5)` and with `listen(fd, 1024)`: the kernel's ListenOverflows count (connections turned away because the accept \
                 queue was full), connect latency and request latency.",
        points,
        analyze,
    }
}

fn points(_: Profile) -> Vec<Point> {
    let work = Workload::Synthetic {
        payload_len: 16,
        response_len: 16,
        cpu_us: 0,
        wait_us: 1_000,
    };
    [5u32, 1024]
        .iter()
        .map(|&b| {
            let server = ServerSpec::new(Model::TcpIterative)
                .service(ServiceKind::Synthetic)
                .arg("--backlog", b);
            let load = LoadSpec::new(Mode::Crr)
                .connections(CLIENTS)
                .workload(work)
                .timeout(Duration::from_secs(8));
            Point::new(series_name(b), b as f64, server, load)
        })
        .collect()
}

fn connect_p99_ms(r: &LoadReport) -> Option<f64> {
    r.connect_latency_ns
        .filter(|p| p.count > 0)
        .map(|p| p.p99 as f64 / 1e6)
}

fn connect_p50_ms(r: &LoadReport) -> Option<f64> {
    r.connect_latency_ns
        .filter(|p| p.count > 0)
        .map(|p| p.p50 as f64 / 1e6)
}

fn request_p50_ms(r: &LoadReport) -> Option<f64> {
    (r.latency_ns.count > 0).then(|| r.latency_ns.p50 as f64 / 1e6)
}

fn request_p99_ms(r: &LoadReport) -> Option<f64> {
    (r.latency_ns.count > 0).then(|| r.latency_ns.p99 as f64 / 1e6)
}

fn overflows(r: &LoadReport) -> Option<f64> {
    Some(r.kernel_tcp.listen_overflows as f64)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = [5, 1024].iter().map(|b| series_name(*b)).collect();
    let mut table = Table::new(&[
        "listen() backlog",
        "ListenOverflows",
        "connect p50 ms",
        "connect p99 ms",
        "request p50 ms",
        "request p99 ms",
        "connections/s",
    ]);
    for (n, b) in names.iter().zip([5.0, 1024.0]) {
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, n, b, overflows), 0),
            cell(stats::at(&points, n, b, connect_p50_ms), 2),
            cell(stats::at(&points, n, b, connect_p99_ms), 1),
            cell(stats::at(&points, n, b, request_p50_ms), 1),
            cell(stats::at(&points, n, b, request_p99_ms), 1),
            cell(stats::at(&points, n, b, stats::throughput), 0),
        ]);
    }
    let small_overflows = stats::at(&points, &names[0], 5.0, overflows).map(|s| s.median);
    let large_overflows = stats::at(&points, &names[1], 1024.0, overflows).map(|s| s.median);
    let latency = ratio(
        stats::at(&points, &names[0], 5.0, request_p99_ms),
        stats::at(&points, &names[1], 1024.0, request_p99_ms),
    );
    let (verdict, because) = match (small_overflows, large_overflows, latency) {
        (Some(small), Some(large), Some(r)) => {
            let verdict = if small > 0.0 && large == 0.0 {
                Verdict::Supported
            } else if small == 0.0 {
                Verdict::NotSupported
            } else {
                Verdict::Depends
            };
            (
                verdict,
                format!(
                    "with backlog 5 the kernel turned away {small:.0} connection attempts (ListenOverflows), with backlog 1024 {large:.0}; \
                     the turned-away clients retried, and the p99 request latency with backlog 5 was {r:.2}× that with backlog 1024 \
                     (a retry costs little when the kernel completes the handshake as soon as the client's data arrives)"
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "a backlog setting has no usable measurement".to_string(),
        ),
    };
    let group = |label: &str, f: fn(&LoadReport) -> Option<f64>| crate::charts::BarGroup {
        name: label.to_string(),
        values: names
            .iter()
            .zip([5.0, 1024.0])
            .map(|(n, x)| {
                stats::at(&points, n, x, f).map(|s| crate::charts::Bar {
                    value: s.median,
                    spread: (s.n > 1).then_some((s.lo, s.hi)),
                })
            })
            .collect(),
    };
    let charts = vec![NamedChart::bars(
        "connect",
        "Claim 9 — latency under a burst of 64 clients, backlog 5 vs 1024",
        ("latency (ms)", Scale::Log10),
        &names,
        vec![
            group("connect p99", connect_p99_ms),
            group("request p50", request_p50_ms),
            group("request p99", request_p99_ms),
        ],
        ctx,
    )];
    Finding {
        verdict,
        because,
        table: table.markdown(),
        charts,
        notes: super::experiment_caveats(results, ID),
    }
}
