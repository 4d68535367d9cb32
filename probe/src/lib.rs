//! # probe — a server's cost, measured from outside
//!
//! Everything about measuring a server's process tree lives here, so the
//! load generator and the remote path use one instrument: exact CPU, honest
//! memory, process counts, the kernel's counters; and the one parser of
//! `/proc/<pid>/stat` in the workspace. The probe never runs on the load
//! generator's measuring threads: the window's edges are read by the thread
//! that names them, the timeline by a `SCHED_IDLE` sampling thread that
//! reports its own CPU.
//!
//! # How the tree's CPU is counted
//! `sockbench serve` puts itself into a cgroup of its own before its model
//! starts threads or forks ([`ServerGroup`]); the kernel charges that group
//! every nanosecond any of its tasks ran, live, exited, zombie, reaped by a
//! handler, by nobody, or by the kernel under `SIGCHLD = SIG_IGN`
//! (`cpu_source` `cgroup-cpuacct` or `cgroup-cpu-stat`, `cpu_exact`). Without
//! one (not root, a server started otherwise) the figure is Σ over the live
//! tree of each process's CPU clock (ns; its exited threads included) plus
//! zombies' and reaped children's stat ticks; children the kernel reaped
//! itself are missing, and `cpu_exact` is false (`process-clocks`).
//!
//! # How its memory is counted
//! PSS summed over the tree (`smaps_rollup`: a page shared by n processes
//! counts 1/n in each, so once in the sum) with the RSS sum beside it (which
//! counts a forked server's shared pages once per child), both peaks over the
//! window's samples; and the kernel's TCP socket memory of the server's
//! sockets, from its memory cgroup (the kernel's own peak over the window).
//!
//! Context switches (from every thread's `status`) are summed per thread
//! between samples, so a thread born and gone within one interval is missed;
//! per request they show what a design pays the scheduler (a blocking pool
//! about one a request, an event loop a few per thousand). System calls are
//! counted only when asked for, by `perf stat` (`syscalls.rs` says why).
//! Kernel counters are those of the server's network namespace when its pid
//! is known (the same as ours on loopback; another host's with
//! `run --two-hosts`), else of this process's.
//!
//! | file | what it does |
//! | --- | --- |
//! | `lib.rs` | the public surface, a snapshot of a tree |
//! | `monitor.rs` | [`ServerMonitor`]: one window's edges, read at their instants, and the cost |
//! | `sampler.rs` | the `SCHED_IDLE` sampling thread: timeline, peaks, switch ledger, its own CPU |
//! | `cpu.rs` | [`CpuSource`]: the tree's CPU from its cgroup, or from per-process clocks |
//! | `cgroup.rs` | [`ServerGroup`]: the server's own cgroups, made, found, removed |
//! | `sockmem.rs` | the kernel's TCP socket memory of the server's group |
//! | `tree.rs` | one pass over /proc: the tree under a pid, its size and memory |
//! | `stat.rs` | [`ProcStat`]: the workspace's one `/proc/<pid>/stat` parser |
//! | `syscalls.rs` | the tree's system calls over the window, by `perf stat`, when asked for |
//! | `kernel.rs` | kernel TCP/UDP counters, the machine's busy time, our own CPU |
//! | `cost.rs` | [`TreeCost`] and the per-request arithmetic |
//! | `parse.rs` | the text of /proc and cgroup files, fixed-text tests |
#![deny(unsafe_code)]

mod cgroup;
mod cost;
mod cpu;
mod kernel;
mod monitor;
mod parse;
mod sampler;
mod sockmem;
pub mod stat;
mod syscalls;
mod tree;

use std::io;
use std::sync::OnceLock;

use nix::unistd::{sysconf, SysconfVar};

pub use cgroup::{remove_leftover, GroupError, ServerGroup};
pub use cost::{per_request_us, utilization, TreeCost, TreeSample};
pub use cpu::CpuSource;
pub use kernel::{
    cpus_busy_ns, kernel_tcp, kernel_tcp_of, kernel_udp, kernel_udp_of, machine_busy_ns, self_cpu,
    KernelTcp, KernelUdp,
};
pub use monitor::ServerMonitor;
pub use stat::{parse_stat, read_stat, ProcStat};

/// `pid`'s process tree right now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeSnapshot {
    /// The root and its descendants, zombies included.
    pub processes: u64,
    pub threads: u64,
    pub zombies: u64,
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// The tree's CPU so far, from its best source (see the crate doc).
    pub cpu_s: f64,
    pub cpu_source: CpuSource,
}

/// Processes, zombies, memory and CPU of `pid` and its descendants right
/// now. Fails with `NotFound` if `pid` does not exist.
pub fn tree_snapshot(pid: u32) -> io::Result<TreeSnapshot> {
    let p = tree::sample_tree(pid, false)?
        .ok_or_else(|| tree::not_found(pid))?
        .point;
    let meter = cpu::CpuMeter::new(pid);
    Ok(TreeSnapshot {
        processes: p.processes,
        threads: p.threads,
        zombies: p.zombies,
        rss_kb: p.rss_kb,
        pss_kb: p.pss_kb,
        cpu_s: meter.read()?.total_ns as f64 / 1e9,
        cpu_source: meter.source(),
    })
}

/// Clock ticks per second of /proc times (sysconf(_SC_CLK_TCK), normally 100).
pub(crate) fn ticks_per_s() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as f64,
        _ => 100.0,
    })
}
