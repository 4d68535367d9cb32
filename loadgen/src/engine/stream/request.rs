//! The life of one request on a stream connection: connect (a new one per
//! request in `crr`), admit it to the window, write it, read and check the
//! answer as it arrives, then record a sample or count an error, and decide
//! what the connection does next.

use super::{Admit, Request, Role, State, StreamWorker};
use crate::check::{fill_request, request_key, Progress};
use crate::engine::net::{connect_error_kind, interrupted, io_error_kind, would_block, Stream};
use crate::plan::Mode;
use crate::stats::ErrorKind;
use mio::{Interest, Token};

/// Wait this long before connecting again after a failed connect.
const CONNECT_RETRY_NS: u64 = 10_000_000;

/// How reading a response ended.
enum Read {
    /// Drained for now: the next bytes bring a new event.
    Wait,
    /// Complete and correct.
    Complete,
    /// The request failed.
    Fail(ErrorKind),
}

impl StreamWorker<'_> {
    pub(super) fn set_timer(&mut self, i: usize, at_ns: u64) {
        let c = &mut self.conns[i];
        c.timer_gen = c.timer_gen.wrapping_add(1);
        self.timers.schedule(at_ns, i, c.timer_gen);
    }

    /// Opens a connection that is not carrying a request (rr, open, idle).
    pub(super) fn reconnect(&mut self, i: usize, now: u64) {
        if self.stage.closing() && self.conns[i].role == Role::Active {
            self.conns[i].state = State::Done;
            return;
        }
        self.connect(i, now, None);
    }

    /// Starts a connect; in `crr` it carries the request it is the first step of.
    pub(super) fn connect(&mut self, i: usize, now: u64, request: Option<Request>) {
        let opened = Stream::connect(&self.target, self.shared.options).and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                .map(|()| s)
        });
        match opened {
            Ok(stream) => {
                self.conns[i].state = State::Connecting {
                    stream,
                    since_ns: now,
                    request,
                };
                self.connecting += 1;
            }
            Err(e) => self.connect_failed(i, connect_error_kind(&e), now, request),
        }
    }

    pub(super) fn on_connected(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        let State::Connecting {
            stream,
            since_ns,
            request,
        } = std::mem::replace(&mut c.state, State::Closed)
        else {
            return;
        };
        self.connecting -= 1;
        c.state = State::Ready { stream };
        if c.role == Role::Idle {
            return;
        }
        match (self.shared.mode, request) {
            (Mode::Crr, Some(request)) => {
                if request.admit == Admit::Recorded {
                    self.rec.connected(now.saturating_sub(since_ns));
                }
                self.send(i, now, request);
            }
            (Mode::Open { .. }, _) => self.next_open(i, now),
            _ => self.start_request(i, now),
        }
    }

    /// A connect failed; the connection is closed already, and `request` is
    /// what it carried (`crr`).
    pub(super) fn connect_failed(
        &mut self,
        i: usize,
        kind: ErrorKind,
        now: u64,
        request: Option<Request>,
    ) {
        match request {
            // crr: the connect was this request's first step.
            Some(request) => self.finish(request, now, Some(kind)),
            None if self.conns[i].role == Role::Idle || self.stage.recording(now) => {
                self.rec.error(now, kind)
            }
            None => {}
        }
        if matches!(self.stage, super::Stage::Setup) {
            // Setting up the idle connections: a failed one is not retried.
            self.conns[i].state = State::Done;
        } else {
            self.set_timer(i, now + CONNECT_RETRY_NS);
        }
    }

    /// `crr`: a new request begins with a new connection.
    pub(super) fn begin_crr(&mut self, i: usize, now: u64) {
        let admit = self.stage.admit(now);
        if admit == Admit::Closed {
            self.conns[i].state = State::Done;
            return;
        }
        self.outstanding += 1;
        self.connect(i, now, Some(Request::admitted(admit, now)));
    }

    /// `rr` and `open`: the next request on an established connection.
    pub(super) fn start_request(&mut self, i: usize, now: u64) {
        let open = matches!(self.shared.mode, Mode::Open { .. });
        let c = &self.conns[i];
        let origin = if open {
            c.schedule.intended_ns(c.next_k)
        } else {
            now
        };
        let admit = self.stage.admit(origin);
        if admit == Admit::Closed {
            self.conns[i].state = State::Done;
            return;
        }
        self.outstanding += 1;
        // `now` was read before this event's batch: in open mode the send lag
        // and the uncorrected latency need the moment the request really leaves.
        let now = if open { self.clock.now_ns() } else { now };
        if open && admit == Admit::Recorded {
            self.rec.sent(now, now.saturating_sub(origin));
        }
        self.send(i, now, Request::admitted(admit, origin));
    }

    /// `open`: send now if the schedule says so (or is behind), else wait for it.
    pub(super) fn next_open(&mut self, i: usize, now: u64) {
        let c = &self.conns[i];
        let intended = c.schedule.intended_ns(c.next_k);
        if intended <= now {
            self.start_request(i, now);
        } else if intended < self.stage.issue_end_ns() {
            self.set_timer(i, intended);
        } else {
            self.conns[i].state = State::Done;
        }
    }

    /// Sends `request` on the connected (ready) connection `i`.
    pub(super) fn send(&mut self, i: usize, now: u64, mut request: Request) {
        let c = &mut self.conns[i];
        let State::Ready { stream } = std::mem::replace(&mut c.state, State::Closed) else {
            // Not connected: the request cannot go out; count it failed.
            return self.finish(request, now, Some(ErrorKind::Io));
        };
        c.seq += 1;
        request.key = request_key(c.uid, c.seq);
        request.sent_ns = now;
        request.written = 0;
        c.check.begin(&self.shared.workload, request.key);
        c.state = State::Busy { stream, request };
        self.write_request(i, now);
    }

    pub(super) fn write_request(&mut self, i: usize, now: u64) {
        let State::Busy { stream, request } = &mut self.conns[i].state else {
            return;
        };
        let workload = self.shared.request_workload(request.key);
        let failed = loop {
            let n = fill_request(&workload, request.key, request.written, &mut self.wbuf);
            if n == 0 {
                return;
            }
            match stream.write(&self.wbuf[..n]) {
                Ok(m) => {
                    request.written += m;
                    if request.admit == Admit::Recorded {
                        self.rec.bytes_sent += m as u64;
                    }
                    if m < n {
                        // The send buffer is full: a writable event resumes.
                        return;
                    }
                }
                // The send buffer is full: a writable event resumes.
                Err(e) if would_block(&e) => return,
                // A signal arrived mid-call: write again.
                Err(e) if interrupted(&e) => continue,
                Err(e) => break io_error_kind(&e),
            }
        };
        self.fail(i, failed, now);
    }

    pub(super) fn read_response(&mut self, i: usize, now: u64, to_end: bool) {
        let c = &mut self.conns[i];
        let State::Busy { stream, request } = &mut c.state else {
            return;
        };
        let outcome = loop {
            match stream.read(&mut self.rbuf) {
                // The server closed before the whole response arrived.
                Ok(0) => break Read::Fail(ErrorKind::ShortResponse),
                Ok(n) => {
                    if request.admit == Admit::Recorded {
                        self.rec.bytes_received += n as u64;
                    }
                    match c.check.feed(&self.shared.workload, &self.rbuf[..n]) {
                        Progress::More if n == self.rbuf.len() || to_end => continue,
                        // A short read drained the socket; the next bytes (or
                        // the FIN) bring a new edge-triggered event.
                        Progress::More => break Read::Wait,
                        // Answered before the request was all sent: out of step.
                        Progress::Done if request.written < self.req_len => {
                            break Read::Fail(ErrorKind::Mismatch)
                        }
                        Progress::Done => break Read::Complete,
                        Progress::Fault(kind) => break Read::Fail(kind),
                    }
                }
                // Drained; the next bytes bring a new event.
                Err(e) if would_block(&e) => break Read::Wait,
                // A signal arrived mid-call: read again.
                Err(e) if interrupted(&e) => continue,
                Err(e) => break Read::Fail(io_error_kind(&e)),
            }
        };
        match outcome {
            Read::Wait => {}
            Read::Complete => {
                let done_ns = self.clock.now_ns();
                self.complete(i, done_ns);
            }
            Read::Fail(kind) => self.fail(i, kind, now),
        }
    }

    /// Bytes or a close on a connection with nothing outstanding.
    pub(super) fn read_unasked(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        let State::Ready { stream } = &mut c.state else {
            return;
        };
        let kind = loop {
            match stream.read(&mut self.rbuf) {
                // The server closed a connection between requests.
                Ok(0) => break ErrorKind::DroppedIdle,
                // Bytes nobody asked for: the server is out of step.
                Ok(_) => break ErrorKind::Mismatch,
                // Nothing there: a writable edge or a stale event.
                Err(e) if would_block(&e) => return,
                // A signal arrived mid-call: read again.
                Err(e) if interrupted(&e) => continue,
                Err(e) => break io_error_kind(&e),
            }
        };
        if c.role == Role::Idle || self.stage.recording(now) {
            self.rec.error(now, kind);
        }
        let nothing = self.close(i);
        debug_assert!(nothing.is_none(), "a ready connection has no request");
        self.reconnect(i, now);
    }

    /// The outstanding request was answered, completely and correctly, at `now`.
    pub(super) fn complete(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        let State::Busy { stream, request } = std::mem::replace(&mut c.state, State::Closed) else {
            return;
        };
        c.state = State::Ready { stream };
        let late = now.saturating_sub(request.sent_ns) > self.shared.timeout_ns;
        self.finish(request, now, late.then_some(ErrorKind::Timeout));
        self.after_request(i, now);
    }

    /// A request failed on an established connection: count it, close, go on.
    pub(super) fn fail(&mut self, i: usize, kind: ErrorKind, now: u64) {
        if let Some(request) = self.close(i) {
            self.finish(request, now, Some(kind));
        }
        match self.shared.mode {
            Mode::Crr => self.after_request(i, now),
            Mode::Open { .. } => {
                self.conns[i].next_k += 1;
                self.reconnect(i, now);
            }
            _ => self.reconnect(i, now),
        }
    }

    /// Ends an outstanding request: a sample if it succeeded, else an error.
    pub(super) fn finish(&mut self, request: Request, now: u64, error: Option<ErrorKind>) {
        self.outstanding -= 1;
        if error.is_none() {
            self.rec.answered(now);
        }
        if request.admit != Admit::Recorded {
            return;
        }
        match error {
            Some(kind) => self.rec.error(now, kind),
            None => {
                let open = matches!(self.shared.mode, Mode::Open { .. });
                self.rec.success(
                    now,
                    now.saturating_sub(request.origin_ns),
                    open.then_some(now.saturating_sub(request.sent_ns)),
                );
            }
        }
    }

    /// What a connection does once its request is over.
    pub(super) fn after_request(&mut self, i: usize, now: u64) {
        let think = self.shared.think_ns;
        match self.shared.mode {
            Mode::Crr => {
                let c = &mut self.conns[i];
                c.served += 1;
                // Still connected and not yet at its count: the next request
                // goes on the same connection (after the think time, if any).
                if c.served < self.shared.requests_per_connection
                    && matches!(c.state, State::Ready { .. })
                {
                    return if think > 0 {
                        self.set_timer(i, now + think)
                    } else {
                        self.start_request(i, now)
                    };
                }
                c.served = 0;
                let nothing = self.close(i);
                debug_assert!(nothing.is_none(), "the request is over");
                if think > 0 {
                    self.set_timer(i, now + think);
                } else {
                    self.begin_crr(i, now);
                }
            }
            Mode::Open { .. } => {
                self.conns[i].next_k += 1;
                self.next_open(i, now);
            }
            _ if think > 0 => self.set_timer(i, now + think),
            _ => self.start_request(i, now),
        }
    }

    /// Closes connection `i` (dropping the socket also removes it from the
    /// poll set) and cancels its timer. Returns the request it carried, which
    /// the caller must finish.
    #[must_use = "an outstanding request must be finished"]
    pub(super) fn close(&mut self, i: usize) -> Option<Request> {
        let c = &mut self.conns[i];
        c.timer_gen = c.timer_gen.wrapping_add(1);
        match std::mem::replace(&mut c.state, State::Closed) {
            State::Connecting { request, .. } => {
                self.connecting -= 1;
                request
            }
            State::Busy { request, .. } => Some(request),
            State::Ready { .. } | State::Closed => None,
            State::Done => {
                c.state = State::Done;
                None
            }
        }
    }
}

impl Request {
    /// A request admitted as `admit`, timed from `origin_ns`, not yet sent.
    fn admitted(admit: Admit, origin_ns: u64) -> Self {
        Request {
            admit,
            origin_ns,
            key: 0,
            sent_ns: origin_ns,
            written: 0,
        }
    }
}
