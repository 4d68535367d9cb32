//! Time in the engine: one clock per run, the recorded window, the open-loop
//! schedule, and a per-thread timer heap that wakes the event loop with
//! nanosecond precision (a timerfd), since `epoll_wait` only counts milliseconds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use super::Stop;

/// Nanoseconds since a base instant shared by every thread of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
}

impl Clock {
    pub fn new(base: Instant) -> Self {
        Clock { base }
    }

    #[inline]
    pub fn now_ns(&self) -> u64 {
        duration_ns(self.base.elapsed())
    }
}

/// A duration in nanoseconds, saturating (a day-long bound stays representable).
pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Which requests a thread may still issue, and which of them are recorded.
///
/// A request belongs to the recorded window when its start (the intended send
/// time in `open` mode, the send or connect time otherwise) falls between the
/// end of the warm-up and the end of the run; each one issued there ends as
/// exactly one success or one error.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub record_start_ns: u64,
    pub issue_end_ns: u64,
    /// Recorded requests this thread may still issue (`max_requests`).
    budget: Option<u64>,
}

/// What [`Window::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Issue it, but discard its outcome (warm-up).
    Warmup,
    /// Issue it and count its outcome.
    Recorded,
    /// Do not issue it: the run is over for this thread.
    Closed,
}

impl Window {
    pub fn new(start_ns: u64, warmup: Duration, duration: Duration, budget: Option<u64>) -> Self {
        let record_start_ns = start_ns.saturating_add(duration_ns(warmup));
        Window {
            record_start_ns,
            issue_end_ns: record_start_ns.saturating_add(duration_ns(duration)),
            budget,
        }
    }

    /// Decides about a request starting at `start_ns`.
    #[inline]
    pub fn admit(&mut self, start_ns: u64) -> Admit {
        if start_ns >= self.issue_end_ns {
            return Admit::Closed;
        }
        if start_ns < self.record_start_ns {
            return Admit::Warmup;
        }
        match &mut self.budget {
            Some(0) => Admit::Closed,
            Some(left) => {
                *left -= 1;
                Admit::Recorded
            }
            None => Admit::Recorded,
        }
    }

    /// Whether the request budget is spent.
    pub fn budget_spent(&self) -> bool {
        self.budget == Some(0)
    }
}

/// How long outstanding requests get after Ctrl-C before the run returns.
pub(crate) const STOP_DRAIN_NS: u64 = 200_000_000;

/// Where a thread's run stands: issuing, draining, or over.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    /// No more requests are issued; outstanding ones are finishing.
    pub closing: bool,
    /// Ctrl-C was seen.
    pub stopped: bool,
    end_ns: u64,
    drain_deadline: u64,
    next_sweep: u64,
    sweep_ns: u64,
    timeout_ns: u64,
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Go on (and sweep for timeouts first, if `sweep`).
    Go { sweep: bool },
    /// Over: nothing is outstanding.
    Done,
    /// Over: the drain time ran out with requests still outstanding.
    Abandon,
}

impl Lifecycle {
    pub fn new(start_ns: u64, sweep_ns: u64, timeout_ns: u64) -> Self {
        Lifecycle {
            closing: false,
            stopped: false,
            end_ns: u64::MAX,
            drain_deadline: u64::MAX,
            next_sweep: start_ns.saturating_add(sweep_ns),
            sweep_ns,
            timeout_ns,
        }
    }

