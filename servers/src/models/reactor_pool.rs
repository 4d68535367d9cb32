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
//! request blocks. Work that cannot block, echo and lab answers (a copy),
//! stays on the reactor as in `mio`, the way Flash serves cached pages
//! itself and sends only disk reads to its helpers: a hand-off costs two
//! thread wake-ups, dearer than the copy. It breaks when more requests block
//! at once than there are workers (they queue, as in `thread-pool`), and
//! every offloaded request pays the two cross-thread hand-offs even when it
//! would have been quick.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ::mio::net::UnixStream;
use ::mio::unix::SourceFd;
use ::mio::{Events, Interest, Poll, Token, Waker};
use crossbeam_channel::{Receiver, Sender};
use slab::Slab;

use crate::accept::{accept_failed, AcceptFailure};
use crate::config::ServiceKind;
use crate::conn::READ_CHUNK;
use crate::context::{Context, ServeError, Server};
use crate::evented::{interrupted, sweep_every, would_block, Acceptor};
use crate::net::{Listener, Stream};
use crate::service::{ServiceError, Session};
use crate::stats::{ConnStats, Fault};

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
const ANSWERS: Token = Token(2);
/// Connection tokens are slab keys shifted past the fixed tokens.
const FIRST_CONNECTION: usize = 3;

/// One reactor thread, a pool of service threads.
pub struct ReactorPoolServer;

/// Request bytes and the session to feed them to, on their way to a worker.
struct Job {
    key: usize,
    /// Tells a connection from a later one that reused its slab key.
    id: u64,
    session: Session,
    input: Vec<u8>,
}

/// A worker's answer, on its way back to the reactor.
struct Answer {
    key: usize,
    id: u64,
    session: Session,
    out: Vec<u8>,
    /// `None`: the service panicked (the connection is closed, counted as I/O).
    served: Option<Result<u64, ServiceError>>,
}

/// The way back: answers, and a wake-up for the reactor when the first of a
/// batch arrives.
struct Replies {
    tx: Sender<Answer>,
    waker: Waker,
    /// Set by the worker that wakes the reactor, cleared by the reactor
    /// before it drains: at most one pending wake-up per batch.
    woken: AtomicBool,
}

impl Replies {
    fn send(&self, answer: Answer) {
        // The reactor is gone only at shutdown; the answer no longer matters.
        if self.tx.send(answer).is_ok() && !self.woken.swap(true, Ordering::SeqCst) {
            // An eventfd write; it fails only if the reactor's epoll is gone.
            let _ = self.waker.wake();
        }
    }
}

/// The service thread's loop: feed, answer, until the job channel closes.
fn work(jobs: Receiver<Job>, replies: &Replies) {
    for mut job in jobs {
        let mut out = Vec::new();
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job.session.feed(&job.input, &mut out)
        }))
        .ok();
        replies.send(Answer {
            key: job.key,
            id: job.id,
            session: job.session,
            out,
            served,
        });
    }
}

/// One connection, as the reactor sees it.
struct Conn {
    stream: Stream,
    id: u64,
    /// `None` while a worker serves this connection's request.
    session: Option<Session>,
    /// Response bytes not yet written; `out[written..]` is pending.
    out: Vec<u8>,
    written: usize,
    /// The peer closed its side; only owed output is left to send.
    read_closed: bool,
    registered_write: bool,
    last_active: Instant,
    stats: ConnStats,
}

impl Conn {
    fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes pending output until done or the socket is full.
    fn flush(&mut self) -> Result<(), Fault> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                // A zero-length write on a non-empty buffer: the peer cannot take more.
                Ok(0) => return Err(Fault::Io),
                Ok(n) => {
                    self.written += n;
                    self.stats.bytes_out += n as u64;
                }
                // The send buffer is full; writability brings us back. Drop
                // what was sent so `out` holds only unsent bytes.
                Err(e) if would_block(&e) => {
                    self.out.drain(..self.written);
                    self.written = 0;
                    return Ok(());
                }
                // A signal arrived mid-write; try again.
                Err(e) if interrupted(&e) => {}
                Err(_) => return Err(Fault::Io),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
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
    acceptor: Acceptor,
    conns: Slab<Conn>,
    next_id: u64,
    scratch: Vec<u8>,
    /// Echo and lab cannot block: served here, not by the pool.
    inline: bool,
    jobs: Sender<Job>,
    answers: Receiver<Answer>,
    replies: &'a Replies,
    accepting: bool,
    retry_accept: bool,
    ctx: &'a Context<'a>,
}

