//! Beyond the textbook: each design pushed through and past its capacity
//! with an open-loop load, and its knee — the highest offered rate at which
//! its p99 still meets a latency objective (`run --slo`, 1 ms by default).
//!
//! Queueing theory says what happens past capacity: the queue, and so the
//! latency, grows without bound while the served rate stays at capacity. A
//! server can do worse — Mogul and Ramakrishnan's receive livelock, or the
//! thread-per-request servers that Welsh et al. (SEDA, SOSP 2001) saw lose
//! throughput as load grew — and that is what the verdict looks for. With a
//! fixed set of persistent connections the load generator never has more
//! requests in flight than connections, so what piles up past the knee is
//! the schedule's backlog, charged to latency from each request's intended
//! send time (wrk2's correction).

use std::time::Duration;

use loadgen::Mode;
use servers::Model;

use super::headline;
use super::interval::Ratio;
use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::{Points, ResultSet};

const ID: &str = "overload";
/// The default p99 objective of `run --slo`.
pub const DEFAULT_SLO: Duration = Duration::from_millis(1);
/// The overview's open-loop connections: its points at the same rates are
/// measured once for both experiments.
const CONNECTIONS: usize = 16;
/// Goodput at the highest offered rate, as a share of the peak, from which
/// the design "holds" past its knee…
const HOLDS: f64 = 0.8;
/// …and up to which it "collapses".
const COLLAPSES: f64 = 0.5;

fn models(profile: Profile) -> Vec<Model> {
    match profile {
        // Not prefork: its 8 processes would leave 8 of the 16 connections
        // waiting for a process all run long.
        Profile::Full => vec![
            Model::Fork,
            Model::ThreadPerConn,
            Model::ThreadPool,
            Model::Mio,
            Model::ReactorPool,
            Model::Reuseport,
            Model::IoUring,
            Model::Tokio,
        ],
        _ => vec![Model::ThreadPool, Model::Mio, Model::ReactorPool],
    }
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Past its capacity a server's latency grows without bound while its goodput stays at capacity: every design has a \
                knee, and past it requests queue rather than fail.",
        method: "An open-loop load (a fixed offered rate over 16 persistent connections, latency from each request's intended send \
                 time) of 64-byte echo requests, swept over 10 rates in standard (13 in full) through and past each design's \
                 capacity: goodput (correct answers per second), p99, p99.9 and errors. The knee is the highest offered rate \
                 below the first rate from which every higher rate's p99 misses the objective (`run --slo`, 1 ms by default): \
                 a miss met again at a higher rate is a transient stall of the machine, named but not the knee, and a knee where \
                 the load generator's own CPU was saturated is said to be possibly its own. Standard sweeps `thread-pool`, \
                 `mio` and `reactor-pool`; full adds `fork`, `thread-per-conn`, `reuseport`, `io-uring` and `tokio`. What it adds to the \
                 textbook: the textbook compares designs by cost per request; this gives the load each can take under a \
                 latency objective, and whether it degrades gracefully past it.",
        points,
        analyze,
    }
}

fn rates(profile: Profile) -> Vec<u32> {
    profile.sweep(
        &[5_000, 20_000, 60_000, 120_000],
        &[
            5_000, 10_000, 20_000, 30_000, 45_000, 60_000, 80_000, 100_000, 130_000, 160_000,
        ],
        &[
            2_000, 5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 75_000, 100_000, 125_000,
            150_000, 200_000,
        ],
    )
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    for model in models(profile) {
        for rate in rates(profile) {
            let load = LoadSpec::new(Mode::Open {
                rate_rps: rate as f64,
            })
            .connections(CONNECTIONS);
            points.push(
                Point::new(model.name(), rate as f64, ServerSpec::new(model), load)
                    .decisive("p99 µs", stats::p99_us),
            );
        }
    }
    points
}

/// Correct answers per second that arrived inside the recorded interval
/// (`goodput_rps`): past the knee the server's pace, where `throughput_rps`
/// counts every request scheduled in the interval however late it was
/// answered, so it equals the offered rate. Older results without it: the
/// throughput.
fn goodput(r: &loadgen::LoadReport) -> Option<f64> {
    Some(r.goodput_rps.unwrap_or(r.throughput_rps))
}

fn p999_us(r: &loadgen::LoadReport) -> Option<f64> {
    (r.latency_ns.count > 0).then(|| r.latency_ns.p999 as f64 / 1000.0)
}

/// The load generator's busy share from which it, not the server, may set
/// the pace: a knee at or past the rate where it first gets there may be the
/// generator's own, and the text says so.
const GENERATOR_SATURATED: f64 = 0.95;

