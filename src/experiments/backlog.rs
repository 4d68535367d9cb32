//! Claim 9: `listen(fd, 5)` — the backlog bounds how many clients can wait.
//!
//! What Linux does when the accept queue is full: it drops the client's SYN
//! (or its final ACK) silently — ListenOverflows and ListenDrops count it —
//! and the client, hearing nothing, sends the SYN again after 1 s, then 2 s
//! later (3 s after the first), doubling. Nobody is turned away with an
//! error: the clients wait, and the wait shows as steps at 1 s and 3 s in the
//! distribution of connect() latency. The windows are longer than those steps
//! (Profile::long_window), so a retried connection completes inside the
//! window it started in.

use std::time::Duration;

use hdrhistogram::Histogram;
use loadgen::{LoadReport, Mode, Workload};
use servers::{Model, ServiceKind};

use super::stats::{self, cell, Table};
use super::{
    ChartSpec, Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec,
    Verdict,
};
use crate::charts::{SpectrumChart, SpectrumSeries};
use crate::results::{OrderedX, Points, ResultSet};

const ID: &str = "backlog";
const CLIENTS: usize = 64;
const BACKLOGS: [u32; 2] = [5, 1024];
/// SYN drops per connection attempt from which the queue "overflowed"…
const DROPS_YES: f64 = 0.01;
/// …and up to which it did not.
const DROPS_NO: f64 = 0.001;
/// Share of connects that waited for a retransmission (≥ 0.9 s) from which
/// the 1 s step is "visible".
const STEP_VISIBLE: f64 = 0.005;
/// A connect this slow waited for at least one SYN retransmission (1 s).
const FIRST_RETRY_NS: u64 = 900_000_000;
/// …this slow, for at least two (1 s + 2 s).
const SECOND_RETRY_NS: u64 = 2_900_000_000;

fn series_name(backlog: u32) -> String {
    format!("backlog {backlog}")
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "The listen() backlog (5 in the lab) is the number of connections that can wait while the server is busy; past it, clients are turned away and must retry.",
        method: "64 clients connect at once, again and again, each asking one request that makes the iterative server wait 1 ms, \
                 against `tcp-iterative` with `listen(fd, 5)` and with `listen(fd, 1024)`, over a long window (4 s in standard, 10 s in \
                 full) so that retried connections finish inside it. The kernel's SYN drops (TcpExt ListenOverflows and ListenDrops), \
                 its SYN retransmissions (TcpExt TCPSynRetrans) and the whole distribution of connect() latency, where a dropped SYN \
                 shows as a step at 1 s (the first retransmission) and 3 s (the second).",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let work = Workload::Synthetic {
        payload_len: 16,
        response_len: 16,
        cpu_us: 0,
        wait_us: 1_000,
    };
    BACKLOGS
        .iter()
        .map(|&b| {
            let server = ServerSpec::new(Model::TcpIterative)
                .service(ServiceKind::Synthetic)
                .arg("--backlog", b);
            let load = LoadSpec::new(Mode::Crr)
                .connections(CLIENTS)
                .workload(work)
                .timeout(Duration::from_secs(8))
                .window(profile.long_window());
            Point::new(series_name(b), b as f64, server, load)
                .decisive("queue-full drops per attempt", drops_per_attempt)
        })
        .collect()
}

/// Connection attempts: completed requests and failed ones.
fn attempts(r: &LoadReport) -> f64 {
    (r.requests + r.errors.total) as f64
}

/// SYNs (or final ACKs) the kernel dropped for a full queue, per attempt.
fn drops_per_attempt(r: &LoadReport) -> Option<f64> {
    let dropped = r.kernel_tcp.listen_overflows.max(r.kernel_tcp.listen_drops) as f64;
    (attempts(r) > 0.0).then(|| dropped / attempts(r))
}

fn drops(r: &LoadReport) -> Option<f64> {
    Some(r.kernel_tcp.listen_overflows.max(r.kernel_tcp.listen_drops) as f64)
}

fn syn_retransmits(r: &LoadReport) -> Option<f64> {
    Some(r.kernel_tcp.syn_retransmits as f64)
}

fn refused(r: &LoadReport) -> Option<f64> {
    Some(r.errors.connect_refused as f64)
}

