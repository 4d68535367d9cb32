//! The sampling thread: one tree sample per interval, the baseline taken at
//! the end of the warm-up, and the cost assembled from both at `finish`.

use std::collections::HashMap;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::tree::{cpuset_busy_ticks, not_found, sample_tree, Point};
use super::{clock_ticks_per_s, per_request_us};
use crate::report::{ServerCost, ServerSample};

/// What the caller tells the sampling thread.
pub(super) enum Command {
    /// The warm-up ended at this instant.
    Mark(Instant),
    /// Take a last sample and return the cost for this many requests.
    Finish(u64),
}

/// Where the recorded interval begins.
struct Baseline {
    at: Instant,
    point: Point,
    cpuset_busy_ticks: Option<u64>,
}

/// The sampling thread's state.
pub(super) struct Sampler {
    pid: u32,
    cpus: Option<Vec<usize>>,
    first: Point,
    last: Point,
    points: Vec<(Instant, Point)>,
    base: Baseline,
    switches: SwitchLedger,
}

impl Sampler {
    pub(super) fn new(pid: u32, cpus: Option<Vec<usize>>) -> io::Result<Sampler> {
        let at = Instant::now();
        let sample = sample_tree(pid, true)?.ok_or_else(|| not_found(pid))?;
        let cpuset_busy_ticks = cpus.as_deref().and_then(cpuset_busy_ticks);
        Ok(Sampler {
            pid,
            cpus,
            first: sample.point,
            last: sample.point,
            points: vec![(at, sample.point)],
            base: Baseline {
                at,
                point: sample.point,
                cpuset_busy_ticks,
            },
            switches: SwitchLedger::new(&sample.switches),
        })
    }

    pub(super) fn run(mut self, inbox: &mpsc::Receiver<Command>, interval: Duration) -> ServerCost {
        // A zero interval would spin; a millisecond is already far finer than useful.
        let interval = interval.max(Duration::from_millis(1));
        let mut next = Instant::now() + interval;
        loop {
            match inbox.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(Command::Mark(at)) => self.mark(at),
                Ok(Command::Finish(requests)) => return self.finish(requests),
                // The monitor was dropped without finish(): nobody wants a result.
                Err(RecvTimeoutError::Disconnected) => return ServerCost::default(),
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(switches) = self.take() {
                        self.switches.update(&switches);
                    }
                    next += interval;
                    if next < Instant::now() {
                        // A slow sample (a huge tree): skip the missed ticks, don't bunch them.
                        next = Instant::now() + interval;
                    }
                }
            }
        }
    }

    /// Samples the tree now; returns the switches, or `None` if the root is
    /// gone (the point then keeps the last CPU figures and counts nothing).
    fn take(&mut self) -> Option<Vec<(u32, u64, u64)>> {
        let at = Instant::now();
        match sample_tree(self.pid, true) {
            Ok(Some(sample)) => {
                self.last = sample.point;
                self.points.push((at, sample.point));
                Some(sample.switches)
            }
            // Gone, or /proc unreadable: nothing to add but an empty point.
            Ok(None) | Err(_) => {
                let point = Point {
                    user_ticks: self.last.user_ticks,
                    system_ticks: self.last.system_ticks,
                    ..Point::default()
                };
                self.points.push((at, point));
                None
            }
        }
    }

    fn mark(&mut self, at: Instant) {
        let switches = self.take().unwrap_or_default();
        self.switches = SwitchLedger::new(&switches);
        self.base = Baseline {
            at,
            point: self.last,
            cpuset_busy_ticks: self.cpus.as_deref().and_then(cpuset_busy_ticks),
        };
    }

    fn finish(mut self, requests: u64) -> ServerCost {
        if let Some(switches) = self.take() {
            self.switches.update(&switches);
        }
        let tck = clock_ticks_per_s();
        let base = &self.base;
        let user_s = self.last.user_ticks.saturating_sub(base.point.user_ticks) as f64 / tck;
        let system_s = self
            .last
            .system_ticks
            .saturating_sub(base.point.system_ticks) as f64
            / tck;
        let cpuset_s = match (&self.cpus, base.cpuset_busy_ticks) {
            (Some(cpus), Some(before)) => {
                cpuset_busy_ticks(cpus).map(|after| after.saturating_sub(before) as f64 / tck)
            }
            _ => None,
        };
        let recorded: Vec<Point> = self
            .points
            .iter()
            .filter(|(at, _)| *at >= base.at)
            .map(|(_, p)| *p)
            .collect();
        let peak = |f: fn(&Point) -> u64| recorded.iter().map(f).max().unwrap_or(0);
        let first_ticks = self.first.user_ticks + self.first.system_ticks;
        let samples = self
            .points
            .iter()
            .map(|(at, p)| ServerSample {
                t_s: seconds_between(base.at, *at),
                processes: p.processes,
                threads: p.threads,
                zombies: p.zombies,
                rss_kb: p.rss_kb,
                cpu_s: (p.user_ticks + p.system_ticks).saturating_sub(first_ticks) as f64 / tck,
            })
            .collect();
        ServerCost {
            pid: self.pid,
            cpu_user_s: user_s,
            cpu_system_s: system_s,
            cpu_us_per_req: per_request_us(user_s + system_s, requests),
            cpuset_us_per_req: cpuset_s.map(|s| per_request_us(s, requests)),
            voluntary_ctxt_switches: self.switches.voluntary,
            involuntary_ctxt_switches: self.switches.involuntary,
            peak_rss_kb: peak(|p| p.rss_kb),
            peak_processes: peak(|p| p.processes),
            peak_threads: peak(|p| p.threads),
            peak_zombies: peak(|p| p.zombies),
            zombies_end: self.points.last().map_or(0, |(_, p)| p.zombies),
            samples,
        }
    }
}

/// Context switches counted per thread between consecutive samples.
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
    fn switches_count_growth_new_threads_and_reused_tids() {
        let mut ledger = SwitchLedger::new(&[(10, 100, 5), (11, 50, 0)]);
        // 10 grew by (3, 1); 11 vanished (its last interval is lost); 12 is new.
        ledger.update(&[(10, 103, 6), (12, 4, 2)]);
        assert_eq!((ledger.voluntary, ledger.involuntary), (3 + 4, 1 + 2));
        // 12 went down: a reused tid, counted from zero.
        ledger.update(&[(10, 103, 6), (12, 1, 0)]);
        assert_eq!((ledger.voluntary, ledger.involuntary), (8, 3));
    }

    #[test]
    fn seconds_are_signed_around_the_origin() {
        let origin = Instant::now();
        let later = origin + Duration::from_millis(1500);
        assert_eq!(seconds_between(origin, later), 1.5);
        assert_eq!(seconds_between(later, origin), -1.5);
    }

    #[test]
    fn per_request_figures_never_divide_by_zero() {
        assert_eq!(per_request_us(2.0, 0), 0.0);
        assert_eq!(per_request_us(2.0, 4), 500_000.0);
    }
}
