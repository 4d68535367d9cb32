//! The C10K shape: a few active clients while thousands of connections sit
//! idle — memory per connection, the active clients' latency and the server's
//! CPU per request as the idle ones grow to 10,000; `select` refusing what it
//! cannot watch past FD_SETSIZE; and a connection-per-request variant in which
//! every request adds and removes a descriptor, the cost Gammo et al. (2004)
//! measured select and poll losing up to 79 % of their throughput to with
//! 10,000 idle connections, against epoll's.

use std::time::Duration;

use loadgen::{LoadReport, Mode};
use servers::Model;

use super::server_counts;
use super::stats::{self, cell, Table};
use super::{Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec};
use crate::charts::Scale;
use crate::results::ResultSet;

mod per_request;

use per_request::{
    crr_series, crr_sweep, generator_bound_notes, judge, kept, CRR_MODELS, CRR_SUFFIX, FD_SETSIZE,
    GAMMO_LOSS,
};

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
/// Idle connections measured for `model`: every model gets the ends of the
/// profile's sweep (in `standard` the points single-process measures too, so
/// they cost nothing more), select past FD_SETSIZE to show its refusals, and
/// 10,000 in `full`;
/// fork up to 5,000 processes, thread-per-conn up to 10,000 threads (this
/// machine's pid_max and memory bound them; the report says so).
fn idle_sweep(profile: Profile, model: Model) -> Vec<usize> {
    let full = [1, 100, 1_000, 5_000, 10_000];
    let sweep = match (profile, model) {
        (Profile::Quick, Model::Select) => vec![1, 2_000],
        (Profile::Quick, _) => vec![1, 1_000],
        (Profile::Standard, Model::Select) => vec![1, 5_000],
        (Profile::Standard, _) => vec![1, 1_000],
        (Profile::Full, _) => full.to_vec(),
    };
    let most = match model {
        Model::Fork => 5_000,
        _ => 10_000,
    };
    sweep.into_iter().filter(|k| *k <= most).collect()
}

/// Models of the idle sweep: tokio's two runtimes and reactor-pool (whose
/// sockets live in one mio loop, as mio's do) only in `full`: the standard
/// run's budget goes to the designs the claim is about.
fn models(profile: Profile) -> Vec<Model> {
    MODELS
        .into_iter()
        .filter(|m| {
            profile == Profile::Full
                || !matches!(m, Model::Tokio | Model::TokioMulti | Model::ReactorPool)
        })
        .collect()
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Claim 6 at scale (the C10K problem): with thousands of idle connections, select and poll pay for every descriptor on every \
                call while epoll pays only for the active ones (Gammo et al. 2004), and a process or thread per connection pays in memory.",
        method: "Two clients doing 64-byte echo round trips while K other connections are held open and idle (K = 1 stands for none, up to \
                 10,000 in `full`, select to 5,000 in `standard`): the active clients' latency, the server's CPU per request and its memory per idle connection (PSS \
                 plus kernel socket memory), for `select`, `poll`, `mio` (epoll), `thread-per-conn`, `fork`, `reuseport`, `io-uring` \
                 (and `reactor-pool` and tokio in `full`). `select` cannot watch a descriptor at or above FD_SETSIZE (1024) and refuses those \
                 connections (counted). Then the connection-per-request variant: 2 clients connect, ask and close (CRR) beside the same \
                 idle connections, against `poll` and `mio` (and `select` in `full` and `quick`), so each request adds a descriptor to the set (epoll_ctl for mio) and \
                 removes it: the throughput each keeps as the idle connections grow.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    // The same flags and timeout as single-process's idle points, so at the
    // x both sweep the runner measures a model once for both claims.
    let server = |model: Model| {
        ServerSpec::new(model)
            .arg("--max-children", 16_384)
            .arg("--max-threads", 16_384)
    };
    for model in models(profile) {
        for idle in idle_sweep(profile, model) {
            let load = LoadSpec::new(Mode::Rr)
                .connections(2)
                .idle(idle)
                .timeout(Duration::from_secs(2));
            points.push(Point::new(model.name(), idle as f64, server(model), load));
        }
    }
    for model in CRR_MODELS {
        for idle in crr_sweep(profile, model) {
            let load = LoadSpec::new(Mode::Crr)
                .connections(2)
                .idle(idle)
                .timeout(Duration::from_secs(2));
            points.push(
                Point::new(crr_series(model), idle as f64, ServerSpec::new(model), load)
                    .decisive("throughput", stats::throughput),
            );
        }
    }
    points
}

fn refused(r: &LoadReport) -> Option<f64> {
    Some((r.errors.dropped_idle + r.errors.reset + r.errors.connect_refused) as f64)
}

