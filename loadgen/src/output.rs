//! The human summary, in the shape people know from wrk2: what ran, a
//! latency table (corrected and uncorrected side by side in `open` mode), the
//! errors by kind, the UDP accounting, what the server and the load generator
//! spent, and wrk's closing `Requests/sec:` and `Transfer/sec:` lines.

use std::fmt::Write as _;

use crate::engine::{target_name, workload_name};
use crate::report::{LoadErrors, LoadReport, Percentiles};

/// A latency in nanoseconds as wrk prints it: `812.00ns`, `45.20us`, `1.20ms`, `2.01s`.
pub fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.2}ns")
    } else if ns < 1e6 {
        format!("{:.2}us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.2}s", ns / 1e9)
    }
}

/// One second of a run, as the line printed while it goes:
/// `[   3s]    41200 req/s  p50  23.10us  p99  88.00us  0 errors`
/// (the rate over the second's span: the window's last second may be partial).
pub fn progress_line(t: &crate::Tick) -> String {
    format!(
        "[{:>4}s] {:>8} req/s  p50 {:>8}  p99 {:>8}  {} errors",
        t.second,
        t.rate_rps().round() as u64,
        format_ns(t.latency_ns(0.5) as f64),
        format_ns(t.latency_ns(0.99) as f64),
        t.errors
    )
}

/// A byte count as wrk prints it (binary units): `512.00B`, `7.53MB`.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}

