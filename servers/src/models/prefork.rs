//! `prefork` — Comer & Stevens' *concurrent server with preallocated
//! processes* (Apache's prefork MPM).
//!
//! The parent forks N workers (`--workers`; default max(64, 4 × cores), so
//! typical concurrency finds a free worker, see `Model::default_workers`) before any
//! client arrives; every worker loops on `accept()` on the listening socket
//! they all inherited and serves one connection at a time, so the kernel hands
//! each new connection to one idle worker (Linux wakes a single waiter in
//! `accept()`: no thundering herd). The fork is paid once per worker, not per
//! connection, and workers stay isolated from each other. The parent only
//! supervises: it sleeps until a worker dies (SIGCHLD collected with
//! `sigtimedwait`, see `sys::ChildWatch`), reaps it and forks a replacement
//! (counted in the summary's `workers_replaced`); on SIGTERM/SIGINT it stops
//! replacing, sends SIGTERM to the workers, waits for them (SIGKILL after a
//! grace period) and returns. It breaks like `thread-pool`, but with
//! processes: an N+1st client that holds its connection open waits in the
//! backlog however idle the N busy ones are, and each worker costs a whole
//! process's memory. `--stop-after` holds approximately: every worker reads
//! the shared connection counter before it accepts, so a few may each take
//! one more connection in the same instant.
//!
//! This model must be the only thread of its process (see `sys::fork`).

use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::conn::serve_blocking;
use crate::context::{Context, ServeError, Server};
use crate::net::Listener;
use crate::stats::Fault;
use crate::stop::TICK;
use crate::sys::{self, ChildWatch, Forked};

/// N processes forked at start, all accepting on the shared listener.
pub struct PreforkServer;

impl Server for PreforkServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        sys::ensure_single_threaded().map_err(ServeError::setup("fork safely"))?;
        crate::accept::blocking_listener(&listener)?;
        // Before the first fork, so no worker's death can go unnoticed.
        let watch = ChildWatch::new().map_err(ServeError::setup("watch for SIGCHLD"))?;
        let mut workers: Vec<Option<Pid>> = vec![None; ctx.config.worker_count()];

        let outcome = loop {
            // Stopping, or every connection asked for is taken: no more workers.
            let winding_down = ctx.stop.is_set() || crate::accept::quota_reached(ctx);
            let mut backoff = false;
            if !winding_down {
                for (index, slot) in workers.iter_mut().enumerate().filter(|(_, w)| w.is_none()) {
                    if ctx.stop.is_set() {
                        break;
                    }
                    match sys::fork() {
                        Ok(Forked::Child) => work(&listener, ctx, index),
                        Ok(Forked::Parent(pid)) => *slot = Some(pid),
                        Err(_) => {
                            // Out of processes or memory: try again after a pause.
                            ctx.counters.fault(Fault::Resource);
                            backoff = true;
                            break;
                        }
                    }
                }
            }
            // Winding down ends when the last worker has left; a fork that
            // failed with no worker alive is retried after the backoff.
            if ctx.stop.is_set() || (winding_down && workers.iter().all(Option::is_none)) {
                break Ok(());
            }
            let wait = if backoff {
                crate::accept::RESOURCE_BACKOFF
            } else {
                TICK
            };
            let status = match watch.reap(wait) {
                Ok(status) => status,
                Err(e) => break Err(ServeError::setup("wait for a worker")(e)),
            };
            let Some(pid) = status.and_then(dead_pid) else {
                // A tick, or a stop signal's handler ran: the loop top looks again.
                continue;
            };
            if let Some(slot) = workers.iter_mut().find(|w| **w == Some(pid)) {
                *slot = None;
                // After `--stop-after`, workers leave on their own; only a death
                // while serving is a worker lost and replaced.
                if !ctx.stop.is_set() && !crate::accept::quota_reached(ctx) {
                    ctx.counters.worker_replaced();
                }
            }
        };

        // Workers still running are told to stop; every one is reaped, even
        // if supervising failed.
        let live: Vec<Pid> = workers.into_iter().flatten().collect();
        sys::reap_all(&live, sys::SHUTDOWN_GRACE);
        drop(watch);
        outcome
    }
}

/// The pid of a child that exited or was killed.
fn dead_pid(status: WaitStatus) -> Option<Pid> {
    match status {
        WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _) => Some(pid),
        _ => None,
    }
}

/// Worker `index`'s whole life: accept and serve one connection at a time until a
/// stop or the quota, then leave without running the parent's destructors.
fn work(listener: &Listener, ctx: &Context, index: usize) -> ! {
    // A replacement takes over its predecessor's slot in the per-worker counts.
    crate::stats::set_worker(index);
    while let Some(stream) = crate::accept::next_connection(listener, ctx) {
        ctx.counters.connection();
        serve_blocking(stream, ctx);
    }
    sys::exit_child(0);
}
