//! The server models, one file each. `run` is the one place that maps a
//! [`Model`] to its implementation; everything they share (accepting in
//! `accept`, serving one blocking connection in `conn`, the event loops' parts
//! in `evented`, the services) lives outside this folder.

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
use crate::context::{Context, ServeError, Server};
use crate::net::Listener;

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
