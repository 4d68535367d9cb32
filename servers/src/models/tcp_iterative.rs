//! `tcp-iterative` — Comer & Stevens' *iterative, connection-oriented* server.
//!
//! One process, one thread: accept a connection, serve it until the client
//! closes, then accept the next (the lab's first server, in a loop). Simple
//! and cheap per connection, but every other client waits in the `listen()`
//! backlog while one is served: latency grows with the number of clients and
//! throughput is capped at one connection's worth. `--once` stops after the
//! first connection, exactly as the lab's first sample server does.

use crate::conn::serve_blocking;
use crate::context::{Context, ServeError, Server};
use crate::net::Listener;

/// One connection at a time.
pub struct TcpIterativeServer;

impl Server for TcpIterativeServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        crate::accept::blocking_listener(&listener)?;
        while let Some(stream) = crate::accept::next_connection(&listener, ctx) {
            ctx.counters.connection();
            serve_blocking(stream, ctx);
        }
        Ok(())
    }
}
