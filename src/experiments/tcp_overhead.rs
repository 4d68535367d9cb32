//! Claim 2: TCP has a high overhead to set up a connection and to transmit.

use loadgen::Mode;
use servers::Model;

use super::stats::{self, bar_group, cell, ratio, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "tcp-overhead";
const RR: &str = "tcp rr (persistent)";
const CRR: &str = "tcp crr (connection per request)";
const UDP: &str = "udp rr";

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "TCP has a high overhead: setting up and tearing down a connection costs much more than an exchange on an open one, and every exchange costs more than a datagram.",
        method: "One client, 64-byte echo. The same event-loop server (`mio`) measured with a persistent connection (RR) and with a \
                 new connection per request (CRR); `udp-iterative` measured with datagrams (UDP RR). Latency per exchange and server CPU per exchange.",
        points,
        analyze,
    }
}

fn points(_: Profile) -> Vec<Point> {
    vec![
        Point::new(
            RR,
            1.0,
            ServerSpec::new(Model::Mio),
            LoadSpec::new(Mode::Rr),
        ),
        Point::new(
            CRR,
            1.0,
            ServerSpec::new(Model::Mio),
            LoadSpec::new(Mode::Crr),
        ),
        Point::new(
            UDP,
            1.0,
            ServerSpec::new(Model::UdpIterative),
            LoadSpec::new(Mode::Udp),
        ),
    ]
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = [RR, CRR, UDP]
        .iter()
        .map(|s| s.to_string())
        .filter(|n| points.contains_key(n))
        .collect();
    let mut table = Table::new(&[
        "exchange",
        "p50 latency µs",
        "p99 latency µs",
        "exchanges/s",
        "server CPU µs/exchange",
    ]);
    for n in &names {
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, n, 1.0, stats::p50_us), 1),
            cell(stats::at(&points, n, 1.0, stats::p99_us), 1),
            cell(stats::at(&points, n, 1.0, stats::throughput), 0),
            cell(
                stats::at(&points, n, 1.0, super::measures::server_cpu_us_per_req),
                2,
            ),
        ]);
    }
    let setup = ratio(
        stats::at(&points, CRR, 1.0, stats::p50_us),
        stats::at(&points, RR, 1.0, stats::p50_us),
    );
    let transmit = ratio(
        stats::at(&points, RR, 1.0, super::measures::server_cpu_us_per_req),
        stats::at(&points, UDP, 1.0, super::measures::server_cpu_us_per_req),
    );
    let (verdict, because) = match (setup, transmit) {
        (Some(s), Some(t)) => {
            let setup_ok = s >= 2.0;
            let transmit_ok = t >= 1.2;
            let verdict = match (setup_ok, transmit_ok) {
                (true, true) => Verdict::Supported,
                (false, false) => Verdict::NotSupported,
                _ => Verdict::Depends,
            };
            (
                verdict,
                format!(
                    "a connection per request takes {s:.1}× the latency of an exchange on an open connection (setup overhead {}: threshold 2×); \
                     an exchange on an open TCP connection costs the server {t:.2}× the CPU of a datagram exchange (transmit overhead {}: threshold 1.2×)",
                    if setup_ok { "confirmed" } else { "not confirmed" },
                    if transmit_ok { "confirmed" } else { "not confirmed" }
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "RR, CRR or UDP has no usable measurement".to_string(),
        ),
    };
    let charts = vec![
        NamedChart::bars(
            "latency",
            "Claim 2 — latency per exchange: TCP setup vs transmit vs UDP",
            ("latency (µs)", Scale::Linear),
            &names,
            vec![
                bar_group("p50", &points, &names, 1.0, stats::p50_us),
                bar_group("p99", &points, &names, 1.0, stats::p99_us),
            ],
            ctx,
        ),
        NamedChart::bars(
            "demand",
            "Claim 2 — server CPU per exchange",
            ("server CPU per exchange (µs)", Scale::Linear),
            &names,
            vec![bar_group(
                "service demand",
                &points,
                &names,
                1.0,
                super::measures::server_cpu_us_per_req,
            )],
            ctx,
        ),
    ];
    Finding {
        verdict,
        because,
        table: table.markdown(),
        charts,
        notes: super::experiment_caveats(results, ID),
    }
}
