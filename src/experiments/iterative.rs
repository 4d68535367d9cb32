//! Claim 5: an iterative server serves one client at a time.

use std::time::Duration;

use loadgen::{Mode, Workload};
use servers::{Model, ServiceKind};

use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "iterative";
/// The service time: a blocking wait, as a request that reads a disk or asks another server would make.
const SERVICE_US: u32 = 2_000;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "An iterative server handles one request at a time: with more clients, each waits for the others, so latency grows with the number of clients and throughput stays capped at 1 / service time.",
        method: "Each request makes the server wait 2 ms (a blocking call, like the lab's dostuff()). Clients connect, ask once and close (CRR; UDP: one datagram). \
                 Latency and throughput against the number of clients for the iterative servers and the concurrent ones. The cap is 1 / 2 ms = 500 requests/s.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let work = Workload::Synthetic {
        payload_len: 64,
        response_len: 64,
        cpu_us: 0,
        wait_us: SERVICE_US,
    };
    // The iterative servers against the lab's concurrent one (fork); `full`
    // adds a thread pool.
    let models = [
        Model::UdpIterative,
        Model::TcpIterative,
        Model::Fork,
        Model::ThreadPool,
    ];
    let models = profile.sweep(&models[..3], &models[..3], &models);
    let mut points = Vec::new();
    for clients in profile.sweep(&[1, 8], &[1, 16], &[1, 2, 4, 8, 16, 32]) {
        for &model in &models {
            let mode = if model == Model::UdpIterative {
                Mode::Udp
            } else {
                Mode::Crr
            };
            let load = LoadSpec::new(mode)
                .connections(clients)
                .workload(work)
                .timeout(Duration::from_secs(5));
            let server = ServerSpec::new(model).service(ServiceKind::Synthetic);
            points.push(Point::new(model.name(), clients as f64, server, load));
        }
    }
    points
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let xs = stats::all_x(&points);
    let names: Vec<&String> = points.keys().collect();
    let mut header = vec!["clients".to_string()];
    for n in &names {
        header.push(format!("{n} req/s"));
        header.push(format!("{n} p50 ms"));
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(&header_refs);
    let p50_ms = |r: &loadgen::LoadReport| stats::p50_us(r).map(|v| v / 1000.0);
    for x in &xs {
        let mut row = vec![format!("{x}")];
        for n in &names {
            row.push(cell(stats::at(&points, n, *x, stats::throughput), 0));
            row.push(cell(stats::at(&points, n, *x, p50_ms), 1));
        }
        table.row(row);
    }

    let cap = 1e6 / SERVICE_US as f64;
    let iterative = "tcp-iterative";
    let (verdict, because) = match (
        stats::at_max_x(&points, iterative, stats::throughput),
        xs.first()
            .and_then(|x| stats::at(&points, iterative, *x, stats::p50_us)),
        stats::at_max_x(&points, iterative, stats::p50_us),
    ) {
        (Some((n, rate)), Some(lat1), Some((_, latn))) if lat1.median > 0.0 => {
            let capped = rate.median <= cap * 1.15;
            let grows = latn.median / lat1.median >= 0.5 * n / xs[0].max(1.0);
            let verdict = match (capped, grows) {
                (true, true) => Verdict::Supported,
                (false, false) => Verdict::NotSupported,
                _ => Verdict::Depends,
            };
            (
                verdict,
                format!(
                    "with {n} clients tcp-iterative serves {:.0}{} requests/s against a cap of {cap:.0}/s (capped: at most 1.15× the cap), and its \
                     median latency is {} that of one client (\"grows with clients\" needs at least half of {n}×)",
                    rate.median,
                    rate.interval(0, 1.0),
                    stats::ratio_at(&points, (iterative, n), (iterative, xs[0]), stats::p50_us)
                        .map_or_else(|| format!("{:.1}×", latn.median / lat1.median), |r| r.show(1))
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "tcp-iterative has no usable measurement".to_string(),
        ),
    };
    let most = xs.last().copied();
    let throughput_title = most
        .and_then(|n| stats::at(&points, iterative, n, stats::throughput).map(|r| (n, r)))
        .map(|(n, r)| {
            format!(
                "with {n} clients tcp-iterative serves {} requests/s: 1 / service time is {cap:.0}",
                super::headline::count(r.median)
            )
        });
    let latency_title = xs.first().zip(most).and_then(|(&one, n)| {
        let r = stats::ratio_at(&points, (iterative, n), (iterative, one), stats::p50_us)?;
        Some(format!(
            "tcp-iterative's median latency grows {} from {one} to {n} clients",
            super::headline::times(r.value)
        ))
    });
    let charts = vec![
        NamedChart::line(
            "throughput",
            "Claim 5 — throughput vs clients (2 ms blocking service)",
            ("clients", Scale::Log10),
            ("requests per second", Scale::Log10),
            stats::series(&points, stats::throughput),
            ctx,
        )
        .titled_by(throughput_title),
        NamedChart::line(
            "latency",
            "Claim 5 — median latency vs clients (2 ms blocking service)",
            ("clients", Scale::Log10),
            ("median latency (ms)", Scale::Log10),
            stats::series(&points, p50_ms),
            ctx,
        )
        .titled_by(latency_title),
    ];
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
    use crate::experiments::synthetic::latency_us;

    /// Synthetic data: tcp-iterative's rate at the most clients, and how its
    /// median latency grows from one client to the most (16 in standard).
    fn with(rate_at_most: f64, growth: f64) -> Verdict {
        crate::experiments::synthetic::verdict(&experiment(), |p, _, r| {
            let iterative = p.series == "tcp-iterative";
            let most = p.x >= 16.0;
            r.throughput_rps = if iterative && most {
                rate_at_most
            } else {
                450.0 * p.x
            };
            let ms = if iterative && most { 2.2 * growth } else { 2.2 };
            latency_us(r, ms * 1000.0, ms * 1200.0);
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(460.0, 16.0), Verdict::Supported);
        assert_eq!(with(6900.0, 1.0), Verdict::NotSupported);
        // Capped, but latency did not grow with the clients (they gave up instead).
        assert_eq!(with(460.0, 2.0), Verdict::Depends);
    }
}
