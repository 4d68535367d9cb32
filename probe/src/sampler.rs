//! The sampling thread: the timeline of the tree (processes, threads,
//! zombies, memory), the peaks, and the context-switch ledger.
//!
//! It must not disturb what it measures, so it runs under `SCHED_IDLE` (any
//! normal task that wakes preempts it at once) on the CPUs the caller is
//! not pinned to (the load generator's measuring threads keep their cores;
//! on a machine where the caller holds every CPU it runs anywhere), and it widens its interval so that a sample of
//! a huge tree (a thousand children, thousands of zombies) stays a small
//! duty cycle. It reports its own CPU time.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::Pid;
use thread_priority::unix::{
    set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
    ThreadSchedulePolicy,
};
use thread_priority::ThreadPriority;

use crate::cpu::CpuMeter;
use crate::sockmem::SocketMeter;
use crate::tree::{sample_tree, Point};

/// The longest share of one CPU the sampler may take (sample cost / interval).
const DUTY_CYCLE: f64 = 0.02;
/// Never sample less often than this, however large the tree.
const LONGEST_INTERVAL: Duration = Duration::from_secs(2);

/// What the caller tells the sampling thread.
pub(crate) enum Command {
    /// The window began at this instant: sample now, count switches from here.
    Mark,
    /// The window ended: take a last sample and return.
    Finish,
}

/// One sample as taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taken {
    pub(crate) at: Instant,
    pub(crate) point: Point,
    pub(crate) socket_mem_kb: Option<u64>,
    /// The tree's CPU at that moment, ns.
    pub(crate) cpu_ns: u64,
}

/// What the sampling thread hands back.
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    pub(crate) taken: Vec<Taken>,
    pub(crate) voluntary: u64,
    pub(crate) involuntary: u64,
    /// The sampler thread's own CPU, ns.
    pub(crate) own_cpu_ns: u64,
    /// The interval it ended with.
    pub(crate) interval: Duration,
}

pub(crate) struct Sampler {
    pub(crate) pid: u32,
    pub(crate) cpu: CpuMeter,
    pub(crate) sockets: Option<SocketMeter>,
}

impl Sampler {
    /// Runs until `Finish` (or until the monitor is dropped).
    pub(crate) fn run(self, inbox: &mpsc::Receiver<Command>, interval: Duration) -> Sampled {
        stand_aside();
        // A zero interval would spin; a millisecond is already far finer than useful.
        let base = interval.max(Duration::from_millis(1));
        let mut out = Sampled {
            interval: base,
            ..Sampled::default()
        };
        let first = self.take(&mut out);
        let mut ledger = SwitchLedger::new(&first);
        let mut next = Instant::now() + base;
        loop {
            match inbox.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(Command::Mark) => {
                    let switches = self.take(&mut out);
                    ledger = SwitchLedger::new(&switches);
                }
                Ok(Command::Finish) => {
                    // The window is over: no load left to disturb, so the last sample
                    // runs at normal priority and is not starved on a busy machine.
                    let _ = set_policy(NormalThreadSchedulePolicy::Other);
                    let switches = self.take(&mut out);
                    ledger.update(&switches);
                    break;
                }
                // The monitor was dropped without finish(): nobody wants a result.
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    // The sample's cost in CPU, not wall time: preempted (as it
                    // should be) it takes longer without costing more.
                    let spent = thread_cpu_ns();
                    let switches = self.take(&mut out);
                    ledger.update(&switches);
                    let cost = Duration::from_nanos(thread_cpu_ns().saturating_sub(spent));
                    out.interval = base.max(cost.div_f64(DUTY_CYCLE)).min(LONGEST_INTERVAL);
                    next = Instant::now() + out.interval;
                }
            }
        }
        out.voluntary = ledger.voluntary;
        out.involuntary = ledger.involuntary;
        out.own_cpu_ns = thread_cpu_ns();
        out
    }

    /// Samples the tree now; returns every thread's switches (none if the
    /// root is gone: the point then has the last CPU figure and counts nothing).
    fn take(&self, out: &mut Sampled) -> Vec<(u32, u64, u64)> {
        let at = Instant::now();
        let last_cpu = out.taken.last().map_or(0, |t| t.cpu_ns);
        let cpu_ns = self.cpu.read().map_or(last_cpu, |r| r.total_ns);
        let socket_mem_kb = self.sockets.as_ref().and_then(SocketMeter::now_kb);
        let (point, switches) = match sample_tree(self.pid, true) {
            Ok(Some(s)) => (s.point, s.switches),
            Ok(None) | Err(_) => (Point::default(), Vec::new()),
        };
        out.taken.push(Taken {
            at,
            point,
            socket_mem_kb,
            cpu_ns,
        });
        switches
    }
}

