//! More load generators than this one (`run --client-host`), as recorded:
//! in run.json every client host and its machine, and how a point's load was
//! spread over the generators; in each measurement every generator's share
//! beside the merged report.

use loadgen::LoadReport;
use serde::{Deserialize, Serialize};

use super::HostDescription;

/// How a point's load is spread over the generators (this one and each
/// client host). Written into run.json so a reader need not guess.
pub const SPREAD: &str = "connections and idle connections are per generator (each one opens the \
point's count, as iperf3 -P and netperf do per instance; the merged report's plan holds the total); \
an open-loop rate and a request budget are the point's total, split evenly over the generators";

/// The client hosts of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientHostsInfo {
    /// Each client host, in the order given.
    pub hosts: Vec<ClientHostInfo>,
    /// How a point's load is spread over the generators ([`SPREAD`]).
    pub spread: String,
    /// `--ssh-command`, shared with the server host.
    pub ssh_command: String,
    /// `--remote-sockbench`, shared with the server host.
    pub remote_sockbench: String,
}

/// One client host: how it was named and what its own sockbench said of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientHostInfo {
    /// `[USER@]HOST`, as given to `--client-host`.
    pub destination: String,
    pub description: HostDescription,
}

impl ClientHostsInfo {
    /// The hosts in one line, for the run's opening lines.
    pub fn describe(&self) -> String {
        let hosts = self
            .hosts
            .iter()
            .map(|h| {
                format!(
                    "{} ({}, {} cores)",
                    h.destination, h.description.machine.hostname, h.description.machine.cores
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} more load generators over SSH, started together with this one: {hosts}",
            self.hosts.len()
        )
    }
}

/// One generator's part of a measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostShare {
    /// `here` for this machine's generator, else the client host as given.
    pub host: String,
    pub requests: u64,
    pub throughput_rps: f64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    /// When its recorded window began, by its own clock (seconds since the
    /// epoch, from its interval log): the windows of one measurement
    /// coincide to within the clocks' disagreement and the start's jitter.
    #[serde(default)]
    pub window_start_unix_s: Option<f64>,
    /// Its whole report (histograms included), so the merge can be redone
    /// (`sockbench merge`) and checked.
    pub report: LoadReport,
}

impl HostShare {
    pub fn of(host: &str, report: LoadReport) -> HostShare {
        HostShare {
            host: host.to_string(),
            requests: report.requests,
            throughput_rps: report.throughput_rps,
            p50_ns: report.latency_ns.p50,
            p99_ns: report.latency_ns.p99,
            window_start_unix_s: window_start(&report.interval_log),
            report,
        }
    }
}

/// The start time an HdrHistogram interval log names.
fn window_start(log: &str) -> Option<f64> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    IntervalLogIterator::new(log.as_bytes())
        .flatten()
        .find_map(|entry| match entry {
            LogEntry::StartTime(t) => Some(t.as_secs_f64()),
            _ => None,
        })
}
