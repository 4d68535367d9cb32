//! `reactor-pool` — *half-sync/half-async* (Schmidt's pattern; Flash's AMPED
//! in spirit): one event loop does all socket I/O, a pool of threads does
//! the requests' work.
//!
//! The reactor is the `mio` model's edge-triggered epoll loop: it accepts,
//! reads, writes and closes. When a read brings request bytes, it hands them
//! with the connection's service `Session` to the pool over a crossbeam
//! channel; a worker runs the service (burning CPU or blocking as the
//! request asks) and sends the answer back, waking the reactor through a
//! `mio::Waker`, which writes it. While a connection's request is with a
//! worker the reactor reads nothing more from it, so its answers stay in
//! order; every other connection goes on being served, however long that
//! request blocks. Work that cannot block (echo and lab answers, synthetic
//! requests that ask for no CPU and no wait: a copy) stays on the reactor as
//! in `mio`, the way Flash serves cached pages itself and sends only disk
//! reads to its helpers: a hand-off costs two thread wake-ups, dearer than
//! the copy. A read is handed off whole when any request it completes asks
//! for work. It breaks when more requests block at once than there are
//! workers (they queue, as in `thread-pool`), and every offloaded request
//! pays the two cross-thread hand-offs even when its work is short.
//! Reads end at a short read, as in `mio` (`evented::readiness`): a report
//! that comes while a worker holds the session is noted, and the answer's
//! return reads on only if bytes may be waiting.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use ::mio::{Events, Poll, Token, Waker};
use crossbeam_channel::{Receiver, Sender};
use slab::Slab;

use crate::conn::READ_CHUNK;
use crate::context::{Context, ServeError, Server};
use crate::evented::offload::{work, Answer, Job, Replies};
use crate::evented::readiness::{Readiness, Report};
use crate::evented::{
    epoll, interrupted, sweep_every, would_block, Acceptor, Intake, Outbox, Table,
};
use crate::net::{Listener, Stream};
use crate::service::Session;
use crate::stats::{ConnStats, Fault};

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
const ANSWERS: Token = Token(2);
/// Connection tokens are slab keys shifted past the fixed tokens.
const FIRST_CONNECTION: usize = 3;

/// One reactor thread, a pool of service threads.
pub struct ReactorPoolServer;

/// One connection, as the reactor sees it.
struct Conn {
    stream: Stream,
    id: u64,
    /// `None` while a worker serves this connection's request.
    session: Option<Session>,
    /// Response bytes not yet written.
    out: Outbox,
    /// The peer closed its side; only owed output is left to send.
    read_closed: bool,
    /// Whether a read may return something (short reads end a turn).
    readiness: Readiness,
    registered_write: bool,
    last_active: Instant,
    stats: ConnStats,
}

impl Conn {
    fn pending(&self) -> usize {
        self.out.pending()
    }

    /// Writes pending output until done or the socket is full.
    fn flush(&mut self) -> Result<(), Fault> {
        self.out.flush(&mut self.stream, &mut self.stats)
    }
}

/// The reactor's connections, filled by the shared [`Intake`].
struct Conns<'a> {
    slab: Slab<Conn>,
    /// Tells a connection from a later one that reuses its key.
    next_id: u64,
    ctx: &'a Context<'a>,
}

impl Table for Conns<'_> {
    fn is_full(&self) -> bool {
        self.slab.len() >= self.ctx.config.limits.max_connections
    }

    fn next_key(&self) -> usize {
        self.slab.vacant_key()
    }

    fn insert(&mut self, stream: Stream) {
        self.ctx.counters.connection();
        self.next_id += 1;
        let config = &self.ctx.config;
        self.slab.insert(Conn {
            stream,
            id: self.next_id,
            session: Some(Session::new(config.service, config.limits.frame)),
            out: Outbox::default(),
            read_closed: false,
            readiness: Readiness::default(),
            registered_write: false,
            last_active: Instant::now(),
            stats: ConnStats::default(),
        });
    }
}

/// How a connection's turn ended.
enum Turn {
    Open,
    Close(Option<Fault>),
    /// Its request went to a worker.
    Offload(Job),
}

struct Reactor<'a> {
    poll: Poll,
    intake: Intake<'a>,
    conns: Conns<'a>,
    scratch: Vec<u8>,
    /// When the last wait returned: the activity time of the turns it
    /// brought (one clock read per wake-up, not per turn).
    woke: Instant,
    jobs: Sender<Job>,
    answers: Receiver<Answer>,
    replies: &'a Replies,
    ctx: &'a Context<'a>,
}