/// Off the caller's pinned CPUs, under SCHED_IDLE. The sampler thread
/// inherits the load generator's affinity; it moves to the CPUs outside it
/// (the servers' cores on a pinned run, where SCHED_IDLE yields to the server
/// at once), or to every CPU when the caller holds them all. Either call may be
/// refused (a restricted container); the sampler then runs as it can.
fn stand_aside() {
    let _ = sched_setaffinity(
        Pid::from_raw(0),
        &cpus_outside(sched_getaffinity(Pid::from_raw(0)).ok()),
    );
    let _ = set_policy(NormalThreadSchedulePolicy::Idle);
}

/// Every CPU not in `pinned`, or every CPU if that leaves none.
fn cpus_outside(pinned: Option<CpuSet>) -> CpuSet {
    let mut outside = CpuSet::new();
    let mut any = false;
    for cpu in 0..CpuSet::count() {
        if !pinned.is_some_and(|p| p.is_set(cpu).unwrap_or(false)) && cpu_online(cpu) {
            let _ = outside.set(cpu);
            any = true;
        }
    }
    if any {
        return outside;
    }
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        let _ = all.set(cpu);
    }
    all
}

/// Whether `cpu` exists and is online (`/sys/devices/system/cpu/cpuN/online`;
/// cpu0 often has no such file and is always online).
fn cpu_online(cpu: usize) -> bool {
    match std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/online")) {
        Ok(text) => text.trim() == "1",
        Err(_) => std::path::Path::new(&format!("/sys/devices/system/cpu/cpu{cpu}")).exists(),
    }
}

fn set_policy(policy: NormalThreadSchedulePolicy) -> Result<(), thread_priority::Error> {
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(policy),
    )
}

/// The calling thread's CPU time so far, ns.
pub(crate) fn thread_cpu_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    })
}

/// Context switches counted per thread between consecutive samples.
#[derive(Debug)]
struct SwitchLedger {
    /// Each live thread's counts at the previous sample.
    last: HashMap<u32, (u64, u64)>,
    voluntary: u64,
    involuntary: u64,
}

impl SwitchLedger {
    /// Starts counting from these threads' current values.
    fn new(now: &[(u32, u64, u64)]) -> SwitchLedger {
        SwitchLedger {
            last: now.iter().map(|&(tid, v, i)| (tid, (v, i))).collect(),
            voluntary: 0,
            involuntary: 0,
        }
    }

    /// Adds each thread's growth since the previous sample; a thread not seen
    /// before (or whose counts went down: a reused tid) counts from zero.
    fn update(&mut self, now: &[(u32, u64, u64)]) {
        for &(tid, v, i) in now {
            let (dv, di) = match self.last.get(&tid) {
                Some(&(lv, li)) if v >= lv && i >= li => (v - lv, i - li),
                _ => (v, i),
            };
            self.voluntary += dv;
            self.involuntary += di;
        }
        self.last = now.iter().map(|&(tid, v, i)| (tid, (v, i))).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_count_growth_new_threads_and_reused_tids() {
        let mut ledger = SwitchLedger::new(&[(10, 100, 5), (11, 50, 0)]);
        // 10 grew by (3, 1); 11 vanished (its last interval is lost); 12 is new.
        ledger.update(&[(10, 103, 6), (12, 4, 2)]);
        assert_eq!((ledger.voluntary, ledger.involuntary), (3 + 4, 1 + 2));
        // 12 went down: a reused tid, counted from zero.
        ledger.update(&[(10, 103, 6), (12, 1, 0)]);
        assert_eq!((ledger.voluntary, ledger.involuntary), (8, 3));
    }
}

#[cfg(test)]
mod placement {
    use super::*;

    #[test]
    fn the_sampler_leaves_the_callers_cpus_when_others_exist() {
        let online: Vec<usize> = (0..CpuSet::count()).filter(|c| cpu_online(*c)).collect();
        let mut first = CpuSet::new();
        first.set(online[0]).unwrap();
        let outside = cpus_outside(Some(first));
        if online.len() > 1 {
            assert!(
                !outside.is_set(online[0]).unwrap(),
                "the caller's CPU is avoided"
            );
            assert!(online[1..].iter().all(|c| outside.is_set(*c).unwrap()));
        } else {
            assert!(outside.is_set(online[0]).unwrap(), "one CPU: run there");
        }
        let mut every = CpuSet::new();
        for c in &online {
            every.set(*c).unwrap();
        }
        let fallback = cpus_outside(Some(every));
        assert!(
            online.iter().all(|c| fallback.is_set(*c).unwrap()),
            "all taken: run anywhere"
        );
    }
}
