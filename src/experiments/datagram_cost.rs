//! Claim 3: datagrams cost much less than connections.

use loadgen::Mode;
use servers::Model;

use super::stats::{self, bar_group, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "datagram-cost";
const UDP: &str = "udp-iterative (datagram)";

fn tcp_series(model: Model, mode: &str) -> String {
    format!("{} ({mode})", model.name())
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "A datagram service costs much less than a connection-oriented one, because nothing is set up, acknowledged or torn down.",
        method: "64-byte echo from 4 clients at once: `udp-iterative` (one datagram each way) against the iterative and the \
                 event-loop TCP servers, both with a connection per request (CRR, the lab's one-message service) and with a persistent connection (RR). \
                 Server CPU per request and requests per second.",
        points,
        analyze,
    }
}

fn points(_: Profile) -> Vec<Point> {
    let mut points = vec![Point::new(
        UDP,
        4.0,
        ServerSpec::new(Model::UdpIterative),
        LoadSpec::new(Mode::Udp).connections(4),
    )];
    for model in [Model::TcpIterative, Model::Mio] {
        points.push(Point::new(
            tcp_series(model, "crr"),
            4.0,
            ServerSpec::new(model),
            LoadSpec::new(Mode::Crr).connections(4),
        ));
    }
    // A persistent connection per client: tcp-iterative would serve only the first, so one client there.
    points.push(Point::new(
        tcp_series(Model::Mio, "rr"),
        4.0,
        ServerSpec::new(Model::Mio),
        LoadSpec::new(Mode::Rr).connections(4),
    ));
    points
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = points.keys().cloned().collect();
    let mut table = Table::new(&[
        "server (exchange)",
        "server CPU µs/request",
        "requests/s",
        "p50 latency µs",
    ]);
    for n in &names {
        table.row(vec![
            n.clone(),
            cell(
                stats::at(&points, n, 4.0, super::measures::server_cpu_us_per_req),
                2,
            ),
            cell(stats::at(&points, n, 4.0, stats::throughput), 0),
            cell(stats::at(&points, n, 4.0, stats::p50_us), 1),
        ]);
    }
    let demand = super::measures::server_cpu_us_per_req;
    let udp = stats::at(&points, UDP, 4.0, demand);
    // The cheapest TCP server of a mode, and its cost over a datagram's with an interval.
    let cheapest = |mode: &str| {
        names
            .iter()
            .filter(|n| n.ends_with(&format!("({mode})")))
            .filter_map(|n| stats::at(&points, n, 4.0, demand).map(|s| (n, s)))
            .min_by(|a, b| a.1.median.total_cmp(&b.1.median))
            .and_then(|(n, _)| stats::ratio_at(&points, (n, 4.0), (UDP, 4.0), demand))
    };
    let (crr, rr) = (cheapest("crr"), cheapest("rr"));
    let (verdict, because) = match (udp, crr) {
        (Some(u), Some(c)) if u.median > 0.0 => {
            let vs_crr = c.value;
            let vs_rr = rr.map(|r| r.value);
            let verdict = match (vs_crr >= 2.0, vs_rr.is_some_and(|r| r >= 1.0)) {
                (true, true) => Verdict::Supported,
                (true, false) => Verdict::Depends,
                (false, _) => Verdict::NotSupported,
            };
            (
                verdict,
                format!(
                    "a datagram exchange costs the server {:.2} µs; the cheapest connection-per-request TCP server costs {} that \
                     (supported from 2×){}",
                    u.median,
                    c.show(1),
                    rr.map_or(String::new(), |r| format!(
                        ", and a persistent TCP connection {} that ({})",
                        r.show(2),
                        if r.value >= 1.0 { "datagrams stay cheaper" } else { "an open connection is as cheap or cheaper: the saving is in setup, so \"depends\"" }
                    ))
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "UDP or TCP CRR has no usable measurement".to_string(),
        ),
    };
    let title = crr.map(|c| {
        format!(
            "a TCP connection per request costs the server {} a datagram's CPU",
            super::headline::times(c.value)
        )
    });
    let charts = vec![NamedChart::bars(
        "demand",
        "Claim 3 — server CPU per request: datagram vs connection",
        ("server CPU per request (µs)", Scale::Linear),
        &names,
        vec![bar_group(
            "service demand",
            &points,
            &names,
            4.0,
            super::measures::server_cpu_us_per_req,
        )],
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
    use crate::experiments::synthetic::server_cpu_us;

    /// Synthetic data: server CPU of CRR and RR TCP exchanges over a datagram's.
    fn with(crr: f64, rr: f64) -> Verdict {
        crate::experiments::synthetic::verdict(&experiment(), |p, _, r| {
            let cost = if p.series == UDP {
                5.0
            } else if p.series.ends_with("(crr)") {
                5.0 * crr
            } else {
                5.0 * rr
            };
            server_cpu_us(r, cost);
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(6.9, 1.48), Verdict::Supported);
        assert_eq!(with(1.5, 1.2), Verdict::NotSupported);
        assert_eq!(with(6.9, 0.9), Verdict::Depends);
    }
}
