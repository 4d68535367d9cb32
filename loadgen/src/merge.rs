//! Several runs, one distribution: the results of load generators on several
//! hosts (or several runs) combined exactly, by adding their HdrHistograms,
//! never by averaging percentiles.
//!
//! Counts, bytes, errors and throughputs add up; percentiles are recomputed
//! from the summed histograms; the timeline and the interval log are merged
//! second by second (by index from each run's end of warm-up).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::{AdditionError, Histogram};

use crate::plan::Mode;
use crate::report::{LoadReport, LoadgenCost, Tick, Validity};
use crate::stats::{self, add_errors, add_udp, decode_v2, new_histogram, HistogramError};
use crate::validity;

/// Why runs could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge: give one or more result files.
    #[error("nothing to merge: give one or more result files")]
    Empty,
    /// The runs measured different things: merge only runs of one mode and workload.
    #[error(
        "run {index} is {found} but run 1 is {expected}: merge only runs of one mode and workload"
    )]
    Different {
        index: usize,
        found: String,
        expected: String,
    },
    /// A histogram in a result cannot be read: the file was edited or truncated.
    #[error("run {index}: {source}")]
    Histogram {
        index: usize,
        source: HistogramError,
    },
    /// A histogram holds values outside this version's range (1 ns .. 1 hour):
    /// it was written by another tool or version, or edited. Re-run that host
    /// with the same sockbench as the others, or leave its result out.
    #[error(
        "run {index}: its {what} histogram does not fit this version's range of 1 ns .. 1 hour          ({source}); re-run that host with the same sockbench as the others, or leave it out"
    )]
    Incompatible {
        index: usize,
        what: &'static str,
        source: AdditionError,
    },
}

fn describe(r: &LoadReport) -> String {
    format!("{} {:?}", r.plan.mode.name(), r.plan.workload)
}

fn decode(index: usize, text: &str) -> Result<Histogram<u64>, MergeError> {
    decode_v2(text).map_err(|source| MergeError::Histogram { index, source })
}

/// Adds the histogram `text` of run `index` to `sum`; `what` names it in the error.
fn add_encoded(
    sum: &mut Histogram<u64>,
    index: usize,
    what: &'static str,
    text: &str,
) -> Result<(), MergeError> {
    sum.add(decode(index, text)?)
        .map_err(|source| MergeError::Incompatible {
            index,
            what,
            source,
        })
}

/// Sums the histograms named by `pick` if every run has one.
fn merge_optional(
    reports: &[LoadReport],
    what: &'static str,
    pick: impl Fn(&LoadReport) -> Option<&String>,
) -> Result<Option<Histogram<u64>>, MergeError> {
    let mut sum = new_histogram();
    for (i, r) in reports.iter().enumerate() {
        let Some(text) = pick(r) else { return Ok(None) };
        add_encoded(&mut sum, i + 1, what, text)?;
    }
    Ok(Some(sum))
}

/// Combines `reports` into one; the first run's plan and machine describe the result
/// (with the connections, threads and rates summed).
pub fn merge(reports: &[LoadReport]) -> Result<LoadReport, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    for (i, r) in reports.iter().enumerate().skip(1) {
        if r.plan.mode.name() != first.plan.mode.name() || r.plan.workload != first.plan.workload {
            return Err(MergeError::Different {
                index: i + 1,
                found: describe(r),
                expected: describe(first),
            });
        }
    }
    let mut merged = first.clone();
    let mut latency = new_histogram();
    for (i, r) in reports.iter().enumerate() {
        add_encoded(&mut latency, i + 1, "latency", &r.histogram_v2)?;
    }
    let uncorrected = merge_optional(reports, "uncorrected latency", |r| {
        r.uncorrected_histogram_v2.as_ref()
    })?;
    let connect = merge_optional(reports, "connect latency", |r| {
        r.connect_histogram_v2.as_ref()
    })?;
    let send_lag = merge_optional(reports, "send lag", |r| r.send_lag_histogram_v2.as_ref())?;

    merged.latency_ns = stats::percentiles(&latency);
    merged.histogram_v2 = encode(&latency)?;
    merged.uncorrected_latency_ns = uncorrected.as_ref().map(stats::percentiles);
    merged.uncorrected_histogram_v2 = uncorrected.as_ref().map(encode).transpose()?;
    // Older results without a connect histogram cannot be merged exactly: none then.
    merged.connect_latency_ns = connect.as_ref().map(stats::percentiles);
    merged.connect_histogram_v2 = connect.as_ref().map(encode).transpose()?;
    merged.send_lag_ns = send_lag.as_ref().map(stats::percentiles);
    merged.send_lag_histogram_v2 = send_lag.as_ref().map(encode).transpose()?;

    let rest = &reports[1..];
    merged.throughput_rps = reports.iter().map(|r| r.throughput_rps).sum();
    merged.requests = reports.iter().map(|r| r.requests).sum();
    merged.bytes_sent = reports.iter().map(|r| r.bytes_sent).sum();
    merged.bytes_received = reports.iter().map(|r| r.bytes_received).sum();
    merged.duration_s = reports.iter().map(|r| r.duration_s).fold(0.0, f64::max);
    merged.partial = reports.iter().any(|r| r.partial);
    merged.offered_rps = reports.iter().map(|r| r.offered_rps).sum();
    for r in rest {
        add_errors(&mut merged.errors, &r.errors);
        if let (Some(all), Some(one)) = (merged.udp.as_mut(), r.udp.as_ref()) {
            add_udp(all, one);
        }
        merged.kernel_tcp.listen_overflows += r.kernel_tcp.listen_overflows;
        merged.kernel_tcp.listen_drops += r.kernel_tcp.listen_drops;
        merged.kernel_tcp.syn_retransmits += r.kernel_tcp.syn_retransmits;
        merged.plan.connections += r.plan.connections;
        merged.plan.idle_connections += r.plan.idle_connections;
        merged.plan.threads += r.plan.threads;
        merged.loadgen.cpu_user_s += r.loadgen.cpu_user_s;
        merged.loadgen.cpu_system_s += r.loadgen.cpu_system_s;
        merged.loadgen.threads += r.loadgen.threads;
        if merged.server.is_none() {
            merged.server = r.server.clone();
        }
    }
    merged.plan.max_requests = reports.iter().map(|r| r.plan.max_requests).sum();
    if let Mode::Open { .. } = first.plan.mode {
        let rate_rps = reports
            .iter()
            .map(|r| match r.plan.mode {
                Mode::Open { rate_rps } => rate_rps,
                _ => 0.0,
            })
            .sum();
        merged.plan.mode = Mode::Open { rate_rps };
    }
    merged.loadgen = LoadgenCost::new(
        merged.loadgen.cpu_user_s,
        merged.loadgen.cpu_system_s,
        merged.duration_s,
        merged.loadgen.threads,
        merged.requests,
    );
    let total_requests = merged.requests as f64;
    if let Some(server) = merged.server.as_mut() {
        // The server served every host's requests: spread its CPU over all of them.
        if total_requests > 0.0 {
            server.cpu_us_per_req =
                (server.cpu_user_s + server.cpu_system_s) * 1e6 / total_requests;
            let own = reports
                .iter()
                .find(|r| r.server.as_ref().map(|s| s.pid) == Some(server.pid))
                .map_or(0, |r| r.requests) as f64;
            server.cpuset_us_per_req = server.cpuset_us_per_req.map(|v| v * own / total_requests);
        }
    }
    merged.validity = merged_validity(&merged, reports);
    let (timeline, log) = merge_timelines(reports)?;
    merged.timeline = timeline;
    merged.interval_log = log;
    Ok(merged)
}

