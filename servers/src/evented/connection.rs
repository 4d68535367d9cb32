//! One non-blocking connection's state machine, and the table of them an
//! event loop owns.

use std::io::Read;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::conn::READ_CHUNK;
use crate::context::Context;
use crate::net::Stream;
use crate::service::Session;
use crate::stats::{ConnStats, Fault};

use super::outbox::Outbox;
use super::readiness::{Readiness, Report};
use super::{interrupted, would_block};

/// One connection: its socket, its service session, its unsent output.
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    session: Session,
    /// Response bytes not yet written.
    out: Outbox,
    /// The peer closed its side cleanly while output was still owed to it:
    /// nothing more to read, only that output to send.
    read_closed: bool,
    /// Whether a read may return something (short reads end a turn).
    readiness: Readiness,
    /// Whether the poller was last asked for writability (the `mio` model
    /// re-registers only when this changes).
    pub(crate) registered_write: bool,
    last_active: Instant,
    stats: ConnStats,
}

/// How a connection's turn ended.
pub(crate) enum Turn {
    Open,
    /// Close it, counting the fault if there is one.
    Close(Option<Fault>),
}

impl Connection {
    fn new(stream: Stream, ctx: &Context) -> Self {
        Connection {
            stream,
            session: Session::new(ctx.config.service, ctx.config.limits.frame),
            out: Outbox::default(),
            read_closed: false,
            readiness: Readiness::default(),
            registered_write: false,
            last_active: Instant::now(),
            stats: ConnStats::default(),
        }
    }

    /// Response bytes queued but not yet sent.
    pub(crate) fn pending(&self) -> usize {
        self.out.pending()
    }

    /// Whether a level-triggered loop should watch for readability: not once
    /// the peer has closed (EOF stays readable forever), and not while more
    /// than `max_pending` bytes of output wait (back-pressure: readable data
    /// we will not read would wake the loop again at once).
    pub(crate) fn wants_read(&self, max_pending: usize) -> bool {
        !self.read_closed && self.pending() <= max_pending
    }

    /// Whether output waits for room in the socket's send buffer.
    pub(crate) fn wants_write(&self) -> bool {
        self.pending() > 0
    }

    /// Writes pending output until done or the socket is full.
    fn flush(&mut self) -> Result<(), Fault> {
        self.out.flush(&mut self.stream, &mut self.stats)
    }

    /// Serves whatever the socket has, within the output limit.
    fn turn(&mut self, scratch: &mut [u8], max_pending: usize) -> Turn {
        if let Err(f) = self.flush() {
            return Turn::Close(Some(f));
        }
        if self.read_closed {
            // Only owed output was left; close once it is all sent.
            return if self.pending() > 0 {
                Turn::Open
            } else {
                Turn::Close(None)
            };
        }
        // Read until the receive queue is empty: a short read or WouldBlock
        // (edge-triggered loops would otherwise miss data; see `readiness`
        // for why a short read is enough, and for the peer's FIN). The
        // exception is back-pressure: with too much unsent output we stop
        // reading, and the writability that drains it brings us back here.
        while self.readiness.readable() && self.pending() <= max_pending {
            let n = match self.stream.read(scratch) {
                // The peer closed its side; a half-read frame is its fault.
                // A half-closed peer may still be reading: output it is owed
                // keeps the connection open, waiting for writability, until
                // it is all sent.
                Ok(0) => {
                    self.read_closed = true;
                    let fault = self.session.finish().err().map(|e| e.fault());
                    return match self.flush() {
                        Ok(()) if fault.is_none() && self.pending() > 0 => Turn::Open,
                        Ok(()) => Turn::Close(fault),
                        Err(f) => Turn::Close(fault.or(Some(f))),
                    };
                }
                Ok(n) => n,
                // Drained: wait for the next readiness.
                Err(e) if would_block(&e) => {
                    self.readiness.drained();
                    return Turn::Open;
                }
                // A signal arrived mid-read; try again.
                Err(e) if interrupted(&e) => continue,
                Err(_) => return Turn::Close(Some(Fault::Io)),
            };
            self.stats.bytes_in += n as u64;
            match self.session.feed(&scratch[..n], self.out.queue()) {
                Ok(k) => self.stats.requests += k,
                Err(e) => {
                    // Send the error reply if the socket takes it now; then close.
                    let _ = self.flush();
                    return Turn::Close(Some(e.fault()));
                }
            }
            if let Err(f) = self.flush() {
                return Turn::Close(Some(f));
            }
            // A short read emptied the queue: another would be EAGAIN.
            if !self.readiness.after_read(n, scratch.len()) {
                return Turn::Open;
            }
        }
        Turn::Open
    }
}