/// Connects the server's kernel refused (RST to a SYN), per attempt.
fn refused_per_attempt(r: &LoadReport) -> Option<f64> {
    (attempts(r) > 0.0).then(|| r.errors.connect_refused as f64 / attempts(r))
}

fn connect_histogram(r: &LoadReport) -> Option<Histogram<u64>> {
    let text = r.connect_histogram_v2.as_deref()?;
    loadgen::stats::decode_v2(text)
        .ok()
        .filter(|h| !h.is_empty())
}

/// Share of connects that took at least `ns` (from the stored histogram;
/// from the summary percentiles, coarsely, if there is none).
fn share_at_least(r: &LoadReport, ns: u64) -> Option<f64> {
    if let Some(h) = connect_histogram(r) {
        let slow = h.count_between(ns, h.max().max(ns));
        return Some(slow as f64 / h.len() as f64);
    }
    let p = r.connect_latency_ns.filter(|p| p.count > 0)?;
    Some(match () {
        _ if p.p50 >= ns => 0.5,
        _ if p.p90 >= ns => 0.1,
        _ if p.p99 >= ns => 0.01,
        _ if p.p999 >= ns => 0.001,
        _ => 0.0,
    })
}

fn after_first_retry(r: &LoadReport) -> Option<f64> {
    share_at_least(r, FIRST_RETRY_NS)
}

fn after_second_retry(r: &LoadReport) -> Option<f64> {
    share_at_least(r, SECOND_RETRY_NS)
}

fn pct(f: fn(&LoadReport) -> Option<f64>) -> impl Fn(&LoadReport) -> Option<f64> {
    move |r| f(r).map(|v| v * 100.0)
}

fn connect_p50_ms(r: &LoadReport) -> Option<f64> {
    r.connect_latency_ns
        .filter(|p| p.count > 0)
        .map(|p| p.p50 as f64 / 1e6)
}

fn connect_p99_ms(r: &LoadReport) -> Option<f64> {
    r.connect_latency_ns
        .filter(|p| p.count > 0)
        .map(|p| p.p99 as f64 / 1e6)
}

