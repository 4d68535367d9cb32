//! The life of one request on a stream connection: connect (a new one per
//! request in `crr`), admit it to the window, write it, read and check the
//! answer as it arrives, then record a sample or count an error, and decide
//! what the connection does next.

use super::{Admit, Role, State, StreamWorker};
use crate::check::{fill_request, request_key, Progress};
use crate::engine::net::{connect_error_kind, interrupted, io_error_kind, would_block, Stream};
use crate::plan::Mode;
use crate::stats::ErrorKind;
use mio::{Interest, Token};

/// Wait this long before connecting again after a failed connect.
const CONNECT_RETRY_NS: u64 = 10_000_000;

impl StreamWorker<'_> {
    pub(super) fn set_timer(&mut self, i: usize, at_ns: u64) {
        let c = &mut self.conns[i];
        c.timer_gen = c.timer_gen.wrapping_add(1);
        self.timers.schedule(at_ns, i, c.timer_gen);
    }

    /// Opens a connection that is not carrying a request (rr, open, idle).
    pub(super) fn reconnect(&mut self, i: usize, now: u64) {
        if self.life.closing && self.conns[i].role == Role::Active {
            self.conns[i].state = State::Done;
            return;
        }
        self.connect(i, now);
    }

    pub(super) fn connect(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        c.connect_start_ns = now;
        let opened = Stream::connect(&self.target, self.shared.options).and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                .map(|()| s)
        });
        match opened {
            Ok(s) => {
                c.stream = Some(s);
                c.state = State::Connecting;
                self.connecting += 1;
            }
            Err(e) => {
                self.connecting += 1; // connect_failed balances it
                self.connect_failed(i, connect_error_kind(&e), now);
            }
        }
    }

    pub(super) fn on_connected(&mut self, i: usize, now: u64) {
        self.connecting -= 1;
        let c = &mut self.conns[i];
        c.state = State::Ready;
        if c.role == Role::Idle {
            return;
        }
        match self.shared.mode {
            Mode::Crr => {
                if c.admit == Admit::Recorded {
                    self.rec.connected(now.saturating_sub(c.connect_start_ns));
                }
                self.send(i, now);
            }
            Mode::Open { .. } => self.next_open(i, now),
            _ => self.start_request(i, now),
        }
    }

    pub(super) fn connect_failed(&mut self, i: usize, kind: ErrorKind, now: u64) {
        self.connecting -= 1;
        self.close(i);
        let c = &self.conns[i];
        if c.pending {
            // crr: the connect was this request's first step.
            self.finish_pending(i, now, Some(kind));
        } else if c.role == Role::Idle || now >= self.window.record_start_ns {
            self.rec.error(now, kind);
        }
        if self.setup {
            self.conns[i].state = State::Done;
        } else {
            self.set_timer(i, now + CONNECT_RETRY_NS);
        }
    }

    /// `crr`: a new request begins with a new connection.
    pub(super) fn begin_crr(&mut self, i: usize, now: u64) {
        let admit = self.window.admit(now);
        let c = &mut self.conns[i];
        if admit == Admit::Closed {
            c.state = State::Done;
            return;
        }
        c.admit = admit;
        c.origin_ns = now;
        c.pending = true;
        self.outstanding += 1;
        self.connect(i, now);
    }

    /// `rr` and `open`: the next request on an established connection.
    pub(super) fn start_request(&mut self, i: usize, now: u64) {
        let open = matches!(self.shared.mode, Mode::Open { .. });
        let c = &mut self.conns[i];
        let origin = if open {
            c.schedule.intended_ns(c.next_k)
        } else {
            now
        };
        let admit = self.window.admit(origin);
        if admit == Admit::Closed {
            c.state = State::Done;
            return;
        }
        c.admit = admit;
        c.origin_ns = origin;
        c.pending = true;
        self.outstanding += 1;
        // `now` was read before this event's batch: in open mode the send lag
        // and the uncorrected latency need the moment the request really leaves.
        let now = if open { self.clock.now_ns() } else { now };
        if open && admit == Admit::Recorded {
            self.rec.sent(now, now.saturating_sub(origin));
        }
        self.send(i, now);
    }

    /// `open`: send now if the schedule says so (or is behind), else wait for it.
    pub(super) fn next_open(&mut self, i: usize, now: u64) {
        let c = &self.conns[i];
        let intended = c.schedule.intended_ns(c.next_k);
        if intended <= now {
            self.start_request(i, now);
        } else if intended < self.window.issue_end_ns {
            self.set_timer(i, intended);
        } else {
            self.conns[i].state = State::Done;
        }
    }

    pub(super) fn send(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        c.seq += 1;
        c.key = request_key(c.uid, c.seq);
        c.check.begin(&self.shared.workload, c.key);
        c.written = 0;
        c.sent_ns = now;
        c.state = State::Busy;
        self.write_request(i, now);
    }

    pub(super) fn write_request(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return;
        };
        loop {
            let n = fill_request(&self.shared.workload, c.key, c.written, &mut self.wbuf);
            if n == 0 {
                return;
            }
            match stream.write(&self.wbuf[..n]) {
                Ok(m) => {
                    c.written += m;
                    if c.admit == Admit::Recorded {
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
                Err(e) => return self.fail(i, io_error_kind(&e), now),
            }
        }
    }

    pub(super) fn read_response(&mut self, i: usize, now: u64, to_end: bool) {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return;
        };
        loop {
            match stream.read(&mut self.rbuf) {
                // The server closed before the whole response arrived.
                Ok(0) => return self.fail(i, ErrorKind::ShortResponse, now),
                Ok(n) => {
                    if c.admit == Admit::Recorded {
                        self.rec.bytes_received += n as u64;
                    }
                    match c.check.feed(&self.shared.workload, &self.rbuf[..n]) {
                        Progress::More if n == self.rbuf.len() || to_end => continue,
                        // A short read drained the socket; the next bytes (or
                        // the FIN) bring a new edge-triggered event.
                        Progress::More => return,
                        Progress::Done if c.written < self.req_len => {
                            // Answered before the request was all sent: out of step.
                            return self.fail(i, ErrorKind::Mismatch, now);
                        }
                        Progress::Done => {
                            let done_ns = self.clock.now_ns();
                            return self.complete(i, done_ns);
                        }
                        Progress::Fault(kind) => return self.fail(i, kind, now),
                    }
                }
                // Drained; the next bytes bring a new event.
                Err(e) if would_block(&e) => return,
                // A signal arrived mid-call: read again.
                Err(e) if interrupted(&e) => continue,
                Err(e) => return self.fail(i, io_error_kind(&e), now),
            }
        }
    }

    /// Bytes or a close on a connection with nothing outstanding.
    pub(super) fn read_unasked(&mut self, i: usize, now: u64) {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
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
        if c.role == Role::Idle || now >= self.window.record_start_ns {
            self.rec.error(now, kind);
        }
        self.close(i);
        self.reconnect(i, now);
    }

    pub(super) fn complete(&mut self, i: usize, now: u64) {
        let c = &self.conns[i];
        let late = now.saturating_sub(c.sent_ns) > self.shared.timeout_ns;
        self.finish_pending(i, now, late.then_some(ErrorKind::Timeout));
        self.conns[i].state = State::Ready;
        self.after_request(i, now);
    }

    /// A request failed on an established connection: count it, close, go on.
    pub(super) fn fail(&mut self, i: usize, kind: ErrorKind, now: u64) {
        self.finish_pending(i, now, Some(kind));
        self.close(i);
        match self.shared.mode {
            Mode::Crr => self.after_request(i, now),
            Mode::Open { .. } => {
                self.conns[i].next_k += 1;
                self.reconnect(i, now);
            }
            _ => self.reconnect(i, now),
        }
    }

    /// Ends the outstanding request: a sample if it succeeded, else an error.
    pub(super) fn finish_pending(&mut self, i: usize, now: u64, error: Option<ErrorKind>) {
        let c = &mut self.conns[i];
        if !c.pending {
            return;
        }
        c.pending = false;
        self.outstanding -= 1;
        if c.admit != Admit::Recorded {
            return;
        }
        match error {
            Some(kind) => self.rec.error(now, kind),
            None => {
                let uncorrected = now.saturating_sub(c.sent_ns);
                let open = matches!(self.shared.mode, Mode::Open { .. });
                self.rec.success(
                    now,
                    now.saturating_sub(c.origin_ns),
                    open.then_some(uncorrected),
                );
            }
        }
    }

    /// What a connection does once its request is over.
    pub(super) fn after_request(&mut self, i: usize, now: u64) {
        let think = self.shared.think_ns;
        match self.shared.mode {
            Mode::Crr => {
                self.close(i);
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

    pub(super) fn close(&mut self, i: usize) {
        let c = &mut self.conns[i];
        // Dropping the socket closes it, which also removes it from the poll set.
        c.stream = None;
        c.state = State::Closed;
        c.timer_gen = c.timer_gen.wrapping_add(1);
    }
}
