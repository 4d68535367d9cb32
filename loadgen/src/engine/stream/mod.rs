//! One engine thread driving stream connections (TCP or Unix domain) in the
//! `rr`, `crr` and `open` modes, plus the idle connections held beside them.
//!
//! Each connection is a small state machine (see [`State`]) whose states
//! carry what they need: the socket only where there is one, the outstanding
//! request only where one is outstanding, so no flag can disagree with the
//! state. Responses are read into one buffer shared by the thread and checked
//! byte by byte as they arrive; requests are generated into one write buffer.
//! Nothing is allocated per request. This file is the event loop;
//! `request.rs` is one request's life.

use std::io;

use mio::event::Event;
use mio::{Events, Poll, Token};

use super::net::{connect_error_kind, interrupted, Stream, StreamTarget};
use super::pacing::{Admit, Clock, Schedule, Stage, Step, Timers};
use super::{Shared, StartGate, Stop, WorkerResult, IO_BUF};
use crate::check::{request_len, StreamCheck};
use crate::plan::Mode;
use crate::stats::{ErrorKind, Extras, Recorder};

/// The timerfd's token; connection tokens are their index.
const TIMER: Token = Token(usize::MAX - 1);
/// Most idle connections with a handshake in flight at once, so the server's
/// accept backlog is not flooded while the C10K shape is set up.
const IDLE_CONNECTS_IN_FLIGHT: usize = 256;
const EVENTS: usize = 1024;

mod request;

/// One admitted request, from its admission to its outcome.
#[derive(Debug, Clone, Copy)]
struct Request {
    admit: Admit,
    /// Latency starts here: the intended send time (`open`), the connect (`crr`), the send.
    origin_ns: u64,
    /// Its key (connection id and sequence number), once sent.
    key: u64,
    /// When it was sent (the uncorrected latency and the timeout count from here).
    sent_ns: u64,
    /// Request bytes written so far.
    written: usize,
}

#[derive(Debug)]
enum State {
    /// No socket; a timer (or nothing, at the end) brings the next connect.
    Closed,
    /// connect() issued; a writable event ends the handshake. In `crr` the
    /// connect is the first step of `request`.
    Connecting {
        stream: Stream,
        since_ns: u64,
        request: Option<Request>,
    },
    /// Connected, nothing outstanding: waiting for a timer or the next request.
    Ready { stream: Stream },
    /// Connected, a request outstanding.
    Busy { stream: Stream, request: Request },
    /// Nothing more to do for this connection.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Active,
    Idle,
}

struct Conn {
    uid: u64,
    role: Role,
    state: State,
    timer_gen: u32,
    /// The last sequence number sent on this connection.
    seq: u64,
    /// `crr`: requests finished on the current connection.
    served: u64,
    check: StreamCheck,
    /// `open`: the index of the next request in the schedule.
    next_k: u64,
    schedule: Schedule,
}

/// One thread's connections, timers and measurements.
pub(crate) struct StreamWorker<'a> {
    shared: &'a Shared,
    target: StreamTarget,
    poll: Poll,
    timers: Timers,
    clock: Clock,
    stage: Stage,
    conns: Vec<Conn>,
    rec: Recorder,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    req_len: usize,
    outstanding: usize,
    connecting: usize,
    budget: Option<u64>,
}

impl<'a> StreamWorker<'a> {
    /// A worker for the active connections `active` and idle ones `idle` (global indices).
    pub fn new(
        shared: &'a Shared,
        target: StreamTarget,
        clock: Clock,
        active: &[u64],
        idle: &[u64],
        budget: Option<u64>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let timers = Timers::new(active.len() + idle.len() + 1)?;
        timers.register(poll.registry(), TIMER)?;
        let conn = |uid: u64, role: Role| Conn {
            uid,
            role,
            state: State::Closed,
            timer_gen: 0,
            seq: 0,
            served: 0,
            check: StreamCheck::new(),
            next_k: 0,
            schedule: Schedule {
                first_ns: 0,
                interval_ns: 0.0,
            },
        };
        let mut conns: Vec<Conn> = active.iter().map(|&u| conn(u, Role::Active)).collect();
        conns.extend(idle.iter().map(|&u| conn(u, Role::Idle)));
        let open = matches!(shared.mode, Mode::Open { .. });
        Ok(StreamWorker {
            shared,
            target,
            poll,
            timers,
            clock,
            stage: Stage::Setup,
            conns,
            rec: Recorder::new(
                u64::MAX,
                shared.duration,
                Extras {
                    open,
                    connect: shared.mode == Mode::Crr,
                },
            )
            .with_progress(shared.progress.clone()),
            rbuf: vec![0; IO_BUF],
            wbuf: vec![0; IO_BUF],
            req_len: request_len(&shared.workload),
            outstanding: 0,
            connecting: 0,
            budget,
        })
    }

    /// Opens the idle connections (a bounded number of handshakes at a time),
    /// waits for the common start, then runs until the end and returns the measurements.
    pub fn run(mut self, gate: &StartGate, stop: Stop<'_>) -> io::Result<WorkerResult> {
        let mut events = Events::with_capacity(EVENTS);
        let opened = self.open_idle(&mut events, stop);
        if opened.is_err() {
            // Stop the others before they start, so the error comes back at once.
            stop.abort();
        }
        let start_ns = gate.wait_start(&self.clock);
        opened?;
        let start_ns = start_ns?;
        self.stage = Stage::running(self.shared, start_ns, self.budget);
        self.rec.set_record_start(
            start_ns.saturating_add(super::pacing::duration_ns(self.shared.warmup)),
        );
        let end_ns = self.drive(&mut events, start_ns, stop)?;
        Ok(WorkerResult {
            ticks: self.rec.take_ticks(),
            rec: self.rec,
            end_ns,
        })
    }

