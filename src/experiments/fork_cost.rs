//! Claim 1: forking a process per connection is expensive.

use loadgen::Mode;
use servers::Model;

use super::headline::{count, times};
use super::stats::{self, bar_group, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "fork-cost";
const MODELS: [Model; 11] = [
    Model::TcpIterative,
    Model::Fork,
    Model::Prefork,
    Model::ThreadPerConn,
    Model::ThreadPool,
    Model::Mio,
    Model::Reuseport,
    Model::ReactorPool,
    Model::IoUring,
    Model::Tokio,
    Model::TokioMulti,
];
/// The models `quick` and `standard` measure: the verdict's (fork against
/// thread-pool and mio), prefork and a thread per connection (the halfway
/// designs) and tcp-iterative (no concurrency at all); `full` adds the rest
/// of the event loops, which cost about what mio costs per connection.
const STANDARD_MODELS: [Model; 6] = [
    Model::TcpIterative,
    Model::Fork,
    Model::Prefork,
    Model::ThreadPerConn,
    Model::ThreadPool,
    Model::Mio,
];
const BALLAST: &str = "fork, parent ballast";
/// From this ballast fork serves under 100 connections/s (about 60 with
/// 512 MB): its points record three windows, over a hundred connections.
const SLOW_BALLAST_MB: u32 = 256;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Creating a process per connection is expensive: a concurrent server that forks pays for it on every connection.",
        method: "Connect-request-response-close (CRR, 64-byte echo, 4 clients) against the connection-oriented models (`full`: every one), \
                 including `prefork` (8 processes forked once, at start) and `thread-per-conn` (a thread instead of a process): \
                 connections per second and the server's CPU per connection (its whole process tree, from /proc). \
                 Then the fork model again while its parent holds growing memory (`--ballast-mb`), since fork copies page tables. \
                 `cargo bench -- primitives` times the bare fork+wait, thread spawn and hand-off.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let crr = LoadSpec::new(Mode::Crr).connections(4);
    let mut points: Vec<Point> = profile
        .sweep(&STANDARD_MODELS, &STANDARD_MODELS, &MODELS)
        .into_iter()
        .map(|m| Point::new(m.name(), 0.0, ServerSpec::new(m), crr.clone()))
        .collect();
    for mb in profile.sweep(&[0, 64], &[0, 512], &[0, 64, 256, 512, 1024]) {
        // No flag at 0 MB: the same configuration as the plain fork point,
        // so the runner measures it once.
        let server = match mb {
            0 => ServerSpec::new(Model::Fork),
            _ => ServerSpec::new(Model::Fork).arg("--ballast-mb", mb),
        };
        let load = match mb {
            mb if mb >= SLOW_BALLAST_MB => crr.clone().window(profile.duration() * 3),
            _ => crr.clone(),
        };
        points.push(Point::new(BALLAST, mb as f64, server, load));
    }
    points
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = MODELS
        .iter()
        .map(|m| m.name().to_string())
        .filter(|n| points.contains_key(n))
        .collect();
    let mut table = Table::new(&[
        "model",
        "connections/s",
        "server CPU µs/conn",
        "pinned-CPU busy µs/conn",
        "p50 latency µs",
    ]);
    for n in &names {
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, n, 0.0, stats::throughput), 0),
            cell(
                stats::at(&points, n, 0.0, super::measures::server_cpu_us_per_req),
                1,
            ),
            cell(
                stats::at(&points, n, 0.0, super::measures::pinned_cpu_us_per_req),
                1,
            ),
            cell(stats::at(&points, n, 0.0, stats::p50_us), 1),
        ]);
    }
    let mut ballast = Table::new(&["parent ballast MB", "connections/s", "server CPU µs/conn"]);
    if let Some(xs) = points.get(BALLAST) {
        for (x, repeats) in xs {
            ballast.row(vec![
                format!("{}", x.0),
                cell(stats::over(repeats, stats::throughput), 0),
                cell(
                    stats::over(repeats, super::measures::server_cpu_us_per_req),
                    1,
                ),
            ]);
        }
    }

    let demand = super::measures::server_cpu_us_per_req;
    let fork = stats::at(&points, "fork", 0.0, demand);
    let cheapest = ["thread-pool", "mio"]
        .iter()
        .filter_map(|n| stats::at(&points, n, 0.0, demand).map(|s| (*n, s)))
        .min_by(|a, b| a.1.median.total_cmp(&b.1.median));
    let interval =
        cheapest.and_then(|(n, _)| stats::ratio_at(&points, ("fork", 0.0), (n, 0.0), demand));
    let (verdict, because) = match (fork, cheapest, interval) {
        (Some(f), Some((name, c)), Some(r)) => (
            stats::verdict_from_ratio(r.value, 1.5, 1.1),
            format!(
                "fork spends {:.1} µs of server CPU per connection, {} the cheapest non-forking model ({name}, {:.1} µs); \
                 the verdict is \"supported\" from 1.5×, \"not supported\" up to 1.1×",
                f.median,
                r.show(2),
                c.median
            ),
        ),
        _ => (Verdict::NoData, "fork or the thread/event models have no usable CRR measurement".to_string()),
    };
    let mut because = because;
    if let (Some(f), Some(p)) = (
        fork,
        stats::at(
            &points,
            "prefork",
            0.0,
            super::measures::server_cpu_us_per_req,
        ),
    ) {
        because.push_str(&format!(
            ". Forking once at start instead (prefork) costs {:.1} µs per connection, {:.1}× less",
            p.median,
            f.median / p.median.max(1e-9)
        ));
    }
    if let (Some((lo_x, lo)), Some((hi_x, hi))) = (
        points
            .get(BALLAST)
            .and_then(|xs| xs.iter().next())
            .and_then(|(x, r)| stats::over(r, stats::throughput).map(|s| (x.0, s))),
        stats::at_max_x(&points, BALLAST, stats::throughput),
    ) {
        if hi_x > lo_x && lo.median > 0.0 {
            because.push_str(&format!(
                ". With {hi_x} MB in the parent, fork serves {:.0}% of the connections per second it serves with {lo_x} MB",
                100.0 * hi.median / lo.median
            ));
        }
    }

    // The titles state what each chart shows, from the same figures.
    let fastest = names
        .iter()
        .filter(|n| n.as_str() != "fork")
        .filter_map(|n| stats::at(&points, n, 0.0, stats::throughput).map(|s| (n, s.median)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let rate_title = stats::at(&points, "fork", 0.0, stats::throughput)
        .zip(fastest)
        .map(|(f, (n, best))| {
            format!(
                "fork accepts {} connections/s, the fastest ({n}) {}",
                count(f.median),
                count(best)
            )
        });
    let demand_title = cheapest.zip(interval).map(|((name, _), r)| {
        format!(
            "fork costs {} {name}'s server CPU per connection",
            times(r.value)
        )
    });
    let ballast_title = points
        .get(BALLAST)
        .and_then(|xs| xs.iter().next())
        .and_then(|(x, r)| stats::over(r, stats::throughput).map(|s| (x.0, s.median)))
        .zip(stats::at_max_x(&points, BALLAST, stats::throughput))
        .filter(|((lo_x, lo), (hi_x, _))| hi_x > lo_x && *lo > 0.0)
        .map(|((lo_x, lo), (hi_x, hi))| {
            format!(
                "a {hi_x} MB parent forks at {:.0}% of the rate of a {lo_x} MB one",
                100.0 * hi.median / lo
            )
        });
    let charts = vec![
        NamedChart::bars(
            "rate",
            "Claim 1 — connections per second (CRR, 4 clients)",
            ("connections per second", Scale::Linear),
            &names,
            vec![bar_group(
                "CRR rate",
                &points,
                &names,
                0.0,
                stats::throughput,
            )],
            ctx,
        )
        .titled_by(rate_title),
        NamedChart::bars(
            "demand",
            "Claim 1 — server CPU per connection (service demand)",
            ("server CPU per connection (µs)", Scale::Linear),
            &names,
            vec![
                bar_group(
                    "server process tree (cgroup, or process clocks)",
                    &points,
                    &names,
                    0.0,
                    super::measures::server_cpu_us_per_req,
                ),
                bar_group(
                    "pinned CPU busy (/proc/stat)",
                    &points,
                    &names,
                    0.0,
                    super::measures::pinned_cpu_us_per_req,
                ),
            ],
            ctx,
        )
        .titled_by(demand_title),
        NamedChart::line(
            "ballast",
            "Claim 1 — fork's connection rate as the parent grows",
            ("parent ballast (MB)", Scale::Linear),
            ("connections per second", Scale::Linear),
            stats::series(&stats::only(&points, &[BALLAST]), stats::throughput),
            ctx,
        )
        .titled_by(ballast_title),
    ];
    Finding {
        verdict,
        because,
        table: format!("{}\n{}", table.markdown(), ballast.markdown()),
        charts,
        notes: super::experiment_caveats(results, ID),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic::server_cpu_us;

    /// Synthetic data: fork's server CPU per connection over mio's (thread-pool dearer still).
    fn with(fork_over_mio: f64) -> Verdict {
        crate::experiments::synthetic::verdict(&experiment(), |p, _, r| {
            r.throughput_rps = 1000.0;
            let cost = match p.series.as_str() {
                "fork" => 40.0 * fork_over_mio,
                "mio" => 40.0,
                _ => 50.0,
            };
            server_cpu_us(r, cost);
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(8.2), Verdict::Supported);
        assert_eq!(with(1.0), Verdict::NotSupported);
        assert_eq!(with(1.3), Verdict::Depends);
    }
}