    /// Decides the next step at `now_ns`. Once the window closes (its end, the
    /// request budget, or Ctrl-C) nothing new is admitted, and what is
    /// outstanding gets the request timeout (a short grace after Ctrl-C).
    pub fn step(
        &mut self,
        now_ns: u64,
        stop: Stop<'_>,
        window: &mut Window,
        outstanding: usize,
    ) -> Step {
        if !self.stopped && stop.is_set() {
            self.stopped = true;
            window.issue_end_ns = window.issue_end_ns.min(now_ns);
            let grace = STOP_DRAIN_NS.min(self.timeout_ns);
            self.drain_deadline = self.drain_deadline.min(now_ns.saturating_add(grace));
        }
        if !self.closing && (now_ns >= window.issue_end_ns || window.budget_spent()) {
            self.closing = true;
            stop.done_issuing();
            self.end_ns = now_ns.min(window.issue_end_ns);
            window.issue_end_ns = window.issue_end_ns.min(now_ns);
            let drain = now_ns.saturating_add(self.timeout_ns);
            self.drain_deadline = self.drain_deadline.min(drain);
        }
        if self.closing && outstanding == 0 {
            return Step::Done;
        }
        if now_ns >= self.drain_deadline {
            return Step::Abandon;
        }
        let sweep = now_ns >= self.next_sweep;
        if sweep {
            self.next_sweep = now_ns.saturating_add(self.sweep_ns);
        }
        Step::Go { sweep }
    }

    /// When the loop must wake at the latest (timers wake it earlier).
    pub fn wake_ns(&self, window: &Window) -> u64 {
        let wake = self.next_sweep.min(self.drain_deadline);
        if self.closing {
            wake
        } else {
            wake.min(window.issue_end_ns)
        }
    }

    /// When this thread stopped issuing requests (the end of its recorded interval).
    pub fn end_ns(&self, now_ns: u64) -> u64 {
        self.end_ns.min(now_ns)
    }
}

/// Where a thread stands: before the common start (opening its idle
/// connections; nothing is admitted, nothing recorded) or running from it,
/// with its recorded window and its lifecycle.
#[derive(Debug)]
pub(crate) enum Stage {
    Setup,
    Running { window: Window, life: Lifecycle },
}

impl Stage {
    /// The stage of a thread that started at `start_ns`.
    pub fn running(shared: &super::Shared, start_ns: u64, budget: Option<u64>) -> Self {
        Stage::Running {
            window: Window::new(start_ns, shared.warmup, shared.duration, budget),
            life: Lifecycle::new(start_ns, shared.sweep_ns, shared.timeout_ns),
        }
    }

    /// Decides about a request starting at `start_ns`; none before the start.
    #[inline]
    pub fn admit(&mut self, start_ns: u64) -> Admit {
        match self {
            Stage::Setup => Admit::Closed,
            Stage::Running { window, .. } => window.admit(start_ns),
        }
    }

    /// Whether what happens at `now_ns` counts (the warm-up is over).
    #[inline]
    pub fn recording(&self, now_ns: u64) -> bool {
        match self {
            Stage::Setup => false,
            Stage::Running { window, .. } => now_ns >= window.record_start_ns,
        }
    }

    /// When the window stops admitting requests (0 before the start).
    pub fn issue_end_ns(&self) -> u64 {
        match self {
            Stage::Setup => 0,
            Stage::Running { window, .. } => window.issue_end_ns,
        }
    }

    /// No more requests are issued (the window closed, or Ctrl-C).
    pub fn closing(&self) -> bool {
        matches!(self, Stage::Running { life, .. } if life.closing)
    }

    /// Ctrl-C was seen.
    pub fn stopped(&self) -> bool {
        matches!(self, Stage::Running { life, .. } if life.stopped)
    }

    /// The next step of the loop at `now_ns` (see [`Lifecycle::step`]).
    pub fn step(&mut self, now_ns: u64, stop: Stop<'_>, outstanding: usize) -> Step {
        match self {
            // Nothing runs before the start.
            Stage::Setup => Step::Done,
            Stage::Running { window, life } => life.step(now_ns, stop, window, outstanding),
        }
    }

    /// When the loop must wake at the latest.
    pub fn wake_ns(&self, now_ns: u64) -> u64 {
        match self {
            Stage::Setup => now_ns,
            Stage::Running { window, life } => life.wake_ns(window),
        }
    }

    /// When this thread stopped issuing requests.
    pub fn end_ns(&self, now_ns: u64) -> u64 {
        match self {
            Stage::Setup => now_ns,
            Stage::Running { life, .. } => life.end_ns(now_ns),
        }
    }
}