/// The merged point judged on its own (summed rates, merged send lag), with
/// each run's own failed checks kept: one host that lagged spoils the point.
fn merged_validity(merged: &LoadReport, reports: &[LoadReport]) -> Option<Validity> {
    let (Some(offered), Some(lag)) = (merged.offered_rps, merged.send_lag_ns) else {
        return None;
    };
    let achieved = reports
        .iter()
        .map(|r| {
            r.validity
                .as_ref()
                .map_or(r.throughput_rps, |v| v.achieved_rps)
        })
        .sum();
    let mut validity = validity::judge(offered, achieved, merged.plan.connections, lag.p99);
    for (i, r) in reports.iter().enumerate() {
        for reason in r.validity.iter().flat_map(|v| &v.reasons) {
            validity.reasons.push(format!("run {}: {reason}", i + 1));
        }
    }
    validity.valid = validity.reasons.is_empty();
    Some(validity)
}

fn encode(h: &Histogram<u64>) -> Result<String, MergeError> {
    stats::encode_v2(h).map_err(|source| MergeError::Histogram { index: 0, source })
}

/// Sums the runs' seconds by index; p99 comes from the interval logs' histograms.
fn merge_timelines(reports: &[LoadReport]) -> Result<(Vec<Tick>, String), MergeError> {
    let mut ticks: Vec<Tick> = Vec::new();
    for r in reports {
        for (i, t) in r.timeline.iter().enumerate() {
            if ticks.len() <= i {
                ticks.push(Tick::default());
            }
            ticks[i].requests += t.requests;
            ticks[i].errors += t.errors;
            ticks[i].t_s = ticks[i].t_s.max(t.t_s);
        }
    }
    let mut histograms: Vec<Histogram<u64>> = ticks.iter().map(|_| new_histogram()).collect();
    let mut start: Option<Duration> = None;
    for (index, r) in reports.iter().enumerate() {
        let mut i = 0;
        for entry in IntervalLogIterator::new(r.interval_log.as_bytes()).flatten() {
            match entry {
                LogEntry::StartTime(t) => {
                    start = Some(start.map_or(t, |s| s.min(t)));
                }
                LogEntry::BaseTime(_) => {}
                LogEntry::Interval(interval) => {
                    if let Some(sum) = histograms.get_mut(i) {
                        add_encoded(sum, index + 1, "interval log", interval.encoded_histogram())?;
                    }
                    i += 1;
                }
            }
        }
    }
    for (tick, h) in ticks.iter_mut().zip(&histograms) {
        tick.p99_ns = if h.is_empty() {
            0
        } else {
            h.value_at_quantile(0.99)
        };
    }
    let start = start.map_or_else(SystemTime::now, |s| UNIX_EPOCH + s);
    let comment = format!("sockbench merge of {} runs", reports.len());
    let log = stats::interval_log(&histograms, &ticks, start, &comment)
        .map_err(|source| MergeError::Histogram { index: 0, source })?;
    Ok((ticks, log))
}
