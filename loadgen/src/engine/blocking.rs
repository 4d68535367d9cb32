//! The few-connection fast path: a thread with a single `rr` connection and
//! nothing else to watch runs it with blocking calls, `write` then `read`, as
//! a one-thread blocking client does (netperf's TCP_RR, sockperf's ping-pong).
//!
//! An event loop pays an `epoll_wait` per request on top of the `send` and
//! `recv`; with one connection per thread there is nothing to multiplex, so
//! that call is pure overhead on the latency being measured. Busy-polling
//! would save the wake-up too but burns a core the server may need on a small
//! machine, so the fast path blocks. Reads and writes time out every
//! [`SLICE`] so the thread still sees the request timeout, the end of the
//! run and Ctrl-C. [`fits`] chooses the path; the report names it (`io_path`).

use std::io::{self, Read, Write};
use std::time::Duration;

use socket2::Socket;

use super::net::{connect_error_kind, interrupted, io_error_kind, would_block, StreamTarget};
use super::pacing::{Admit, Clock, Window, STOP_DRAIN_NS};
use super::{Shared, StartGate, Stop, WorkerResult, IO_BUF};
use crate::check::{fill_request, request_key, request_len, Progress, StreamCheck};
use crate::plan::{LoadPlan, Mode, Target};
use crate::report::IoPath;
use crate::stats::{ErrorKind, Extras, Recorder};

/// How long one blocking call waits before the thread looks at its clock.
const SLICE: Duration = Duration::from_millis(10);
/// Wait this long before connecting again after a failed connect.
const CONNECT_RETRY: Duration = Duration::from_millis(10);

/// The path a run's threads take: blocking when every thread has one `rr`
/// connection and no idle ones (nothing to multiplex), else the event loop.
pub(crate) fn fits(plan: &LoadPlan, threads: usize) -> IoPath {
    let stream = !matches!(plan.target, Target::Udp(_));
    if stream && plan.mode == Mode::Rr && plan.idle_connections == 0 && plan.connections <= threads
    {
        IoPath::Blocking
    } else {
        IoPath::EventLoop
    }
}

/// How one request ended.
enum Outcome {
    Answered,
    Failed(ErrorKind),
    /// Ctrl-C during the request: its fate is unknown, it is not counted.
    Abandoned,
}

/// One thread, one connection, blocking calls.
pub(crate) struct BlockingWorker<'a> {
    shared: &'a Shared,
    target: StreamTarget,
    clock: Clock,
    uid: u64,
    budget: Option<u64>,
    rec: Recorder,
    check: StreamCheck,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    seq: u64,
}

impl<'a> BlockingWorker<'a> {
    pub fn new(
        shared: &'a Shared,
        target: StreamTarget,
        clock: Clock,
        uid: u64,
        budget: Option<u64>,
    ) -> Self {
        BlockingWorker {
            shared,
            target,
            clock,
            uid,
            budget,
            rec: Recorder::new(u64::MAX, shared.duration, Extras::default())
                .with_progress(shared.progress.clone()),
            check: StreamCheck::new(),
            rbuf: vec![0; IO_BUF],
            wbuf: vec![0; IO_BUF],
            seq: 0,
        }
    }

    /// Waits for the common start, runs, and returns the measurements.
    pub fn run(mut self, gate: &StartGate, stop: Stop<'_>) -> io::Result<WorkerResult> {
        let start_ns = gate.wait_start(&self.clock)?;
        let mut window = Window::new(
            start_ns,
            self.shared.warmup,
            self.shared.duration,
            self.budget,
        );
        self.rec.set_record_start(window.record_start_ns);
        let mut conn: Option<Socket> = None;
        let end_ns = loop {
            let now = self.clock.now_ns();
            if stop.is_set() || now >= window.issue_end_ns || window.budget_spent() {
                break now.min(window.issue_end_ns);
            }
            let socket = match conn.take() {
                Some(s) => s,
                None => match self.connect(now, &window) {
                    Some(s) => s,
                    None => continue,
                },
            };
            let now = self.clock.now_ns();
            let admit = window.admit(now);
            if admit == Admit::Closed {
                break now.min(window.issue_end_ns);
            }
            match self.request(&socket, admit, now, stop) {
                Outcome::Answered => conn = Some(socket),
                // The connection is dropped (closed); the next turn reconnects.
                Outcome::Failed(kind) => {
                    if admit == Admit::Recorded {
                        self.rec.error(self.clock.now_ns(), kind);
                    }
                }
                Outcome::Abandoned => break now.min(window.issue_end_ns),
            }
            if self.shared.think_ns > 0 {
                std::thread::sleep(Duration::from_nanos(self.shared.think_ns));
            }
        };
        stop.done_issuing();
        Ok(WorkerResult {
            ticks: self.rec.take_ticks(),
            rec: self.rec,
            end_ns,
        })
    }

