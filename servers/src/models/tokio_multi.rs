//! `tokio-multi` — the `tokio` model on tokio's multi-thread runtime: one
//! worker thread per core by default (`--workers`), each polling tasks, idle
//! workers stealing from busy ones' queues.
//!
//! The code is `tokio`'s; only the runtime differs. Work stealing spreads
//! connections over the cores without the programmer choosing how, and one
//! blocking request stalls one worker instead of the whole server. The price
//! is shared state: task queues, the I/O driver and timers are touched by
//! several threads, and a task woken on one worker may run on another, so a
//! request can cross cores (cache misses, cross-thread wake-ups) where
//! `reuseport`'s loops never share a connection. With as many blocking
//! requests in flight as workers, it stalls like `mio`.

use crate::context::{Context, ServeError, Server};
use crate::net::Listener;

/// Tasks on tokio's multi-thread runtime.
pub struct TokioMultiServer;

impl Server for TokioMultiServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let runtime = ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(ctx.config.worker_count())
            .thread_name("tokio-worker")
            .enable_all()
            .build()
            .map_err(ServeError::setup("start the tokio runtime"))?;
        super::tokio::serve_on(&runtime, listener, ctx)
    }
}
