//! The server's cost, read from /proc: CPU, context switches, memory and
//! process counts of its whole process tree; kernel TCP/UDP counters; our own CPU.
//!
//! # How the tree's CPU is counted
//! Tree CPU = Σ over every live process of the tree (the root and all its
//! descendants, zombies included) of utime + stime + cutime + cstime, from
//! `/proc/<pid>/stat` (fields 14–17, clock ticks). A process's stat covers all
//! its threads, live and exited; cutime/cstime hold the children it has reaped
//! (and, recursively, what they had reaped). A reaped process is no longer
//! live, so its time is counted exactly once, in its reaper's cutime: totals
//! are computed afresh from each sample, never by adding deltas of vanished pids.
//!
//! Known limits: children auto-reaped under `SIGCHLD = SIG_IGN` (or orphans
//! adopted by init) never reach any cutime, so the tree figure undercounts
//! them; that is what `cpuset_us_per_req` is for (the busy time of the
//! server's pinned CPUs, from /proc/stat). Context switches (from every
//! thread's `/proc/<pid>/task/<tid>/status`) are summed per thread between
//! samples, so a process born and gone within one interval is missed. A
//! child reaped while a sample is being read can be missed or counted twice
//! in that one sample. Kernel counters are those of the server's network
//! namespace when its pid is known (the same as ours on loopback; another
//! host's with `run --two-hosts`), else of this process's.
//!
//! | file | what it does |
//! | --- | --- |
//! | `procfs.rs` | the public surface: monitor, snapshot, kernel counters, own CPU |
//! | `sampler.rs` | the sampling thread: baseline at the mark, peaks, switch ledger |
//! | `tree.rs` | one pass over /proc: the tree under a pid, summed |
//! | `parse.rs` | the text of /proc files, fixed-text tests |

mod parse;
mod sampler;
mod tree;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;
use nix::unistd::{sysconf, SysconfVar};

use crate::report::{KernelTcp, ServerCost};
use parse::keyed_counters;
use sampler::{Command, Sampler};
use tree::{not_found, sample_tree};

/// Samples a server's whole process tree (root pid and all descendants:
/// forked children and their threads) on a background thread. Dropping it
/// without [`finish`](ServerMonitor::finish) stops the thread too.
pub struct ServerMonitor {
    pid: u32,
    commands: mpsc::Sender<Command>,
    sampler: JoinHandle<ServerCost>,
}

impl ServerMonitor {
    /// Starts sampling `pid`'s tree every `interval`. `cpus`: the server's
    /// pinned CPUs, if any, for the per-CPU busy time from /proc/stat.
    /// Fails with `NotFound` if `pid` does not exist.
    pub fn start(
        pid: u32,
        cpus: Option<Vec<usize>>,
        interval: Duration,
    ) -> io::Result<ServerMonitor> {
        let sampler = Sampler::new(pid, cpus)?;
        let (commands, inbox) = mpsc::channel();
        let sampler = thread::Builder::new()
            .name(format!("procfs-{pid}"))
            .spawn(move || sampler.run(&inbox, interval))?;
        Ok(ServerMonitor {
            pid,
            commands,
            sampler,
        })
    }

    /// The warm-up has ended: from now on CPU, context switches and peaks are
    /// counted; samples' `t_s` is relative to this moment (negative before it).
    /// Without a call, everything counts from `start`.
    pub fn mark_recording_start(&self) {
        // A send fails only if the sampler is gone; finish() then reports that.
        let _ = self.commands.send(Command::Mark(Instant::now()));
    }

    /// Stops sampling (after one last sample) and returns the cost over the
    /// recorded interval; `requests` completed in it give the per-request
    /// figures (0 requests → 0.0).
    pub fn finish(self, requests: u64) -> ServerCost {
        let empty = ServerCost {
            pid: self.pid,
            ..ServerCost::default()
        };
        if self.commands.send(Command::Finish(requests)).is_err() {
            return empty;
        }
        self.sampler.join().unwrap_or(empty)
    }
}

/// Absolute kernel UDP counters (/proc/net/snmp); callers take deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelUdp {
    pub rcvbuf_errors: u64,
    pub in_errors: u64,
}

impl KernelUdp {
    /// The growth since `before` (saturating).
    pub fn delta_since(&self, before: &KernelUdp) -> KernelUdp {
        KernelUdp {
            rcvbuf_errors: self.rcvbuf_errors.saturating_sub(before.rcvbuf_errors),
            in_errors: self.in_errors.saturating_sub(before.in_errors),
        }
    }
}

