//! A request's trip from an event loop to a worker thread and back
//! (`reactor-pool`'s half-sync/half-async hand-off): jobs go over a crossbeam
//! channel, answers come back over another, and the first answer of a batch
//! wakes the loop through a `mio::Waker` (an eventfd write), the rest ride
//! along with it.

use std::sync::atomic::{AtomicBool, Ordering};

use ::mio::Waker;
use crossbeam_channel::{Receiver, Sender};

use crate::service::{ServiceError, Session};

/// Request bytes and the session to feed them to, on their way to a worker.
pub(crate) struct Job {
    pub(crate) key: usize,
    /// Tells a connection from a later one that reused its slab key.
    pub(crate) id: u64,
    pub(crate) session: Session,
    pub(crate) input: Vec<u8>,
}

/// A worker's answer, on its way back to the reactor.
pub(crate) struct Answer {
    pub(crate) key: usize,
    pub(crate) id: u64,
    pub(crate) session: Session,
    pub(crate) out: Vec<u8>,
    /// `None`: the service panicked (the connection is closed, counted as I/O).
    pub(crate) served: Option<Result<u64, ServiceError>>,
}

/// The way back: answers, and a wake-up for the reactor when the first of a
/// batch arrives.
pub(crate) struct Replies {
    tx: Sender<Answer>,
    waker: Waker,
    /// Set by the worker that wakes the reactor, cleared by the reactor
    /// before it drains: at most one pending wake-up per batch.
    woken: AtomicBool,
}

impl Replies {
    pub(crate) fn new(tx: Sender<Answer>, waker: Waker) -> Self {
        Replies {
            tx,
            waker,
            woken: AtomicBool::new(false),
        }
    }

    /// Called by the reactor before it drains the answers: the next answer
    /// sent wakes it again.
    pub(crate) fn rearm(&self) {
        self.woken.store(false, Ordering::SeqCst);
    }

    fn send(&self, answer: Answer) {
        // The reactor is gone only at shutdown; the answer no longer matters.
        if self.tx.send(answer).is_ok() && !self.woken.swap(true, Ordering::SeqCst) {
            // An eventfd write; it fails only if the reactor's epoll is gone.
            let _ = self.waker.wake();
        }
    }
}

/// The service thread's loop: feed, answer, until the job channel closes.
pub(crate) fn work(jobs: Receiver<Job>, replies: &Replies) {
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
