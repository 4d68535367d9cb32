//! Claim 6: a single-process concurrent server suits I/O-dominated connections.

use std::time::Duration;

use loadgen::Mode;
use servers::{Model, ServiceKind};

use super::stats::{self, bar_group, cell, ratio, Table};
use super::{
    cpu_work, Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec,
    Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "single-process";
const MODELS: [Model; 3] = [Model::Mio, Model::ThreadPool, Model::Fork];
/// x of the CPU-heavy points (apart from the idle sweep's x = idle connections).
const HEAVY_X: f64 = -1.0;
const HEAVY_US: u32 = 5_000;

fn heavy(model: Model) -> String {
    format!("{} + CPU-heavy neighbours", model.name())
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "A single-process concurrent server suits connections that are mostly idle (I/O-dominated); it suffers when requests need the CPU, since one long request holds up everyone.",
        method: "Two clients doing 64-byte echo while K other connections are held open and idle (the C10K shape): their latency and the \
                 server's memory against K, for `mio`, `thread-pool` and `fork`. Then one light client while two neighbours send requests \
                 that each burn 5 ms of CPU: the light client's latency.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    for idle in profile.sweep(&[1, 500], &[1, 100, 1000], &[1, 100, 1000, 5000]) {
        for model in MODELS {
            // Forked children and threads are capped by default; lift the caps
            // so the design, not a safety limit, is what is measured.
            let server = ServerSpec::new(model).arg("--max-children", 4096);
            let load = LoadSpec::new(Mode::Rr)
                .connections(2)
                .idle(idle)
                .timeout(Duration::from_secs(1));
            points.push(Point::new(model.name(), idle as f64, server, load));
        }
    }
    for model in MODELS {
        let server = ServerSpec::new(model).service(ServiceKind::Synthetic);
        let mut point = Point::new(
            heavy(model),
            HEAVY_X,
            server,
            LoadSpec::new(Mode::Rr).workload(cpu_work(0)),
        );
        point.background = Some(
            LoadSpec::new(Mode::Rr)
                .connections(2)
                .workload(cpu_work(HEAVY_US))
                .timeout(Duration::from_secs(5)),
        );
        points.push(point);
    }
    points
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let all = results.experiment(ID);
    let names: Vec<&str> = MODELS.iter().map(|m| m.name()).collect();
    let idle = stats::only(&all, &names);
    let xs = stats::all_x(&idle);
    let mut table = Table::new(&[
        "model",
        "idle connections",
        "active p50 µs",
        "active p99 µs",
        "errors",
        "server memory MB",
        "processes",
    ]);
    for n in &names {
        for x in &xs {
            table.row(vec![
                n.to_string(),
                format!("{x}"),
                cell(stats::at(&idle, n, *x, stats::p50_us), 1),
                cell(stats::at(&idle, n, *x, stats::p99_us), 1),
                cell(stats::at(&idle, n, *x, stats::errors), 0),
                cell(stats::at(&idle, n, *x, super::measures::memory_mb), 1),
                cell(stats::at(&idle, n, *x, super::measures::processes), 0),
            ]);
        }
    }
    let heavy_names: Vec<String> = MODELS.iter().map(|m| heavy(*m)).collect();
    let mut heavy_table = Table::new(&["light client's server", "p50 µs", "p99 µs"]);
    for n in &heavy_names {
        heavy_table.row(vec![
            n.clone(),
            cell(stats::at(&all, n, HEAVY_X, stats::p50_us), 0),
            cell(stats::at(&all, n, HEAVY_X, stats::p99_us), 0),
        ]);
    }

    let first = xs.first().copied();
    let mio_flat = match (
        first.and_then(|x| stats::at(&idle, "mio", x, stats::p50_us)),
        stats::at_max_x(&idle, "mio", stats::p50_us),
    ) {
        (Some(a), Some((k, b))) if a.median > 0.0 => Some((k, b.median / a.median)),
        _ => None,
    };
    let mio_errors = stats::at_max_x(&idle, "mio", stats::errors)
        .map(|(_, s)| s.median)
        .unwrap_or(0.0);
    let hol = ratio(
        stats::at(&all, &heavy(Model::Mio), HEAVY_X, stats::p99_us),
        stats::at(&all, &heavy(Model::ThreadPool), HEAVY_X, stats::p99_us),
    );
    let (verdict, because) = match mio_flat {
        Some((k, growth)) => {
            let flat = growth <= 2.0 && mio_errors == 0.0;
            let verdict = match (flat, hol) {
                (true, Some(h)) if h >= 2.0 => Verdict::Supported,
                (true, None) => Verdict::Supported,
                (true, Some(_)) => Verdict::Depends,
                (false, _) => Verdict::NotSupported,
            };
            (
                verdict,
                format!(
                    "with {k} idle connections mio's median latency is {growth:.2}× that with one ({}: threshold 2× and no errors){}",
                    if flat { "flat" } else { "not flat" },
                    hol.map_or(String::new(), |h| format!(
                        "; next to CPU-heavy requests its light client's p99 is {h:.1}× thread-pool's ({} head-of-line blocking, threshold 2×)",
                        if h >= 2.0 { "clear" } else { "no clear" }
                    ))
                ),
            )
        }
        None => (
            Verdict::NoData,
            "mio has no usable idle-connection measurement".to_string(),
        ),
    };
    let charts = vec![
        NamedChart::line(
            "idle-latency",
            "Claim 6 — active clients' median latency vs idle connections",
            ("idle connections held open", Scale::Log10),
            ("median latency (µs)", Scale::Log10),
            stats::series(&idle, stats::p50_us),
            ctx,
        ),
        NamedChart::line(
            "idle-memory",
            "Claim 6 — server memory vs idle connections",
            ("idle connections held open", Scale::Log10),
            (
                "server resident memory, whole process tree (MB)",
                Scale::Log10,
            ),
            stats::series(&idle, super::measures::memory_mb),
            ctx,
        ),
        NamedChart::bars(
            "cpu-heavy",
            "Claim 6 — a light client next to 5 ms CPU-heavy requests",
            ("light client's latency (µs)", Scale::Log10),
            &heavy_names,
            vec![
                bar_group("p50", &all, &heavy_names, HEAVY_X, stats::p50_us),
                bar_group("p99", &all, &heavy_names, HEAVY_X, stats::p99_us),
            ],
            ctx,
        ),
    ];
    Finding {
        verdict,
        because,
        table: format!("{}\n{}", table.markdown(), heavy_table.markdown()),
        charts,
        notes: super::experiment_caveats(results, ID),
    }
}