impl KernelTcp {
    /// The growth since `before` (saturating).
    pub fn delta_since(&self, before: &KernelTcp) -> KernelTcp {
        KernelTcp {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            listen_drops: self.listen_drops.saturating_sub(before.listen_drops),
            syn_retransmits: self.syn_retransmits.saturating_sub(before.syn_retransmits),
        }
    }
}

/// Absolute `TcpExt: ListenOverflows, ListenDrops` (/proc/net/netstat) of
/// this process's network namespace.
pub fn kernel_tcp() -> io::Result<KernelTcp> {
    tcp_from("/proc/net/netstat")
}

/// The same counters in the network namespace of process `pid` (the server's:
/// on another host, its backlog overflows are counted there, not here).
pub fn kernel_tcp_of(pid: u32) -> io::Result<KernelTcp> {
    tcp_from(&format!("/proc/{pid}/net/netstat"))
}

fn tcp_from(file: &str) -> io::Result<KernelTcp> {
    let text = fs::read_to_string(file)?;
    let counters = keyed_counters(&text, "TcpExt:");
    Ok(KernelTcp {
        listen_overflows: counter(&counters, file, "TcpExt", "ListenOverflows")?,
        listen_drops: counter(&counters, file, "TcpExt", "ListenDrops")?,
        // Older kernels lack it; the backlog experiment then shows none.
        syn_retransmits: counter(&counters, file, "TcpExt", "TCPSynRetrans").unwrap_or(0),
    })
}

/// Absolute `Udp: RcvbufErrors, InErrors` (/proc/net/snmp) of this process's
/// network namespace.
pub fn kernel_udp() -> io::Result<KernelUdp> {
    udp_from("/proc/net/snmp")
}

/// The same counters in the network namespace of process `pid` (the server's).
pub fn kernel_udp_of(pid: u32) -> io::Result<KernelUdp> {
    udp_from(&format!("/proc/{pid}/net/snmp"))
}

fn udp_from(file: &str) -> io::Result<KernelUdp> {
    let text = fs::read_to_string(file)?;
    let counters = keyed_counters(&text, "Udp:");
    Ok(KernelUdp {
        rcvbuf_errors: counter(&counters, file, "Udp", "RcvbufErrors")?,
        in_errors: counter(&counters, file, "Udp", "InErrors")?,
    })
}

/// This process's own CPU time so far (getrusage RUSAGE_SELF): (user_s, system_s).
pub fn self_cpu() -> (f64, f64) {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => (
            usage.user_time().num_microseconds() as f64 / 1e6,
            usage.system_time().num_microseconds() as f64 / 1e6,
        ),
        // getrusage(RUSAGE_SELF) cannot fail on Linux; zero is the safe answer.
        Err(_) => (0.0, 0.0),
    }
}

/// `pid`'s process tree right now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeSnapshot {
    /// The root and its descendants, zombies included.
    pub processes: u64,
    pub threads: u64,
    pub zombies: u64,
    pub rss_kb: u64,
    /// The tree's CPU so far (see the module doc for what it covers).
    pub cpu_s: f64,
}

/// Processes and zombies among the descendants of `pid` (and `pid`) right
/// now. Fails with `NotFound` if `pid` does not exist.
pub fn tree_snapshot(pid: u32) -> io::Result<TreeSnapshot> {
    let p = sample_tree(pid, false)?
        .ok_or_else(|| not_found(pid))?
        .point;
    Ok(TreeSnapshot {
        processes: p.processes,
        threads: p.threads,
        zombies: p.zombies,
        rss_kb: p.rss_kb,
        cpu_s: (p.user_ticks + p.system_ticks) as f64 / clock_ticks_per_s(),
    })
}

fn counter(map: &HashMap<&str, u64>, file: &str, group: &str, name: &str) -> io::Result<u64> {
    map.get(name).copied().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{file} has no {group} {name} counter (an unusual kernel?)"),
        )
    })
}

/// Clock ticks per second of /proc times (sysconf(_SC_CLK_TCK), normally 100).
pub(super) fn clock_ticks_per_s() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as f64,
        _ => 100.0,
    })
}

pub(crate) fn per_request_us(cpu_s: f64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        cpu_s * 1e6 / requests as f64
    }
}