/// The error counts by kind, e.g. `mismatch 2, reset 1` (empty when none).
pub fn error_kinds(e: &LoadErrors) -> String {
    let kinds = [
        ("connect refused", e.connect_refused),
        ("connect timeout", e.connect_timeout),
        ("connect other", e.connect_other),
        ("ports exhausted", e.ports_exhausted),
        ("reset", e.reset),
        ("short response", e.short_response),
        ("mismatch", e.mismatch),
        ("server error", e.server_error),
        ("timeout", e.timeout),
        ("io", e.io),
        ("dropped idle", e.dropped_idle),
    ];
    kinds
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(p: &Percentiles) -> [(&'static str, f64); 12] {
    // wrk2's spectrum: 50, 75, 90, 99, 99.9, 99.99, 99.999, 100.
    [
        ("min", p.min as f64),
        ("50%", p.p50 as f64),
        ("75%", p.p75 as f64),
        ("90%", p.p90 as f64),
        ("99%", p.p99 as f64),
        ("99.9%", p.p999 as f64),
        ("99.99%", p.p9999 as f64),
        ("99.999%", p.p99999 as f64),
        ("max", p.max as f64),
        ("mean", p.mean),
        ("stdev", p.stdev),
        ("count", p.count as f64),
    ]
}

fn cell(name: &str, value: f64) -> String {
    if name == "count" {
        format!("{value:.0}")
    } else {
        format_ns(value)
    }
}

/// The whole summary, ending with `Requests/sec:` and `Transfer/sec:`.
pub fn summary(r: &LoadReport) -> String {
    let mut out = String::new();
    let plan = &r.plan;
    let _ = writeln!(
        out,
        "Running {:.2}s {} test @ {} (+{} warm-up){}",
        r.duration_s,
        plan.mode.name(),
        target_name(&plan.target),
        humanish(plan.warmup.as_secs_f64()),
        if r.partial {
            " [PARTIAL: interrupted]"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  {}, {} threads and {} connections (+{} idle)",
        workload_name(plan),
        r.loadgen.threads,
        plan.connections,
        plan.idle_connections
    );

    match &r.uncorrected_latency_ns {
        Some(u) => {
            let _ = writeln!(
                out,
                "  Latency (from intended send time)   uncorrected (service time)"
            );
            for ((name, c), (_, s)) in rows(&r.latency_ns).into_iter().zip(rows(u)) {
                let _ = writeln!(
                    out,
                    "    {name:<7} {:>12}          {:>12}",
                    cell(name, c),
                    cell(name, s)
                );
            }
        }
        None => {
            let _ = writeln!(out, "  Latency");
            for (name, v) in rows(&r.latency_ns) {
                let _ = writeln!(out, "    {name:<7} {:>12}", cell(name, v));
            }
        }
    }
    if let Some(c) = &r.connect_latency_ns {
        let _ = writeln!(
            out,
            "  Connect latency: 50% {}, 99% {}, max {} ({} connects)",
            format_ns(c.p50 as f64),
            format_ns(c.p99 as f64),
            format_ns(c.max as f64),
            c.count
        );
    }
    let _ = writeln!(
        out,
        "  {} requests in {:.2}s, {} read, {} written",
        r.requests,
        r.duration_s,
        format_bytes(r.bytes_received as f64),
        format_bytes(r.bytes_sent as f64)
    );
    if r.errors.total > 0 {
        let _ = writeln!(
            out,
            "  Errors: {} ({})",
            r.errors.total,
            error_kinds(&r.errors)
        );
    }
    if r.errors.ports_exhausted > 0 {
        let _ = writeln!(
            out,
            "  Ran out of local ports {} times (EADDRNOTAVAIL): use --linger-zero, or widen \
             net.ipv4.ip_local_port_range",
            r.errors.ports_exhausted
        );
    }
    if let Some(u) = &r.udp {
        let lost_pct = if u.sent > 0 {
            100.0 * u.lost as f64 / u.sent as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  UDP: sent {}, answered {}, lost {} ({lost_pct:.2}%), late {}, duplicates {}; \
             kernel RcvbufErrors +{}, InErrors +{}",
            u.sent,
            u.answered,
            u.lost,
            u.late,
            u.duplicates,
            u.kernel_rcvbuf_errors,
            u.kernel_in_errors
        );
    }
    if let Some(offered) = r.offered_rps {
        let _ = writeln!(
            out,
            "  Offered {offered:.2} req/s, achieved {:.2} req/s",
            r.throughput_rps
        );
    }
    if let Some(lag) = &r.send_lag_ns {
        let _ = writeln!(
            out,
            "  Send lag (actual - intended send): 50% {}, 99% {}, max {}",
            format_ns(lag.p50 as f64),
            format_ns(lag.p99 as f64),
            format_ns(lag.max as f64)
        );
    }
    if let Some(v) = &r.validity {
        if v.valid {
            let _ = writeln!(
                out,
                "  Valid point: {:.2} req/s sent in the interval (within {:.0}%), send lag p99 within {}",
                v.achieved_rps,
                v.rate_tolerance * 100.0,
                format_ns(v.send_lag_bound_ns as f64)
            );
        } else {
            let _ = writeln!(out, "  INVALID POINT:");
            for reason in &v.reasons {
                let _ = writeln!(out, "    {reason}");
            }
        }
    }
    if let Some(s) = &r.server {
        let cpuset = s
            .cpuset_us_per_req
            .map(|v| format!("; its CPUs busy {v:.2} us/request"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  Server pid {}: {:.2} us CPU/request (user {:.2}s, system {:.2}s){cpuset}",
            s.pid, s.cpu_us_per_req, s.cpu_user_s, s.cpu_system_s
        );
        let _ = writeln!(
            out,
            "    peak RSS {}, peak {} processes / {} threads, zombies peak {} end {}, \
             context switches {} voluntary / {} involuntary",
            format_bytes(s.peak_rss_kb as f64 * 1024.0),
            s.peak_processes,
            s.peak_threads,
            s.peak_zombies,
            s.zombies_end,
            s.voluntary_ctxt_switches,
            s.involuntary_ctxt_switches
        );
        // Nothing about system calls unless they were asked for.
        let syscalls = match (s.syscalls, s.syscalls_per_req, s.syscalls_note.as_deref()) {
            (Some(n), Some(per), _) => format!("; system calls {n} ({per:.2}/request)"),
            (Some(n), None, _) => format!("; system calls {n}"),
            (None, _, Some(why)) if !why.starts_with("not asked") => {
                format!("; system calls not counted: {why}")
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "    context switches per request {:.3}{syscalls}",
            s.ctxt_switches_per_req
        );
    }
    if let Some(a) = &r.attack {
        let _ = writeln!(
            out,
            "  Attackers: {} connections opened, {} failed, {} closed by the server, {} held at the end, {} bytes sent",
            a.opened, a.failed, a.closed_by_server, a.held_at_end, a.bytes_sent
        );
    }
    if r.udp.is_none() {
        let _ = writeln!(
            out,
            "  Kernel TCP: ListenOverflows +{}, ListenDrops +{}",
            r.kernel_tcp.listen_overflows, r.kernel_tcp.listen_drops
        );
        if r.kernel_tcp.listen_overflows > 0 {
            let _ = writeln!(
                out,
                "    an accept backlog overflowed (on this host): handshakes were dropped and \
                 retried, and a connection held idle may be dead on the server's side"
            );
        }
    }
    let _ = writeln!(
        out,
        "  Load generator: {} threads {:.0}% busy, {:.2} us CPU/request",
        r.loadgen.threads,
        r.loadgen.utilization * 100.0,
        r.loadgen.cpu_us_per_req
    );
    let _ = writeln!(out, "Requests/sec: {:>10.2}", r.throughput_rps);
    let transfer = if r.duration_s > 0.0 {
        r.bytes_received as f64 / r.duration_s
    } else {
        0.0
    };
    let _ = writeln!(out, "Transfer/sec: {:>10}", format_bytes(transfer));
    out
}

fn humanish(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2}s")
    } else {
        format!("{:.0}ms", seconds * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_like_wrk() {
        assert_eq!(format_ns(812.0), "812.00ns");
        assert_eq!(format_ns(45_200.0), "45.20us");
        assert_eq!(format_ns(1_200_000.0), "1.20ms");
        assert_eq!(format_ns(2_010_000_000.0), "2.01s");
        assert_eq!(format_bytes(512.0), "512.00B");
        assert_eq!(format_bytes(1.5 * 1024.0 * 1024.0), "1.50MB");
    }

    #[test]
    fn error_kinds_list_only_what_happened() {
        let e = LoadErrors {
            mismatch: 2,
            reset: 1,
            total: 3,
            ..LoadErrors::default()
        };
        assert_eq!(error_kinds(&e), "reset 1, mismatch 2");
        assert_eq!(error_kinds(&LoadErrors::default()), "");
    }
}
