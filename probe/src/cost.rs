//! What a server tree cost over a window, and the per-request arithmetic
//! every cost figure of the workspace uses.

/// One timeline sample of the server's tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeSample {
    /// Seconds since the window began (negative before it).
    pub t_s: f64,
    pub processes: u64,
    pub threads: u64,
    pub zombies: u64,
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// The tree's TCP socket memory, when its cgroup counts it.
    pub socket_mem_kb: Option<u64>,
    /// The tree's CPU since the probe started, in seconds.
    pub cpu_s: f64,
}

/// What serving cost the server's tree over the window (see the fields of
/// `loadgen::report::ServerCost`, which carries them into the JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeCost {
    pub pid: u32,
    pub cpu_ns: u64,
    pub cpu_user_s: f64,
    pub cpu_system_s: f64,
    pub cpu_us_per_req: f64,
    /// `CpuSource::name()` of the figure.
    pub cpu_source: &'static str,
    pub cpu_exact: bool,
    pub cpuset_us_per_req: Option<f64>,
    pub voluntary_ctxt_switches: u64,
    pub involuntary_ctxt_switches: u64,
    /// Both kinds of context switch per completed request (0 without requests).
    pub ctxt_switches_per_req: f64,
    /// System calls the tree entered over the window, when counted
    /// ([`crate::ServerMonitor::count_syscalls`]).
    pub syscalls: Option<u64>,
    pub syscalls_per_req: Option<f64>,
    /// Why `syscalls` is `None` (not asked for, perf missing or refused).
    pub syscalls_note: Option<String>,
    pub peak_rss_kb: u64,
    pub peak_pss_kb: u64,
    pub socket_mem_kb: Option<u64>,
    pub kernel_mem_kb: Option<u64>,
    pub peak_processes: u64,
    pub peak_threads: u64,
    pub peak_zombies: u64,
    pub zombies_end: u64,
    /// CPU the probe itself used (its sampling thread and the edge reads), µs.
    pub probe_cpu_us: f64,
    /// The sampling interval it settled on (it widens on huge trees), ms.
    pub sample_interval_ms: f64,
    pub samples: Vec<TreeSample>,
}

/// Microseconds of CPU per request; 0 when no request completed.
pub fn per_request_us(cpu_s: f64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        cpu_s * 1e6 / requests as f64
    }
}

/// CPU seconds per wall second divided by `threads` (1.0 = every thread busy).
pub fn utilization(cpu_s: f64, wall_s: f64, threads: usize) -> f64 {
    if wall_s > 0.0 && threads > 0 {
        cpu_s / (wall_s * threads as f64)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_request_figures_never_divide_by_zero() {
        assert_eq!(per_request_us(2.0, 0), 0.0);
        assert_eq!(per_request_us(2.0, 4), 500_000.0);
        assert_eq!(utilization(1.0, 0.0, 2), 0.0);
        assert_eq!(utilization(1.0, 1.0, 2), 0.5);
    }
}
