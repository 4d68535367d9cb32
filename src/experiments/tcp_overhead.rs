//! Claim 2: TCP has a high overhead to set up a connection and to transmit.
//!
//! Like is compared with like: the setup half puts one server's persistent
//! connection beside its connection per request, for an event loop (`mio`)
//! and for a blocking server (`tcp-iterative`); the transmit half puts a
//! blocking TCP loop (read, write) beside a blocking datagram loop (recvfrom,
//! sendto), the same two system calls per exchange. (No event-loop datagram
//! server exists here, so the transmit half has no event-loop pair.)

use loadgen::Mode;
use servers::Model;

use super::measures;
use super::stats::{self, bar_group, cell, verdict_from_ratio, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, Ratio, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "tcp-overhead";
const MIO_RR: &str = "mio rr (persistent)";
const MIO_CRR: &str = "mio crr (connection per request)";
const ITER_RR: &str = "tcp-iterative rr (persistent)";
const ITER_CRR: &str = "tcp-iterative crr (connection per request)";
const UDP: &str = "udp-iterative (datagram)";

/// Setup: CRR/RR latency, supported from this ratio…
const SETUP_YES: f64 = 2.0;
/// …not supported up to this one.
const SETUP_NO: f64 = 1.2;
/// Transmit: TCP/UDP server CPU per exchange, supported from this ratio…
const TRANSMIT_YES: f64 = 1.2;
/// …not supported up to this one.
const TRANSMIT_NO: f64 = 1.05;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "TCP has a high overhead: setting up and tearing down a connection costs much more than an exchange on an open one, and every exchange costs more than a datagram.",
        method: "One client, 64-byte echo, like against like. Setup: the same server with a persistent connection (RR) and with a new \
                 connection per request (CRR), for the event loop `mio` and for the blocking `tcp-iterative`; median latency per exchange. \
                 Transmit: the blocking `tcp-iterative` on a persistent connection against the blocking `udp-iterative` (two system calls \
                 per exchange each); server CPU per exchange, with both cores' CPU beside it (on loopback the receive path runs on the \
                 sender's CPU).",
        points,
        analyze,
    }
}

fn points(_: Profile) -> Vec<Point> {
    let stream = |name: &str, model: Model, mode: Mode| {
        Point::new(name, 1.0, ServerSpec::new(model), LoadSpec::new(mode))
    };
    vec![
        stream(MIO_RR, Model::Mio, Mode::Rr),
        stream(MIO_CRR, Model::Mio, Mode::Crr),
        stream(ITER_RR, Model::TcpIterative, Mode::Rr),
        stream(ITER_CRR, Model::TcpIterative, Mode::Crr),
        Point::new(
            UDP,
            1.0,
            ServerSpec::new(Model::UdpIterative),
            LoadSpec::new(Mode::Udp),
        ),
    ]
}