/// Memory per idle connection of `name` at `x` over its first point, in kB.
fn kb_per_conn(points: &crate::results::Points<'_>, name: &str, x: f64) -> Option<f64> {
    let first = points.get(name)?.keys().next()?.0;
    let base = stats::at(points, name, first, super::measures::memory_mb)?;
    let mem = stats::at(points, name, x, super::measures::memory_mb)?;
    (x > first).then(|| (mem.median - base.median) * 1024.0 / (x - first))
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let all = results.experiment(ID);
    let (crr, idle): (crate::results::Points<'_>, crate::results::Points<'_>) = all
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| k.ends_with(CRR_SUFFIX));
    let mut table = Table::new(&[
        "model",
        "idle connections",
        "active p50 µs",
        "active p99 µs",
        "server CPU µs/req",
        "server memory MB",
        "KB per idle connection",
        "connections dropped or refused (client)",
        "refused by the server",
    ]);
    let mut per_conn_kb = Vec::new();
    for (name, by_x) in &idle {
        let most = by_x.keys().next_back().map(|k| k.0);
        for x in by_x.keys().map(|k| k.0) {
            let kb = kb_per_conn(&idle, name, x);
            if let (Some(kb), Some(most)) = (kb, most) {
                if x == most {
                    per_conn_kb.push((name.clone(), x, kb));
                }
            }
            table.row(vec![
                name.clone(),
                format!("{x}"),
                cell(stats::at(&idle, name, x, stats::p50_us), 1),
                cell(stats::at(&idle, name, x, stats::p99_us), 1),
                cell(
                    stats::at(&idle, name, x, super::measures::server_cpu_us_per_req),
                    2,
                ),
                cell(stats::at(&idle, name, x, super::measures::memory_mb), 1),
                kb.map_or("–".to_string(), |v| format!("{v:.1}")),
                cell(stats::at(&idle, name, x, refused), 0),
                cell(
                    server_counts::summary_at(&idle, name, x, server_counts::refused),
                    0,
                ),
            ]);
        }
    }
    let mut crr_table = Table::new(&[
        "readiness call, connection per request",
        "idle connections",
        "connections/s",
        "kept of its own with none",
        "server CPU µs/conn",
        "errors",
    ]);
    for (name, by_x) in &crr {
        let first = by_x.keys().next().map(|k| k.0);
        for x in by_x.keys().map(|k| k.0) {
            let kept = first
                .filter(|f| *f < x)
                .and_then(|f| stats::ratio_at(&crr, (name, x), (name, f), stats::throughput));
            crr_table.row(vec![
                name.trim_end_matches(CRR_SUFFIX).to_string(),
                format!("{x}"),
                cell(stats::at(&crr, name, x, stats::throughput), 0),
                kept.map_or("–".to_string(), |r| format!("{:.0}%", r.value * 100.0)),
                cell(
                    stats::at(&crr, name, x, super::measures::server_cpu_us_per_req),
                    2,
                ),
                cell(stats::at(&crr, name, x, stats::errors), 0),
            ]);
        }
    }
    let (verdict, mut because) = judge(&crr);
    if !per_conn_kb.is_empty() {
        let parts: Vec<String> = per_conn_kb
            .iter()
            .map(|(n, x, kb)| format!("{n} {kb:.1} KB (at {x})"))
            .collect();
        because.push_str(&format!(
            ". Memory per idle connection: {}",
            parts.join(", ")
        ));
    }
    let memory_title = match per_conn_kb
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .zip(per_conn_kb.iter().min_by(|a, b| a.2.total_cmp(&b.2)))
    {
        Some((most, least)) if most.0 != least.0 => format!(
            "An idle connection costs {} {:.0} KB, {} {:.1} KB",
            most.0, most.2, least.0, least.2
        ),
        _ => "C10K — server memory vs idle connections".to_string(),
    };
    let kept_title = match (kept(&crr, &crr_series(Model::Poll)), kept(&crr, &crr_series(Model::Mio))) {
        (Some((k, poll)), Some((_, epoll))) => format!(
            "With {k} idle connections poll keeps {:.0}% of its connection rate, epoll {:.0}% (Gammo et al.: select and poll lose up to {:.0}% at 10,000)",
            poll.value * 100.0,
            epoll.value * 100.0,
            GAMMO_LOSS * 100.0
        ),
        _ => "C10K — connection rate vs idle connections".to_string(),
    };
    let charts = vec![
        NamedChart::line(
            "latency",
            "C10K — active clients' median latency vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("median latency (µs)", Scale::Log10),
            stats::series(&idle, stats::p50_us),
            ctx,
        ),
        NamedChart::line(
            "demand",
            "C10K — server CPU per request vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("server CPU per request (µs)", Scale::Log10),
            stats::series(&idle, super::measures::server_cpu_us_per_req),
            ctx,
        ),
        NamedChart::line(
            "memory",
            "C10K — server memory vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("server memory: tree PSS + kernel memory (MB)", Scale::Log10),
            stats::series(&idle, super::measures::memory_mb),
            ctx,
        )
        .titled(memory_title),
        NamedChart::line(
            "crr-rate",
            "C10K — connections per second with a connection per request vs idle connections",
            ("idle connections held open (log)", Scale::Log10),
            ("connections per second", Scale::Linear),
            stats::series(&crr, stats::throughput),
            ctx,
        )
        .titled(kept_title),
    ];
    let fd_limit = results
        .info
        .fd_limit
        .map(|l| {
            format!(
                "raised to {} for this run (its largest point needed {})",
                l.soft, l.needed
            )
        })
        .unwrap_or_else(|| "raised to the hard limit at start".to_string());
    let mut notes = super::experiment_caveats(results, ID);
    notes.extend(generator_bound_notes(&crr));
    notes.insert(
        0,
        format!(
            "What this adds to the textbook, whose single-process server watches a handful of descriptors: the cost of \
             watching thousands, per readiness call and per design, and the memory a process or thread per connection takes. \
             What limits each model: select, FD_SETSIZE (descriptors at or above {FD_SETSIZE} are refused, and counted as refused \
             by the server); poll and mio, the open-file limit ({fd_limit}); thread-per-conn, --max-threads (16,384 here) and a \
             stack per thread, measured to 10,000; fork, a process per connection, measured to 5,000 in `full` (10,000 processes \
             approach this machine's pid_max, and each costs its page tables and kernel stack). Memory is the {}.",
            super::measures::MEMORY_COUNTS
        ),
    );
    Finding {
        verdict,
        because,
        table: format!("{}\n{}", table.markdown(), crr_table.markdown()),
        charts,
        notes,
    }
}
