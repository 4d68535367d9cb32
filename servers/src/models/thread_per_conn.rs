//! `thread-per-conn` — Comer & Stevens' *multithreaded concurrent server*
//! (the MT design: one thread per connection).
//!
//! The main thread accepts; each accepted connection gets a new thread that
//! serves it with blocking calls and ends when it closes. Threads share one
//! address space, so a connection costs a thread creation (a `clone()` and a
//! stack mapping) instead of a `fork()`, and nothing has to be reaped. Live
//! connection threads are capped (`--max-threads`): at the cap the main
//! thread stops accepting until one ends, so new clients wait in the backlog
//! rather than in a thread the machine cannot afford. It breaks with many
//! connections at once: each holds a thread (a stack, a kernel task, a
//! scheduler entry), so memory grows per connection, context switches grow
//! with the clients, and past the cap the extra clients wait however idle the
//! connected ones are. A thread that cannot be created is counted as a
//! resource fault; its client is closed and the server backs off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use crate::conn::serve_blocking;
use crate::context::{Context, ServeError, Server};
use crate::net::Listener;
use crate::stats::Fault;
use crate::stop::TICK;

/// Stack reserved per connection thread: `serve_blocking` keeps its buffers
/// on the heap, so a small stack is plenty, and 10,000 connections reserve
/// 2.5 GiB of address space instead of Rust's default 20 GiB.
const CONN_STACK_BYTES: usize = 256 << 10;

/// A new thread for every connection, up to a cap.
pub struct ThreadPerConnServer;

/// Live connection threads, and a way to sleep until one ends.
#[derive(Default)]
struct Live {
    count: AtomicUsize,
    /// Held only to pair a decrement's wake-up with a waiter's check, so no
    /// wake-up falls between them.
    lock: Mutex<()>,
    ended: Condvar,
}

impl Live {
    /// Waits until fewer than `cap` threads live; false if the server should
    /// stop first.
    fn wait_below(&self, cap: usize, ctx: &Context) -> bool {
        // The common case: below the cap, no lock taken.
        if self.count.load(Ordering::Acquire) < cap {
            return true;
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while self.count.load(Ordering::Acquire) >= cap {
            if ctx.stop.is_set() {
                return false;
            }
            // Woken when a thread ends, or after a tick to look at the stop flag.
            guard = self
                .ended
                .wait_timeout(guard, TICK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    fn enter(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    fn leave(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        // Taking the lock orders this wake-up after a waiter's last check.
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.ended.notify_one();
    }
}

/// Leaves [`Live`] when a connection thread ends, however it ends.
struct Leave<'a>(&'a Live);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Server for ThreadPerConnServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        crate::accept::blocking_listener(&listener)?;
        let cap = ctx.config.max_threads.max(1);
        let live = Live::default();
        // The scope joins every connection thread before it returns; on a
        // stop they notice within a tick, after `--stop-after` they finish.
        std::thread::scope(|scope| {
            while live.wait_below(cap, ctx) {
                let Some(stream) = crate::accept::next_connection(&listener, ctx) else {
                    break;
                };
                ctx.counters.connection();
                live.enter();
                let leave = Leave(&live);
                let spawned = std::thread::Builder::new()
                    .stack_size(CONN_STACK_BYTES)
                    .spawn_scoped(scope, move || {
                        let _leave = leave;
                        // serve_blocking catches a panic, so the scope never re-raises one.
                        serve_blocking(stream, ctx);
                    });
                if spawned.is_err() {
                    // Out of threads or memory: the closure (the client and its
                    // `Leave`) was dropped; back off before accepting again.
                    ctx.counters.fault(Fault::Resource);
                    std::thread::sleep(crate::accept::RESOURCE_BACKOFF);
                }
            }
        });
        Ok(())
    }
}