/// The connect-latency spectrum of every repeat of one point, merged.
fn spectrum(points: &Points<'_>, name: &str, x: f64) -> Option<SpectrumSeries> {
    let repeats = points.get(name)?.get(&OrderedX(x))?;
    let mut merged: Option<Histogram<u64>> = None;
    for h in repeats
        .iter()
        .filter_map(|m| m.ok_report())
        .filter_map(connect_histogram)
    {
        match merged.as_mut() {
            // Histograms of one run share their bounds; a failed add leaves the rest.
            Some(m) => m.add(&h).unwrap_or(()),
            None => merged = Some(h),
        }
    }
    let h = merged?;
    Some(SpectrumSeries {
        name: name.to_string(),
        points: (0..=40)
            .map(|k| 1.0 - 10f64.powf(-f64::from(k) / 10.0))
            .map(|q| (q, h.value_at_quantile(q) as f64 / 1e6))
            .collect(),
    })
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<String> = BACKLOGS.iter().map(|b| series_name(*b)).collect();
    let xs: Vec<f64> = BACKLOGS.iter().map(|b| *b as f64).collect();
    let mut table = Table::new(&[
        "listen() backlog",
        "connection attempts",
        "queue-full drops (ListenOverflows/Drops)",
        "drops per attempt",
        "SYN retransmits",
        "connects ≥ 1 s %",
        "connects ≥ 3 s %",
        "connect p50 ms",
        "connect p99 ms",
        "refused",
        "connections/s",
    ]);
    for (n, x) in names.iter().zip(&xs) {
        table.row(vec![
            n.clone(),
            cell(stats::at(&points, n, *x, |r| Some(attempts(r))), 0),
            cell(stats::at(&points, n, *x, drops), 0),
            cell(stats::at(&points, n, *x, drops_per_attempt), 3),
            cell(stats::at(&points, n, *x, syn_retransmits), 0),
            cell(stats::at(&points, n, *x, pct(after_first_retry)), 2),
            cell(stats::at(&points, n, *x, pct(after_second_retry)), 2),
            cell(stats::at(&points, n, *x, connect_p50_ms), 2),
            cell(stats::at(&points, n, *x, connect_p99_ms), 0),
            cell(stats::at(&points, n, *x, refused), 0),
            cell(stats::at(&points, n, *x, stats::throughput), 0),
        ]);
    }
    let median = |n: &str, x: f64, f: fn(&LoadReport) -> Option<f64>| {
        stats::at(&points, n, x, f).map(|s| s.median)
    };
    let (small, large) = ((&names[0], xs[0]), (&names[1], xs[1]));
    let (verdict, because) = match (
        stats::at(&points, small.0, small.1, drops_per_attempt),
        stats::at(&points, large.0, large.1, drops_per_attempt),
        stats::at(&points, small.0, small.1, after_first_retry),
    ) {
        (Some(d_small_stat), Some(d_large_stat), Some(step_stat)) => {
            let (d_small, d_large, step) =
                (d_small_stat.median, d_large_stat.median, step_stat.median);
            let second = median(small.0, small.1, after_second_retry).unwrap_or(0.0);
            let retrans = median(small.0, small.1, syn_retransmits).unwrap_or(0.0);
            let refused_small = median(small.0, small.1, refused).unwrap_or(0.0);
            let refused_share = median(small.0, small.1, refused_per_attempt).unwrap_or(0.0);
            // The claim has two halves, judged apart: "the backlog bounds the
            // connections that wait" and "past it clients are turned away".
            let bounds = if d_small <= DROPS_NO || d_large >= 0.5 * d_small {
                Verdict::NotSupported
            } else if d_small >= DROPS_YES && d_large <= DROPS_NO && step >= STEP_VISIBLE {
                Verdict::Supported
            } else {
                Verdict::Depends
            };
            let turned_away = if refused_share >= DROPS_YES {
                Verdict::Supported
            } else if refused_share <= DROPS_NO {
                Verdict::NotSupported
            } else {
                Verdict::Depends
            };
            let verdict = if bounds == turned_away {
                bounds
            } else {
                Verdict::Depends
            };
            let bounds_how = match bounds {
                Verdict::Supported => "the backlog bounds the connections that wait: supported".to_string(),
                Verdict::NotSupported if d_small <= DROPS_NO => {
                    "the backlog bounds the connections that wait: not supported (the accept queue of 5 never overflowed here)".to_string()
                }
                Verdict::NotSupported => {
                    "the backlog bounds the connections that wait: not supported (the large backlog dropped as often as the small one)".to_string()
                }
                _ => "the backlog bounds the connections that wait: unclear (the queue overflowed, but the 1 s retransmission step is not clear, or the large backlog dropped too)".to_string(),
            };
            let away_how = match turned_away {
                Verdict::Supported => format!(
                    "past it clients are turned away: supported ({refused_small:.0} connects refused, {:.2}% of attempts)",
                    refused_share * 100.0
                ),
                Verdict::NotSupported => format!(
                    "past it clients are turned away: not supported ({refused_small:.0} refused — as Linux behaves, the kernel drops \
                     the SYN silently and the client retransmits after 1 s, then 3 s)"
                ),
                _ => format!(
                    "past it clients are turned away: unclear ({refused_small:.0} refused, {:.2}% of attempts)",
                    refused_share * 100.0
                ),
            };
            (
                verdict,
                format!(
                    "{bounds_how}; {away_how}. With backlog 5 the kernel made {:.3}{} queue-full drops per connection attempt (backlog 1024: {:.3}{}; a drop is \
                     a SYN, or the handshake's last ACK, whose connect() has already returned and whose wait shows in request latency \
                     instead), sent {retrans:.0} SYN retransmissions, and {:.2}%{} of connects took ≥ 1 s ({:.2}% ≥ 3 s) \
                     (rule, bounds: supported when drops per attempt are ≥ {} with 5 and ≤ {} with 1024 and ≥ {}% of connects waited ≥ 1 s, \
                     not supported when drops with 5 are ≤ {} per attempt or the large backlog drops at least half as often; \
                     turned away: supported when ≥ {}% of attempts with 5 were refused, not supported when ≤ {}%; \
                     the verdict is \"depends\" when the halves differ)",
                    d_small,
                    d_small_stat.interval(3, 1.0),
                    d_large,
                    d_large_stat.interval(3, 1.0),
                    step * 100.0,
                    step_stat.interval(2, 100.0),
                    second * 100.0,
                    DROPS_YES,
                    DROPS_NO,
                    STEP_VISIBLE * 100.0,
                    DROPS_NO,
                    DROPS_YES * 100.0,
                    DROPS_NO * 100.0,
                ),
            )
        }
        _ => (
            Verdict::NoData,
            "a backlog setting has no usable measurement (with connect latencies)".to_string(),
        ),
    };
    let title = stats::at(&points, small.0, small.1, after_first_retry)
        .zip(stats::at(&points, large.0, large.1, after_first_retry))
        .map(|(s, l)| {
            let p = super::headline::percent;
            format!(
                "{} of connects wait ≥ 1 s for a SYN retransmission with backlog {}, {} with {}",
                p(100.0 * s.median),
                small.1,
                p(100.0 * l.median),
                large.1
            )
        });
    let spectra: Vec<SpectrumSeries> = names
        .iter()
        .zip(&xs)
        .filter_map(|(n, x)| spectrum(&points, n, *x))
        .collect();
    let charts = vec![NamedChart {
        name: "connect-spectrum".to_string(),
        chart: ChartSpec::Spectrum(SpectrumChart {
            title: "Claim 9 — connect() latency under a burst of 64 clients: each step is a wait for a SYN retransmission (the first after 1 s)"
                .to_string(),
            y_label: "connect latency (ms)".to_string(),
            caption: String::new(),
            series: spectra,
            footnote: ctx.footnote.clone(),
        }),
    }
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

    /// Synthetic data: per attempt, SYN drops with backlog 5 and 1024, the
    /// share of backlog 5's connects that waited ≥ 1 s (from a real
    /// histogram), and the share of backlog 5's attempts refused.
    fn run(
        small_drops: f64,
        large_drops: f64,
        slow_share: f64,
        refused_share: f64,
    ) -> (Verdict, String) {
        verdict(&experiment(), |p, _, r| {
            let small = p.x == 5.0;
            r.requests = 10_000;
            let d = if small { small_drops } else { large_drops };
            r.kernel_tcp.listen_overflows = (d * 10_000.0) as u64;
            if small {
                let refused = (refused_share * 10_000.0) as u64;
                r.requests -= refused;
                r.errors.connect_refused = refused;
                r.errors.total = refused;
            }
            let mut h = loadgen::stats::new_histogram();
            let slow = if small {
                (slow_share * 10_000.0) as u64
            } else {
                0
            };
            h.record_n(200_000, 10_000 - slow).unwrap();
            if slow > 0 {
                h.record_n(1_020_000_000, slow).unwrap();
            }
            r.connect_latency_ns = Some(loadgen::stats::percentiles(&h));
            r.connect_histogram_v2 = Some(loadgen::stats::encode_v2(&h).unwrap());
        })
    }

    fn with(small_drops: f64, large_drops: f64, slow_share: f64, refused_share: f64) -> Verdict {
        run(small_drops, large_drops, slow_share, refused_share).0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        // Linux: the queue bounds the waiting, nobody is refused.
        assert_eq!(with(0.04, 0.0, 0.03, 0.0), Verdict::Depends);
        // Both halves hold (a stack that answers a full queue with RST).
        assert_eq!(with(0.04, 0.0, 0.03, 0.04), Verdict::Supported);
        // Neither: the queue never overflowed, nobody refused.
        assert_eq!(with(0.0, 0.0, 0.0, 0.0), Verdict::NotSupported);
        assert_eq!(with(0.04, 0.04, 0.03, 0.0), Verdict::NotSupported);
        // Refused, but the backlog bounded nothing.
        assert_eq!(with(0.0, 0.0, 0.0, 0.04), Verdict::Depends);
        // Drops, but no client waited for a retransmission, nobody refused.
        assert_eq!(with(0.04, 0.0, 0.0, 0.0), Verdict::Depends);
    }

    #[test]
    fn each_half_can_come_out_any_way() {
        let text = |a, b, c, d| run(a, b, c, d).1;
        let linux = text(0.04, 0.0, 0.03, 0.0);
        assert!(linux.contains("wait: supported"), "{linux}");
        assert!(linux.contains("turned away: not supported"), "{linux}");
        let rst = text(0.0, 0.0, 0.0, 0.04);
        assert!(rst.contains("wait: not supported"), "{rst}");
        assert!(rst.contains("turned away: supported"), "{rst}");
        let unclear = text(0.04, 0.0, 0.0, 0.005);
        assert!(unclear.contains("wait: unclear"), "{unclear}");
        assert!(unclear.contains("turned away: unclear"), "{unclear}");
    }
}
