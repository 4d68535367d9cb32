//! `thread-pool` — Comer & Stevens' *concurrent server with preallocated
//! threads*.
//!
//! N worker threads (`--workers`; default max(128, 4 × cores): a worker is held
//! for a connection's whole life, so one per core would serve 2 of 100 clients
//! at once; an idle worker costs only its stack) are started once; the main thread accepts connections and
//! hands each to a worker through a bounded queue; a worker owns a connection
//! until it closes. Thread creation is paid once, not per connection, and
//! threads share one address space (no fork, no copy). It breaks when more
//! clients hold connections open than there are workers: the extra ones wait
//! in the queue and then in the backlog, however idle the busy ones are; and
//! every request puts a blocked worker to sleep and wakes it again, a context
//! switch per request that an event loop does not pay. Measured at 100
//! connections (the kernel's per-thread counters): 1.0–1.3 switches per
//! request against `tokio-multi`'s 0.01, which on a 2-core VM doubles the
//! server's CPU per request (10–14 µs against 5.5–7 µs): confined to one core
//! the pool serves well under the event loops' rate, while given both cores
//! it keeps up with `tokio-multi` (the load generator is then the limit).
//!
//! The queue is a mutex and two condition variables rather than a crossbeam
//! channel: measured here, the channel's spin-then-yield back-off made about
//! eight `sched_yield` calls per hand-off, which on a busy machine gave the CPU
//! away at every connection. A condition variable parks at once.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::conn::serve_blocking;
use crate::context::{Context, ServeError, Server};
use crate::net::{Listener, Stream};
use crate::stop::TICK;

/// A fixed set of workers fed through a queue.
pub struct ThreadPoolServer;

/// Accepted connections waiting for a worker.
struct HandOff {
    queue: Mutex<Queue>,
    /// Signalled when a connection is queued (or the queue closes).
    ready: Condvar,
    /// Signalled when a worker takes a connection.
    room: Condvar,
    capacity: usize,
}

struct Queue {
    streams: VecDeque<Stream>,
    closed: bool,
}

impl HandOff {
    fn new(capacity: usize) -> Self {
        HandOff {
            queue: Mutex::new(Queue {
                streams: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            ready: Condvar::new(),
            room: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A worker that panicked mid-push cannot leave the queue inconsistent
        // (push and pop are single calls), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `stream`, waiting while the queue is full; gives it back if the
    /// server is stopping.
    fn push(&self, stream: Stream, ctx: &Context) -> Result<(), Stream> {
        let mut q = self.lock();
        while q.streams.len() >= self.capacity {
            if ctx.stop.is_set() {
                return Err(stream);
            }
            // Every worker is busy and the queue is full: clients wait in the backlog.
            q = self
                .room
                .wait_timeout(q, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        q.streams.push_back(stream);
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// The next connection to serve, or `None` once the queue is closed and
    /// empty, or the server is stopping.
    fn pop(&self, ctx: &Context) -> Option<Stream> {
        let mut q = self.lock();
        loop {
            if let Some(stream) = q.streams.pop_front() {
                drop(q);
                self.room.notify_one();
                return Some(stream);
            }
            if q.closed || ctx.stop.is_set() {
                return None;
            }
            // Nothing to do: sleep until a connection arrives or the queue
            // closes. No timeout: the acceptor closes the queue on every way
            // out ([`CloseOnDrop`]), and an idle worker that woke each tick
            // to look at the stop flag cost a context switch per worker per
            // tick (1,280 a second for 128 idle workers).
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// Closes the queue when the acceptor leaves, however it leaves (a stop, a
/// failed spawn, a panic): idle workers sleep until then, and the thread
/// scope cannot end before they do.
struct CloseOnDrop<'a>(&'a HandOff);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Server for ThreadPoolServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        crate::accept::blocking_listener(&listener)?;
        let workers = ctx.config.worker_count();
        // As many queued connections as workers: beyond that, clients wait in
        // the kernel's backlog, where the listen() queue limit applies.
        let hand_off = HandOff::new(workers);
        std::thread::scope(|scope| {
            let _close = CloseOnDrop(&hand_off);
            for i in 0..workers {
                let hand_off = &hand_off;
                let started = std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn_scoped(scope, move || {
                        crate::stats::set_worker(i);
                        while let Some(stream) = hand_off.pop(ctx) {
                            // The main thread accepted it; this worker's share is counted here.
                            ctx.counters.worker_took();
                            serve_blocking(stream, ctx);
                        }
                    });
                if let Err(e) = started {
                    // `_close` lets the workers already started finish, or the scope never ends.
                    return Err(ServeError::setup("start a worker thread")(e));
                }
            }
            while let Some(stream) = crate::accept::next_connection(&listener, ctx) {
                ctx.counters.connection();
                if hand_off.push(stream, ctx).is_err() {
                    break;
                }
            }
            Ok(())
        })
    }
}
