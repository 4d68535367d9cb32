//! `io-uring` — a single-threaded *completion-based* server: the kernel does
//! the I/O and reports when it is done, instead of reporting that a socket is
//! ready so the server can do it (epoll's readiness model, `mio`).
//!
//! One thread, one io_uring instance. A multishot accept stays armed on the
//! listener and posts one completion per connection; each connection keeps
//! one receive in flight into its own buffer and at most one send of its
//! pending output. The loop's only system call is `io_uring_enter`, which
//! submits every queued receive and send at once and waits for completions,
//! so under load one call serves many requests where epoll pays a wait plus
//! a `read` and a `write` per request. Output that the client does not read
//! keeps piling up to the same back-pressure limit as the event loops, past
//! which receiving stops. It breaks where `mio` does (one thread: a blocking
//! or CPU-heavy request stalls everyone), costs a buffer per connection
//! while its receive is in flight (16 KiB; provided-buffer rings and
//! multishot receive would share a pool, left out until they are shown to
//! pay), and needs io_uring: kernels before 5.19 lack multishot accept, and
//! many containers' seccomp filters refuse `io_uring_setup`, in which case
//! `serve` says so and exits. The unsafe buffer lending lives in `sys::uring`.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use slab::Slab;

use crate::context::{Context, ServeError, Server};
use crate::evented::sweep_every;
use crate::net::{Listener, Stream};
use crate::service::Session;
use crate::stats::{ConnStats, Fault};
use crate::sys::{Completion, Ring};

/// Bytes one receive may return (each connection owns one such buffer).
const RECV_CHUNK: usize = 16 << 10;
/// Submission queue entries: every connection has at most two operations
/// queued per turn; a full queue is submitted and refilled, never lost.
const RING_ENTRIES: u32 = 1024;

/// Tokens: the two fixed operations, then connection operations as
/// `key << 2 | what`.
const ACCEPT: u64 = u64::MAX;
const STOP: u64 = u64::MAX - 1;
const STOP_ACCEPTING: u64 = u64::MAX - 2;
const RECV: u64 = 0;
const SEND: u64 = 1;
const CANCEL: u64 = 2;

/// One thread, one io_uring.
pub struct IoUringServer;

/// One connection's state while the kernel works for it.
struct Conn {
    stream: Stream,
    session: Session,
    /// The receive buffer, or `None` while the kernel holds it.
    recv_buf: Option<Vec<u8>>,
    /// Response bytes not yet handed to a send.
    out: Vec<u8>,
    /// A spare buffer to swap with `out` when a send starts.
    spare: Vec<u8>,
    /// Bytes in the send in flight (0: none in flight).
    sending: usize,
    /// Set once the connection is on its way out.
    closing: Option<Closing>,
    last_active: Instant,
    stats: ConnStats,
}

/// How a connection is being closed.
#[derive(Debug, Clone, Copy)]
struct Closing {
    /// The fault to count once it is gone.
    fault: Option<Fault>,
    /// Send the owed output first (else drop it and cancel what is in flight).
    flush: bool,
}

impl Conn {
    fn in_flight(&self) -> bool {
        self.recv_buf.is_none() || self.sending > 0
    }

    fn pending(&self) -> usize {
        self.out.len() + self.sending
    }
}

struct Uring<'a> {
    ring: Ring,
    conns: Slab<Conn>,
    listener: Listener,
    ctx: &'a Context<'a>,
    accepting: bool,
}

impl Server for IoUringServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let setup = ServeError::setup;
        if matches!(listener, Listener::Udp(_)) {
            return Err(ServeError::Setup {
                what: "serve streams",
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "io-uring needs a stream listener",
                ),
            });
        }
        let mut ring = Ring::new(RING_ENTRIES).map_err(|source| ServeError::Setup {
            what: "set up io_uring (old kernel, kernel.io_uring_disabled, or a seccomp filter; \
                   use another model here)",
            source,
        })?;
        let waker = ctx.stop.waker().map_err(setup("get the stop waker"))?;
        ring.poll_readable(waker.as_fd(), STOP)
            .map_err(setup("watch the stop waker"))?;
        ring.accept_multi(listener.as_fd(), ACCEPT)
            .map_err(setup("start accepting"))?;
        let mut server = Uring {
            ring,
            conns: Slab::new(),
            listener,
            ctx,
            accepting: true,
        };
        let result = server.run();
        // Streams close with the slab; the ring, dropped after, cancels what
        // is left in flight.
        for conn in server.conns.drain() {
            ctx.counters.add(&conn.stats);
        }
        drop(waker);
        result
    }
}

