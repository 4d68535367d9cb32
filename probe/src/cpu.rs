//! The CPU of a server's whole tree, read at an instant: from its own cgroup
//! when it has one (exact), else from per-process clocks (exact for live
//! processes, tick-rounded for zombies and reaped children, blind to
//! children the kernel reaped under `SIGCHLD = SIG_IGN`).

use std::fs;
use std::io;
use std::path::PathBuf;

use nix::time::{clock_getcpuclockid, clock_gettime};
use nix::unistd::Pid;

use crate::cgroup::{server_group, Hierarchy};
use crate::parse::{ignores_sigchld, keyed_value};
use crate::ticks_per_s;
use crate::tree::{not_found, read_proc, tree_stats};

/// Where a CPU figure came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CpuSource {
    /// The server's own cgroup v1 `cpuacct.usage`: nanoseconds of every task
    /// that ever ran in it, exited, zombie or auto-reaped. Exact.
    CgroupCpuacct,
    /// The server's own cgroup v2 `cpu.stat usage_usec`: the same, in microseconds. Exact.
    CgroupCpuStat,
    #[default]
    /// No group of its own (not root, another host's delegation): Σ over the
    /// live tree of each process's CPU clock (`clock_getcpuclockid`, ns, its
    /// exited threads included) + zombies' and reaped children's stat ticks.
    ProcessClocks,
}

impl CpuSource {
    /// The name stored in the JSON (`cpu_source`).
    pub fn name(self) -> &'static str {
        match self {
            CpuSource::CgroupCpuacct => "cgroup-cpuacct",
            CpuSource::CgroupCpuStat => "cgroup-cpu-stat",
            CpuSource::ProcessClocks => "process-clocks",
        }
    }

    /// Whether every nanosecond the tree ran is in the figure.
    pub fn exact(self) -> bool {
        self != CpuSource::ProcessClocks
    }
}

/// The tree's CPU so far, cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuReading {
    pub(crate) total_ns: u64,
    pub(crate) user_ns: u64,
    pub(crate) system_ns: u64,
    /// A process of the tree ignores SIGCHLD: its children's CPU is lost
    /// to the per-process clocks (never to a cgroup).
    pub(crate) sigchld_ignored: bool,
}

/// Reads one server tree's CPU, from the best source it has.
#[derive(Debug, Clone)]
pub(crate) struct CpuMeter {
    pid: u32,
    source: CpuSource,
    group: Option<PathBuf>,
}

impl CpuMeter {
    /// Finds `pid`'s own cgroup, or settles for per-process clocks.
    pub(crate) fn new(pid: u32) -> CpuMeter {
        let (source, group) = if let Some(dir) =
            server_group(Hierarchy::Cpuacct, pid).filter(|d| d.join("cpuacct.usage").exists())
        {
            (CpuSource::CgroupCpuacct, Some(dir))
        } else if let Some(dir) =
            server_group(Hierarchy::Unified, pid).filter(|d| d.join("cpu.stat").exists())
        {
            (CpuSource::CgroupCpuStat, Some(dir))
        } else {
            (CpuSource::ProcessClocks, None)
        };
        CpuMeter { pid, source, group }
    }

    pub(crate) fn source(&self) -> CpuSource {
        self.source
    }

    /// The tree's CPU now. A cgroup read is one or three small files, cheap
    /// enough for the caller's thread at the window's edges; the clocks walk
    /// the whole tree.
    pub(crate) fn read(&self) -> io::Result<CpuReading> {
        match (&self.source, &self.group) {
            (CpuSource::CgroupCpuacct, Some(dir)) => {
                let ns = |file: &str| -> io::Result<u64> {
                    let text = fs::read_to_string(dir.join(file))?;
                    text.trim().parse().map_err(|_| bad(dir, file))
                };
                // The user/system split is the kernel's tick-sampled one
                // (cpuacct.stat, clock ticks); the total is exact.
                let stat = fs::read_to_string(dir.join("cpuacct.stat")).unwrap_or_default();
                let ticks = |key| keyed_value(&stat, key).map_or(0, ticks_ns);
                Ok(CpuReading {
                    total_ns: ns("cpuacct.usage")?,
                    user_ns: ticks("user"),
                    system_ns: ticks("system"),
                    sigchld_ignored: false,
                })
            }
            (CpuSource::CgroupCpuStat, Some(dir)) => {
                let text = fs::read_to_string(dir.join("cpu.stat"))?;
                let us = |key| keyed_value(&text, key).map(|v| v * 1000);
                Ok(CpuReading {
                    total_ns: us("usage_usec").ok_or_else(|| bad(dir, "cpu.stat"))?,
                    user_ns: us("user_usec").unwrap_or(0),
                    system_ns: us("system_usec").unwrap_or(0),
                    sigchld_ignored: false,
                })
            }
            _ => self.read_clocks(),
        }
    }

    fn read_clocks(&self) -> io::Result<CpuReading> {
        let tree = tree_stats(self.pid)?.ok_or_else(|| not_found(self.pid))?;
        let mut r = CpuReading::default();
        for stat in tree {
            r.user_ns += ticks_ns(stat.utime + stat.cutime);
            r.system_ns += ticks_ns(stat.stime + stat.cstime);
            let reaped_ns = ticks_ns(stat.cutime + stat.cstime);
            let clock_ns = (!stat.is_zombie())
                .then(|| process_clock_ns(stat.pid))
                .flatten();
            r.total_ns += match clock_ns {
                Some(own) => own + reaped_ns,
                // A zombie (or one that exited since its stat): its final ticks.
                None => ticks_ns(stat.total_ticks()),
            };
            if !stat.is_zombie()
                && read_proc(&format!("/proc/{}/status", stat.pid))
                    .is_some_and(|s| ignores_sigchld(&s))
            {
                r.sigchld_ignored = true;
            }
        }
        Ok(r)
    }
}

/// Clock ticks in ns.
fn ticks_ns(ticks: u64) -> u64 {
    (ticks as f64 * 1e9 / ticks_per_s()) as u64
}

/// A process's CPU clock (all its threads, live and exited), in ns.
fn process_clock_ns(pid: u32) -> Option<u64> {
    let clock = clock_getcpuclockid(Pid::from_raw(pid as i32)).ok()?;
    let t = clock_gettime(clock).ok()?;
    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

fn bad(dir: &std::path::Path, file: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} holds no CPU figure (an unusual kernel?)",
            dir.join(file).display()
        ),
    )
}
