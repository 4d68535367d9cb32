//! Claim 8: Unix-domain sockets are cheaper than Internet-domain ones on one host.

use loadgen::Mode;
use servers::{Model, Transport};

use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "unix-vs-inet";
const TCP: &str = "mio over tcp (Internet domain)";
const UNIX: &str = "mio over unix (Unix domain)";

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Between processes on one host, Unix-domain stream sockets are cheaper than TCP over loopback: no protocol headers, checksums or acknowledgements.",
        method: "The same event-loop server (`mio`), 64-byte echo on persistent connections (RR), over TCP on 127.0.0.1 and over a Unix socket file: \
                 latency and throughput against the number of clients.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    // Standard's 1 and 16 are overview's mio points too: measured once for both.
    for clients in profile.sweep(&[1, 16], &[1, 16], &[1, 2, 4, 8, 16, 64]) {
        let load = LoadSpec::new(Mode::Rr).connections(clients);
        points.push(Point::new(
            TCP,
            clients as f64,
            ServerSpec::new(Model::Mio),
            load.clone(),
        ));
        points.push(Point::new(
            UNIX,
            clients as f64,
            ServerSpec::new(Model::Mio).transport(Transport::Unix),
            load,
        ));
    }
    points
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let xs = stats::all_x(&points);
    let mut table = Table::new(&[
        "clients",
        "tcp p50 µs",
        "unix p50 µs",
        "tcp req/s",
        "unix req/s",
        "tcp CPU µs/req",
        "unix CPU µs/req",
    ]);
    for x in &xs {
        table.row(vec![
            format!("{x}"),
            cell(stats::at(&points, TCP, *x, stats::p50_us), 1),
            cell(stats::at(&points, UNIX, *x, stats::p50_us), 1),
            cell(stats::at(&points, TCP, *x, stats::throughput), 0),
            cell(stats::at(&points, UNIX, *x, stats::throughput), 0),
            cell(
                stats::at(&points, TCP, *x, super::measures::server_cpu_us_per_req),
                2,
            ),
            cell(
                stats::at(&points, UNIX, *x, super::measures::server_cpu_us_per_req),
                2,
            ),
        ]);
    }
    let one = xs.first().copied().unwrap_or(1.0);
    let (verdict, because) = match stats::ratio_at(&points, (UNIX, one), (TCP, one), stats::p50_us)
    {
        Some(interval) => {
            let r = interval.value;
            let verdict = if r <= 0.9 {
                Verdict::Supported
            } else if r >= 1.0 {
                Verdict::NotSupported
            } else {
                Verdict::Depends
            };
            let tput = stats::at_max_x(&points, UNIX, stats::throughput)
                .zip(stats::at_max_x(&points, TCP, stats::throughput))
                .map(|((x, u), (_, t))| {
                    format!(
                        "; with {x} clients unix serves {:.2}× the requests per second of tcp",
                        u.median / t.median.max(1e-9)
                    )
                })
                .unwrap_or_default();
            (
                verdict,
                format!(
                    "with {one} client a Unix-domain round trip takes {} the time of a TCP one (supported at 0.9× or less, not supported from 1×){tput}",
                    interval.show(2)
                ),
            )
        }
        None => (
            Verdict::NoData,
            "tcp or unix has no usable measurement".to_string(),
        ),
    };
    let latency_title = stats::ratio_at(&points, (UNIX, one), (TCP, one), stats::p50_us).map(|r| {
        format!(
            "with {one} client a Unix-domain round trip takes {} TCP's time",
            super::headline::times(r.value)
        )
    });
    let throughput_title = stats::at_max_x(&points, UNIX, stats::throughput)
        .zip(stats::at_max_x(&points, TCP, stats::throughput))
        .filter(|((_, _), (_, t))| t.median > 0.0)
        .map(|((x, u), (_, t))| {
            format!(
                "with {x} clients Unix-domain sockets serve {} the requests of TCP",
                super::headline::times(u.median / t.median)
            )
        });
    let charts = vec![
        NamedChart::line(
            "latency",
            "Claim 8 — round-trip latency, Unix vs Internet domain",
            ("clients", Scale::Log10),
            ("median latency (µs)", Scale::Linear),
            stats::series(&points, stats::p50_us),
            ctx,
        )
        .titled_by(latency_title),
        NamedChart::line(
            "throughput",
            "Claim 8 — throughput, Unix vs Internet domain",
            ("clients", Scale::Log10),
            ("requests per second", Scale::Linear),
            stats::series(&points, stats::throughput),
            ctx,
        )
        .titled_by(throughput_title),
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

    fn with(unix_over_tcp: f64) -> Verdict {
        crate::experiments::synthetic::verdict(&experiment(), |p, _, r| {
            let us = if p.series == UNIX {
                20.0 * unix_over_tcp
            } else {
                20.0
            };
            latency_us(r, us, 2.0 * us);
            r.throughput_rps = 1e6 / us;
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(0.68), Verdict::Supported);
        assert_eq!(with(1.05), Verdict::NotSupported);
        assert_eq!(with(0.95), Verdict::Depends);
    }
}