impl Uring<'_> {
    fn run(&mut self) -> Result<(), ServeError> {
        let idle_timeout = self.ctx.config.limits.idle_timeout;
        let mut next_sweep = Instant::now() + sweep_every(idle_timeout);
        let mut done = Vec::new();
        let mut retry_accept = false;
        while !self.ctx.stop.is_set() {
            if crate::accept::quota_reached(self.ctx) && self.conns.is_empty() {
                // `--stop-after`: every connection we took has been served.
                break;
            }
            let timeout = if retry_accept {
                Some(crate::accept::RESOURCE_BACKOFF)
            } else if self.conns.is_empty() {
                None
            } else {
                Some(next_sweep.saturating_duration_since(Instant::now()))
            };
            self.ring
                .submit_and_wait(timeout)
                .map_err(ServeError::setup("wait for completions"))?;
            if retry_accept {
                retry_accept = false;
                self.rearm_accept();
            }
            self.ring.completions(&mut done);
            for c in done.drain(..) {
                match c.token {
                    ACCEPT => retry_accept |= self.accepted(c),
                    // The stop flag is set; the loop condition ends us.
                    STOP => {}
                    // The accept it cancelled completes with ACCEPT.
                    STOP_ACCEPTING => {}
                    token => self.conn_done(token, c),
                }
            }
            if Instant::now() >= next_sweep {
                self.close_idle();
                next_sweep = Instant::now() + sweep_every(idle_timeout);
            }
        }
        Ok(())
    }

    fn rearm_accept(&mut self) {
        if self.accepting
            && self
                .ring
                .accept_multi(self.listener.as_fd(), ACCEPT)
                .is_err()
        {
            self.ctx.counters.fault(Fault::Resource);
        }
    }

    /// Takes in one accepted connection; true if accepting must be re-armed
    /// after a back-off.
    fn accepted(&mut self, c: Completion) -> bool {
        let counters = self.ctx.counters;
        let fd = match c.result {
            Ok(_) => c.accepted,
            // Cancelled by `--stop-after`.
            Err(_) if !self.accepting => None,
            // Counted like every model's; the multishot accept goes on or,
            // if it ended, is queued again below.
            Err(e) => {
                crate::accept::accept_failed(&e, counters);
                None
            }
        };
        if let Some(fd) = fd {
            self.admit(fd);
        }
        if crate::accept::quota_reached(self.ctx) && self.accepting {
            // `--stop-after`: take no more (a failed cancel only means
            // connections wait unserved in the backlog until we exit).
            self.accepting = false;
            let _ = self.ring.cancel_fd(self.listener.as_fd(), STOP_ACCEPTING);
        }
        // A multishot accept that ended (an error, or the kernel's own
        // limits) must be queued again.
        !c.more && self.accepting
    }

    fn admit(&mut self, fd: OwnedFd) {
        let counters = self.ctx.counters;
        counters.connection();
        if self.conns.len() >= self.ctx.config.limits.max_connections {
            // Over the limit: dropping the descriptor closes it.
            counters.fault(Fault::Refused);
            return;
        }
        let stream = match self.listener {
            Listener::Tcp(_) => {
                let s = TcpStream::from(fd);
                // Small answers go out at once; Nagle would hold each for 40 ms.
                if s.set_nodelay(true).is_err() {
                    counters.fault(Fault::Io);
                    return;
                }
                Stream::Tcp(s)
            }
            _ => Stream::Unix(UnixStream::from(fd)),
        };
        let key = self.conns.insert(Conn {
            stream,
            session: Session::new(self.ctx.config.service, self.ctx.config.limits.frame),
            recv_buf: Some(vec![0u8; RECV_CHUNK]),
            out: Vec::new(),
            spare: Vec::new(),
            sending: 0,
            closing: None,
            last_active: Instant::now(),
            stats: ConnStats::default(),
        });
        self.start_recv(key);
    }

    /// Queues a receive if the connection may read and none is in flight.
    fn start_recv(&mut self, key: usize) {
        let max_pending = self.ctx.config.limits.max_pending_output;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.closing.is_some() || conn.pending() > max_pending {
            return;
        }
        let Some(buf) = conn.recv_buf.take() else {
            return;
        };
        let token = (key as u64) << 2 | RECV;
        if self.ring.recv(conn.stream.as_fd(), buf, token).is_err() {
            // The buffer is lost with the failed submission; make a new one
            // so the connection can be closed cleanly.
            conn.recv_buf = Some(vec![0u8; RECV_CHUNK]);
            self.close(key, Some(Fault::Resource));
        }
    }

    /// Queues a send of the pending output if none is in flight.
    fn start_send(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.sending > 0 || conn.out.is_empty() {
            return;
        }
        let mut buf = std::mem::take(&mut conn.spare);
        std::mem::swap(&mut buf, &mut conn.out);
        conn.sending = buf.len();
        let token = (key as u64) << 2 | SEND;
        if self.ring.send(conn.stream.as_fd(), buf, 0, token).is_err() {
            conn.sending = 0;
            self.close(key, Some(Fault::Resource));
        }
    }

    fn conn_done(&mut self, token: u64, c: Completion) {
        let key = (token >> 2) as usize;
        match token & 3 {
            RECV => self.received(key, c),
            SEND => self.sent(key, c),
            // The operations it cancelled complete on their own.
            CANCEL => {}
            _ => unreachable!("tokens are built from RECV, SEND and CANCEL"),
        }
        self.finish_close(key);
    }

    fn received(&mut self, key: usize, c: Completion) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.recv_buf = Some(c.buf.unwrap_or_else(|| vec![0u8; RECV_CHUNK]));
        let n = match c.result {
            // Cancelled (or failed) because we are closing it anyway.
            _ if conn.closing.is_some() => return,
            Ok(n) => n,
            // A signal interrupted the receive; queue it again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return self.start_recv(key),
            // Reset and friends: this client is gone.
            Err(_) => return self.close(key, Some(Fault::Io)),
        };
        conn.last_active = Instant::now();
        if n == 0 {
            // The peer closed its side; a half-read frame is its fault. A
            // half-closed peer may still read: owed output goes out first.
            let fault = conn.session.finish().err().map(|e| e.fault());
            return self.close_after_send(key, fault);
        }
        conn.stats.bytes_in += n as u64;
        let buf = conn.recv_buf.as_deref().unwrap_or_default();
        match conn.session.feed(&buf[..n], &mut conn.out) {
            Ok(k) => conn.stats.requests += k,
            // Send the error reply, then close.
            Err(e) => return self.close_after_send(key, Some(e.fault())),
        }
        self.start_send(key);
        self.start_recv(key);
    }

    fn sent(&mut self, key: usize, c: Completion) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let buf = c.buf.unwrap_or_default();
        let n = match c.result {
            // A zero-length send of a non-empty buffer: the peer cannot take more.
            Ok(0) => {
                conn.sending = 0;
                return self.close(key, Some(Fault::Io));
            }
            Ok(n) => n,
            // A signal interrupted the send; queue the same bytes again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(_) => {
                conn.sending = 0;
                return self.close(key, Some(Fault::Io));
            }
        };
        conn.stats.bytes_out += n as u64;
        conn.last_active = Instant::now();
        if matches!(conn.closing, Some(Closing { flush: false, .. })) {
            // Cancelled mid-way: nothing more goes out.
            conn.sending = 0;
            return;
        }
        if n < conn.sending {
            // A partial send: the rest goes first, from where it stopped.
            let from = buf.len() - conn.sending + n;
            conn.sending -= n;
            let token = (key as u64) << 2 | SEND;
            if self
                .ring
                .send(conn.stream.as_fd(), buf, from, token)
                .is_err()
            {
                conn.sending = 0;
                self.close(key, Some(Fault::Resource));
            }
            return;
        }
        conn.sending = 0;
        let mut spare = buf;
        spare.clear();
        conn.spare = spare;
        self.start_send(key);
        self.start_recv(key);
    }

    /// Closes `key` at once: what is in flight is cancelled, owed output
    /// dropped. The connection goes once the kernel gives everything back.
    fn close(&mut self, key: usize, fault: Option<Fault>) {
        self.begin_close(key, fault, false);
    }

    /// Closes `key` once its owed output is sent (a clean end, or an error
    /// reply). Nothing is received any more.
    fn close_after_send(&mut self, key: usize, fault: Option<Fault>) {
        self.begin_close(key, fault, true);
    }

    fn begin_close(&mut self, key: usize, fault: Option<Fault>, flush: bool) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match &mut conn.closing {
            // Already flushing: a forced close (idle, error) overrides it.
            Some(c) if c.flush && !flush => c.flush = false,
            Some(_) => return,
            None => conn.closing = Some(Closing { fault, flush }),
        }
        let cancel = conn.recv_buf.is_none() || (conn.sending > 0 && !flush);
        if cancel {
            let token = (key as u64) << 2 | CANCEL;
            if self.ring.cancel_fd(conn.stream.as_fd(), token).is_err() {
                // Without a cancel the operations still end, with the
                // socket's next event or its reset; the close waits for them.
                self.ctx.counters.fault(Fault::Resource);
            }
        }
        if flush {
            self.start_send(key);
        }
        self.finish_close(key);
    }

    /// Drops a closing connection once the kernel holds nothing of it.
    fn finish_close(&mut self, key: usize) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let Some(closing) = conn.closing else {
            return;
        };
        if conn.in_flight() || (closing.flush && !conn.out.is_empty()) {
            return;
        }
        let conn = self.conns.remove(key);
        if let Some(f) = closing.fault {
            self.ctx.counters.fault(f);
        }
        self.ctx.counters.add(&conn.stats);
    }

    fn close_idle(&mut self) {
        let idle = self.ctx.config.limits.idle_timeout;
        let stale: Vec<usize> = self
            .conns
            .iter()
            // A flushing close whose client stopped reading counts too.
            .filter(|(_, c)| {
                !matches!(c.closing, Some(Closing { flush: false, .. }))
                    && c.last_active.elapsed() >= idle
            })
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            self.close(key, Some(Fault::IdleTimeout));
        }
    }
}
