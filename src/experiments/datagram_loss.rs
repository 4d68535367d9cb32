//! Claim 4: datagrams are unreliable.

use std::time::Duration;

use loadgen::{LoadReport, Mode};
use servers::{Model, ServiceKind};

use super::stats::{self, cell, Table};
use super::{
    cpu_work, Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec,
    Verdict,
};
use crate::charts::Scale;
use crate::results::ResultSet;

const ID: &str = "datagram-loss";
const UDP: &str = "udp-iterative (udp)";
const TCP: &str = "mio (tcp)";
/// CPU per request, so the server saturates at a known rate (~1/20 µs).
const WORK_US: u32 = 20;
/// Percent of datagrams lost at the worst load from which "unreliable" holds…
const LOST_YES: f64 = 1.0;
/// …and up to which nothing counts as lost (TCP: failed requests).
const LOST_NO: f64 = 0.1;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Datagrams are unreliable: when a server cannot keep up, datagrams are lost and nobody is told, while TCP delivers everything, late.",
        method: "Requests that cost the server 20 µs of CPU, from more and more clients each keeping one request outstanding \
                 (a 500 ms timeout counts a datagram lost). `udp-iterative` over UDP and `mio` over TCP with the same number of clients. \
                 Loss, and the kernel's UDP receive-buffer drops, against the number of outstanding requests.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let work = cpu_work(WORK_US);
    let mut points = Vec::new();
    for clients in profile.sweep(
        &[1, 512],
        &[1, 2048],
        &[1, 16, 64, 256, 512, 1024, 2048, 4096],
    ) {
        let load = LoadSpec::new(Mode::Udp)
            .connections(clients)
            .workload(work)
            .timeout(Duration::from_millis(500));
        let server = ServerSpec::new(Model::UdpIterative).service(ServiceKind::Synthetic);
        points.push(Point::new(UDP, clients as f64, server, load).decisive("loss share", loss_pct));
        let load = LoadSpec::new(Mode::Rr)
            .connections(clients)
            .workload(work)
            .timeout(Duration::from_secs(5));
        let server = ServerSpec::new(Model::Mio).service(ServiceKind::Synthetic);
        points.push(Point::new(TCP, clients as f64, server, load).decisive("loss share", loss_pct));
    }
    points
}

/// Lost datagrams as a percentage of those sent (UDP), or failed requests (TCP).
fn loss_pct(r: &LoadReport) -> Option<f64> {
    match r.udp {
        Some(u) if u.sent > 0 => Some(100.0 * u.lost as f64 / u.sent as f64),
        Some(_) => None,
        None => {
            let attempted = r.requests + r.errors.total;
            (attempted > 0).then(|| 100.0 * r.errors.total as f64 / attempted as f64)
        }
    }
}

