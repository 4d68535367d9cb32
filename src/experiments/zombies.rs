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

/// Zombies per connection from which "each finished connection leaves a zombie" holds…
const ZOMBIES_YES: f64 = 0.5;
/// …and up to which no zombies count as left.
const ZOMBIES_NO: f64 = 0.01;

/// Zombies left at the end per connection served.
fn zombie_share(r: &loadgen::LoadReport) -> Option<f64> {
    let served = r.requests + r.errors.total;
    let zombies = super::measures::zombies_end(r)?;
    (served > 0).then(|| zombies / served as f64)
}

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
    // Zombies left per connection served: a share, so the rule compares
    // policies whatever the number of connections, and can come out either way.
    let share =
        |p: ReapPolicy| stats::at(&points, &series_name(p), 0.0, zombie_share).map(|s| s.median);
    let end = |p: ReapPolicy| {
        stats::at(&points, &series_name(p), 0.0, super::measures::zombies_end).map(|s| s.median)
    };
    let (verdict, because) = match (
        share(ReapPolicy::None),
        share(ReapPolicy::Handler),
        share(ReapPolicy::Ignore),
    ) {
        (Some(none), Some(handler), Some(ignore)) => {
            let reaped = handler.max(ignore);
            let verdict = if none <= ZOMBIES_NO || reaped >= 0.5 * none {
                Verdict::NotSupported
            } else if none >= ZOMBIES_YES && reaped <= ZOMBIES_NO {
                Verdict::Supported
            } else {
                Verdict::Depends
            };
            (
                verdict,
                format!(
                    "without reaping {:.0}% of the connections served left a zombie ({:.0} at the end); with a waitpid loop {:.1}% \
                     and with SIG_IGN {:.1}% (rule: supported when at least {:.0}% without reaping and at most {:.0}% with either; \
                     not supported when at most {:.0}% without, or reaping leaves at least half as many){}",
                    none * 100.0,
                    end(ReapPolicy::None).unwrap_or(0.0),
                    handler * 100.0,
                    ignore * 100.0,
                    ZOMBIES_YES * 100.0,
                    ZOMBIES_NO * 100.0,
                    ZOMBIES_NO * 100.0,
                    share(ReapPolicy::Once).map_or(String::new(), |o| format!(
                        "; one wait per signal left {:.0}% (signals do not queue: one SIGCHLD can stand for several children)",
                        o * 100.0
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic::verdict;

    /// Synthetic data: zombies left per connection without reaping and with it.
    fn with(none: f64, reaped: f64) -> Verdict {
        verdict(&experiment(), |p, _, r| {
            r.requests = CONNECTIONS;
            let share = if p.series == series_name(ReapPolicy::None) {
                none
            } else {
                reaped
            };
            if let Some(s) = r.server.as_mut() {
                s.zombies_end = (share * CONNECTIONS as f64) as u64;
            }
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(1.0, 0.0), Verdict::Supported);
        // A kernel or init that reaps for the server: no zombies at all.
        assert_eq!(with(0.0, 0.0), Verdict::NotSupported);
        assert_eq!(with(0.9, 0.8), Verdict::NotSupported);
        // Some zombies, but far fewer than one per connection.
        assert_eq!(with(0.1, 0.0), Verdict::Depends);
    }
}
