//! What a server counts while it serves, and the summary it prints at the end.
//!
//! Counters are atomics so one [`Counters`] can sit in memory shared with
//! forked children (see `sys::shared`). Connections count into a private
//! [`ConnStats`] and add it once when they close, so the hot path touches no
//! shared cache line.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// Why a connection or datagram was not served normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A synthetic frame with a bad magic or a request over the CPU/wait limits.
    BadFrame,
    /// A synthetic frame over the size limits.
    Oversized,
    /// The peer closed in the middle of a frame.
    Truncated,
    /// The peer stayed silent past the idle timeout (or would not read).
    IdleTimeout,
    /// A reset, broken pipe or other I/O failure on one connection.
    Io,
    /// A connection turned away because the server was at its connection limit.
    Refused,
    /// `fork()` or `accept()` failed; the server backed off and went on.
    Resource,
}

/// Counters shared by everything that serves (threads or forked children).
#[derive(Debug, Default)]
#[repr(C)]
pub struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    bad_frames: AtomicU64,
    oversized: AtomicU64,
    truncated: AtomicU64,
    idle_timeouts: AtomicU64,
    io_errors: AtomicU64,
    refused: AtomicU64,
    resource: AtomicU64,
    workers_replaced: AtomicU64,
    /// Wake-ups of a non-blocking accept that found the backlog already empty.
    empty_accepts: AtomicU64,
    /// Connections taken per worker (process, thread or loop), by worker index.
    per_worker: [AtomicU64; MAX_COUNTED_WORKERS],
}

/// Workers whose connections are counted one by one (an array of atomics
/// in shared memory, `Default` up to 32); a larger pool's workers past this
/// index share the last slot.
pub const MAX_COUNTED_WORKERS: usize = 32;

thread_local! {
    /// The index of the worker this thread (or forked process) is, if it is one.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Names this thread (or this forked child) worker `index`, so the
/// connections it takes count in [`Summary::per_worker`].
pub(crate) fn set_worker(index: usize) {
    WORKER.with(|w| w.set(Some(index)));
}

/// One connection's (or one datagram loop's) tally, private to its owner.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnStats {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Counters {
    /// Records one accepted connection (and, on a named worker, its share).
    pub fn connection(&self) {
        self.connections.fetch_add(1, Relaxed);
        self.worker_took();
    }

    /// Records one connection taken by this thread's worker (see
    /// [`set_worker`]); nothing on a thread that is no worker. Pools whose
    /// accepting thread is not the serving one call it from the worker.
    pub fn worker_took(&self) {
        if let Some(i) = WORKER.with(Cell::get) {
            self.per_worker[i.min(MAX_COUNTED_WORKERS - 1)].fetch_add(1, Relaxed);
        }
    }

    /// Records a wake-up for the listener whose first accept found nothing:
    /// another waiter took the connection (a thundering herd), or none came.
    pub fn empty_accept(&self) {
        self.empty_accepts.fetch_add(1, Relaxed);
    }

    /// Adds a finished connection's tally.
    pub fn add(&self, stats: &ConnStats) {
        self.requests.fetch_add(stats.requests, Relaxed);
        self.bytes_in.fetch_add(stats.bytes_in, Relaxed);
        self.bytes_out.fetch_add(stats.bytes_out, Relaxed);
    }

    /// Records one fault.
    pub fn fault(&self, fault: Fault) {
        let counter = match fault {
            Fault::BadFrame => &self.bad_frames,
            Fault::Oversized => &self.oversized,
            Fault::Truncated => &self.truncated,
            Fault::IdleTimeout => &self.idle_timeouts,
            Fault::Io => &self.io_errors,
            Fault::Refused => &self.refused,
            Fault::Resource => &self.resource,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Records one worker process that died while the server was running
    /// and was replaced (`prefork`).
    pub fn worker_replaced(&self) {
        self.workers_replaced.fetch_add(1, Relaxed);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    /// A consistent-enough copy for the summary line.
    pub fn snapshot(&self) -> Summary {
        let errors = ErrorCounts {
            bad_frame: self.bad_frames.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            idle_timeout: self.idle_timeouts.load(Relaxed),
            io: self.io_errors.load(Relaxed),
            refused: self.refused.load(Relaxed),
            resource: self.resource.load(Relaxed),
            total: 0,
        };
        Summary {
            event: "summary".to_string(),
            connections: self.connections.load(Relaxed),
            requests: self.requests.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            errors: errors.with_total(),
            workers_replaced: self.workers_replaced.load(Relaxed),
            empty_accepts: self.empty_accepts.load(Relaxed),
            per_worker: {
                let mut counts: Vec<u64> =
                    self.per_worker.iter().map(|c| c.load(Relaxed)).collect();
                // Workers that never existed count nothing: the list ends at the last that did.
                while counts.last() == Some(&0) {
                    counts.pop();
                }
                counts
            },
        }
    }
}

/// Faults by kind, with their total.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub bad_frame: u64,
    pub oversized: u64,
    pub truncated: u64,
    pub idle_timeout: u64,
    pub io: u64,
    pub refused: u64,
    pub resource: u64,
    pub total: u64,
}

impl ErrorCounts {
    fn with_total(mut self) -> Self {
        self.total = self.bad_frame
            + self.oversized
            + self.truncated
            + self.idle_timeout
            + self.io
            + self.refused
            + self.resource;
        self
    }
}

/// The one-line JSON a server prints when it stops.
///
/// `requests` counts what the service answered: echo answers each read it
/// gets, lab each message, synthetic each frame, UDP each datagram.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Always `"summary"`, so a reader can tell this line from others.
    pub event: String,
    pub connections: u64,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub errors: ErrorCounts,
    /// Worker processes that died (crashed, killed) while serving and were
    /// replaced (`prefork`; 0 for every other model). Not a client error: a
    /// connection the dead worker held shows up as that client's reset.
    #[serde(default)]
    pub workers_replaced: u64,
    /// Wake-ups of an event loop's listener whose first non-blocking accept
    /// found nothing (EAGAIN): on a listener shared by several loops, the
    /// losers of a thundering herd. Blocking `accept()` never shows one (the
    /// kernel wakes one waiter and retries inside the call).
    #[serde(default)]
    pub empty_accepts: u64,
    /// Connections taken by each worker (prefork process, thread-pool thread,
    /// reuseport loop), in worker order; empty for a model without named
    /// workers. A worker that took none inside the list counts 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_worker: Vec<u64>,
}
