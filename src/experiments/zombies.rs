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
/// Clients at once, so children exit together.
const CLIENTS: usize = 32;
/// Connections per run: bounded, because unreaped children hold process-table slots.
const CONNECTIONS: u64 = 3_000;

/// Zombies per connection from which "each finished connection leaves a zombie" holds…
const ZOMBIES_YES: f64 = 0.5;
/// …and up to which no zombies count as left.
const ZOMBIES_NO: f64 = 0.01;

/// Zombies left at the end per connection recorded in the window.
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
                .connections(CLIENTS)
                .requests(CONNECTIONS);
            Point::new(series_name(p), 0.0, server, load)
                .decisive("zombies per connection", zombie_share)
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
    let title = end(ReapPolicy::None)
        .zip(end(ReapPolicy::Handler))
        .map(|(none, handler)| {
            format!(
                "without reaping {none:.0} zombies are left at the end, with a waitpid loop {handler:.0}"
            )
        });
    let (verdict, because) = match (
        share(ReapPolicy::None),
        share(ReapPolicy::Handler),
        share(ReapPolicy::Ignore),
    ) {
        (Some(none), Some(handler), Some(ignore)) => {
            let reaped = handler.max(ignore);
            // A reaping server may still show the children that exited in the
            // last instant, before their SIGCHLD was handled: at most one per
            // client in flight. More than that, and reaping did not keep up.
            let reaped_left = end(ReapPolicy::Handler)
                .unwrap_or(0.0)
                .max(end(ReapPolicy::Ignore).unwrap_or(0.0));
            let verdict = if none <= ZOMBIES_NO || reaped >= 0.5 * none {
                Verdict::NotSupported
            } else if none >= ZOMBIES_YES && reaped_left <= CLIENTS as f64 {
                Verdict::Supported
            } else {
                Verdict::Depends
            };
            let spread = |p: ReapPolicy, digits| {
                stats::at(&points, &series_name(p), 0.0, zombie_share)
                    .map_or(String::new(), |s| s.interval(digits, 1.0))
            };
            (
                verdict,
                format!(
                    "without reaping {none:.2}{} zombies were left per connection recorded ({:.0} at the end; the warm-up's connections \
                     leave theirs too, so this can pass 1); with a waitpid loop {handler:.3}{} and with SIG_IGN {ignore:.3}{} (rule: supported \
                     from {ZOMBIES_YES} without reaping, and with either policy at most {CLIENTS} left, one per client in flight; not supported at most {ZOMBIES_NO} without, \
                     or when reaping leaves at least half as many){}",
                    spread(ReapPolicy::None, 2),
                    end(ReapPolicy::None).unwrap_or(0.0),
                    spread(ReapPolicy::Handler, 3),
                    spread(ReapPolicy::Ignore, 3),
                    share(ReapPolicy::Once).map_or(String::new(), |o| format!(
                        "; one wait per signal left {o:.2} (signals do not queue: one SIGCHLD can stand for several children)"
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
    )
    .titled_by(title)];
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
        // A handler shows the children that exited in the last instant (15 of 32 clients).
        assert_eq!(with(1.0, 0.005), Verdict::Supported);
        // Reaping that falls behind: 90 zombies left, more than the clients in flight.
        assert_eq!(with(1.0, 0.03), Verdict::Depends);
        // A kernel or init that reaps for the server: no zombies at all.
        assert_eq!(with(0.0, 0.0), Verdict::NotSupported);
        assert_eq!(with(0.9, 0.8), Verdict::NotSupported);
        // Some zombies, but far fewer than one per connection.
        assert_eq!(with(0.1, 0.0), Verdict::Depends);
    }
}
