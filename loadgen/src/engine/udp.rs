//! One engine thread driving UDP flows (netperf UDP_RR): each flow is a
//! connected socket with one sequence-numbered datagram outstanding.
//!
//! The accounting is exact: every datagram sent in the recorded window ends
//! as answered (in time, every byte right) or lost (no right answer within the
//! timeout); an answer after that is `late`, a second answer a `duplicate`,
//! and neither is ever a success. At the end the thread waits for what is in
//! flight up to the timeout and counts the rest lost, so `sent == answered + lost`.

use std::io;
use std::net::SocketAddr;

use mio::event::Event;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;

use super::net::{interrupted, udp_flow, would_block};
use super::pacing::{Admit, Clock, Stage, Step, Timers};
use super::{Shared, StartGate, Stop, WorkerResult, IO_BUF};
use crate::check::{build_datagram, check_datagram, request_key, Answer};
use crate::stats::{ErrorKind, Extras, Recorder};

const TIMER: Token = Token(usize::MAX - 1);
/// Wait this long before sending again after the server refused (ICMP) or a send failed.
const RETRY_NS: u64 = 10_000_000;
const EVENTS: usize = 1024;
/// How many recent sequence numbers a flow remembers (to tell late from duplicate).
const HISTORY: u64 = 64;

/// Where a flow's latest request (`Flow::seq`) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outstanding {
    /// Nothing outstanding: a timer or the last answer brings the next request.
    Nothing,
    /// Waiting for room in the send buffer since `since_ns`: not sent yet.
    Blocked { admit: Admit, since_ns: u64 },
    /// Sent at `sent_ns`, waiting for its answer.
    InFlight { admit: Admit, sent_ns: u64 },
}

impl Outstanding {
    fn is_some(self) -> bool {
        self != Outstanding::Nothing
    }
}

struct Flow {
    uid: u64,
    socket: UdpSocket,
    timer_gen: u32,
    /// The last sequence number issued (0: none yet).
    seq: u64,
    /// Request `seq`'s state.
    outstanding: Outstanding,
    /// The first sequence number sent in the recorded window.
    first_recorded: u64,
    /// Bit `s % HISTORY`: request `s` got its right answer (in time or late).
    answered: u64,
}

/// One thread's flows, timers and measurements.
pub(crate) struct UdpWorker<'a> {
    shared: &'a Shared,
    poll: Poll,
    timers: Timers,
    clock: Clock,
    stage: Stage,
    budget: Option<u64>,
    flows: Vec<Flow>,
    rec: Recorder,
    rbuf: Vec<u8>,
    datagram: Vec<u8>,
    outstanding: usize,
}

