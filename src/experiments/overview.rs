//! The baseline: every concurrent model under the same load, before any
//! claim. Throughput against concurrency, the open-loop "hockey stick", and
//! the latency distribution of each model.

use loadgen::{LoadReport, Mode};
use servers::Model;

use super::stats::{self, cell, Table};
use super::{
    ChartSpec, Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec,
    Verdict,
};
use crate::charts::{Scale, SpectrumChart, SpectrumSeries};
use crate::results::ResultSet;

const ID: &str = "overview";
const CLOSED: [Model; 8] = [
    Model::Fork,
    Model::ThreadPool,
    Model::Mio,
    Model::Reuseport,
    Model::ReactorPool,
    Model::IoUring,
    Model::Tokio,
    Model::TokioMulti,
];
const OPEN: [Model; 2] = [Model::ThreadPool, Model::Mio];
const OPEN_CONNECTIONS: usize = 16;
/// The closed-loop point (in the `full` profile) where system calls are counted.
const SYSCALLS_COUNTED_AT: usize = 128;

fn open_series(model: Model) -> String {
    format!("{} (open loop)", model.name())
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Baseline, not a claim: how the concurrent models compare under the same 64-byte echo load.",
        method: "Closed loop (RR) with 1 and 16 persistent connections (`full`: 1 to 128): requests per second. Open loop (a fixed offered rate over 16 connections, \
                 latency from each request's intended send time, as wrk2 measures): latency percentiles against the offered rate, \
                 and the whole latency distribution at the lowest rate.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    // Every model saturates its one core by 8 connections on two cores, so
    // standard measures 1 and 16 (16 is unix-vs-inet's most, 1 tcp-overhead's
    // persistent point: the runner measures each once for both).
    for c in profile.sweep(&[1, 16], &[1, 16], &[1, 2, 4, 8, 16, 32, 64, 128]) {
        for model in CLOSED {
            let mut load = LoadSpec::new(Mode::Rr).connections(c);
            // System calls per request beside each model (io_uring's beside
            // epoll's), counted at full's most connections only: counting
            // slows every call, and the points the other experiments share
            // must not carry that cost.
            if profile == Profile::Full && c == SYSCALLS_COUNTED_AT {
                load = load.count_syscalls();
            }
            points.push(Point::new(
                model.name(),
                c as f64,
                ServerSpec::new(model),
                load,
            ));
        }
    }
    let rates: Vec<u32> = profile.sweep(
        &[5_000, 60_000],
        &[5_000, 100_000],
        &[
            2_000, 5_000, 10_000, 20_000, 35_000, 50_000, 75_000, 100_000, 150_000,
        ],
    );
    for rate in rates {
        for model in OPEN {
            let load = LoadSpec::new(Mode::Open {
                rate_rps: rate as f64,
            })
            .connections(OPEN_CONNECTIONS);
            points.push(Point::new(
                open_series(model),
                rate as f64,
                ServerSpec::new(model),
                load,
            ));
        }
    }
    points
}

/// The whole latency distribution, in µs, at quantiles spread evenly on the
/// 1/(1-q) axis (ten per decade), from the stored HdrHistogram; the summary
/// percentiles if the histogram cannot be read.
fn spectrum_points(r: &LoadReport) -> Vec<(f64, f64)> {
    let us = |ns: u64| ns as f64 / 1000.0;
    match loadgen::stats::decode_v2(&r.histogram_v2) {
        Ok(h) if !h.is_empty() => (0..=50)
            .map(|k| 1.0 - 10f64.powf(-f64::from(k) / 10.0))
            .map(|q| (q, us(h.value_at_quantile(q))))
            .collect(),
        _ => {
            let p = r.latency_ns;
            vec![
                (0.0, us(p.min)),
                (0.5, us(p.p50)),
                (0.9, us(p.p90)),
                (0.99, us(p.p99)),
                (0.999, us(p.p999)),
                (0.9999, us(p.p9999)),
                (0.99999, us(p.max)),
            ]
        }
    }
}

