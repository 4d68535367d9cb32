//! The probe's figures carried into the report's plain data: the server's
//! tree cost and the load generator's own, with the probe's arithmetic.

use crate::report::{KernelTcp, LoadgenCost, ServerCost, ServerSample};

impl LoadgenCost {
    /// The cost of `threads` engine threads that used `user_s` + `system_s`
    /// CPU seconds over `duration_s` wall seconds for `requests` requests.
    pub fn new(user_s: f64, system_s: f64, duration_s: f64, threads: usize, requests: u64) -> Self {
        let cpu_s = user_s + system_s;
        LoadgenCost {
            cpu_user_s: user_s,
            cpu_system_s: system_s,
            utilization: probe::utilization(cpu_s, duration_s, threads),
            cpu_us_per_req: probe::per_request_us(cpu_s, requests),
            threads,
        }
    }
}

/// The report's form of the probe's tree cost.
pub(crate) fn server_cost(c: probe::TreeCost) -> ServerCost {
    ServerCost {
        pid: c.pid,
        cpu_user_s: c.cpu_user_s,
        cpu_system_s: c.cpu_system_s,
        cpu_us_per_req: c.cpu_us_per_req,
        cpuset_us_per_req: c.cpuset_us_per_req,
        voluntary_ctxt_switches: c.voluntary_ctxt_switches,
        involuntary_ctxt_switches: c.involuntary_ctxt_switches,
        ctxt_switches_per_req: c.ctxt_switches_per_req,
        syscalls: c.syscalls,
        syscalls_per_req: c.syscalls_per_req,
        syscalls_note: c.syscalls_note,
        peak_rss_kb: c.peak_rss_kb,
        peak_processes: c.peak_processes,
        peak_threads: c.peak_threads,
        peak_zombies: c.peak_zombies,
        zombies_end: c.zombies_end,
        samples: c
            .samples
            .iter()
            .map(|s| ServerSample {
                t_s: s.t_s,
                processes: s.processes,
                threads: s.threads,
                zombies: s.zombies,
                rss_kb: s.rss_kb,
                cpu_s: s.cpu_s,
                pss_kb: s.pss_kb,
                socket_mem_kb: s.socket_mem_kb,
            })
            .collect(),
        cpu_ns: c.cpu_ns,
        cpu_source: c.cpu_source.to_string(),
        cpu_exact: c.cpu_exact,
        peak_pss_kb: c.peak_pss_kb,
        socket_mem_kb: c.socket_mem_kb,
        kernel_mem_kb: c.kernel_mem_kb,
        probe_cpu_us: c.probe_cpu_us,
        sample_interval_ms: c.sample_interval_ms,
    }
}

/// The report's form of the probe's TCP counters.
pub(crate) fn kernel_tcp(k: probe::KernelTcp) -> KernelTcp {
    KernelTcp {
        listen_overflows: k.listen_overflows,
        listen_drops: k.listen_drops,
        syn_retransmits: k.syn_retransmits,
    }
}

/// Machine busy time between two /proc/stat reads, per request.
pub(crate) fn machine_us_per_req(
    before: Option<u64>,
    after: Option<u64>,
    requests: u64,
) -> Option<f64> {
    let (b, a) = (before?, after?);
    Some(probe::per_request_us(
        a.saturating_sub(b) as f64 / 1e9,
        requests,
    ))
}