/// Every open connection of one event loop, keyed by small integers (slab
/// keys) that a loop can turn into tokens.
pub(crate) struct Connections<'a> {
    slab: Slab<Connection>,
    /// One read buffer for every connection: reads never outlive a turn.
    scratch: Vec<u8>,
    /// When the loop last woke from its wait: the activity time of every
    /// turn served in that batch (one clock read per wake-up, not per turn).
    woke: Instant,
    ctx: &'a Context<'a>,
}

impl<'a> Connections<'a> {
    pub(crate) fn new(ctx: &'a Context<'a>) -> Self {
        Connections {
            slab: Slab::new(),
            scratch: vec![0u8; READ_CHUNK],
            woke: Instant::now(),
            ctx,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Whether the `max_connections` limit is reached.
    pub(crate) fn is_full(&self) -> bool {
        self.slab.len() >= self.ctx.config.limits.max_connections
    }

    /// The key the next [`Connections::insert`] will return.
    pub(crate) fn next_key(&self) -> usize {
        self.slab.vacant_key()
    }

    /// Takes in an accepted (non-blocking) connection and counts it.
    pub(crate) fn insert(&mut self, stream: Stream) -> usize {
        self.ctx.counters.connection();
        self.slab.insert(Connection::new(stream, self.ctx))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Connection)> {
        self.slab.iter()
    }

    /// Notes that the loop's wait just returned; call it before serving
    /// that wait's connections, or their idle time runs from an older wake-up.
    pub(crate) fn woke(&mut self) {
        self.woke = Instant::now();
    }

    /// Gives connection `key` its turn after `report`. Returns it if it
    /// stays open, `None` if it was closed (or was already gone).
    pub(crate) fn serve(&mut self, key: usize, report: Report) -> Option<&mut Connection> {
        let max_pending = self.ctx.config.limits.max_pending_output;
        let conn = self.slab.get_mut(key)?;
        conn.readiness.note(report);
        conn.last_active = self.woke;
        match conn.turn(&mut self.scratch, max_pending) {
            Turn::Open => self.slab.get_mut(key),
            Turn::Close(fault) => {
                self.close(key, fault);
                None
            }
        }
    }

    /// Closes connection `key`, counting `fault` and adding its tally.
    pub(crate) fn close(&mut self, key: usize, fault: Option<Fault>) {
        // Dropping the socket closes it (and, for epoll, removes it from the
        // interest list: no EPOLL_CTL_DEL needed).
        let conn = self.slab.remove(key);
        if let Some(f) = fault {
            self.ctx.counters.fault(f);
        }
        self.ctx.counters.add(&conn.stats);
    }

    /// Closes every connection silent for the idle timeout.
    pub(crate) fn close_idle(&mut self) {
        let idle = self.ctx.config.limits.idle_timeout;
        // One clock read for the sweep, not one per connection.
        let now = Instant::now();
        let stale: Vec<usize> = self
            .slab
            .iter()
            .filter(|(_, c)| now.saturating_duration_since(c.last_active) >= idle)
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            self.close(key, Some(Fault::IdleTimeout));
        }
    }

    /// Closes everything at shutdown, adding each tally (no fault: we stopped).
    pub(crate) fn close_all(&mut self) {
        for conn in self.slab.drain() {
            self.ctx.counters.add(&conn.stats);
        }
    }
}

/// How long an event loop may sleep: a short back-off while `accept()` is out
/// of descriptors, forever with nothing that could go idle, else until the
/// next idle sweep.
pub(crate) fn wait_timeout(
    retry_accept: bool,
    conns: &Connections,
    next_sweep: Instant,
) -> Option<Duration> {
    if retry_accept {
        Some(crate::accept::RESOURCE_BACKOFF)
    } else if conns.is_empty() {
        // Nothing can go idle: sleep until something happens.
        None
    } else {
        Some(next_sweep.saturating_duration_since(Instant::now()))
    }
}
