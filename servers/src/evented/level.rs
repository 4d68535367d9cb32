//! The level-triggered event loop of `select` and `poll`: the kernel keeps no
//! interest list, so every iteration hands it the whole set of descriptors to
//! watch (the listener, the stop waker, each connection for reading and/or
//! writing) and gets back which are ready. The model supplies that one call
//! (a [`Wait`]); everything else (accepting, serving, the idle sweep,
//! `--stop-after`) is here, once.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::readiness::Report;
use super::{interrupted, sweep_every, wait_timeout, Acceptor, Connections, Intake};
use crate::accept::quota_reached;
use crate::context::{Context, ServeError};
use crate::net::{Listener, Stream};
use crate::stats::Fault;

/// A level-triggered readiness call: `select(2)` or `poll(2)`.
pub(crate) trait Wait {
    /// Whether the call can watch `fd`; an accepted connection it cannot
    /// watch is refused (closed at once, counted as [`Fault::Refused`]).
    fn admit(&self, fd: BorrowedFd<'_>) -> io::Result<()>;

    /// Sleeps until something in `watch` is ready or `timeout` passes
    /// (`None`: no timeout), and records in `ready` what is ready.
    fn wait(
        &mut self,
        watch: &Watch<'_, '_>,
        timeout: Option<Duration>,
        ready: &mut Ready,
    ) -> io::Result<()>;
}

/// What one connection is watched for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interest {
    pub(crate) read: bool,
    pub(crate) write: bool,
}

/// Everything one wait watches.
pub(crate) struct Watch<'w, 'c> {
    /// The listener, unless the loop has stopped accepting or is backing off.
    pub(crate) listener: Option<BorrowedFd<'w>>,
    /// Readable once a stop is asked for.
    pub(crate) waker: BorrowedFd<'w>,
    conns: &'w Connections<'c>,
    max_pending: usize,
}

impl<'w> Watch<'w, '_> {
    /// How many connections are open (each is watched for something).
    pub(crate) fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Each open connection: its key, its descriptor, what to watch it for.
    /// Never neither: a connection that may not read (closed by the peer, or
    /// under back-pressure) has output waiting.
    pub(crate) fn connections(&self) -> impl Iterator<Item = (usize, BorrowedFd<'w>, Interest)> {
        let max_pending = self.max_pending;
        self.conns.iter().map(move |(key, conn)| {
            let interest = Interest {
                read: conn.wants_read(max_pending),
                write: conn.wants_write(),
            };
            (key, conn.stream.as_fd(), interest)
        })
    }
}

/// What one wait found ready.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    /// A connection waits in the backlog.
    pub(crate) listener: bool,
    /// Keys of the connections ready for what they were watched for (or in error).
    pub(crate) conns: Vec<usize>,
}

/// Refuses an accepted connection the readiness call cannot watch.
fn watchable(wait: &impl Wait, stream: &Stream) -> Result<(), Fault> {
    wait.admit(stream.as_fd()).map_err(|_| Fault::Refused)
}

/// Serves `listener` with `wait` as the readiness call until a stop.
pub(crate) fn run(
    listener: Listener,
    ctx: &Context,
    mut wait: impl Wait,
) -> Result<(), ServeError> {
    let setup = ServeError::setup;
    let acceptor = Acceptor::new(listener)?;
    let waker = ctx.stop.waker().map_err(setup("get the stop waker"))?;
    wait.admit(acceptor.as_fd())
        .map_err(setup("watch the listener"))?;
    wait.admit(waker.as_fd())
        .map_err(setup("watch the stop waker"))?;

    let mut intake = Intake::new(acceptor, ctx);
    let mut conns = Connections::new(ctx);
    let mut ready = Ready::default();
    let max_pending = ctx.config.limits.max_pending_output;
    let mut next_sweep = Instant::now() + sweep_every(ctx.config.limits.idle_timeout);
    while !ctx.stop.is_set() {
        if quota_reached(ctx) && conns.is_empty() {
            // `--stop-after`: every connection we took has been served.
            break;
        }
        let timeout = wait_timeout(intake.retry, &conns, next_sweep);
        let watch = Watch {
            listener: intake.watch_listener().then(|| intake.acceptor.as_fd()),
            waker: waker.as_fd(),
            conns: &conns,
            max_pending,
        };
        ready.listener = false;
        ready.conns.clear();
        match wait.wait(&watch, timeout, &mut ready) {
            Ok(()) => {}
            // A signal arrived; the loop condition checks for a stop.
            Err(e) if interrupted(&e) => continue,
            Err(e) => {
                return Err(ServeError::Setup {
                    what: "wait for events",
                    source: e,
                })
            }
        }
        conns.woke();
        // A readable waker needs nothing: the stop flag is already set, and
        // the loop condition ends us. It is not drained, so it stays readable.
        if ready.listener {
            intake.accept_all(&mut conns, |stream, _| watchable(&wait, stream));
        }
        // Keys stay valid through this batch: accepting came first, and
        // serving only removes.
        for &key in &ready.conns {
            conns.serve(key, Report::LEVEL);
        }
        if intake.retry {
            intake.accept_all(&mut conns, |stream, _| watchable(&wait, stream));
        }
        if Instant::now() >= next_sweep {
            conns.close_idle();
            next_sweep = Instant::now() + sweep_every(ctx.config.limits.idle_timeout);
        }
    }
    conns.close_all();
    Ok(())
}
