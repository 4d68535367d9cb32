//! [`ServerMonitor`]: the probe of one server tree over one window. The
//! window's edges (CPU, the kernel's socket-memory peak, the pinned CPUs'
//! busy time) are read on the caller's thread at the instants it names; the
//! timeline and peaks come from the sampling thread. System calls are
//! counted only when asked for ([`ServerMonitor::count_syscalls`]).

use std::io;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::cost::{per_request_us, TreeCost, TreeSample};
use crate::cpu::{CpuMeter, CpuReading};
use crate::kernel::cpus_busy_ns;
use crate::sampler::{thread_cpu_ns, Command, Sampled, Sampler, Taken};
use crate::sockmem::SocketMeter;
use crate::stat::read_stat;
use crate::syscalls::SyscallCounter;
use crate::tree::{not_found, Point};

/// One edge of the window, read at its instant.
#[derive(Debug, Clone, Copy)]
struct Edge {
    at: Instant,
    cpu: CpuReading,
    cpuset_busy_ns: Option<u64>,
}

#[derive(Debug)]
struct Edges {
    start: Edge,
    end: Option<Edge>,
    /// CPU the edge reads cost the callers' threads, ns.
    cost_ns: u64,
}

/// Probes a server's whole process tree (root pid and all descendants:
/// forked children and their threads). Dropping it without
/// [`finish`](ServerMonitor::finish) stops the sampling thread too.
pub struct ServerMonitor {
    pid: u32,
    cpus: Option<Vec<usize>>,
    cpu: CpuMeter,
    sockets: Option<SocketMeter>,
    edges: Mutex<Edges>,
    commands: mpsc::Sender<Command>,
    sampler: JoinHandle<Sampled>,
    /// The system-call counter, or why there is none.
    syscalls: Mutex<Result<SyscallCounter, String>>,
}

/// Why a window has no system-call count when nobody asked for one.
const SYSCALLS_NOT_ASKED: &str = "not asked for (counting slows every system call)";

impl ServerMonitor {
    /// Starts probing `pid`'s tree, sampling every `interval` (wider on a
    /// tree too large to sample that often cheaply). `cpus`: the server's
    /// pinned CPUs, if any, for their busy time from /proc/stat. Fails with
    /// `NotFound` if `pid` does not exist.
    pub fn start(
        pid: u32,
        cpus: Option<Vec<usize>>,
        interval: Duration,
    ) -> io::Result<ServerMonitor> {
        read_stat(pid).ok_or_else(|| not_found(pid))?;
        let cpu = CpuMeter::new(pid);
        let sockets = SocketMeter::new(pid);
        let spent = thread_cpu_ns();
        let start = edge(&cpu, cpus.as_deref())?;
        let (commands, inbox) = mpsc::channel();
        let sampler = Sampler {
            pid,
            cpu: cpu.clone(),
            sockets: sockets.clone(),
        };
        let sampler = thread::Builder::new()
            .name(format!("probe-{pid}"))
            .spawn(move || sampler.run(&inbox, interval))?;
        Ok(ServerMonitor {
            pid,
            cpus,
            cpu,
            sockets,
            edges: Mutex::new(Edges {
                start,
                end: None,
                cost_ns: thread_cpu_ns().saturating_sub(spent),
            }),
            commands,
            sampler,
            syscalls: Mutex::new(Err(SYSCALLS_NOT_ASKED.to_string())),
        })
    }

    /// Also counts the tree's system calls over the window, with `perf stat`
    /// (see `syscalls.rs`: this slows each of the server's system calls, so
    /// its CPU figures read higher). Waits until perf has attached; when perf
    /// is missing or not permitted, the window's `syscalls` is `None` and
    /// `syscalls_note` says why. Call before the window begins.
    pub fn count_syscalls(&mut self) {
        *self.syscalls.get_mut().unwrap_or_else(|e| e.into_inner()) =
            SyscallCounter::start(self.pid);
    }

