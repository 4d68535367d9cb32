//! `reuseport` — one event loop per core, each with its own listening
//! socket on the same port (`SO_REUSEPORT`): nginx's design (`listen …
//! reuseport`, one worker per core), and that of most servers built for many
//! cores since Linux 3.9.
//!
//! `--workers` threads (one per core by default) each run the `mio` model's
//! edge-triggered loop (`evented`'s connection core) on a listener of their
//! own. The kernel hashes each new connection's addresses to one listener,
//! so a connection lives and dies on one thread: no lock, no shared queue,
//! no cross-core wake-up on the request path, and no thundering herd on
//! accept. It breaks where the hash is unfair: a few long, busy connections
//! that land on one loop leave the other cores idle (nobody steals work,
//! unlike `tokio-multi`), and a blocking request still stalls every
//! connection of its loop. A loop that exits drops the connections waiting
//! in its listener's backlog. Over Unix-domain sockets `SO_REUSEPORT` does
//! not spread connections, so there the loops share one listener, each with
//! its own epoll instance: all are woken for a new connection and race to
//! accept it (the herd the TCP path avoids).

use crate::context::{Context, ServeError, Server};
use crate::evented::Acceptor;
use crate::net::{self, Listener};

/// One `mio` loop per core, each with its own listener.
pub struct ReuseportServer;

impl Server for ReuseportServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let setup = ServeError::setup;
        let loops = ctx.config.worker_count();
        let mut listeners = Vec::with_capacity(loops);
        match &listener {
            Listener::Tcp(first) => {
                // `serve` bound the first with SO_REUSEPORT; the rest join it
                // on the port it resolved.
                let addr = first
                    .local_addr()
                    .map_err(setup("read the listener's address"))?;
                for _ in 1..loops {
                    listeners.push(Listener::Tcp(net::listen_reuseport(
                        addr,
                        ctx.config.backlog,
                    )?));
                }
            }
            Listener::Unix(first) => {
                for _ in 1..loops {
                    let clone = first.try_clone().map_err(setup("duplicate the listener"))?;
                    listeners.push(Listener::Unix(clone));
                }
            }
            // `Acceptor::new` below refuses it with a clear message.
            Listener::Udp(_) => {}
        }
        listeners.insert(0, listener);
        let acceptors = listeners
            .into_iter()
            .map(Acceptor::new)
            .collect::<Result<Vec<_>, _>>()?;
        std::thread::scope(|scope| {
            let mut running = Vec::with_capacity(loops);
            for (i, acceptor) in acceptors.into_iter().enumerate() {
                let started = std::thread::Builder::new()
                    .name(format!("loop-{i}"))
                    .spawn_scoped(scope, move || {
                        crate::stats::set_worker(i);
                        let result = super::mio::serve_loop(acceptor, ctx);
                        if result.is_err() {
                            // One loop cannot serve: stop the others, or its
                            // share of the connections would wait forever.
                            ctx.stop.trigger();
                        }
                        result
                    });
                match started {
                    Ok(handle) => running.push(handle),
                    Err(e) => {
                        ctx.stop.trigger();
                        return Err(setup("start an event-loop thread")(e));
                    }
                }
            }
            let mut first_error = None;
            for handle in running {
                // A loop that panicked ended only its own connections (the
                // others went on serving); report the first real error.
                if let Ok(Err(e)) = handle.join() {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        })
    }
}