/// The knee of one series from its (rate, p99 µs) curve: the highest rate
/// below the first rate from which every higher rate misses `slo_us` too.
/// Capacity does not come back at a higher rate, so a miss followed by a
/// rate that meets the objective again is a transient — one stall of a few
/// milliseconds (the hypervisor, a neighbour on the machine) owns the p99
/// of a short window at tens of thousands of requests a second — and is
/// returned in the second list instead of ending the curve. `Err(true)`:
/// every rate from the lowest missed it; `Err(false)`: no rate was measured.
fn knee(curve: &[(f64, f64)], slo_us: f64) -> (Result<f64, bool>, Vec<f64>) {
    // Where the trailing run of misses starts (the curve's length: none).
    let over = curve
        .iter()
        .rposition(|&(_, p99)| p99 <= slo_us)
        .map_or(0, |i| i + 1);
    let knee = match over {
        0 => Err(!curve.is_empty()),
        i => Ok(curve[i - 1].0),
    };
    let transients = curve[..over]
        .iter()
        .filter(|&&(_, p99)| p99 > slo_us)
        .map(|&(rate, _)| rate)
        .collect();
    (knee, transients)
}

/// The lowest rate at which the load generator's median busy share reached
/// [`GENERATOR_SATURATED`].
fn generator_ceiling(points: &Points<'_>, name: &str) -> Option<f64> {
    curve(points, name, None, |r| {
        Some(super::measures::loadgen_busy(r))
    })
    .into_iter()
    .find(|&(_, busy)| busy >= GENERATOR_SATURATED)
    .map(|(rate, _)| rate)
}

/// A series' (rate, figure) curve from the medians, or from repeat `k` alone.
fn curve(
    points: &Points<'_>,
    name: &str,
    repeat: Option<u32>,
    f: fn(&loadgen::LoadReport) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let Some(xs) = points.get(name) else {
        return Vec::new();
    };
    xs.iter()
        .filter_map(|(x, ms)| {
            let ms: Vec<_> = ms
                .iter()
                .filter(|m| repeat.is_none_or(|k| m.repeat == k))
                .copied()
                .collect();
            stats::over(&ms, f).map(|s| (x.0, s.median))
        })
        .collect()
}

/// What one design did: its knee (with the range of the repeats' knees) and
/// its goodput at the highest rate over its peak.
struct Design {
    name: String,
    knee: Result<f64, bool>,
    /// Rates below the knee whose median p99 missed the objective once.
    transients: Vec<f64>,
    /// Where the load generator's CPU saturated, if it did in the sweep.
    ceiling: Option<f64>,
    repeat_knees: Vec<f64>,
    top: f64,
    held: Option<Ratio>,
}

fn design(points: &Points<'_>, name: &str, slo_us: f64) -> Design {
    let knee_of = |repeat| knee(&curve(points, name, repeat, stats::p99_us), slo_us).0;
    let mut repeats: Vec<u32> = points
        .get(name)
        .into_iter()
        .flat_map(|xs| xs.values().flatten().map(|m| m.repeat))
        .collect();
    repeats.sort_unstable();
    repeats.dedup();
    let repeat_knees = repeats
        .iter()
        .filter_map(|k| knee_of(Some(*k)).ok())
        .collect();
    let served = curve(points, name, None, goodput);
    let top = served.last().map_or(0.0, |(x, _)| *x);
    let peak = served
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(x, _)| x);
    let held = peak.and_then(|p| stats::ratio_at(points, (name, top), (name, p), goodput));
    let (knee, transients) = knee(&curve(points, name, None, stats::p99_us), slo_us);
    Design {
        name: name.to_string(),
        knee,
        transients,
        ceiling: generator_ceiling(points, name),
        repeat_knees,
        top,
        held,
    }
}

impl Design {
    fn verdict(&self) -> Verdict {
        match (self.knee, self.held) {
            (_, Some(h)) if h.value <= COLLAPSES => Verdict::NotSupported,
            (Ok(k), Some(h)) if k < self.top && h.value >= HOLDS => Verdict::Supported,
            (_, Some(_)) => Verdict::Depends,
            (_, None) => Verdict::NoData,
        }
    }

