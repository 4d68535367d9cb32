//! The C10K shape: a few active clients while thousands of connections sit idle.

use std::time::Duration;

use loadgen::{LoadReport, Mode};
use servers::Model;

use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "c10k";
const MODELS: [Model; 10] = [
    Model::Select,
    Model::Poll,
    Model::Mio,
    Model::ThreadPerConn,
    Model::Fork,
    Model::Reuseport,
    Model::ReactorPool,
    Model::IoUring,
    Model::Tokio,
    Model::TokioMulti,
];

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Baseline for claim 6 at scale (the C10K problem): how each design copes as idle connections grow from one to thousands.",
        method: "Two clients doing 64-byte echo round trips while K other connections are held open and idle (K = 1 stands for none): \
                 the active clients' latency, the server's CPU per request and its memory per idle connection, for `select`, `poll`, `mio` (epoll), \
                 `thread-per-conn` and `fork`. `select` cannot watch a descriptor at or above FD_SETSIZE (1024) and refuses those connections; \
                 `fork` and `thread-per-conn` pay a process or a thread per connection.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    for model in MODELS {
        let most = match model {
            // A process per idle connection: thousands would take gigabytes.
            Model::Fork => 1_000,
            _ => 10_000,
        };
        let sweep = profile.sweep(&[1, 1_000], &[1, 1_000], &[1, 100, 1_000, 10_000]);
        for idle in sweep.into_iter().filter(|k| *k <= most) {
            let server = ServerSpec::new(model)
                .arg("--max-children", 4096)
                .arg("--max-threads", 16_384);
            let load = LoadSpec::new(Mode::Rr)
                .connections(2)
                .idle(idle)
                .timeout(Duration::from_secs(2));
            points.push(Point::new(model.name(), idle as f64, server, load));
        }
    }
    points
}

fn refused(r: &LoadReport) -> Option<f64> {
    Some((r.errors.dropped_idle + r.errors.reset + r.errors.connect_refused) as f64)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let xs = stats::all_x(&points);
    let mut table = Table::new(&[
        "model",
        "idle connections",
        "active p50 µs",
        "active p99 µs",
        "server CPU µs/req",
        "server memory MB",
        "KB per idle connection",
        "connections dropped or refused",
    ]);
    let mut per_conn_kb = Vec::new();
    for (name, by_x) in &points {
        let base = by_x
            .keys()
            .next()
            .and_then(|x| stats::at(&points, name, x.0, super::measures::memory_mb));
        for x in &xs {
            if !by_x.keys().any(|k| k.0 == *x) {
                continue;
            }
            let mem = stats::at(&points, name, *x, super::measures::memory_mb);
            let kb = match (base, mem) {
                (Some(b), Some(m)) if *x > 1.0 => Some((m.median - b.median) * 1024.0 / (*x - 1.0)),
                _ => None,
            };
            if let Some(kb) = kb {
                if *x
                    == xs
                        .iter()
                        .copied()
                        .filter(|v| by_x.keys().any(|k| k.0 == *v))
                        .fold(0.0, f64::max)
                {
                    per_conn_kb.push((name.clone(), *x, kb));
                }
            }
            table.row(vec![
                name.clone(),
                format!("{x}"),
                cell(stats::at(&points, name, *x, stats::p50_us), 1),
                cell(stats::at(&points, name, *x, stats::p99_us), 1),
                cell(
                    stats::at(&points, name, *x, super::measures::server_cpu_us_per_req),
                    2,
                ),
                cell(mem, 1),
                kb.map_or("–".to_string(), |v| format!("{v:.1}")),
                cell(stats::at(&points, name, *x, refused), 0),
            ]);
        }
    }
    let because = if per_conn_kb.is_empty() {
        "no model was measured with more than one idle connection".to_string()
    } else {
        let parts: Vec<String> = per_conn_kb
            .iter()
            .map(|(n, x, kb)| format!("{n} {kb:.1} KB per idle connection (at {x})"))
            .collect();
        format!("memory per idle connection: {}", parts.join(", "))
    };
    let charts = vec![
        NamedChart::line(
            "latency",
            "C10K — active clients' median latency vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("median latency (µs)", Scale::Log10),
            stats::series(&points, stats::p50_us),
            ctx,
        ),
        NamedChart::line(
            "demand",
            "C10K — server CPU per request vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("server CPU per request (µs)", Scale::Log10),
            stats::series(&points, super::measures::server_cpu_us_per_req),
            ctx,
        ),
        NamedChart::line(
            "memory",
            "C10K — server memory vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("server memory: tree PSS + kernel memory (MB)", Scale::Log10),
            stats::series(&points, super::measures::memory_mb),
            ctx,
        ),
    ];
    let mut notes = super::experiment_caveats(results, ID);
    notes.insert(
        0,
        format!(
            "What limits each model: select, FD_SETSIZE (descriptors at or above 1024 are refused); poll and mio, the \
             open-file limit (raised to the hard limit at start); thread-per-conn, --max-threads and a stack per thread; \
             fork, a process (and its memory) per connection, so it is measured up to 1,000 only. Memory is the {}.",
            super::measures::MEMORY_COUNTS
        ),
    );
    Finding {
        verdict: Verdict::Baseline,
        because,
        table: table.markdown(),
        charts,
        notes,
    }
}