impl Server for ReactorPoolServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let setup = ServeError::setup;
        let acceptor = Acceptor::new(listener)?;
        let poll = Poll::new().map_err(setup("create the epoll instance"))?;
        let _stop = epoll::register_fixed(&poll, &acceptor, LISTENER, STOP, ctx)?;
        let waker =
            Waker::new(poll.registry(), ANSWERS).map_err(setup("create the answer waker"))?;
        let (answer_tx, answers) = crossbeam_channel::unbounded();
        let replies = Replies::new(answer_tx, waker);
        let (jobs, job_rx) = crossbeam_channel::unbounded::<Job>();
        let replies = Arc::new(replies);
        std::thread::scope(|scope| {
            for i in 0..ctx.config.worker_count() {
                let (job_rx, replies) = (job_rx.clone(), Arc::clone(&replies));
                let started = std::thread::Builder::new()
                    .name(format!("service-{i}"))
                    .spawn_scoped(scope, move || work(job_rx, &replies));
                // Dropping `jobs` on return ends the workers already started.
                started.map_err(setup("start a service thread"))?;
            }
            drop(job_rx);
            let mut reactor = Reactor {
                poll,
                intake: Intake::new(acceptor, ctx),
                conns: Conns {
                    slab: Slab::new(),
                    next_id: 0,
                    ctx,
                },
                scratch: vec![0u8; READ_CHUNK],
                woke: Instant::now(),
                jobs,
                answers,
                replies: &replies,
                ctx,
            };
            let result = reactor.run();
            for conn in reactor.conns.slab.drain() {
                ctx.counters.add(&conn.stats);
            }
            // `reactor.jobs` drops here: workers finish their job and leave.
            result
        })
    }
}

impl Reactor<'_> {
    fn run(&mut self) -> Result<(), ServeError> {
        let idle_timeout = self.ctx.config.limits.idle_timeout;
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = Instant::now() + sweep_every(idle_timeout);
        while !self.ctx.stop.is_set() {
            if crate::accept::quota_reached(self.ctx) && self.conns.slab.is_empty() {
                // `--stop-after`: every connection we took has been served.
                break;
            }
            let timeout = if self.intake.retry {
                Some(crate::accept::RESOURCE_BACKOFF)
            } else if self.conns.slab.is_empty() {
                // Nothing can go idle: sleep until something happens.
                None
            } else {
                Some(next_sweep.saturating_duration_since(Instant::now()))
            };
            epoll::wait(&mut self.poll, &mut events, timeout)?;
            self.woke = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    // The stop flag is already set; the loop condition ends us.
                    STOP => {}
                    ANSWERS => self.take_answers(),
                    token => self.serve(token.0 - FIRST_CONNECTION, Report::of(event)),
                }
            }
            if self.intake.retry {
                self.accept_all();
            }
            if Instant::now() >= next_sweep {
                self.close_idle();
                next_sweep = Instant::now() + sweep_every(idle_timeout);
            }
        }
        Ok(())
    }

    /// Accepts until the backlog is empty (the shared `Intake`'s rules),
    /// registering each connection with epoll.
    fn accept_all(&mut self) {
        let registry = self.poll.registry();
        self.intake.accept_all(&mut self.conns, |stream, key| {
            epoll::register_connection(registry, stream, Token(key + FIRST_CONNECTION))
        });
    }

    /// Gives connection `key` its turn after `report`, then acts on how it ended.
    fn serve(&mut self, key: usize, report: Report) {
        let max_pending = self.ctx.config.limits.max_pending_output;
        let Some(conn) = self.conns.slab.get_mut(key) else {
            // Closed earlier in this batch of events.
            return;
        };
        // Noted even while a worker has the session: the edge is spent.
        conn.readiness.note(report);
        conn.last_active = self.woke;
        match turn(conn, &mut self.scratch, max_pending) {
            Turn::Open => self.watch_writes(key),
            Turn::Close(fault) => self.close(key, fault),
            Turn::Offload(mut job) => {
                job.key = key;
                // The workers leave only after the reactor does.
                let _ = self.jobs.send(job);
                self.watch_writes(key);
            }
        }
    }

    /// Hands each worker's answer to its connection and serves it on.
    fn take_answers(&mut self) {
        // Re-armed before draining: an answer sent after this wakes us again.
        self.replies.rearm();
        while let Ok(answer) = self.answers.try_recv() {
            let Some(conn) = self.conns.slab.get_mut(answer.key) else {
                continue;
            };
            if conn.id != answer.id {
                // Its connection closed meanwhile, and the key was reused.
                continue;
            }
            conn.session = Some(answer.session);
            conn.out.queue().extend_from_slice(&answer.out);
            let flushed = conn.flush();
            match (answer.served, flushed) {
                (Some(Ok(k)), Ok(())) => conn.stats.requests += k,
                // The error reply went out if the socket took it; now close.
                (Some(Err(e)), _) => {
                    self.close(answer.key, Some(e.fault()));
                    continue;
                }
                (None, _) | (_, Err(_)) => {
                    self.close(answer.key, Some(Fault::Io));
                    continue;
                }
            }
            // Bytes that arrived while the worker had the session raised an
            // edge the reactor noted but could not serve: read them now.
            self.serve(answer.key, Report::NOTHING);
        }
    }

    /// Asks epoll for writability only while output is pending.
    fn watch_writes(&mut self, key: usize) {
        let Some(conn) = self.conns.slab.get_mut(key) else {
            return;
        };
        let wants_write = conn.pending() > 0;
        if wants_write == conn.registered_write {
            return;
        }
        let token = Token(key + FIRST_CONNECTION);
        if epoll::watch_writes(self.poll.registry(), &conn.stream, token, wants_write).is_err() {
            self.close(key, Some(Fault::Io));
            return;
        }
        conn.registered_write = wants_write;
    }

    /// Closes `key`, counting `fault` and adding its tally. A request still
    /// with a worker comes back to a different `id` and is dropped.
    fn close(&mut self, key: usize, fault: Option<Fault>) {
        // Dropping the socket removes it from epoll's interest list.
        let conn = self.conns.slab.remove(key);
        if let Some(f) = fault {
            self.ctx.counters.fault(f);
        }
        self.ctx.counters.add(&conn.stats);
    }

    /// Closes every connection silent for the idle timeout; one whose
    /// request is with a worker is busy, not idle.
    fn close_idle(&mut self) {
        let idle = self.ctx.config.limits.idle_timeout;
        // One clock read for the sweep, not one per connection.
        let now = Instant::now();
        let stale: Vec<usize> = self
            .conns
            .slab
            .iter()
            .filter(|(_, c)| {
                c.session.is_some() && now.saturating_duration_since(c.last_active) >= idle
            })
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            self.close(key, Some(Fault::IdleTimeout));
        }
    }
}

