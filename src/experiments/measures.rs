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
/// offered rate, send lag past its bound), if it did. The report has no
/// validity flag yet: nothing is judged invalid until it has.
pub fn invalid_reason(_m: &Measurement) -> Option<String> {
    None
}
