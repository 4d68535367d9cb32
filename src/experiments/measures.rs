//! Every server-cost figure the experiments and the report read, in one place.
//!
//! The load generator's report is growing exact figures (nanosecond CPU of the
//! whole tree including exited children, PSS plus kernel socket memory, the
//! machine's total CPU, a validity flag): when a field changes, this file is
//! the only one to edit, and the Methods section of REPORT.md reads its
//! descriptions from here too, so the text always says what the figure counts.

use loadgen::LoadReport;

use crate::results::Measurement;

/// What [`server_cpu_us_per_req`] counts, for the report's Methods section.
pub const SERVER_CPU_COUNTS: &str = "user + system CPU of the server's whole process tree from /proc \
    (live threads, and children once reaped, via cutime/cstime), sampled in clock ticks, divided by completed requests";

/// What [`pinned_cpu_us_per_req`] counts.
pub const PINNED_CPU_COUNTS: &str = "busy time of the server's pinned CPUs (/proc/stat) per request: \
    everything that ran there, including kernel work done on the server's behalf and children reaped without accounting";

/// What [`machine_cpu_us_per_req`] counts.
pub const MACHINE_CPU_COUNTS: &str =
    "the server's pinned-CPU busy time plus the load generator's own CPU, per request: \
    an estimate of what one request costs both cores together";

/// What [`memory_kb`] counts.
pub const MEMORY_COUNTS: &str =
    "peak of the resident memory (RSS) summed over the server's process tree; \
    shared pages are counted once per process, so forked trees are overstated";

/// Server CPU per completed request (service demand), in microseconds.
pub fn server_cpu_us_per_req(r: &LoadReport) -> Option<f64> {
    r.server
        .as_ref()
        .map(|s| s.cpu_us_per_req)
        .filter(|v| *v > 0.0)
}

/// Busy time of the server's pinned CPUs per request, in microseconds.
pub fn pinned_cpu_us_per_req(r: &LoadReport) -> Option<f64> {
    r.server
        .as_ref()
        .and_then(|s| s.cpuset_us_per_req)
        .filter(|v| *v > 0.0)
}

/// The load generator's own CPU per request, in microseconds.
pub fn loadgen_cpu_us_per_req(r: &LoadReport) -> Option<f64> {
    Some(r.loadgen.cpu_us_per_req).filter(|v| *v > 0.0)
}

/// Both sides together per request, in microseconds: on loopback a packet's
/// receive path runs on the sender's CPU, so only this sum compares designs
/// whose kernel work lands on different cores.
pub fn machine_cpu_us_per_req(r: &LoadReport) -> Option<f64> {
    let server = pinned_cpu_us_per_req(r).or_else(|| server_cpu_us_per_req(r))?;
    Some(server + loadgen_cpu_us_per_req(r).unwrap_or(0.0))
}

/// The server's memory, in kB (see [`MEMORY_COUNTS`]).
pub fn memory_kb(r: &LoadReport) -> Option<f64> {
    r.server.as_ref().map(|s| s.peak_rss_kb as f64)
}

/// The server's memory, in MB.
pub fn memory_mb(r: &LoadReport) -> Option<f64> {
    memory_kb(r).map(|kb| kb / 1024.0)
}

/// Peak processes of the server's tree.
pub fn processes(r: &LoadReport) -> Option<f64> {
    r.server.as_ref().map(|s| s.peak_processes as f64)
}

/// Zombies left at the end of the window.
pub fn zombies_end(r: &LoadReport) -> Option<f64> {
    r.server.as_ref().map(|s| s.zombies_end as f64)
}

/// Most zombies at once during the window.
pub fn zombies_peak(r: &LoadReport) -> Option<f64> {
    r.server.as_ref().map(|s| s.peak_zombies as f64)
}

/// The load generator's busy share, 0–1 (1: every engine thread busy).
pub fn loadgen_busy(r: &LoadReport) -> f64 {
    r.loadgen.utilization
}

/// Why the load generator judged its own measurement invalid (off the
/// offered rate, send lag past its bound), if it did (open-loop points).
pub fn invalid_reason(m: &Measurement) -> Option<String> {
    let v = m.report.as_ref()?.validity.as_ref()?;
    (!v.valid).then(|| {
        if v.reasons.is_empty() {
            "the load generator's self-check failed".to_string()
        } else {
            v.reasons.join("; ")
        }
    })
}

/// The load generator's calibrated floor (its own latency and rate against a
/// trivial reflector it starts itself), as a sentence, if the run recorded one.
pub fn generator_floor(info: &crate::results::RunInfo) -> Option<String> {
    let c = info.calibration.as_ref()?;
    let one = &c.one_connection;
    let max = &c.max_rate;
    Some(format!(
        "against {} ({}), one connection's round trip took p50 {:.1} µs, p99 {:.1} µs, and {} connections reached {:.0} requests/s{} \
         — no figure in this report can be read below that floor",
        c.reflector,
        c.workload,
        one.latency_ns.p50 as f64 / 1000.0,
        one.latency_ns.p99 as f64 / 1000.0,
        max.connections,
        max.throughput_rps,
        if one.errors + max.errors > 0 {
            format!(" ({} failed requests: treat it as no floor)", one.errors + max.errors)
        } else {
            String::new()
        }
    ))
}

/// What sampling the server cost, as a sentence, if the reports carry it.
/// They do not yet: the sampler runs inside the load generator's process.
pub fn probe_cost(_results: &crate::results::ResultSet) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic;

    #[test]
    fn an_invalid_point_becomes_a_caveat() {
        let experiment = crate::experiments::all()
            .into_iter()
            .find(|e| e.id == "overview")
            .expect("overview is registered");
        let data = synthetic::results(&experiment, 1, |p, _, r| {
            if matches!(p.load.mode, loadgen::Mode::Open { .. }) {
                r.validity = Some(loadgen::report::Validity {
                    valid: false,
                    reasons: vec!["sent 80% of the offered rate".to_string()],
                    ..Default::default()
                });
            }
        });
        let open = data
            .measurements
            .iter()
            .find(|m| m.report.as_ref().is_some_and(|r| r.validity.is_some()))
            .expect("overview has open-loop points");
        assert_eq!(
            invalid_reason(open).as_deref(),
            Some("sent 80% of the offered rate")
        );
        let notes = crate::experiments::experiment_caveats(&data, "overview");
        assert!(
            notes.iter().any(|n| n.contains("did not offer its plan")),
            "{notes:?}"
        );
        let closed = data.measurements.iter().find(|m| m.x == 1.0).unwrap();
        assert_eq!(invalid_reason(closed), None);
    }
}
