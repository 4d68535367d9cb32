//! `summary.csv`: one row per measurement, every plan column beside the
//! figures, written with the csv crate from one serde struct, so the
//! header and the rows cannot drift apart.

use std::path::Path;

use anyhow::{Context, Result};
use loadgen::{Mode, Workload};
use serde::Serialize;

use crate::experiments::measures;
use crate::results::{Measurement, Outcome};

/// One row of `summary.csv`. Empty cells where a figure does not apply (a
/// failed point has no figures; only UDP has loss).
#[derive(Debug, Serialize)]
pub struct SummaryRow<'a> {
    pub experiment: &'a str,
    pub series: &'a str,
    pub model: &'a str,
    pub transport: &'a str,
    pub x: f64,
    /// Which plan column `x` is (`connections`, `idle_connections`,
    /// `offered_rps`, `size_bytes`, `cpu_us`, `wait_us`), or `other` when
    /// it is none of them (a server setting such as the backlog).
    pub x_is: &'static str,
    pub repeat: u32,
    pub status: &'static str,
    pub mode: Option<&'static str>,
    pub connections: Option<usize>,
    pub idle_connections: Option<usize>,
    pub offered_rps: Option<f64>,
    pub size_bytes: Option<u64>,
    pub service: Option<&'static str>,
    pub response_bytes: Option<u32>,
    pub cpu_us: Option<u32>,
    pub wait_us: Option<u32>,
    pub throughput_rps: Option<f64>,
    pub latency_p50_ns: Option<u64>,
    pub latency_p90_ns: Option<u64>,
    pub latency_p99_ns: Option<u64>,
    pub latency_p999_ns: Option<u64>,
    pub latency_max_ns: Option<u64>,
    pub latency_mean_ns: Option<f64>,
    pub uncorrected_p99_ns: Option<u64>,
    pub connect_p50_ns: Option<u64>,
    pub errors_total: Option<u64>,
    pub udp_sent: Option<u64>,
    pub udp_lost: Option<u64>,
    pub server_cpu_us_per_req: Option<f64>,
    pub server_cpuset_us_per_req: Option<f64>,
    pub server_peak_rss_kb: Option<u64>,
    /// The server's memory as the report uses it (`measures::memory_kb`:
    /// PSS plus kernel memory, or RSS where no PSS was recorded).
    pub server_memory_kb: Option<f64>,
    pub server_pss_kb: Option<u64>,
    /// Where server CPU came from (`cgroup-cpuacct`, `cgroup-cpu-stat`,
    /// `process-clocks`; empty in older results).
    pub server_cpu_source: Option<&'a str>,
    /// Every CPU's busy time per request (both sides; `measures::machine_cpu_us_per_req`).
    pub machine_cpu_us_per_req: Option<f64>,
    pub server_peak_processes: Option<u64>,
    pub server_peak_zombies: Option<u64>,
    pub loadgen_utilization: Option<f64>,
    pub listen_overflows: Option<u64>,
    pub syn_retransmits: Option<u64>,
}

/// The status word of an outcome, as in the measurement JSON.
pub fn status(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::ServerFailedToStart { .. } => "server_failed_to_start",
        Outcome::ServerCrashed { .. } => "server_crashed",
        Outcome::ServerHung => "server_hung",
        Outcome::LoadFailed { .. } => "load_failed",
    }
}

impl<'a> SummaryRow<'a> {
    pub fn new(m: &'a Measurement) -> SummaryRow<'a> {
        let r = m.report.as_ref();
        let plan = r.map(|r| &r.plan);
        let (size, service, response, cpu, wait) = match plan.map(|p| &p.workload) {
            Some(Workload::Echo { size }) => (Some(*size as u64), Some("echo"), None, None, None),
            Some(Workload::Synthetic {
                payload_len,
                response_len,
                cpu_us,
                wait_us,
            }) => (
                Some(u64::from(*payload_len)),
                Some("synthetic"),
                Some(*response_len),
                Some(*cpu_us),
                Some(*wait_us),
            ),
            None => (None, None, None, None, None),
        };
        let offered = plan.and_then(|p| match p.mode {
            Mode::Open { rate_rps } => Some(rate_rps),
            _ => None,
        });
        let same = |v: Option<f64>| v.is_some_and(|v| v == m.x);
        let x_is = if same(plan.map(|p| p.connections as f64)) {
            "connections"
        } else if same(plan.map(|p| p.idle_connections as f64)) {
            "idle_connections"
        } else if same(offered) {
            "offered_rps"
        } else if same(size.map(|s| s as f64)) {
            "size_bytes"
        } else if same(cpu.map(f64::from)) {
            "cpu_us"
        } else if same(wait.map(f64::from)) {
            "wait_us"
        } else {
            "other"
        };
        let server = r.and_then(|r| r.server.as_ref());
        SummaryRow {
            experiment: &m.experiment,
            series: &m.series,
            model: &m.model,
            transport: &m.transport,
            x: m.x,
            x_is,
            repeat: m.repeat,
            status: status(&m.outcome),
            mode: plan.map(|p| p.mode.name()),
            connections: plan.map(|p| p.connections),
            idle_connections: plan.map(|p| p.idle_connections),
            offered_rps: offered,
            size_bytes: size,
            service,
            response_bytes: response,
            cpu_us: cpu,
            wait_us: wait,
            throughput_rps: r.map(|r| r.throughput_rps),
            latency_p50_ns: r.map(|r| r.latency_ns.p50),
            latency_p90_ns: r.map(|r| r.latency_ns.p90),
            latency_p99_ns: r.map(|r| r.latency_ns.p99),
            latency_p999_ns: r.map(|r| r.latency_ns.p999),
            latency_max_ns: r.map(|r| r.latency_ns.max),
            latency_mean_ns: r.map(|r| r.latency_ns.mean),
            uncorrected_p99_ns: r.and_then(|r| r.uncorrected_latency_ns).map(|p| p.p99),
            connect_p50_ns: r.and_then(|r| r.connect_latency_ns).map(|p| p.p50),
            errors_total: r.map(|r| r.errors.total),
            udp_sent: r.and_then(|r| r.udp).map(|u| u.sent),
            udp_lost: r.and_then(|r| r.udp).map(|u| u.lost),
            server_cpu_us_per_req: server.map(|s| s.cpu_us_per_req),
            server_cpuset_us_per_req: server.and_then(|s| s.cpuset_us_per_req),
            server_peak_rss_kb: server.map(|s| s.peak_rss_kb),
            server_memory_kb: r.and_then(measures::memory_kb),
            server_pss_kb: server.map(|s| s.peak_pss_kb),
            server_cpu_source: server.map(|s| s.cpu_source.as_str()),
            machine_cpu_us_per_req: r.and_then(measures::machine_cpu_us_per_req),
            server_peak_processes: server.map(|s| s.peak_processes),
            server_peak_zombies: server.map(|s| s.peak_zombies),
            loadgen_utilization: r.map(|r| r.loadgen.utilization),
            listen_overflows: r.map(|r| r.kernel_tcp.listen_overflows),
            syn_retransmits: r.map(|r| r.kernel_tcp.syn_retransmits),
        }
    }
}

/// Writes `DIR/summary.csv` for every measurement.
pub fn write_csv(dir: &Path, measurements: &[Measurement]) -> Result<()> {
    let path = dir.join("summary.csv");
    let mut out = csv::Writer::from_path(&path)
        .with_context(|| format!("failed to write {}", path.display()))?;
    for m in measurements {
        out.serialize(SummaryRow::new(m))
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    out.flush()
        .with_context(|| format!("failed to write {}", path.display()))
}
