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
pub const SERVER_CPU_COUNTS: &str = "CPU of every task of the server's process tree over the window \
    (threads, forked children live, exited, zombie or auto-reaped), read in nanoseconds from the server's own \
    cgroup at the window's two edges (`cpu_source` in each JSON; without a cgroup, each process's CPU clock), \
    divided by completed requests. On loopback it holds only the kernel work that ran on the server's side";

/// What [`pinned_cpu_us_per_req`] counts.
pub const PINNED_CPU_COUNTS: &str =
    "busy time of the server's pinned CPUs (/proc/stat) per request: \
    everything that ran there, including softirq work the kernel did for either side";

/// What [`machine_cpu_us_per_req`] counts.
pub const MACHINE_CPU_COUNTS: &str =
    "busy time of every CPU of the machine over the window (/proc/stat) per request: server, load generator \
    and all kernel work of a request on both sides; on loopback a packet's receive path runs on the sender's \
    CPU, so only this figure compares designs whose kernel work lands on different cores";

/// What [`memory_kb`] counts.
pub const MEMORY_COUNTS: &str =
    "peak over the window of the PSS summed over the server's process tree (smaps_rollup: a page shared by n \
    processes counts 1/n in each, so once in all), plus the kernel memory charged to the server's own memory \
    cgroup (socket objects, kernel stacks, page tables) and its TCP socket buffers; RSS is kept beside it in the JSON. \
    A point without PSS (smaps_rollup unreadable, or older results) falls back to the RSS sum, an upper bound for forked trees, \
    and says so in its experiment's caveats";

/// What [`ctxt_switches_per_req`] counts.
pub const SWITCHES_COUNTS: &str =
    "voluntary and involuntary context switches of every thread of the server's tree over the window \
    (each thread's /proc status, summed between samples), per completed request: a blocking pool sleeps \
    and is woken about once a request, an event loop a few times per thousand";

/// What [`syscalls_per_req`] counts.
pub const SYSCALLS_COUNTS: &str =
    "system calls every task of the server's tree entered over the window (`perf stat -e \
    raw_syscalls:sys_enter`, switched on and off at the window's edges), per completed request; counted only \
    at the points that say so, since the tracepoint slows each call (about 0.3 µs here) and so raises the \
    server CPU figure of those points, most for the models that make the most calls";

/// Context switches of the server's tree per completed request.
pub fn ctxt_switches_per_req(r: &LoadReport) -> Option<f64> {
    let s = r.server.as_ref()?;
    if s.ctxt_switches_per_req > 0.0 {
        return Some(s.ctxt_switches_per_req);
    }
    // Results made before the per-request figure existed: from the counts.
    (r.requests > 0).then(|| {
        (s.voluntary_ctxt_switches + s.involuntary_ctxt_switches) as f64 / r.requests as f64
    })
}

/// System calls of the server's tree per completed request, where counted.
pub fn syscalls_per_req(r: &LoadReport) -> Option<f64> {
    r.server.as_ref()?.syscalls_per_req
}

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
    if let Some(v) = r.machine_cpu_us_per_req.filter(|v| *v > 0.0) {
        return Some(v);
    }
    // Results made before the machine's busy time was recorded: both sides' own figures.
    let server = pinned_cpu_us_per_req(r).or_else(|| server_cpu_us_per_req(r))?;
    Some(server + loadgen_cpu_us_per_req(r).unwrap_or(0.0))
}

/// Why a point's server CPU is not exact, if it is not: without a cgroup of
/// its own the probe reads each process's CPU clock, which misses children
/// the kernel reaped itself (SIGCHLD ignored) and rounds reaped ones to ticks.
/// Results made before `cpu_source` existed (empty) say nothing.
pub fn cpu_inexact(r: &LoadReport) -> Option<String> {
    let s = r.server.as_ref()?;
    (!s.cpu_exact && !s.cpu_source.is_empty()).then(|| {
        format!(
            "source `{}` (no cgroup of the server's own: run as root for exact CPU)",
            s.cpu_source
        )
    })
}