/// One half's verdict and its sentence.
fn half(
    what: &str,
    ratio: Option<Ratio>,
    (yes, no): (f64, f64),
    (subject, object): (&str, &str),
) -> (Verdict, String) {
    match ratio {
        None => (Verdict::NoData, format!("{what}: no usable measurement")),
        Some(r) => {
            let v = verdict_from_ratio(r.value, yes, no);
            (
                v,
                format!(
                    "{what}: {subject} {} {object} ({}: supported from {yes}×, not supported up to {no}×)",
                    r.show(2),
                    v.label()
                ),
            )
        }
    }
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = [MIO_RR, MIO_CRR, ITER_RR, ITER_CRR, UDP]
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
        "both cores' CPU µs/exchange",
    ]);
    for n in &names {
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, n, 1.0, stats::p50_us), 1),
            cell(stats::at(&points, n, 1.0, stats::p99_us), 1),
            cell(stats::at(&points, n, 1.0, stats::throughput), 0),
            cell(
                stats::at(&points, n, 1.0, measures::server_cpu_us_per_req),
                2,
            ),
            cell(
                stats::at(&points, n, 1.0, measures::machine_cpu_us_per_req),
                2,
            ),
        ]);
    }
    let setup =
        |crr: &str, rr: &str| stats::ratio_at(&points, (crr, 1.0), (rr, 1.0), stats::p50_us);
    let (mio_v, mio_s) = half(
        "setup, event loop",
        setup(MIO_CRR, MIO_RR),
        (SETUP_YES, SETUP_NO),
        (
            "a connection per request takes",
            "the latency of an exchange on an open one",
        ),
    );
    let (iter_v, iter_s) = half(
        "setup, blocking",
        setup(ITER_CRR, ITER_RR),
        (SETUP_YES, SETUP_NO),
        (
            "a connection per request takes",
            "the latency of an exchange on an open one",
        ),
    );
    let (tx_v, tx_s) = half(
        "transmit, blocking TCP vs blocking UDP",
        stats::ratio_at(
            &points,
            (ITER_RR, 1.0),
            (UDP, 1.0),
            measures::server_cpu_us_per_req,
        ),
        (TRANSMIT_YES, TRANSMIT_NO),
        (
            "an exchange on an open TCP connection costs the server",
            "the CPU of a datagram exchange",
        ),
    );
    let setup_v = Verdict::all(&[mio_v, iter_v]);
    let verdict = setup_v.both(tx_v);
    let because = format!(
        "{mio_s}; {iter_s}; {tx_s}{}",
        match verdict {
            Verdict::Depends if setup_v == Verdict::Supported =>
                ". Setup is expensive; transmitting on an open connection is not clearly dearer than a datagram",
            Verdict::Depends if tx_v == Verdict::Supported =>
                ". Transmitting costs more than a datagram, but setup is not clearly expensive for both servers",
            _ => "",
        }
    );
    let latency_title = setup(MIO_CRR, MIO_RR)
        .zip(setup(ITER_CRR, ITER_RR))
        .map(|(mio, iter)| {
            format!(
                "connecting per request takes {} (mio), {} (tcp-iterative) an open connection's latency",
                super::headline::times(mio.value),
                super::headline::times(iter.value)
            )
        });
    let demand_title = stats::ratio_at(
        &points,
        (ITER_RR, 1.0),
        (UDP, 1.0),
        measures::server_cpu_us_per_req,
    )
    .map(|r| {
        format!(
            "an exchange on an open TCP connection costs the server {} a datagram's CPU",
            super::headline::times(r.value)
        )
    });
    let charts = vec![
        NamedChart::bars(
            "latency",
            "Claim 2 — latency per exchange: persistent vs connection per request vs datagram",
            ("latency (µs)", Scale::Linear),
            &names,
            vec![
                bar_group("p50", &points, &names, 1.0, stats::p50_us),
                bar_group("p99", &points, &names, 1.0, stats::p99_us),
            ],
            ctx,
        )
        .titled_by(latency_title),
        NamedChart::bars(
            "demand",
            "Claim 2 — CPU per exchange: the server's, and both cores'",
            ("CPU per exchange (µs)", Scale::Linear),
            &names,
            vec![
                bar_group(
                    "server",
                    &points,
                    &names,
                    1.0,
                    measures::server_cpu_us_per_req,
                ),
                bar_group(
                    "both cores",
                    &points,
                    &names,
                    1.0,
                    measures::machine_cpu_us_per_req,
                ),
            ],
            ctx,
        )
        .titled_by(demand_title),
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
    use crate::experiments::synthetic::{latency_us, server_cpu_us, verdict};

    /// Synthetic data: CRR/RR latency `setup`×, TCP/UDP server CPU `transmit`×.
    fn with(setup: f64, transmit: f64) -> Verdict {
        verdict(&experiment(), |p, _, r| {
            let crr = p.series.contains("crr");
            latency_us(r, if crr { 20.0 * setup } else { 20.0 }, 40.0);
            let cpu = match p.series.as_str() {
                UDP => 10.0,
                ITER_RR => 10.0 * transmit,
                _ => 30.0,
            };
            server_cpu_us(r, cpu);
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(2.9, 1.34), Verdict::Supported);
        assert_eq!(with(1.1, 1.0), Verdict::NotSupported);
        // The measurement: setup 2.9×, blocking TCP vs UDP 1.18×.
        assert_eq!(with(2.9, 1.18), Verdict::Depends);
        assert_eq!(with(1.1, 1.5), Verdict::Depends);
    }
}