impl Server for ReactorPoolServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let setup = ServeError::setup;
        let acceptor = Acceptor::new(listener)?;
        let poll = Poll::new().map_err(setup("create the epoll instance"))?;
        let registry = poll.registry();
        registry
            .register(
                &mut SourceFd(&acceptor.as_fd().as_raw_fd()),
                LISTENER,
                Interest::READABLE,
            )
            .map_err(setup("register the listener"))?;
        let mut stop = UnixStream::from_std(ctx.stop.waker().map_err(setup("get the stop waker"))?);
        registry
            .register(&mut stop, STOP, Interest::READABLE)
            .map_err(setup("register the stop waker"))?;
        let waker = Waker::new(registry, ANSWERS).map_err(setup("create the answer waker"))?;
        let (answer_tx, answers) = crossbeam_channel::unbounded();
        let replies = Replies {
            tx: answer_tx,
            waker,
            woken: AtomicBool::new(false),
        };
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
                acceptor,
                conns: Slab::new(),
                next_id: 0,
                scratch: vec![0u8; READ_CHUNK],
                inline: ctx.config.service != ServiceKind::Synthetic,
                jobs,
                answers,
                replies: &replies,
                accepting: true,
                retry_accept: false,
                ctx,
            };
            let result = reactor.run();
            for conn in reactor.conns.drain() {
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
            if crate::accept::quota_reached(self.ctx) && self.conns.is_empty() {
                // `--stop-after`: every connection we took has been served.
                break;
            }
            let timeout = if self.retry_accept {
                Some(crate::accept::RESOURCE_BACKOFF)
            } else if self.conns.is_empty() {
                None
            } else {
                Some(next_sweep.saturating_duration_since(Instant::now()))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                // A signal arrived; the loop condition checks for a stop.
                Err(e) if interrupted(&e) => continue,
                Err(e) => return Err(ServeError::setup("wait for events")(e)),
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    // The stop flag is already set; the loop condition ends us.
                    STOP => {}
                    ANSWERS => self.take_answers(),
                    token => self.serve(token.0 - FIRST_CONNECTION),
                }
            }
            if self.retry_accept {
                self.accept_all();
            }
            if Instant::now() >= next_sweep {
                self.close_idle();
                next_sweep = Instant::now() + sweep_every(idle_timeout);
            }
        }
        Ok(())
    }

    /// Accepts until the backlog is empty (the shared `Intake`'s rules).
    fn accept_all(&mut self) {
        let counters = self.ctx.counters;
        self.retry_accept = false;
        while self.accepting {
            if crate::accept::quota_reached(self.ctx) {
                self.accepting = false;
                break;
            }
            let stream = match self.acceptor.accept() {
                Ok(s) => s,
                Err(e) => match accept_failed(&e, counters) {
                    // The backlog is empty.
                    AcceptFailure::Empty => break,
                    // A signal arrived mid-accept, or this one connection
                    // failed before we got it: take the next one.
                    AcceptFailure::Interrupted | AcceptFailure::Lost => continue,
                    // Out of descriptors: no new edge will come, so retry on a timer.
                    AcceptFailure::Exhausted => {
                        self.retry_accept = true;
                        break;
                    }
                    AcceptFailure::Failed => break,
                },
            };
            counters.connection();
            if self.conns.len() >= self.ctx.config.limits.max_connections {
                // Over the limit: closing at once is the clearest refusal.
                counters.fault(Fault::Refused);
                continue;
            }
            let key = self.conns.vacant_key();
            let fd = stream.as_fd().as_raw_fd();
            let token = Token(key + FIRST_CONNECTION);
            // Edge-triggered readability for as long as the connection lives.
            if self
                .poll
                .registry()
                .register(&mut SourceFd(&fd), token, Interest::READABLE)
                .is_err()
            {
                counters.fault(Fault::Resource);
                continue;
            }
            self.next_id += 1;
            self.conns.insert(Conn {
                stream,
                id: self.next_id,
                session: Some(Session::new(
                    self.ctx.config.service,
                    self.ctx.config.limits.frame,
                )),
                out: Vec::new(),
                written: 0,
                read_closed: false,
                registered_write: false,
                last_active: Instant::now(),
                stats: ConnStats::default(),
            });
        }
    }

    /// Gives connection `key` its turn, then acts on how it ended.
    fn serve(&mut self, key: usize) {
        let max_pending = self.ctx.config.limits.max_pending_output;
        let Some(conn) = self.conns.get_mut(key) else {
            // Closed earlier in this batch of events.
            return;
        };
        conn.last_active = Instant::now();
        match turn(conn, &mut self.scratch, max_pending, self.inline) {
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
        // Cleared before draining: an answer sent after this wakes us again.
        self.replies.woken.store(false, Ordering::SeqCst);
        while let Ok(answer) = self.answers.try_recv() {
            let Some(conn) = self.conns.get_mut(answer.key) else {
                continue;
            };
            if conn.id != answer.id {
                // Its connection closed meanwhile, and the key was reused.
                continue;
            }
            conn.session = Some(answer.session);
            conn.out.extend_from_slice(&answer.out);
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
            // Bytes that arrived while the worker had the session raised no
            // new edge: read them now.
            self.serve(answer.key);
        }
    }

    /// Asks epoll for writability only while output is pending.
    fn watch_writes(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let wants_write = conn.pending() > 0;
        if wants_write == conn.registered_write {
            return;
        }
        let interest = if wants_write {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let fd = conn.stream.as_fd().as_raw_fd();
        let token = Token(key + FIRST_CONNECTION);
        if self
            .poll
            .registry()
            .reregister(&mut SourceFd(&fd), token, interest)
            .is_err()
        {
            self.close(key, Some(Fault::Io));
            return;
        }
        if let Some(conn) = self.conns.get_mut(key) {
            conn.registered_write = wants_write;
        }
    }

    /// Closes `key`, counting `fault` and adding its tally. A request still
    /// with a worker comes back to a different `id` and is dropped.
    fn close(&mut self, key: usize, fault: Option<Fault>) {
        // Dropping the socket removes it from epoll's interest list.
        let conn = self.conns.remove(key);
        if let Some(f) = fault {
            self.ctx.counters.fault(f);
        }
        self.ctx.counters.add(&conn.stats);
    }

    /// Closes every connection silent for the idle timeout; one whose
    /// request is with a worker is busy, not idle.
    fn close_idle(&mut self) {
        let idle = self.ctx.config.limits.idle_timeout;
        let stale: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.is_some() && c.last_active.elapsed() >= idle)
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            self.close(key, Some(Fault::IdleTimeout));
        }
    }
}

/// Serves what the socket has: writes owed output, reads, and either answers
/// here (`inline`) or hands the bytes read to a worker (one request at a
/// time per connection).
fn turn(conn: &mut Conn, scratch: &mut [u8], max_pending: usize, inline: bool) -> Turn {
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
    // (which reads on); with too much unsent output, for writability.
    while conn.pending() <= max_pending {
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
            Err(e) if would_block(&e) => return Turn::Open,
            // A signal arrived mid-read; try again.
            Err(e) if interrupted(&e) => continue,
            Err(_) => return Turn::Close(Some(Fault::Io)),
        };
        conn.stats.bytes_in += n as u64;
        if !inline {
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
        match session.feed(&scratch[..n], &mut conn.out) {
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
    }
    Turn::Open
}
