//! `tokio` — the design a Rust reader would reach for first: async tasks on
//! the tokio runtime, here its current-thread flavour (`tokio-multi` runs the
//! same code on the multi-thread one).
//!
//! The accept loop spawns one task per connection; a task reads, feeds the
//! service `Session` and `write_all`s the answer, written as if it were
//! blocking code. Underneath it is the `mio` model's design: one epoll loop
//! (tokio's I/O driver is mio), each task a state machine the runtime polls
//! when its socket is ready. What tokio adds is the scheduler: a wake-up
//! queues the task, then the runtime polls it, so each request pays task
//! bookkeeping (and, with a timer per read for the idle timeout, a timer
//! entry) that the hand-written loop does not. It breaks where `mio` does: a
//! request that burns CPU or blocks (`thread::sleep` in the synthetic
//! service) holds the only runtime thread, and every other connection waits.
//! The idiomatic cure, `spawn_blocking`, is not used, so that the baseline is
//! the code people write first.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::{TcpListener, UnixListener, UnixStream};
use ::tokio::runtime::Runtime;
use ::tokio::task::JoinSet;
use ::tokio::time::timeout;

use crate::accept::AcceptFailure;
use crate::config::{Limits, ServiceKind};
use crate::context::{Context, ServeError, Server};
use crate::net::Listener;
use crate::service::Session;
use crate::stats::{ConnStats, Counters, Fault};

/// Bytes one read may return. Smaller than the blocking models' 64 KiB
/// (each task owns its buffer, so 10,000 connections would hold 640 MB);
/// larger payloads simply take several reads.
const TASK_READ_CHUNK: usize = 16 << 10;

/// Tasks on tokio's current-thread runtime.
pub struct TokioServer;

impl Server for TokioServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let runtime = ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServeError::setup("start the tokio runtime"))?;
        serve_on(&runtime, listener, ctx)
    }
}

/// What every connection task needs, owned (tasks outlive any borrow).
struct Shared {
    service: ServiceKind,
    limits: Limits,
    counters: &'static Counters,
    /// Open connections, for `max_connections`.
    live: AtomicUsize,
}

/// The listener as tokio accepts on it.
enum Acceptor {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Serves `listener` with tasks on `runtime` until a stop (used by `tokio`
/// and `tokio-multi`).
pub(crate) fn serve_on(
    runtime: &Runtime,
    listener: Listener,
    ctx: &Context,
) -> Result<(), ServeError> {
    let setup = ServeError::setup;
    let shared = Arc::new(Shared {
        service: ctx.config.service,
        limits: ctx.config.limits,
        counters: ctx.counters,
        live: AtomicUsize::new(0),
    });
    runtime.block_on(async {
        let acceptor = match listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)
                    .map_err(setup("make the listener non-blocking"))?;
                Acceptor::Tcp(TcpListener::from_std(l).map_err(setup("register the listener"))?)
            }
            Listener::Unix(l) => {
                l.set_nonblocking(true)
                    .map_err(setup("make the listener non-blocking"))?;
                Acceptor::Unix(UnixListener::from_std(l).map_err(setup("register the listener"))?)
            }
            Listener::Udp(_) => {
                return Err(ServeError::Setup {
                    what: "serve streams",
                    source: io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "tokio needs a stream listener",
                    ),
                })
            }
        };
        let stop = UnixStream::from_std(ctx.stop.waker().map_err(setup("get the stop waker"))?)
            .map_err(setup("register the stop waker"))?;
        let mut tasks = JoinSet::new();
        while !ctx.stop.is_set() {
            if crate::accept::quota_reached(ctx) {
                // `--stop-after`: no more accepting; let the taken ones finish.
                if tasks.is_empty() {
                    break;
                }
                ::tokio::select! {
                    _ = stop.readable() => {}
                    _ = tasks.join_next() => {}
                }
                continue;
            }
            ::tokio::select! {
                // The stop flag is set; the loop condition ends us.
                _ = stop.readable() => {}
                // Reap finished tasks so the set does not grow.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = accept(&acceptor) => match accepted {
                    Ok(stream) => admit(stream, &shared, &mut tasks),
                    Err(e) => accept_failed(&e, ctx.counters).await,
                },
            }
        }
        // Dropping a task drops its tally guard, which adds its counts.
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        Ok(())
    })
}

