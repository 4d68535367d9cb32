//! `mio` — Comer & Stevens' *single-process concurrent* server.
//!
//! One thread, one epoll instance (through mio), non-blocking sockets. Each
//! connection is a small state record (its socket, its service session, its
//! unsent output); the loop sleeps in `epoll_wait` until some socket is ready
//! and serves whatever it can without blocking. No process or thread per
//! client, so thousands of idle or slow clients cost a few kilobytes each.
//! It breaks on CPU-heavy or blocking requests: while one is served, every
//! other connection waits (head-of-line blocking), and it uses one core.
//! The connection state machine and accepting are shared with `select` and
//! `poll` (`evented`); what differs is the loop: edge-triggered, with the
//! interest list kept in the kernel, so a wake-up costs in proportion to the
//! sockets that are ready, not to all of them. A request costs two system
//! calls plus a share of a wait: a turn reads until a short read shows the
//! receive queue empty rather than until `EAGAIN` (the peer's FIN is not
//! missed: the report's `EPOLLRDHUP` bit says it is queued, see
//! `evented::readiness`), and writes the answer at once, asking epoll for
//! writability only while output waits.

use std::time::Instant;

use ::mio::event::Event;
use ::mio::{Events, Poll, Token};

use crate::context::{Context, ServeError, Server};
use crate::evented::readiness::Report;
use crate::evented::{epoll, sweep_every, wait_timeout, Acceptor, Connections, Intake};
use crate::net::Listener;
use crate::stats::Fault;
use crate::stop::TICK;

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
/// Connection tokens are slab keys shifted past the fixed tokens.
const FIRST_CONNECTION: usize = 2;

/// One thread, one event loop.
pub struct MioServer;

struct EventLoop<'a> {
    poll: Poll,
    intake: Intake<'a>,
    connections: Connections<'a>,
    ctx: &'a Context<'a>,
}

impl Server for MioServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        serve_loop(Acceptor::new(listener)?, ctx)
    }
}

/// Runs one edge-triggered event loop on `acceptor` until a stop (`mio` runs
/// one, `reuseport` one per listener).
pub(crate) fn serve_loop(acceptor: Acceptor, ctx: &Context) -> Result<(), ServeError> {
    let poll = Poll::new().map_err(ServeError::setup("create the epoll instance"))?;
    let _waker = epoll::register_fixed(&poll, &acceptor, LISTENER, STOP, ctx)?;
    let mut event_loop = EventLoop {
        poll,
        intake: Intake::new(acceptor, ctx),
        connections: Connections::new(ctx),
        ctx,
    };
    event_loop.run()
}

impl EventLoop<'_> {
    fn run(&mut self) -> Result<(), ServeError> {
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = Instant::now() + sweep_every(self.ctx.config.limits.idle_timeout);
        while !self.ctx.stop.is_set() {
            if crate::accept::quota_reached(self.ctx) && self.connections.is_empty() {
                // `--stop-after`: every connection we took has been served.
                break;
            }
            let mut timeout = wait_timeout(self.intake.retry, &self.connections, next_sweep);
            if self.ctx.config.stop_after.is_some() {
                // Another loop (`reuseport`) may take the last connection of
                // the quota: look at it every tick, not only on our events.
                timeout = Some(timeout.map_or(TICK, |t| t.min(TICK)));
            }
            epoll::wait(&mut self.poll, &mut events, timeout)?;
            self.connections.woke();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    // The stop flag is already set; the loop condition ends us.
                    STOP => {}
                    token => self.serve_event(token, event),
                }
            }
            if self.intake.retry {
                self.accept_all();
            }
            if Instant::now() >= next_sweep {
                self.connections.close_idle();
                next_sweep = Instant::now() + sweep_every(self.ctx.config.limits.idle_timeout);
            }
        }
        self.connections.close_all();
        Ok(())
    }

    fn accept_all(&mut self) {
        let registry = self.poll.registry();
        self.intake
            .accept_all(&mut self.connections, |stream, key| {
                epoll::register_connection(registry, stream, Token(key + FIRST_CONNECTION))
            });
    }

    fn serve_event(&mut self, token: Token, event: &Event) {
        if !(event.is_readable()
            || event.is_writable()
            || event.is_error()
            || event.is_read_closed())
        {
            return;
        }
        let key = token.0 - FIRST_CONNECTION;
        // `None`: closed in its turn, or earlier in this batch of events.
        let Some(conn) = self.connections.serve(key, Report::of(event)) else {
            return;
        };
        // Ask for writability only while output is pending.
        let wants_write = conn.wants_write();
        if wants_write == conn.registered_write {
            return;
        }
        if epoll::watch_writes(self.poll.registry(), &conn.stream, token, wants_write).is_err() {
            self.connections.close(key, Some(Fault::Io));
            return;
        }
        conn.registered_write = wants_write;
    }
}