    fn knee_text(&self) -> String {
        let mut said = Vec::new();
        if let (Some(lo), Some(hi)) = (
            self.repeat_knees.iter().copied().reduce(f64::min),
            self.repeat_knees.iter().copied().reduce(f64::max),
        ) {
            if self.repeat_knees.len() > 1 {
                said.push(format!("repeats {lo:.0}–{hi:.0}"));
            }
        }
        if !self.transients.is_empty() {
            let rates: Vec<String> = self.transients.iter().map(|r| format!("{r:.0}")).collect();
            said.push(format!(
                "a transient miss at {}, met again at a higher rate",
                rates.join(", ")
            ));
        }
        if let (Ok(k), Some(c)) = (self.knee, self.ceiling) {
            if k >= c {
                said.push(format!(
                    "the load generator's CPU was saturated from {c:.0}, so the knee may be its own"
                ));
            }
        }
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(" ({})", said.join("; "))
        };
        match self.knee {
            Ok(k) if k >= self.top => format!(
                "{} at least {k:.0} requests/s (the whole sweep){said}",
                self.name
            ),
            Ok(k) => format!("{} {k:.0} requests/s{said}", self.name),
            Err(true) => format!("{} below the sweep's lowest rate{said}", self.name),
            Err(false) => format!("{} not measured", self.name),
        }
    }

    /// The knee in a chart title's few words: "mio 100k", "mio ≥ 160k",
    /// "mio < 5k".
    fn knee_short(&self) -> String {
        match self.knee {
            Ok(k) if k >= self.top => format!("{} ≥ {}", self.name, headline::count(k)),
            Ok(k) => format!("{} {}", self.name, headline::count(k)),
            Err(true) => format!("{} below the sweep", self.name),
            Err(false) => format!("{} not measured", self.name),
        }
    }
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let slo_us = ctx.slo.as_secs_f64() * 1e6;
    let names: Vec<String> = points.keys().cloned().collect();
    let mut table = Table::new(&[
        "model",
        "offered requests/s",
        "goodput requests/s",
        "p99 µs",
        "p99.9 µs",
        "errors",
        "meets the SLO",
    ]);
    for n in &names {
        for x in stats::all_x(&stats::only(&points, &[n])) {
            let p99 = stats::at(&points, n, x, stats::p99_us);
            table.row(vec![
                n.clone(),
                format!("{x}"),
                cell(stats::at(&points, n, x, goodput), 0),
                cell(p99, 0),
                cell(stats::at(&points, n, x, p999_us), 0),
                cell(stats::at(&points, n, x, stats::errors), 0),
                match p99 {
                    Some(s) if s.median <= slo_us => "yes".to_string(),
                    Some(_) => "no".to_string(),
                    None => "–".to_string(),
                },
            ]);
        }
    }
    let designs: Vec<Design> = names.iter().map(|n| design(&points, n, slo_us)).collect();
    let verdict = Verdict::all(
        &designs
            .iter()
            .map(Design::verdict)
            .filter(|v| *v != Verdict::NoData)
            .collect::<Vec<_>>(),
    );
    let slo = humantime::format_duration(ctx.slo);
    let knees: Vec<String> = designs.iter().map(Design::knee_text).collect();
    let held: Vec<String> = designs
        .iter()
        .filter_map(|d| {
            d.held.map(|h| {
                format!(
                    "{} serves {} its peak goodput at {:.0} offered ({})",
                    d.name,
                    h.show(2),
                    d.top,
                    d.verdict().label()
                )
            })
        })
        .collect();
    let because = if designs.is_empty() {
        "no design was measured".to_string()
    } else {
        format!(
            "knee (p99 ≤ {slo}): {}; past it, {} (per design supported when the knee lies inside the sweep and goodput at the \
             highest rate stays at or above {HOLDS}× the peak, not supported when it falls to {COLLAPSES}× or below)",
            knees.join(", "),
            held.join("; ")
        )
    };
    let short: Vec<String> = designs.iter().map(Design::knee_short).collect();
    let headline = format!(
        "Overload — knee at p99 ≤ {slo}: {} requests/s",
        short.join(", ")
    );
    let charts = vec![
        NamedChart::line(
            "p99",
            "Overload — p99 latency against the offered rate",
            ("offered rate (requests/s)", Scale::Log10),
            ("p99 latency (µs)", Scale::Log10),
            stats::series(&points, stats::p99_us),
            ctx,
        )
        .titled(headline),
        NamedChart::line(
            "goodput",
            "Overload — goodput against the offered rate",
            ("offered rate (requests/s)", Scale::Log10),
            ("goodput: correct answers per second", Scale::Log10),
            stats::series(&points, goodput),
            ctx,
        )
        .titled(format!(
            "Overload — at the top rate goodput is {} of each design's peak",
            designs
                .iter()
                .filter_map(|d| d
                    .held
                    .map(|h| format!("{} {}", d.name, headline::times(h.value))))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    ];
    let mut notes = super::experiment_caveats(results, ID);
    notes.insert(
        0,
        "Published: Welsh, Culler and Brewer (SEDA, SOSP 2001) report a thread-per-request server whose throughput falls as \
         load and threads grow while an event-driven one holds its peak; Mogul and Ramakrishnan (USENIX 1996, TOCS 1997) show \
         receive livelock, goodput falling towards zero under an interrupt flood. Both are described as published, without \
         their figures. Past the knee an open-loop point may be marked invalid by the load generator's own check (its \
         connections fall behind the schedule): that is the overload showing, and the caveat below names it."
            .to_string(),
    );
    Finding {
        verdict,
        because,
        table: table.markdown(),
        charts,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic::{latency_us, verdict};

    /// Synthetic designs with capacity `cap` requests/s: p99 50 µs below it,
    /// 20 ms above; goodput the offered rate up to `cap`, then
    /// `cap × past` (1: holds, below 1: falls).
    fn with(mio: (f64, f64), pool: (f64, f64)) -> (Verdict, String) {
        verdict(&experiment(), |p, _, r| {
            let (cap, past) = if p.series == "mio" { mio } else { pool };
            let over = p.x > cap;
            r.throughput_rps = if over { cap * past } else { p.x };
            latency_us(r, 30.0, if over { 20_000.0 } else { 50.0 });
        })
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        let (v, because) = with((60_000.0, 1.0), (30_000.0, 0.95));
        assert_eq!(v, Verdict::Supported, "{because}");
        assert!(
            because.contains("mio 60000 requests/s") && because.contains("thread-pool 30000"),
            "{because}"
        );
        assert_eq!(
            with((60_000.0, 0.3), (30_000.0, 0.2)).0,
            Verdict::NotSupported
        );
        let (v, because) = with((60_000.0, 1.0), (30_000.0, 0.3));
        assert_eq!(v, Verdict::Depends, "{because}");
        // A design the sweep never overloads has no knee inside it.
        let (v, because) = with((1e9, 1.0), (1e9, 1.0));
        assert_eq!(v, Verdict::Depends, "{because}");
        assert!(because.contains("the whole sweep"), "{because}");
    }

    #[test]
    fn the_knee_moves_with_the_objective() {
        let data = crate::experiments::synthetic::results(&experiment(), 3, |p, _, r| {
            r.throughput_rps = p.x.min(60_000.0);
            latency_us(r, 30.0, if p.x > 60_000.0 { 20_000.0 } else { 50.0 });
        });
        let judge = |slo: Duration| {
            let ctx = Context {
                footnote: String::new(),
                error_bars: String::new(),
                slo,
            };
            (experiment().analyze)(&data, &ctx).because
        };
        let strict = judge(DEFAULT_SLO);
        assert!(strict.contains("mio 60000 requests/s"), "{strict}");
        // A 30 ms objective is met at every rate: the knee is past the sweep.
        let loose = judge(Duration::from_millis(30));
        assert!(loose.contains("knee (p99 ≤ 30ms)"), "{loose}");
        assert!(loose.contains("the whole sweep"), "{loose}");
    }

    #[test]
    fn the_knee_is_the_last_rate_before_the_misses_that_last() {
        let c = [
            (1.0, 10.0),
            (2.0, 20.0),
            (3.0, 2000.0),
            (4.0, 30.0),
            (5.0, 5000.0),
        ];
        // The miss at 3 is met again at 4: a transient, not the knee.
        assert_eq!(knee(&c, 1000.0), (Ok(4.0), vec![3.0]));
        assert_eq!(knee(&c[..4], 1000.0), (Ok(4.0), vec![3.0]));
        assert_eq!(knee(&c[..2], 1000.0), (Ok(2.0), vec![]));
        // Missed from the lowest rate on.
        assert_eq!(knee(&c[4..], 1000.0), (Err(true), vec![]));
        assert_eq!(knee(&[], 1000.0), (Err(false), vec![]));
    }

    #[test]
    fn a_stall_below_capacity_does_not_move_the_knee_and_is_named() {
        // Capacity 60,000: one repeat in three stalls at 20,000 is
        // outvoted; two in three make the median miss, and the knee stays.
        for stalled in [1, 2] {
            let (v, because) = verdict(&experiment(), |p, k, r| {
                let over = p.x > 60_000.0;
                r.throughput_rps = p.x.min(60_000.0);
                let stall = p.x == 20_000.0 && k < stalled;
                latency_us(r, 30.0, if over || stall { 20_000.0 } else { 50.0 });
            });
            assert_eq!(v, Verdict::Supported, "{because}");
            assert!(because.contains("mio 60000 requests/s"), "{because}");
            assert_eq!(
                because.contains("transient miss at 20000"),
                stalled == 2,
                "{because}"
            );
        }
    }

    #[test]
    fn a_knee_where_the_generator_saturated_says_so() {
        let (_, because) = verdict(&experiment(), |p, _, r| {
            r.throughput_rps = p.x.min(60_000.0);
            r.loadgen.utilization = if p.x >= 60_000.0 { 1.0 } else { 0.5 };
            latency_us(r, 30.0, if p.x > 60_000.0 { 20_000.0 } else { 50.0 });
        });
        assert!(
            because.contains("saturated from 60000, so the knee may be its own"),
            "{because}"
        );
    }
}