/// One accepted connection of either kind.
enum Accepted {
    Tcp(::tokio::net::TcpStream),
    Unix(UnixStream),
}

async fn accept(acceptor: &Acceptor) -> io::Result<Accepted> {
    match acceptor {
        Acceptor::Tcp(l) => {
            let (s, _) = l.accept().await?;
            // Small answers go out at once; Nagle would hold each for 40 ms.
            s.set_nodelay(true)?;
            Ok(Accepted::Tcp(s))
        }
        Acceptor::Unix(l) => Ok(Accepted::Unix(l.accept().await?.0)),
    }
}

/// Counts an accept failure; backs off if the machine is out of something.
async fn accept_failed(e: &io::Error, counters: &Counters) {
    // Every other failure concerns one connection (or none): the next
    // accept may succeed.
    if crate::accept::accept_failed(e, counters) == AcceptFailure::Exhausted {
        ::tokio::time::sleep(crate::accept::RESOURCE_BACKOFF).await;
    }
}

/// Spawns the connection's task, or refuses it past `max_connections`.
fn admit(stream: Accepted, shared: &Arc<Shared>, tasks: &mut JoinSet<()>) {
    shared.counters.connection();
    if shared.live.load(Ordering::Relaxed) >= shared.limits.max_connections {
        // Over the limit: dropping the stream closes it, the clearest refusal.
        shared.counters.fault(Fault::Refused);
        return;
    }
    shared.live.fetch_add(1, Ordering::Relaxed);
    let tally = Tally {
        stats: ConnStats::default(),
        fault: None,
        shared: Arc::clone(shared),
    };
    match stream {
        Accepted::Tcp(s) => tasks.spawn(serve_connection(s, tally)),
        Accepted::Unix(s) => tasks.spawn(serve_connection(s, tally)),
    };
}

/// One connection's counts, added to the shared counters when the task ends
/// or is dropped (a stop aborts tasks mid-read).
struct Tally {
    stats: ConnStats,
    fault: Option<Fault>,
    shared: Arc<Shared>,
}

impl Drop for Tally {
    fn drop(&mut self) {
        let counters = self.shared.counters;
        if let Some(f) = self.fault {
            counters.fault(f);
        }
        counters.add(&self.stats);
        self.shared.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection until the peer closes, an error or the idle timeout
/// (the body of `conn.rs`, written for tokio).
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, mut tally: Tally) {
    let limits = tally.shared.limits;
    let mut session = Session::new(tally.shared.service, limits.frame);
    let mut buf = vec![0u8; TASK_READ_CHUNK];
    let mut out = Vec::new();
    tally.fault = loop {
        let n = match timeout(limits.idle_timeout, stream.read(&mut buf)).await {
            // Silent for the idle timeout.
            Err(_) => break Some(Fault::IdleTimeout),
            // The peer closed its side: fine between requests, not inside one.
            Ok(Ok(0)) => break session.finish().err().map(|e| e.fault()),
            Ok(Ok(n)) => n,
            // A signal arrived mid-read; try again.
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Reset, broken pipe and friends: this client is gone.
            Ok(Err(_)) => break Some(Fault::Io),
        };
        tally.stats.bytes_in += n as u64;
        let served = session.feed(&buf[..n], &mut out);
        // A client that does not read within the idle timeout is dropped
        // rather than allowed to hold the task forever.
        let written = timeout(limits.idle_timeout, stream.write_all(&out)).await;
        if matches!(written, Ok(Ok(()))) {
            tally.stats.bytes_out += out.len() as u64;
        }
        out.clear();
        match (served, written) {
            (Ok(k), Ok(Ok(()))) => tally.stats.requests += k,
            (Err(e), _) => break Some(e.fault()),
            (Ok(_), Err(_)) => break Some(Fault::IdleTimeout),
            (Ok(_), Ok(Err(_))) => break Some(Fault::Io),
        }
    };
}