fn kernel_drops(r: &LoadReport) -> Option<f64> {
    r.udp.map(|u| u.kernel_rcvbuf_errors as f64)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let mut table = Table::new(&[
        "outstanding requests",
        "UDP lost %",
        "UDP kernel buffer drops",
        "UDP requests/s",
        "TCP failed %",
        "TCP p50 µs",
        "TCP p99 µs",
    ]);
    let xs = stats::all_x(&points);
    for x in &xs {
        table.row(vec![
            format!("{x}"),
            cell(stats::at(&points, UDP, *x, loss_pct), 2),
            cell(stats::at(&points, UDP, *x, kernel_drops), 0),
            cell(stats::at(&points, UDP, *x, stats::throughput), 0),
            cell(stats::at(&points, TCP, *x, loss_pct), 2),
            cell(stats::at(&points, TCP, *x, stats::p50_us), 0),
            cell(stats::at(&points, TCP, *x, stats::p99_us), 0),
        ]);
    }
    let worst_udp = xs
        .iter()
        .filter_map(|x| stats::at(&points, UDP, *x, loss_pct).map(|s| (*x, s)))
        .max_by(|a, b| a.1.median.total_cmp(&b.1.median));
    let worst_tcp = xs
        .iter()
        .filter_map(|x| stats::at(&points, TCP, *x, loss_pct).map(|s| s.median))
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let title = worst_udp.zip(worst_tcp).map(|((x, udp), tcp)| {
        let p = super::headline::percent;
        format!(
            "with {x} outstanding requests UDP loses {} of its datagrams, TCP {}",
            p(udp.median),
            p(tcp)
        )
    });
    let (verdict, mut because) = match (worst_udp, worst_tcp) {
        (Some((x, udp_stat)), Some(tcp)) => {
            let udp = udp_stat.median;
            let verdict = if udp >= LOST_YES && tcp <= LOST_NO {
                Verdict::Supported
            } else if udp <= LOST_NO || tcp >= udp {
                Verdict::NotSupported
            } else {
                Verdict::Depends
            };
            (
                verdict,
                format!(
                    "with {x} outstanding requests {udp:.2}%{} of the datagrams were lost, while TCP failed {tcp:.2}% of its requests at any load \
                     (rule: supported when UDP loses at least {LOST_YES}% and TCP fails at most {LOST_NO}%; not supported when UDP loses at most \
                     {LOST_NO}% or TCP fails as often){}",
                    udp_stat.interval(2, 1.0),
                    if udp <= LOST_NO { " (no overload reached: try more clients, or the two-host link with --loss)" } else { "" }
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "UDP or TCP has no usable measurement".to_string(),
        ),
    };
    // Across a lossy link (`run --two-hosts --loss`), the same wire loss is
    // counted loss for UDP and retransmission delay for TCP: say so with the
    // one-client figures, where overload plays no part.
    if let Some(link) = results.info.link.as_ref().filter(|l| l.loss_pct > 0.0) {
        let one = xs.first().copied().unwrap_or(1.0);
        let udp = stats::at(&points, UDP, one, loss_pct).map(|s| s.median);
        let tcp = stats::at(&points, TCP, one, loss_pct).map(|s| s.median);
        let p50 = stats::at(&points, TCP, one, stats::p50_us).map(|s| s.median);
        let p99 = stats::at(&points, TCP, one, stats::p99_us).map(|s| s.median);
        if let (Some(udp), Some(tcp), Some(p50), Some(p99)) = (udp, tcp, p50, p99) {
            because.push_str(&format!(
                "; on the two-host link dropping {}% of packets each way, with {one} client UDP lost {udp:.2}% \
                 while TCP failed {tcp:.2}% and retransmitted instead (p50 {}, p99 {})",
                link.loss_pct,
                loadgen::output::format_ns(p50 * 1e3),
                loadgen::output::format_ns(p99 * 1e3),
            ));
        }
    }
    let charts = vec![NamedChart::line(
        "loss",
        "Claim 4 — loss vs offered load (20 µs per request)",
        ("outstanding requests (clients)", Scale::Log10),
        ("requests lost or failed (%)", Scale::Linear),
        stats::series(&points, loss_pct),
        ctx,
    )
    .titled_by(title)];
    let mut notes = super::experiment_caveats(results, ID);
    notes.retain(|n| !n.starts_with(UDP) || !n.contains("request errors"));
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
    use crate::experiments::synthetic::verdict;

    /// Synthetic data: percent lost (UDP) and failed (TCP) at the highest load.
    fn with(udp_lost: f64, tcp_failed: f64) -> Verdict {
        verdict(&experiment(), |p, _, r| {
            let top = p.x >= 2048.0;
            if p.series == UDP {
                let lost = if top { (udp_lost * 100.0) as u64 } else { 0 };
                r.udp = Some(loadgen::report::UdpCounts {
                    sent: 10_000,
                    answered: 10_000 - lost,
                    lost,
                    ..Default::default()
                });
            } else {
                r.requests = 10_000;
                r.errors.total = if top { (tcp_failed * 100.0) as u64 } else { 0 };
            }
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        assert_eq!(with(9.4, 0.0), Verdict::Supported);
        assert_eq!(with(0.0, 0.0), Verdict::NotSupported);
        assert_eq!(with(5.0, 6.0), Verdict::NotSupported);
        // Datagrams lost, but TCP failed some requests too (timeouts under overload).
        assert_eq!(with(9.4, 2.0), Verdict::Depends);
    }
}
