//! `thread-pool` — Comer & Stevens' *concurrent server with preallocated
//! threads*.
//!
//! N worker threads are started once; the main thread accepts connections and
//! hands each to a worker through a bounded crossbeam channel; a worker owns a
//! connection until it closes. Thread creation is paid once, not per
//! connection, and threads share one address space (no fork, no copy). It
//! breaks when more clients hold connections open than there are workers: the
//! extra ones wait in the channel and then in the backlog, however idle the
//! busy ones are.

use crossbeam_channel::{RecvTimeoutError, SendTimeoutError};

use crate::conn::serve_blocking;
use crate::model::{Context, ServeError, Server};
use crate::net::{Listener, Stream};
use crate::stop::TICK;

/// A fixed set of workers fed through a channel.
pub struct ThreadPoolServer;

impl Server for ThreadPoolServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        super::blocking_listener(&listener)?;
        let workers = ctx.config.worker_count();
        // As many queued connections as workers: beyond that, clients wait in
        // the kernel's backlog, where the listen() queue limit applies.
        let (tx, rx) = crossbeam_channel::bounded::<Stream>(workers);
        std::thread::scope(|scope| {
            for i in 0..workers {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn_scoped(scope, move || loop {
                        match rx.recv_timeout(TICK) {
                            Ok(stream) => serve_blocking(stream, ctx),
                            // Nothing to do for a tick: see whether we should stop.
                            Err(RecvTimeoutError::Timeout) if !ctx.stop.is_set() => {}
                            Err(_) => break,
                        }
                    })
                    .map_err(ServeError::setup("start a worker thread"))?;
            }
            'accept: while let Some(mut stream) = super::next_connection(&listener, ctx) {
                ctx.counters.connection();
                loop {
                    match tx.send_timeout(stream, TICK) {
                        Ok(()) => break,
                        // Every worker is busy and the queue is full: wait, but not past a stop.
                        Err(SendTimeoutError::Timeout(back)) if !ctx.stop.is_set() => stream = back,
                        Err(_) => break 'accept,
                    }
                }
            }
            drop(tx);
            Ok(())
        })
    }
}