    /// The warm-up has ended: from now on CPU, context switches and peaks are
    /// counted; samples' `t_s` is relative to this moment (negative before it).
    /// Without a call, everything counts from `start`.
    pub fn mark_recording_start(&self) {
        let spent = thread_cpu_ns();
        let Ok(start) = edge(&self.cpu, self.cpus.as_deref()) else {
            return; // the server is gone: finish() counts from start, and says so in the figures
        };
        if let Some(s) = &self.sockets {
            s.reset_peak();
        }
        // A send fails only if the sampler is gone; finish() then reports that.
        let _ = self.commands.send(Command::Mark);
        self.switch_syscalls(SyscallCounter::enable);
        let mut edges = self.edges.lock().unwrap_or_else(|e| e.into_inner());
        edges.start = start;
        edges.cost_ns += thread_cpu_ns().saturating_sub(spent);
    }

    /// The window has ended (the load stopped issuing requests): the CPU read now
    /// is the window's end, whenever [`finish`](ServerMonitor::finish) comes.
    pub fn mark_recording_end(&self) {
        let spent = thread_cpu_ns();
        let end = edge(&self.cpu, self.cpus.as_deref()).ok();
        let mut edges = self.edges.lock().unwrap_or_else(|e| e.into_inner());
        if edges.end.is_none() {
            edges.end = end;
            self.switch_syscalls(SyscallCounter::disable);
        }
        edges.cost_ns += thread_cpu_ns().saturating_sub(spent);
    }

    /// Turns the system-call counter on or off; a counter that fails is
    /// dropped (perf stopped) and the window reports why.
    fn switch_syscalls(&self, switch: fn(&mut SyscallCounter) -> Result<(), String>) {
        let mut counter = self.syscalls.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(c) = counter.as_mut() {
            if let Err(why) = switch(c) {
                *counter = Err(why);
            }
        }
    }

    /// Ends the window if it is still open, stops sampling (after one last
    /// sample) and returns the cost over the window; `requests` completed in
    /// it give the per-request figures (0 requests → 0.0).
    pub fn finish(self, requests: u64) -> TreeCost {
        self.mark_recording_end();
        let socket_peak_kb = self.sockets.as_ref().and_then(SocketMeter::peak_kb);
        let kernel_peak_kb = self.sockets.as_ref().and_then(SocketMeter::kernel_peak_kb);
        let sampled = match self.commands.send(Command::Finish) {
            Ok(()) => self.sampler.join().unwrap_or_default(),
            Err(_) => Sampled::default(),
        };
        let edges = self.edges.into_inner().unwrap_or_else(|e| e.into_inner());
        let syscalls = self
            .syscalls
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .and_then(SyscallCounter::finish);
        let mut cost = assemble(
            self.pid,
            self.cpu.source(),
            &edges,
            sampled,
            socket_peak_kb,
            requests,
        );
        cost.kernel_mem_kb = kernel_peak_kb;
        match syscalls {
            Ok(n) => {
                cost.syscalls = Some(n);
                cost.syscalls_per_req = (requests > 0).then(|| n as f64 / requests as f64);
            }
            Err(why) => cost.syscalls_note = Some(why),
        }
        cost
    }
}

fn edge(cpu: &CpuMeter, cpus: Option<&[usize]>) -> io::Result<Edge> {
    Ok(Edge {
        at: Instant::now(),
        cpu: cpu.read()?,
        cpuset_busy_ns: cpus.and_then(cpus_busy_ns),
    })
}

