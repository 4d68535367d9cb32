//! The server models, one file each. `run` is the one place that maps a
//! [`Model`] to its implementation; everything they share (accepting,
//! serving one blocking connection, the services) lives outside this folder.

mod fork;
mod io_uring;
mod mio;
mod poll;
mod prefork;
mod reactor_pool;
mod reuseport;
mod select;
mod tcp_iterative;
mod thread_per_conn;
mod thread_pool;
mod tokio;
mod tokio_multi;
mod udp_iterative;

use std::io;
use std::time::Duration;

pub use self::fork::ForkServer;
pub use self::io_uring::IoUringServer;
pub use self::mio::MioServer;
pub use self::poll::PollServer;
pub use self::prefork::PreforkServer;
pub use self::reactor_pool::ReactorPoolServer;
pub use self::reuseport::ReuseportServer;
pub use self::select::SelectServer;
pub use self::tcp_iterative::TcpIterativeServer;
pub use self::thread_per_conn::ThreadPerConnServer;
pub use self::thread_pool::ThreadPoolServer;
pub use self::tokio::TokioServer;
pub use self::tokio_multi::TokioMultiServer;
pub use self::udp_iterative::UdpIterativeServer;

use crate::config::Model;
use crate::model::{Context, ServeError, Server};
use crate::net::{Listener, Stream};
use crate::stats::Fault;
use crate::stop::TICK;

/// Runs `model` on `listener` until a stop.
pub(crate) fn run(model: Model, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
    match model {
        Model::UdpIterative => UdpIterativeServer.serve(listener, ctx),
        Model::TcpIterative => TcpIterativeServer.serve(listener, ctx),
        Model::Fork => ForkServer.serve(listener, ctx),
        Model::ThreadPool => ThreadPoolServer.serve(listener, ctx),
        Model::Mio => MioServer.serve(listener, ctx),
        Model::Select => SelectServer.serve(listener, ctx),
        Model::Poll => PollServer.serve(listener, ctx),
        Model::Prefork => PreforkServer.serve(listener, ctx),
        Model::ThreadPerConn => ThreadPerConnServer.serve(listener, ctx),
        Model::Reuseport => ReuseportServer.serve(listener, ctx),
        Model::ReactorPool => ReactorPoolServer.serve(listener, ctx),
        Model::IoUring => IoUringServer.serve(listener, ctx),
        Model::Tokio => TokioServer.serve(listener, ctx),
        Model::TokioMulti => TokioMultiServer.serve(listener, ctx),
    }
}

/// Pause after `accept()` or `fork()` fails for lack of a resource (out of
/// file descriptors, processes, memory), so a server under a connection flood
/// backs off instead of spinning, and retries once something is freed.
pub(crate) const RESOURCE_BACKOFF: Duration = Duration::from_millis(10);

/// Whether an accept error means "out of something" rather than "this one
/// connection went wrong".
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM | Errno::EAGAIN)
    ) && e.kind() != io::ErrorKind::WouldBlock
}

/// Whether an accept error concerns only the connection being accepted
/// (accept(2) lists these as "retry"), so the next accept may succeed.
pub(crate) fn is_per_connection(e: &io::Error) -> bool {
    use nix::errno::Errno;
    e.kind() == io::ErrorKind::ConnectionAborted
        || matches!(
            e.raw_os_error().map(Errno::from_raw),
            Some(
                Errno::EPROTO
                    | Errno::ENETDOWN
                    | Errno::ENOPROTOOPT
                    | Errno::EHOSTDOWN
                    | Errno::ENONET
                    | Errno::EHOSTUNREACH
                    | Errno::EOPNOTSUPP
                    | Errno::ENETUNREACH
                    | Errno::EPERM
            )
        )
}

/// Whether the server has served the connections it was asked to (`--once`).
pub(crate) fn quota_reached(ctx: &Context) -> bool {
    ctx.config
        .stop_after
        .is_some_and(|n| ctx.counters.connections() >= n)
}

/// Blocks until a connection arrives (returned) or the server should stop
/// (`None`). The listener must have its tick set ([`Listener::set_tick`]).
pub(crate) fn next_connection(listener: &Listener, ctx: &Context) -> Option<Stream> {
    loop {
        if ctx.stop.is_set() || quota_reached(ctx) {
            return None;
        }
        match listener.accept() {
            Ok(stream) => return Some(stream),
            // The tick expired with nobody waiting: look at the stop flag again.
            Err(e) if crate::conn::timed_out(&e) => {}
            // A signal handler ran (SIGCHLD without restart, or a stop).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // This one connection failed before we got it (the client gave up,
            // or a network error accept(2) says to retry); nothing to serve.
            Err(e) if is_per_connection(&e) => {}
            Err(e) if is_resource_exhaustion(&e) => {
                ctx.counters.fault(Fault::Resource);
                std::thread::sleep(RESOURCE_BACKOFF);
            }
            Err(_) => ctx.counters.fault(Fault::Io),
        }
    }
}

/// Sets the stop-check tick on a blocking listener.
pub(crate) fn blocking_listener(listener: &Listener) -> Result<(), ServeError> {
    listener
        .set_tick(TICK)
        .map_err(ServeError::setup("set the accept timeout"))
}