fn p999_us(r: &LoadReport) -> Option<f64> {
    (r.latency_ns.count > 0).then(|| r.latency_ns.p999 as f64 / 1000.0)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let all = results.experiment(ID);
    let closed_names: Vec<&str> = CLOSED.iter().map(|m| m.name()).collect();
    let closed = stats::only(&all, &closed_names);
    let open_names: Vec<String> = OPEN.iter().map(|m| open_series(*m)).collect();
    let open_refs: Vec<&str> = open_names.iter().map(String::as_str).collect();
    let open = stats::only(&all, &open_refs);

    let mut table = Table::new(&[
        "model",
        "connections",
        "requests/s",
        "p50 µs",
        "p99 µs",
        "server CPU µs/req",
        "context switches/req",
        "system calls/req",
    ]);
    for n in &closed_names {
        for x in stats::all_x(&closed) {
            table.row(vec![
                n.to_string(),
                format!("{x}"),
                cell(stats::at(&closed, n, x, stats::throughput), 0),
                cell(stats::at(&closed, n, x, stats::p50_us), 1),
                cell(stats::at(&closed, n, x, stats::p99_us), 1),
                cell(
                    stats::at(&closed, n, x, super::measures::server_cpu_us_per_req),
                    2,
                ),
                cell(
                    stats::at(&closed, n, x, super::measures::ctxt_switches_per_req),
                    3,
                ),
                cell(
                    stats::at(&closed, n, x, super::measures::syscalls_per_req),
                    2,
                ),
            ]);
        }
    }
    let mut notes = super::experiment_caveats(results, ID);
    if let Some(x) = stats::all_x(&closed).into_iter().find(|x| {
        closed_names
            .iter()
            .any(|n| stats::at(&closed, n, *x, super::measures::syscalls_per_req).is_some())
    }) {
        notes.push(format!(
            "At {x} connections the server's system calls were counted (perf's syscall tracepoint), which slows each call: \
             those rows' server CPU reads higher than the others', most for the models that make the most calls."
        ));
    }
    let mut open_table = Table::new(&[
        "model",
        "offered req/s",
        "achieved req/s",
        "p50 µs",
        "p99 µs (corrected)",
        "p99 µs (uncorrected)",
    ]);
    for n in &open_names {
        for x in stats::all_x(&open) {
            open_table.row(vec![
                n.clone(),
                format!("{x}"),
                cell(stats::at(&open, n, x, stats::throughput), 0),
                cell(stats::at(&open, n, x, stats::p50_us), 1),
                cell(stats::at(&open, n, x, stats::p99_us), 1),
                cell(
                    stats::at(&open, n, x, |r| {
                        r.uncorrected_latency_ns.map(|p| p.p99 as f64 / 1000.0)
                    }),
                    1,
                ),
            ]);
        }
    }

    // The spectrum at the lowest offered rate, from the first usable repeat.
    let spectrum: Vec<SpectrumSeries> = open_names
        .iter()
        .filter_map(|n| {
            let (_, repeats) = open.get(n)?.iter().next()?;
            let r = repeats.iter().filter_map(|m| m.ok_report()).next()?;
            Some(SpectrumSeries {
                name: n.clone(),
                points: spectrum_points(r),
            })
        })
        .collect();
    let lowest = stats::all_x(&open).first().copied().unwrap_or(0.0);

    let mut open_lines = Vec::new();
    for (label, f) in [
        ("p50", stats::p50_us as fn(&LoadReport) -> Option<f64>),
        ("p99", stats::p99_us),
        ("p99.9", p999_us),
    ] {
        for mut s in stats::series(&open, f) {
            s.name = format!("{} {label}", s.name.trim_end_matches(" (open loop)"));
            open_lines.push(s);
        }
    }
    use super::headline::{count, micros};
    let most = stats::all_x(&closed).last().copied();
    let throughput_title = most.and_then(|x| {
        let at: Vec<(&str, f64)> = closed_names
            .iter()
            .filter_map(|n| stats::at(&closed, n, x, stats::throughput).map(|s| (*n, s.median)))
            .collect();
        let best = at.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let worst = at.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
        (best.0 != worst.0).then(|| {
            format!(
                "at {x} connections {} serves {} requests/s, {} {}",
                best.0,
                count(best.1),
                worst.0,
                count(worst.1)
            )
        })
    });
    let highest = stats::all_x(&open).last().copied();
    let at_rate = |x: f64, f: fn(&LoadReport) -> Option<f64>| -> Vec<String> {
        open_names
            .iter()
            .filter_map(|n| {
                let s = stats::at(&open, n, x, f)?;
                Some(format!(
                    "{} {}",
                    n.trim_end_matches(" (open loop)"),
                    micros(s.median)
                ))
            })
            .collect()
    };
    let hockey_title = highest
        .map(|x| (x, at_rate(x, stats::p99_us)))
        .filter(|(_, p)| !p.is_empty())
        .map(|(x, p)| format!("p99 at {} requests/s offered: {}", count(x), p.join(", ")));
    let spectrum_title = (!spectrum.is_empty())
        .then(|| at_rate(lowest, p999_us))
        .filter(|p| !p.is_empty())
        .map(|p| {
            format!(
                "p99.9 at {} requests/s offered: {}",
                count(lowest),
                p.join(", ")
            )
        });
    let charts = vec![
        NamedChart::line(
            "throughput",
            "Baseline — throughput vs concurrency (64-byte echo, RR)",
            ("persistent connections", Scale::Log10),
            ("requests per second", Scale::Linear),
            stats::series(&closed, stats::throughput),
            ctx,
        )
        .titled_by(throughput_title),
        NamedChart::line(
            "hockey-stick",
            "Baseline — latency vs offered load (open loop, 16 connections)",
            ("offered load (requests per second)", Scale::Log10),
            ("latency from intended send time (µs)", Scale::Log10),
            open_lines,
            ctx,
        )
        .titled_by(hockey_title),
        NamedChart {
            name: "spectrum".into(),
            chart: ChartSpec::Spectrum(SpectrumChart {
                title: format!(
                    "Baseline — latency distribution at {lowest} requests/s (open loop)"
                ),
                y_label: "latency (µs)".into(),
                caption: String::new(),
                series: spectrum,
                footnote: ctx.footnote.clone(),
            }),
        }
        .titled_by(spectrum_title),
    ];
    Finding {
        verdict: Verdict::Baseline,
        because: "a baseline for the claims below, not a claim".to_string(),
        table: format!("{}\n{}", table.markdown(), open_table.markdown()),
        charts,
        notes,
    }
}