/// Which CPU source the run's measurements used, as a sentence with a count
/// per source (`cpu_source`), if any report recorded one.
pub fn cpu_sources(results: &crate::results::ResultSet) -> Option<String> {
    let mut count: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in results
        .measurements
        .iter()
        .filter(|m| m.same_as.is_none())
        .filter_map(|m| m.report.as_ref()?.server.as_ref())
    {
        let source = if s.cpu_source.is_empty() {
            "not recorded (older results)"
        } else {
            s.cpu_source.as_str()
        };
        *count.entry(source).or_default() += 1;
    }
    if count.is_empty() {
        return None;
    }
    let parts: Vec<String> = count
        .iter()
        .map(|(source, n)| {
            let how = match *source {
                "cgroup-cpuacct" | "cgroup-cpu-stat" => "exact",
                "process-clocks" => "not exact: misses children reaped under SIG_IGN",
                _ => "exactness unknown",
            };
            format!("`{source}` in {n} measurements ({how})")
        })
        .collect();
    Some(parts.join(", "))
}

/// True when [`memory_kb`] had no PSS to read and fell back to RSS, an upper
/// bound for forked trees (shared pages counted once per process).
pub fn memory_is_rss(r: &LoadReport) -> bool {
    r.server.as_ref().is_some_and(|s| s.peak_pss_kb == 0)
}

/// The server's memory, in kB (see [`MEMORY_COUNTS`]).
pub fn memory_kb(r: &LoadReport) -> Option<f64> {
    let s = r.server.as_ref()?;
    if s.peak_pss_kb == 0 {
        // No PSS (older results, or smaps_rollup unreadable): RSS, an upper
        // bound for forked trees; `memory_is_rss` makes it a caveat.
        return Some(s.peak_rss_kb as f64);
    }
    let kernel = s.kernel_mem_kb.unwrap_or(0) + s.socket_mem_kb.unwrap_or(0);
    Some((s.peak_pss_kb + kernel) as f64)
}

/// The server tree's summed RSS peak, in kB (shared pages once per process).
pub fn rss_kb(r: &LoadReport) -> Option<f64> {
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
pub fn probe_cost(results: &crate::results::ResultSet) -> Option<String> {
    let mut cpu_us = 0.0;
    let mut window_s = 0.0;
    let mut intervals = Vec::new();
    for r in results
        .measurements
        .iter()
        .filter(|m| m.same_as.is_none())
        .filter_map(|m| m.report.as_ref())
    {
        if let Some(s) = r.server.as_ref().filter(|s| s.sample_interval_ms > 0.0) {
            cpu_us += s.probe_cpu_us;
            window_s += r.duration_s;
            intervals.push(s.sample_interval_ms);
        }
    }
    if window_s <= 0.0 {
        return None;
    }
    intervals.sort_by(f64::total_cmp);
    Some(format!(
        "the probe (a SCHED_IDLE sampling thread, not pinned to the load generator's CPUs, plus the window-edge reads) \
         used {:.2} ms of CPU per second of measurement ({:.2} % of one CPU); its sampling interval ranged {:.0}–{:.0} ms",
        cpu_us / 1e3 / window_s,
        cpu_us / 1e4 / window_s,
        intervals[0],
        intervals[intervals.len() - 1],
    ))
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

    #[test]
    fn per_process_clocks_become_a_caveat_and_a_methods_count() {
        let experiment = crate::experiments::all()
            .into_iter()
            .find(|e| e.id == "overview")
            .expect("overview is registered");
        let data = synthetic::results(&experiment, 1, |_, repeat, r| {
            let s = r.server.as_mut().unwrap();
            s.cpu_source = if repeat == 0 { "process-clocks" } else { "" }.to_string();
        });
        let notes = crate::experiments::experiment_caveats(&data, "overview");
        assert!(
            notes.iter().any(|n| n.contains("per-process clocks")),
            "{notes:?}"
        );
        let sources = cpu_sources(&data).expect("servers were sampled");
        assert!(sources.contains("`process-clocks` in"), "{sources}");
        // Old results (no source recorded) and exact sources say nothing.
        let mut r = synthetic::report();
        assert_eq!(cpu_inexact(&r), None);
        let s = r.server.as_mut().unwrap();
        s.cpu_source = "cgroup-cpuacct".to_string();
        s.cpu_exact = true;
        assert_eq!(cpu_inexact(&r), None);
    }
}