    /// A new connection, or `None` after counting the failure and waiting a little.
    fn connect(&mut self, now: u64, window: &Window) -> Option<Socket> {
        let timeout = Duration::from_nanos(self.shared.timeout_ns);
        match self.target.connect_blocking(timeout, SLICE) {
            Ok(s) => Some(s),
            Err(e) => {
                let kind = if e.kind() == io::ErrorKind::TimedOut {
                    ErrorKind::ConnectTimeout
                } else {
                    connect_error_kind(&e)
                };
                if now >= window.record_start_ns && now < window.issue_end_ns {
                    self.rec.error(now, kind);
                }
                std::thread::sleep(CONNECT_RETRY);
                None
            }
        }
    }

    /// Sends one request sent at `sent_ns` and reads its whole answer.
    fn request(&mut self, socket: &Socket, admit: Admit, sent_ns: u64, stop: Stop<'_>) -> Outcome {
        self.seq += 1;
        let key = request_key(self.uid, self.seq);
        let workload = self.shared.request_workload(key);
        self.check.begin(&workload, key);
        let recorded = admit == Admit::Recorded;
        let deadline = sent_ns.saturating_add(self.shared.timeout_ns);
        let len = request_len(&workload);
        let mut written = 0;
        let mut stop_deadline = u64::MAX;
        while written < len {
            let n = fill_request(&workload, key, written, &mut self.wbuf);
            match (&mut &*socket).write(&self.wbuf[..n]) {
                Ok(m) => {
                    written += m;
                    if recorded {
                        self.rec.bytes_sent += m as u64;
                    }
                }
                // A signal arrived mid-call: write again.
                Err(e) if interrupted(&e) => {}
                // The slice ran out with the send buffer full: look at the clock.
                Err(e) if would_block(&e) || e.kind() == io::ErrorKind::TimedOut => {
                    if let Some(out) = self.overdue(deadline, &mut stop_deadline, stop) {
                        return out;
                    }
                }
                Err(e) => return Outcome::Failed(io_error_kind(&e)),
            }
        }
        loop {
            match (&mut &*socket).read(&mut self.rbuf) {
                // The server closed before the whole response arrived.
                Ok(0) => return Outcome::Failed(ErrorKind::ShortResponse),
                Ok(n) => {
                    if recorded {
                        self.rec.bytes_received += n as u64;
                    }
                    match self.check.feed(&workload, &self.rbuf[..n]) {
                        Progress::More => {}
                        Progress::Done => {
                            let done_ns = self.clock.now_ns();
                            if recorded {
                                if done_ns.saturating_sub(sent_ns) > self.shared.timeout_ns {
                                    self.rec.error(done_ns, ErrorKind::Timeout);
                                } else {
                                    self.rec.success(
                                        done_ns,
                                        done_ns.saturating_sub(sent_ns),
                                        None,
                                    );
                                }
                            }
                            // Timed out or not, the connection is in step.
                            return Outcome::Answered;
                        }
                        Progress::Fault(kind) => return Outcome::Failed(kind),
                    }
                }
                // A signal arrived mid-call: read again.
                Err(e) if interrupted(&e) => {}
                // The slice ran out without an answer: look at the clock.
                Err(e) if would_block(&e) || e.kind() == io::ErrorKind::TimedOut => {
                    if let Some(out) = self.overdue(deadline, &mut stop_deadline, stop) {
                        return out;
                    }
                }
                Err(e) => return Outcome::Failed(io_error_kind(&e)),
            }
        }
    }

    /// Between two slices of a blocked call: the request timed out, Ctrl-C's
    /// grace is over, or (`None`) go on waiting.
    fn overdue(&self, deadline: u64, stop_deadline: &mut u64, stop: Stop<'_>) -> Option<Outcome> {
        let now = self.clock.now_ns();
        if stop.is_set() && *stop_deadline == u64::MAX {
            *stop_deadline = now.saturating_add(STOP_DRAIN_NS.min(self.shared.timeout_ns));
        }
        if now >= *stop_deadline {
            return Some(Outcome::Abandoned);
        }
        (now >= deadline).then_some(Outcome::Failed(ErrorKind::Timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_is_for_one_rr_connection_per_thread_and_nothing_else() {
        let addr = "127.0.0.1:9".parse().unwrap();
        let mut p = LoadPlan::new(Target::Tcp(addr), Mode::Rr);
        p.connections = 2;
        assert_eq!(fits(&p, 2), IoPath::Blocking);
        assert_eq!(
            fits(&p, 1),
            IoPath::EventLoop,
            "two connections on one thread"
        );
        p.idle_connections = 1;
        assert_eq!(
            fits(&p, 2),
            IoPath::EventLoop,
            "an idle connection to watch"
        );
        p.idle_connections = 0;
        p.mode = Mode::Open { rate_rps: 100.0 };
        assert_eq!(fits(&p, 2), IoPath::EventLoop, "open mode needs timers");
        p.mode = Mode::Crr;
        assert_eq!(fits(&p, 2), IoPath::EventLoop);
        let u = LoadPlan::new(Target::Udp(addr), Mode::Udp);
        assert_eq!(fits(&u, 1), IoPath::EventLoop);
    }
}