impl<'a> UdpWorker<'a> {
    /// A worker for the flows `uids` (global indices), each with its own socket.
    pub fn new(
        shared: &'a Shared,
        clock: Clock,
        target: SocketAddr,
        uids: &[u64],
        budget: Option<u64>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let timers = Timers::new(uids.len() + 1)?;
        timers.register(poll.registry(), TIMER)?;
        let mut flows = Vec::with_capacity(uids.len());
        for (i, &uid) in uids.iter().enumerate() {
            let mut socket = udp_flow(target)?;
            poll.registry().register(
                &mut socket,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            flows.push(Flow {
                uid,
                socket,
                timer_gen: 0,
                seq: 0,
                outstanding: Outstanding::Nothing,
                first_recorded: u64::MAX,
                answered: 0,
            });
        }
        Ok(UdpWorker {
            shared,
            poll,
            timers,
            clock,
            stage: Stage::Setup,
            budget,
            flows,
            rec: Recorder::new(u64::MAX, shared.duration, Extras::default())
                .with_progress(shared.progress.clone()),
            rbuf: vec![0; IO_BUF],
            datagram: Vec::with_capacity(IO_BUF),
            outstanding: 0,
        })
    }

    /// Waits for the common start, runs, and returns the measurements.
    pub fn run(mut self, gate: &StartGate, stop: Stop<'_>) -> io::Result<WorkerResult> {
        let start_ns = gate.wait_start(&self.clock)?;
        self.stage = Stage::running(self.shared, start_ns, self.budget);
        self.rec.set_record_start(
            start_ns.saturating_add(super::pacing::duration_ns(self.shared.warmup)),
        );
        let mut events = Events::with_capacity(EVENTS);
        for i in 0..self.flows.len() {
            self.issue(i, start_ns);
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
                if self.flows[i].timer_gen == generation && !self.flows[i].outstanding.is_some() {
                    self.issue(i, now);
                }
            }
            self.timers.arm(now)?;
            let wait = self.stage.wake_ns(now).saturating_sub(now);
            match self
                .poll
                .poll(&mut events, Some(std::time::Duration::from_nanos(wait)))
            {
                Ok(()) => {}
                // A signal (Ctrl-C) arrived: the loop looks at the stop flag.
                Err(e) if interrupted(&e) => continue,
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
        }
        let end_ns = self.stage.end_ns(self.clock.now_ns());
        // Answers already queued are late or duplicates: count them too.
        let now = self.clock.now_ns();
        for i in 0..self.flows.len() {
            self.receive(i, now, false);
        }
        Ok(WorkerResult {
            ticks: self.rec.take_ticks(),
            rec: self.rec,
            end_ns,
        })
    }

    fn on_event(&mut self, i: usize, event: &Event, now: u64) {
        if i >= self.flows.len() {
            return;
        }
        if event.is_writable() {
            if let Outstanding::Blocked { admit, .. } = self.flows[i].outstanding {
                self.transmit(i, admit, now);
            }
        }
        if event.is_readable() || event.is_error() {
            self.receive(i, now, true);
        }
    }

    /// Sends the flow's next request, if the window admits one.
    fn issue(&mut self, i: usize, now: u64) {
        let admit = self.stage.admit(now);
        if admit == Admit::Closed {
            return;
        }
        let f = &mut self.flows[i];
        f.seq += 1;
        let bit = 1 << (f.seq % HISTORY);
        f.answered &= !bit;
        if admit == Admit::Recorded && f.first_recorded == u64::MAX {
            f.first_recorded = f.seq;
        }
        self.outstanding += 1;
        self.transmit(i, admit, now);
    }

    /// Sends request `seq` (first try, or again after the send buffer was full).
    fn transmit(&mut self, i: usize, admit: Admit, now: u64) {
        let f = &mut self.flows[i];
        let key = request_key(f.uid, f.seq);
        build_datagram(&self.shared.request_workload(key), key, &mut self.datagram);
        let kind = loop {
            match f.socket.send(&self.datagram) {
                Ok(n) => {
                    f.outstanding = Outstanding::InFlight {
                        admit,
                        sent_ns: now,
                    };
                    if admit == Admit::Recorded {
                        self.rec.udp.sent += 1;
                        self.rec.bytes_sent += n as u64;
                    }
                    return;
                }
                // The send buffer is full: a writable event sends it.
                Err(e) if would_block(&e) => {
                    if !matches!(f.outstanding, Outstanding::Blocked { .. }) {
                        f.outstanding = Outstanding::Blocked {
                            admit,
                            since_ns: now,
                        };
                    }
                    return;
                }
                // A signal arrived mid-call: send again.
                Err(e) if interrupted(&e) => continue,
                Err(e) if e.raw_os_error() == Some(Errno::ECONNREFUSED as i32) => {
                    break ErrorKind::ConnectRefused
                }
                Err(_) => break ErrorKind::Io,
            }
        };
        // Not sent, so not counted: drop the request and try again shortly.
        f.outstanding = Outstanding::Nothing;
        self.outstanding -= 1;
        if admit == Admit::Recorded {
            self.rec.error(now, kind);
        }
        self.retry_later(i, now);
    }

    fn retry_later(&mut self, i: usize, now: u64) {
        let f = &mut self.flows[i];
        f.timer_gen = f.timer_gen.wrapping_add(1);
        self.timers.schedule(now + RETRY_NS, i, f.timer_gen);
    }

    /// The flow's request is over (answered or lost): on to the next one.
    fn next(&mut self, i: usize, now: u64) {
        if self.shared.think_ns > 0 {
            let f = &mut self.flows[i];
            f.timer_gen = f.timer_gen.wrapping_add(1);
            self.timers
                .schedule(now + self.shared.think_ns, i, f.timer_gen);
        } else {
            self.issue(i, now);
        }
    }

    /// Reads queued datagrams; with `go_on`, stops after the outstanding
    /// request is answered and issues the next one.
    fn receive(&mut self, i: usize, now: u64, go_on: bool) {
        loop {
            let got = self.flows[i].socket.recv(&mut self.rbuf);
            match got {
                Ok(n) => {
                    let answer =
                        check_datagram(&self.shared.workload, self.flows[i].uid, &self.rbuf[..n]);
                    if self.classify(i, answer, n, now) && go_on {
                        let done_ns = self.clock.now_ns();
                        self.next(i, done_ns);
                        // More datagrams (duplicates) bring their own event with the next answer.
                        return;
                    }
                }
                // Drained.
                Err(e) if would_block(&e) => return,
                // A signal arrived mid-call: receive again.
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    // ICMP port unreachable (ECONNREFUSED) or another error:
                    // the outstanding request will get no answer.
                    let kind = if e.raw_os_error() == Some(Errno::ECONNREFUSED as i32) {
                        ErrorKind::ConnectRefused
                    } else {
                        ErrorKind::Io
                    };
                    if let Outstanding::InFlight { admit, .. } = self.flows[i].outstanding {
                        self.resolve_lost(i, admit, now, Some(kind));
                        if go_on {
                            self.retry_later(i, now);
                        }
                    } else if self.stage.recording(now) {
                        self.rec.error(now, kind);
                    }
                    return;
                }
            }
        }
    }