fn assemble(
    pid: u32,
    source: crate::CpuSource,
    edges: &Edges,
    sampled: Sampled,
    socket_peak_kb: Option<u64>,
    requests: u64,
) -> TreeCost {
    let start = edges.start;
    let end = edges.end.unwrap_or(start);
    let cpu_ns = end.cpu.total_ns.saturating_sub(start.cpu.total_ns);
    let user_ns = end.cpu.user_ns.saturating_sub(start.cpu.user_ns);
    let system_ns = end.cpu.system_ns.saturating_sub(start.cpu.system_ns);
    // The split comes in coarser units than the total (ticks, or the
    // kernel's own scaled split): share the exact total out in its proportion.
    let split = (user_ns + system_ns) as f64;
    let cpu_s = cpu_ns as f64 / 1e9;
    let (user_s, system_s) = if split > 0.0 {
        (
            cpu_s * user_ns as f64 / split,
            cpu_s * system_ns as f64 / split,
        )
    } else {
        (cpu_s, 0.0)
    };
    let cpuset_s = match (start.cpuset_busy_ns, end.cpuset_busy_ns) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / 1e9),
        _ => None,
    };
    let sigchld_ignored = start.cpu.sigchld_ignored || end.cpu.sigchld_ignored;

    // Peaks over the samples inside the window; when none fell inside (a
    // window shorter than one interval), the first one after its start.
    let inside: Vec<&Taken> = sampled
        .taken
        .iter()
        .filter(|t| t.at >= start.at && t.at <= end.at)
        .collect();
    let inside = if inside.is_empty() {
        sampled
            .taken
            .iter()
            .filter(|t| t.at >= start.at)
            .take(1)
            .collect()
    } else {
        inside
    };
    let peak = |f: fn(&Point) -> u64| inside.iter().map(|t| f(&t.point)).max().unwrap_or(0);
    let sampled_socket_peak = inside.iter().filter_map(|t| t.socket_mem_kb).max();
    let first_cpu = sampled.taken.first().map_or(0, |t| t.cpu_ns);
    let samples = sampled
        .taken
        .iter()
        .map(|t| TreeSample {
            t_s: seconds_between(start.at, t.at),
            processes: t.point.processes,
            threads: t.point.threads,
            zombies: t.point.zombies,
            rss_kb: t.point.rss_kb,
            pss_kb: t.point.pss_kb,
            socket_mem_kb: t.socket_mem_kb,
            cpu_s: t.cpu_ns.saturating_sub(first_cpu) as f64 / 1e9,
        })
        .collect();
    TreeCost {
        pid,
        cpu_ns,
        cpu_user_s: user_s,
        cpu_system_s: system_s,
        cpu_us_per_req: per_request_us(cpu_s, requests),
        cpu_source: source.name(),
        cpu_exact: source.exact() && !sigchld_ignored,
        cpuset_us_per_req: cpuset_s.map(|s| per_request_us(s, requests)),
        voluntary_ctxt_switches: sampled.voluntary,
        involuntary_ctxt_switches: sampled.involuntary,
        ctxt_switches_per_req: if requests == 0 {
            0.0
        } else {
            (sampled.voluntary + sampled.involuntary) as f64 / requests as f64
        },
        syscalls: None,
        syscalls_per_req: None,
        syscalls_note: None,
        peak_rss_kb: peak(|p| p.rss_kb),
        peak_pss_kb: peak(|p| p.pss_kb),
        socket_mem_kb: socket_peak_kb.max(sampled_socket_peak),
        kernel_mem_kb: None,
        peak_processes: peak(|p| p.processes),
        peak_threads: peak(|p| p.threads),
        peak_zombies: peak(|p| p.zombies),
        zombies_end: sampled.taken.last().map_or(0, |t| t.point.zombies),
        probe_cpu_us: (sampled.own_cpu_ns + edges.cost_ns) as f64 / 1e3,
        sample_interval_ms: sampled.interval.as_secs_f64() * 1e3,
        samples,
    }
}

/// `at - origin` in seconds, negative when `at` is earlier.
fn seconds_between(origin: Instant, at: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(d) => d.as_secs_f64(),
        None => -(origin - at).as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_signed_around_the_origin() {
        let origin = Instant::now();
        let later = origin + Duration::from_millis(1500);
        assert_eq!(seconds_between(origin, later), 1.5);
        assert_eq!(seconds_between(later, origin), -1.5);
    }
}
