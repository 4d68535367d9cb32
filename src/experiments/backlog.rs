//! Claim 9: `listen(fd, 5)` — the backlog bounds how many clients can wait.

use std::time::Duration;

use loadgen::{LoadReport, Mode, Workload};
use servers::{Model, ServiceKind};

use super::stats::{self, cell, ratio, Table};
use super::{ChartSpec, Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict};
use crate::charts::{BarChart, Scale};
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
                 `listen(fd, 5)` and with `listen(fd, 1024)`: connect latency (a dropped SYN is retried after about a second) and the kernel's ListenOverflows count.",
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
            let server = ServerSpec::new(Model::TcpIterative).service(ServiceKind::Synthetic).arg("--backlog", b);
            let load = LoadSpec::new(Mode::Crr).connections(CLIENTS).workload(work).timeout(Duration::from_secs(8));
            Point::new(series_name(b), b as f64, server, load)
        })
        .collect()
}

fn connect_p99_ms(r: &LoadReport) -> Option<f64> {
    r.connect_latency_ns.filter(|p| p.count > 0).map(|p| p.p99 as f64 / 1e6)
}

fn connect_p50_ms(r: &LoadReport) -> Option<f64> {
    r.connect_latency_ns.filter(|p| p.count > 0).map(|p| p.p50 as f64 / 1e6)
}

fn overflows(r: &LoadReport) -> Option<f64> {
    Some(r.kernel_tcp.listen_overflows as f64)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = [5, 1024].iter().map(|b| series_name(*b)).collect();
    let mut table = Table::new(&["listen() backlog", "connect p50 ms", "connect p99 ms", "ListenOverflows", "connections/s"]);
    for (n, b) in names.iter().zip([5.0, 1024.0]) {
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, n, b, connect_p50_ms), 2),
            cell(stats::at(&points, n, b, connect_p99_ms), 1),
            cell(stats::at(&points, n, b, overflows), 0),
            cell(stats::at(&points, n, b, stats::throughput), 0),
        ]);
    }
    let small = stats::at(&points, &names[0], 5.0, connect_p99_ms);
    let large = stats::at(&points, &names[1], 1024.0, connect_p99_ms);
    let small_overflows = stats::at(&points, &names[0], 5.0, overflows).map_or(0.0, |s| s.median);
    let (verdict, because) = match ratio(small, large) {
        Some(r) => {
            let verdict = if small_overflows > 0.0 && r >= 10.0 {
                Verdict::Supported
            } else if small_overflows == 0.0 {
                Verdict::NotSupported
            } else {
                Verdict::Depends
            };
            (
                verdict,
                format!(
                    "with backlog 5 the kernel counted {small_overflows:.0} accept-queue overflows and the p99 connect took {r:.0}× as long as with backlog 1024 \
                     (supported with overflows and at least 10×)"
                ),
            )
        }
        None => (Verdict::NoData, "a backlog setting has no usable measurement".to_string()),
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
    let charts = vec![NamedChart {
        name: "connect".into(),
        chart: ChartSpec::Bars(BarChart {
            title: "Claim 9 — connect latency under a burst of 64 clients".into(),
            y_label: "connect latency (ms)".into(),
            categories: names.clone(),
            groups: vec![group("p50", connect_p50_ms), group("p99", connect_p99_ms)],
            footnote: ctx.footnote.clone(),
            y_scale: Scale::Log10,
        }),
    }];
    Finding {
        verdict,
        because,
        table: table.markdown(),
        charts,
        notes: super::experiment_caveats(results, ID),
    }
}