    /// Counts one received datagram; true if it resolved the outstanding request.
    fn classify(&mut self, i: usize, answer: Answer, len: usize, now: u64) -> bool {
        let timeout_ns = self.shared.timeout_ns;
        let recording = self.stage.recording(now);
        let f = &mut self.flows[i];
        let (seq, fault) = match answer {
            Answer::Ok { seq } => (Some(seq), None),
            Answer::Fault { seq, kind } => (seq, Some(kind)),
        };
        // The request this datagram answers, if it is the one in flight.
        let current = match f.outstanding {
            Outstanding::InFlight { admit, sent_ns } if seq == Some(f.seq) => {
                Some((admit, sent_ns))
            }
            _ => None,
        };
        let recorded_seq = seq.is_some_and(|s| s >= f.first_recorded && s <= f.seq);
        if recorded_seq || (seq.is_none() && recording) {
            self.rec.bytes_received += len as u64;
        }
        if let Some(kind) = fault {
            if let Some((admit, _)) = current {
                // A wrong answer is no answer: the request is lost.
                self.resolve_lost(i, admit, now, Some(kind));
                return true;
            }
            if recorded_seq || recording {
                self.rec.error(now, kind);
            }
            return false;
        }
        let seq = seq.expect("a right answer names its request");
        if let Some((admit, sent_ns)) = current {
            f.outstanding = Outstanding::Nothing;
            self.outstanding -= 1;
            f.answered |= 1 << (seq % HISTORY);
            if admit == Admit::Recorded {
                if now.saturating_sub(sent_ns) > timeout_ns {
                    // After its timeout: late, and lost; never a success.
                    self.rec.udp.late += 1;
                    self.rec.lost(now);
                } else {
                    self.rec.udp.answered += 1;
                    self.rec.success(now, now.saturating_sub(sent_ns), None);
                }
            }
            return true;
        }
        if seq > f.seq || seq == 0 {
            // An answer to a request never sent.
            if recording {
                self.rec.error(now, ErrorKind::Mismatch);
            }
            return false;
        }
        let bit = 1 << (seq % HISTORY);
        let remembered = f.seq - seq < HISTORY;
        if remembered && f.answered & bit != 0 {
            if recorded_seq {
                self.rec.udp.duplicates += 1;
            }
        } else {
            // Its request was already counted lost (or is too old to remember).
            if remembered {
                f.answered |= bit;
            }
            if recorded_seq {
                self.rec.udp.late += 1;
            }
        }
        false
    }

    /// The request in flight (admitted as `admit`) got no right answer in
    /// time, or `cause` ended it (a wrong answer, a receive error). A recorded
    /// request counts once in the timeline (as lost, with `cause` still
    /// counted by kind); a warm-up one only shows its `cause` once recording has begun.
    fn resolve_lost(&mut self, i: usize, admit: Admit, now: u64, cause: Option<ErrorKind>) {
        self.flows[i].outstanding = Outstanding::Nothing;
        self.outstanding -= 1;
        match (admit == Admit::Recorded, cause) {
            (true, Some(kind)) => self.rec.lost_to(now, kind),
            (true, None) => self.rec.lost(now),
            (false, Some(kind)) if self.stage.recording(now) => self.rec.error(now, kind),
            (false, _) => {}
        }
    }

    fn sweep(&mut self, now: u64) {
        let timeout = self.shared.timeout_ns;
        for i in 0..self.flows.len() {
            match self.flows[i].outstanding {
                Outstanding::Blocked { admit, since_ns }
                    if now.saturating_sub(since_ns) > timeout =>
                {
                    // Never sent: no loss, an I/O error.
                    self.flows[i].outstanding = Outstanding::Nothing;
                    self.outstanding -= 1;
                    if admit == Admit::Recorded {
                        self.rec.error(now, ErrorKind::Io);
                    }
                    self.next(i, now);
                }
                Outstanding::InFlight { admit, sent_ns }
                    if now.saturating_sub(sent_ns) > timeout =>
                {
                    self.resolve_lost(i, admit, now, None);
                    self.next(i, now);
                }
                _ => {}
            }
        }
    }

    /// The drain time is over: what is in flight is lost (or, after Ctrl-C,
    /// taken back out of `sent`, since its fate is unknown).
    fn abandon(&mut self, now: u64) {
        let stopped = self.stage.stopped();
        for i in 0..self.flows.len() {
            match self.flows[i].outstanding {
                Outstanding::Nothing => {}
                // Never sent, so never counted.
                Outstanding::Blocked { .. } => {
                    self.flows[i].outstanding = Outstanding::Nothing;
                    self.outstanding -= 1;
                }
                Outstanding::InFlight { admit, .. } if stopped => {
                    self.flows[i].outstanding = Outstanding::Nothing;
                    self.outstanding -= 1;
                    if admit == Admit::Recorded {
                        self.rec.udp.sent -= 1;
                    }
                }
                Outstanding::InFlight { admit, .. } => self.resolve_lost(i, admit, now, None),
            }
        }
    }
}