    fn open_idle(&mut self, events: &mut Events, stop: Stop<'_>) -> io::Result<()> {
        let idle: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].role == Role::Idle)
            .collect();
        let mut next = 0;
        let mut next_sweep = 0;
        while !stop.is_set() {
            let now = self.clock.now_ns();
            while self.connecting < IDLE_CONNECTS_IN_FLIGHT && next < idle.len() {
                self.reconnect(idle[next], now);
                next += 1;
            }
            if next == idle.len() && self.connecting == 0 {
                break;
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + self.shared.sweep_ns;
            }
            self.wait(events, next_sweep.saturating_sub(now))?;
        }
        Ok(())
    }

    /// The main loop: returns when the run is over and nothing is outstanding.
    fn drive(&mut self, events: &mut Events, start_ns: u64, stop: Stop<'_>) -> io::Result<u64> {
        for i in 0..self.conns.len() {
            if self.conns[i].role != Role::Active {
                continue;
            }
            match self.shared.mode {
                Mode::Crr => self.begin_crr(i, start_ns),
                Mode::Open { .. } => {
                    let c = &mut self.conns[i];
                    c.schedule = self.shared.schedule(c.uid, start_ns);
                    self.reconnect(i, start_ns);
                }
                _ => self.reconnect(i, start_ns),
            }
        }
        loop {
            let now = self.clock.now_ns();
            match self.stage.step(now, stop, self.outstanding) {
                Step::Done => break,
                Step::Abandon => {
                    self.abandon(now);
                    break;
                }
                Step::Go { sweep } => {
                    if sweep {
                        self.sweep(now);
                    }
                }
            }
            while let Some((i, generation)) = self.timers.pop_due(now) {
                if self.conns[i].timer_gen == generation {
                    self.on_timer(i, now);
                }
            }
            self.timers.arm(now)?;
            let wake = self.stage.wake_ns(now);
            self.wait(events, wake.saturating_sub(now))?;
        }
        Ok(self.stage.end_ns(self.clock.now_ns()))
    }

    /// Polls for up to `timeout_ns` and handles what became ready.
    fn wait(&mut self, events: &mut Events, timeout_ns: u64) -> io::Result<()> {
        let timeout = std::time::Duration::from_nanos(timeout_ns);
        match self.poll.poll(events, Some(timeout)) {
            Ok(()) => {}
            // A signal (Ctrl-C) arrived: the loop looks at the stop flag.
            Err(e) if interrupted(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        let now = self.clock.now_ns();
        for event in events.iter() {
            if event.token() == TIMER {
                self.timers.fired();
            } else {
                self.on_event(event.token().0, event, now);
            }
        }
        Ok(())
    }

    fn on_event(&mut self, i: usize, event: &Event, now: u64) {
        let Some(c) = self.conns.get(i) else { return };
        // With the peer's FIN or an error already reported, read to the end:
        // no later event will announce it again.
        let to_end = event.is_read_closed() || event.is_error();
        // A writable-only event has nothing to read (the socket would only
        // answer EAGAIN): the bytes, the FIN or an error bring their own event.
        let readable = event.is_readable() || to_end;
        match &c.state {
            State::Connecting { stream, .. } => match stream.finish_connect() {
                Ok(true) => self.on_connected(i, now),
                // An early event: the handshake is still going on.
                Ok(false) => {}
                Err(e) => {
                    let request = self.close(i);
                    self.connect_failed(i, connect_error_kind(&e), now, request);
                }
            },
            State::Busy { request, .. } => {
                if event.is_writable() && request.written < self.req_len {
                    self.write_request(i, now);
                }
                if readable && matches!(self.conns[i].state, State::Busy { .. }) {
                    self.read_response(i, now, to_end);
                }
            }
            State::Ready { .. } if readable => self.read_unasked(i, now),
            State::Ready { .. } => {}
            // A stale event for a socket already closed.
            State::Closed | State::Done => {}
        }
    }

    fn on_timer(&mut self, i: usize, now: u64) {
        match (&self.conns[i].state, self.conns[i].role) {
            (State::Closed, Role::Active) if self.shared.mode == Mode::Crr => {
                self.begin_crr(i, now)
            }
            (State::Closed, _) => self.reconnect(i, now),
            (State::Ready { .. }, Role::Active) => self.start_request(i, now),
            _ => {}
        }
    }

    /// Fails connects and requests older than the request timeout.
    fn sweep(&mut self, now: u64) {
        let timeout = self.shared.timeout_ns;
        for i in 0..self.conns.len() {
            match &self.conns[i].state {
                State::Connecting { since_ns, .. } if now.saturating_sub(*since_ns) > timeout => {
                    let request = self.close(i);
                    self.connect_failed(i, ErrorKind::ConnectTimeout, now, request)
                }
                State::Busy { request, .. } if now.saturating_sub(request.sent_ns) > timeout => {
                    self.fail(i, ErrorKind::Timeout, now)
                }
                _ => {}
            }
        }
    }

    /// The drain time is over: what is still outstanding timed out (or, after
    /// Ctrl-C, is left out of the figures).
    fn abandon(&mut self, now: u64) {
        for i in 0..self.conns.len() {
            if let Some(mut request) = self.close(i) {
                if self.stage.stopped() {
                    request.admit = Admit::Warmup;
                }
                self.finish(request, now, Some(ErrorKind::Timeout));
            }
        }
    }
}