/// Serves what the socket has: writes owed output, reads, and either answers
/// here or, when they ask for work, hands the bytes read to a worker (one
/// request at a time per connection).
fn turn(conn: &mut Conn, scratch: &mut [u8], max_pending: usize) -> Turn {
    if let Err(f) = conn.flush() {
        return Turn::Close(Some(f));
    }
    if conn.read_closed {
        // Only owed output was left; close once it is all sent.
        return if conn.pending() > 0 || conn.session.is_none() {
            Turn::Open
        } else {
            Turn::Close(None)
        };
    }
    // With a worker serving this connection, reading waits for its answer
    // (which reads on); with too much unsent output, for writability; after
    // a short read, for the next report (`evented::readiness`).
    while conn.readiness.readable() && conn.pending() <= max_pending {
        let Some(session) = conn.session.as_mut() else {
            return Turn::Open;
        };
        let n = match conn.stream.read(scratch) {
            // The peer closed its side; a half-read frame is its fault. Owed
            // output keeps the connection open until it is sent.
            Ok(0) => {
                conn.read_closed = true;
                let fault = session.finish().err().map(|e| e.fault());
                return match conn.flush() {
                    Ok(()) if fault.is_none() && conn.pending() > 0 => Turn::Open,
                    Ok(()) => Turn::Close(fault),
                    Err(f) => Turn::Close(fault.or(Some(f))),
                };
            }
            Ok(n) => n,
            // Drained: wait for the next readiness.
            Err(e) if would_block(&e) => {
                conn.readiness.drained();
                return Turn::Open;
            }
            // A signal arrived mid-read; try again.
            Err(e) if interrupted(&e) => continue,
            Err(_) => return Turn::Close(Some(Fault::Io)),
        };
        conn.stats.bytes_in += n as u64;
        // A short read emptied the queue: no read after this one's answer
        // until the next report.
        let more = conn.readiness.after_read(n, scratch.len());
        if session.asks_for_work(&scratch[..n]) {
            let Some(session) = conn.session.take() else {
                return Turn::Open;
            };
            return Turn::Offload(Job {
                // The caller knows the key.
                key: usize::MAX,
                id: conn.id,
                session,
                input: scratch[..n].to_vec(),
            });
        }
        match session.feed(&scratch[..n], conn.out.queue()) {
            Ok(k) => conn.stats.requests += k,
            Err(e) => {
                // Send the error reply if the socket takes it now; then close.
                let _ = conn.flush();
                return Turn::Close(Some(e.fault()));
            }
        }
        if let Err(f) = conn.flush() {
            return Turn::Close(Some(f));
        }
        if !more {
            return Turn::Open;
        }
    }
    Turn::Open
}
