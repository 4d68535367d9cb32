//! Claim 7: the zombie problem.

use loadgen::Mode;
use servers::{Model, ReapPolicy};

use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::{Point as ChartPoint, Scale, Series};
use crate::results::ResultSet;

const ID: &str = "zombies";
/// Connections per run: bounded, because unreaped children hold process-table slots.
const CONNECTIONS: u64 = 3_000;

fn series_name(policy: ReapPolicy) -> String {
    format!("reap {}", policy.name())
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "A concurrent server that forks must reap its children, or each finished connection leaves a zombie process behind.",
        method: "The fork server under connection-per-request load from 32 clients at once (so children exit together), 3,000 connections, \
                 with each reaping policy: `none` (never wait), `once` (one wait per SIGCHLD, as the lab's SunOS snippet), \
                 `handler` (a SIGCHLD handler looping waitpid(WNOHANG)), `ignore` (SIGCHLD set to SIG_IGN). Zombie children counted from /proc every 100 ms.",
        points,
        analyze,
    }
}

fn points(_: Profile) -> Vec<Point> {
    ReapPolicy::ALL
        .iter()
        .map(|&p| {
            let server = ServerSpec::new(Model::Fork).arg("--reap", p.name());
            let load = LoadSpec::new(Mode::Crr)
                .connections(32)
                .requests(CONNECTIONS);
            Point::new(series_name(p), 0.0, server, load)
        })
        .collect()
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let mut table = Table::new(&[
        "policy",
        "connections served",
        "zombies at the end",
        "peak zombies",
        "connections/s",
    ]);
    for p in ReapPolicy::ALL {
        let n = series_name(p);
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, &n, 0.0, |r| Some(r.requests as f64)), 0),
            cell(stats::at(&points, &n, 0.0, super::measures::zombies_end), 0),
            cell(
                stats::at(&points, &n, 0.0, super::measures::zombies_peak),
                0,
            ),
            cell(stats::at(&points, &n, 0.0, stats::throughput), 0),
        ]);
    }
    let end = |p: ReapPolicy| {
        stats::at(&points, &series_name(p), 0.0, super::measures::zombies_end).map(|s| s.median)
    };
    let (verdict, because) = match (
        end(ReapPolicy::None),
        end(ReapPolicy::Handler),
        end(ReapPolicy::Ignore),
    ) {
        (Some(none), Some(handler), Some(ignore)) => {
            let verdict = if none > 0.0 && handler == 0.0 && ignore == 0.0 {
                Verdict::Supported
            } else if none == 0.0 {
                Verdict::NotSupported
            } else {
                Verdict::Depends
            };
            (
                verdict,
                format!(
                    "without reaping {none:.0} zombies were left; with a waitpid loop {handler:.0} and with SIG_IGN {ignore:.0}{}",
                    end(ReapPolicy::Once).map_or(String::new(), |o| format!(
                        "; one wait per signal left {o:.0} (signals do not queue: one SIGCHLD can stand for several children)"
                    ))
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "a reaping policy has no usable measurement".to_string(),
        ),
    };
    // One repeat's timeline per policy: the first that has samples.
    let timeline: Vec<Series> = ReapPolicy::ALL
        .iter()
        .filter_map(|p| {
            let name = series_name(*p);
            let report = points
                .get(&name)?
                .values()
                .flatten()
                .filter_map(|m| m.ok_report())
                .find(|r| r.server.is_some())?;
            let samples = &report.server.as_ref()?.samples;
            Some(Series {
                name,
                points: samples
                    .iter()
                    .filter(|s| s.t_s >= 0.0)
                    .map(|s| ChartPoint {
                        x: s.t_s,
                        y: s.zombies as f64,
                        spread: None,
                    })
                    .collect(),
            })
        })
        .collect();
    let charts = vec![NamedChart::line(
        "timeline",
        "Claim 7 — zombie children over time, per reaping policy",
        ("time since warm-up (s)", Scale::Linear),
        ("zombie children", Scale::Linear),
        timeline,
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