/// The open-loop schedule of one connection: request `k` is meant to leave at
/// `first_ns + k * interval_ns`, whatever happened to the ones before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub first_ns: u64,
    pub interval_ns: f64,
}

impl Schedule {
    #[inline]
    pub fn intended_ns(&self, k: u64) -> u64 {
        self.first_ns
            .saturating_add((k as f64 * self.interval_ns) as u64)
    }
}

/// A timer entry: fire at `at_ns` for connection `key` if its generation still matches.
type Entry = Reverse<(u64, usize, u32)>;

/// A heap of per-connection timers behind one timerfd.
///
/// Cancelling is lazy: a connection bumps its generation, and stale entries are
/// skipped when they come up.
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    fd: TimerFd,
    /// When the timerfd is set to fire (`u64::MAX`: not set).
    armed_ns: u64,
}

impl Timers {
    pub fn new(capacity: usize) -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Timers {
            heap: BinaryHeap::with_capacity(capacity),
            fd,
            armed_ns: u64::MAX,
        })
    }

    /// Registers the timerfd: it becomes readable when the earliest timer is due.
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            &mut SourceFd(&self.fd.as_fd().as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    #[inline]
    pub fn schedule(&mut self, at_ns: u64, key: usize, generation: u32) {
        self.heap.push(Reverse((at_ns, key, generation)));
    }

    /// The next timer due at or before `now_ns`, if any.
    #[inline]
    pub fn pop_due(&mut self, now_ns: u64) -> Option<(usize, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now_ns => self
                .heap
                .pop()
                .map(|Reverse((_, key, generation))| (key, generation)),
            _ => None,
        }
    }

    /// The timerfd fired: it is no longer set.
    pub fn fired(&mut self) {
        self.armed_ns = u64::MAX;
    }

    /// Sets the timerfd for the earliest timer, unless it is already set for it.
    pub fn arm(&mut self, now_ns: u64) -> io::Result<()> {
        let Some(Reverse((next, _, _))) = self.heap.peek() else {
            return Ok(());
        };
        let next = *next;
        if next >= self.armed_ns && self.armed_ns > now_ns {
            // Already set to wake us no later than this timer needs.
            return Ok(());
        }
        // A zero expiry would disarm the timer, so wait at least a nanosecond.
        let wait = next.saturating_sub(now_ns).max(1);
        self.fd.set(
            Expiration::OneShot(TimeSpec::from_duration(Duration::from_nanos(wait))),
            TimerSetTimeFlags::empty(),
        )?;
        self.armed_ns = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_records_after_warmup_until_budget() {
        let mut w = Window::new(
            100,
            Duration::from_nanos(50),
            Duration::from_nanos(1000),
            Some(2),
        );
        assert_eq!(w.admit(120), Admit::Warmup);
        assert_eq!(w.admit(150), Admit::Recorded);
        assert!(!w.budget_spent());
        assert_eq!(w.admit(160), Admit::Recorded);
        assert!(w.budget_spent());
        assert_eq!(w.admit(170), Admit::Closed);
        let mut w = Window::new(0, Duration::ZERO, Duration::from_nanos(10), None);
        assert_eq!(w.admit(9), Admit::Recorded);
        assert_eq!(w.admit(10), Admit::Closed);
    }

    #[test]
    fn schedule_never_skips() {
        let s = Schedule {
            first_ns: 1000,
            interval_ns: 2.5,
        };
        assert_eq!(s.intended_ns(0), 1000);
        assert_eq!(s.intended_ns(4), 1010);
    }

    #[test]
    fn timers_pop_in_order() {
        let mut t = Timers::new(4).unwrap();
        t.schedule(30, 1, 0);
        t.schedule(10, 2, 0);
        t.schedule(20, 3, 7);
        assert_eq!(t.pop_due(5), None);
        assert_eq!(t.pop_due(25), Some((2, 0)));
        assert_eq!(t.pop_due(25), Some((3, 7)));
        assert_eq!(t.pop_due(25), None);
        t.arm(25).unwrap();
        assert_eq!(t.pop_due(30), Some((1, 0)));
    }
}
