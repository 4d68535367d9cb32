//! What the single-process concurrent models (`mio`, `select`, `poll`) share:
//! everything but the readiness system call.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | `Acceptor` (the non-blocking listener) and `Intake` (accept until the backlog is empty, refuse past the limits) |
//! | `connection.rs` | `Connection`: one non-blocking socket's state machine (read until the queue is empty, feed the service `Session`, flush partial writes, back-pressure, close with the right fault); `Connections`, the loop's table of them, with the idle sweep |
//! | `readiness.rs` | `Readiness`: whether a read can return anything, so a short read ends a turn without the `EAGAIN` read after it (and the peer's FIN is still read) |
//! | `outbox.rs` | `Outbox`: output owed to a peer, written until the socket is full, compacted lazily |
//! | `level.rs` | the level-triggered loop `select` and `poll` run, around a `Wait` (their one system call) |
//! | `epoll.rs` | the edge-triggered loop's registrations and wait, for `mio`, `reuseport` and `reactor-pool` |
//! | `offload.rs` | a request's trip to a worker thread and back, waking the loop (`reactor-pool`) |
//!
//! `mio` runs its own edge-triggered loop (its registrations live in the
//! kernel) over the same `Intake` and `Connections`; `reactor-pool`'s
//! reactor is that loop with its own table ([`Table`]), whose requests may
//! go to a worker.

mod connection;
pub(crate) mod epoll;
pub(crate) mod level;
pub(crate) mod offload;
mod outbox;
pub(crate) mod readiness;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

pub(crate) use self::connection::{wait_timeout, Connections};
pub(crate) use self::outbox::Outbox;
use crate::accept::{self, accept_failed, quota_reached, AcceptFailure, Mode};
use crate::context::{Context, ServeError};
use crate::net::{Listener, Stream};
use crate::stats::Fault;

/// How often idle connections are looked for.
pub(crate) fn sweep_every(idle_timeout: Duration) -> Duration {
    // A quarter of the timeout, so a connection is closed at most 25% late,
    // but never more often than every 10 ms nor less often than every second.
    (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

pub(crate) fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

pub(crate) fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

/// The listening socket, non-blocking. Accepted sockets are born
/// non-blocking (`accept4(SOCK_NONBLOCK)`, one system call instead of two).
/// Which loop watches it (epoll, `select`, `poll`) is the model's business.
pub(crate) struct Acceptor(Listener);

impl Acceptor {
    /// Makes `listener` non-blocking; refuses a datagram socket.
    pub(crate) fn new(listener: Listener) -> Result<Self, ServeError> {
        let setup = ServeError::setup;
        match &listener {
            Listener::Tcp(l) => l
                .set_nonblocking(true)
                .map_err(setup("make the listener non-blocking"))?,
            Listener::Unix(l) => l
                .set_nonblocking(true)
                .map_err(setup("make the listener non-blocking"))?,
            Listener::Udp(_) => {
                return Err(ServeError::Setup {
                    what: "serve streams",
                    source: io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "an event loop needs a stream listener",
                    ),
                })
            }
        }
        Ok(Acceptor(listener))
    }

    /// Accepts one connection, non-blocking, with TCP_NODELAY set.
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        accept::accept(&self.0, Mode::NonBlocking)
    }
}

impl AsFd for Acceptor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// An event loop's table of connections, as [`Intake`] fills it.
pub(crate) trait Table {
    /// At `--max-connections`: the next one is refused.
    fn is_full(&self) -> bool;
    /// The key the next inserted connection will get.
    fn next_key(&self) -> usize;
    /// Takes in an accepted and admitted stream, counting the connection.
    fn insert(&mut self, stream: Stream);
}

impl Table for Connections<'_> {
    fn is_full(&self) -> bool {
        Connections::is_full(self)
    }

    fn next_key(&self) -> usize {
        Connections::next_key(self)
    }

    fn insert(&mut self, stream: Stream) {
        Connections::insert(self, stream);
    }
}

/// The accepting side of an event loop.
pub(crate) struct Intake<'a> {
    pub(crate) acceptor: Acceptor,
    /// False once `--stop-after`'s quota is taken: no more accepting.
    pub(crate) accepting: bool,
    /// Set when accept() ran out of descriptors: the backlog will not raise a
    /// new edge by itself (and a level-triggered loop watching it would spin),
    /// so the loop retries on a short timeout instead.
    pub(crate) retry: bool,
    ctx: &'a Context<'a>,
}

impl<'a> Intake<'a> {
    pub(crate) fn new(acceptor: Acceptor, ctx: &'a Context<'a>) -> Self {
        Intake {
            acceptor,
            accepting: true,
            retry: false,
            ctx,
        }
    }

    /// Whether a level-triggered loop should watch the listener now.
    pub(crate) fn watch_listener(&self) -> bool {
        self.accepting && !self.retry
    }

    /// Accepts until the backlog is empty, into `conns`. `admit` is the
    /// model's last word on each connection (given the key it will get):
    /// `mio` registers it with epoll, `select` refuses descriptors it cannot
    /// watch. A refused connection is closed at once, its fault counted.
    pub(crate) fn accept_all(
        &mut self,
        conns: &mut impl Table,
        mut admit: impl FnMut(&Stream, usize) -> Result<(), Fault>,
    ) {
        // A retry after running out of descriptors is no wake-up.
        let woken = !self.retry;
        self.retry = false;
        let mut first = true;
        while self.accepting {
            if quota_reached(self.ctx) {
                self.accepting = false;
                break;
            }
            let stream = match self.acceptor.accept() {
                Ok(s) => s,
                Err(e) => match accept_failed(&e, self.ctx.counters) {
                    // The backlog is empty; empty at the first try, this
                    // wake-up found nothing (another loop took it, or none came).
                    AcceptFailure::Empty => {
                        if first && woken {
                            self.ctx.counters.empty_accept();
                        }
                        break;
                    }
                    // A signal arrived mid-accept; try again.
                    AcceptFailure::Interrupted => continue,
                    // This one connection failed before we got it: take the
                    // next one, or edge-triggered mio would leave the rest waiting.
                    AcceptFailure::Lost => continue,
                    // Out of descriptors: the backlog will not raise a new
                    // edge by itself, so the loop retries on a timer.
                    AcceptFailure::Exhausted => {
                        self.retry = true;
                        break;
                    }
                    AcceptFailure::Failed => break,
                },
            };
            first = false;
            if conns.is_full() {
                // Over the limit: closing at once is the clearest refusal.
                self.ctx.counters.fault(Fault::Refused);
                continue;
            }
            if let Err(fault) = admit(&stream, conns.next_key()) {
                // Dropping the stream closes it.
                self.ctx.counters.fault(fault);
                continue;
            }
            conns.insert(stream);
        }
    }
}
