//! # servers — the server models of Comer & Stevens behind one harness
//!
//! Every model serves the same [services](service) over the same sockets, so
//! the only thing that differs between two runs is the design.
//!
//! Rooms are listed top to bottom: a room imports only rooms below it.
//!
//! | room | what lives there |
//! | --- | --- |
//! | [`process`] | a model run as a child process: [`ServerProcess`] |
//! | [`model`] | [`serve`]: bind, announce, run a model until stopped |
//! | `models/` | one file per design: `udp_iterative`, `tcp_iterative`, `fork`, `thread_pool`, `mio`, `select`, `poll`, `prefork`, `thread_per_conn`, `reuseport`, `reactor_pool`, `io_uring`, `tokio`, `tokio_multi`; `models/mod.rs` only maps a [`Model`] to its file |
//! | `evented` | one non-blocking connection and the accept/serve/sweep loop parts shared by the event-loop models (`mio`, `select`, `poll`) |
//! | `conn` | one blocking connection, served (shared by the blocking models) |
//! | `accept` | the one `accept4()` (TCP_NODELAY set there), what each accept error means and how it is counted (the same in every model), the `--stop-after` quota, the blocking accept loop |
//! | [`context`] | what every model is given and may fail with: [`Context`], the [`Server`] trait, [`ServeError`] |
//! | [`net`] | binding with an exact backlog, Unix socket files, [`net::Stream`] |
//! | [`service`] | echo, lab and synthetic as byte-in, byte-out state machines |
//! | [`status`] | the [`Ready`] line a harness waits for |
//! | [`stats`] | counters shared with forked children; the [`Summary`] line |
//! | [`stop`] | SIGINT/SIGTERM handling: [`StopSignal`] |
//! | `sys` | the only `unsafe`: fork, SIGCHLD dispositions, shared memory, io_uring's buffer lending |
//! | [`config`] | [`Model`], [`Transport`], [`ServiceKind`], [`ReapPolicy`], [`ServerConfig`] |
//! | [`wire`] | the synthetic frame, check-then-parse (the load generator builds it): `request`, `response`, `refusal` |
#![deny(unsafe_code)]

mod accept;
pub mod config;
mod conn;
pub mod context;
mod evented;
pub mod model;
mod models;
pub mod net;
pub mod process;
pub mod service;
pub mod stats;
pub mod status;
pub mod stop;
mod sys;
pub mod wire;

pub use config::{
    Endpoint, Limits, Model, ReapPolicy, ServerConfig, ServiceKind, Transport, UnknownName,
};
pub use context::{Context, ServeError, Server};
pub use model::serve;
pub use models::{
    ForkServer, IoUringServer, MioServer, PollServer, PreforkServer, ReactorPoolServer,
    ReuseportServer, SelectServer, TcpIterativeServer, ThreadPerConnServer, ThreadPoolServer,
    TokioMultiServer, TokioServer, UdpIterativeServer,
};
pub use process::{read_output, ProcessError, ServerProcess, Stopped};
pub use stats::{ErrorCounts, Summary};
pub use status::Ready;
pub use stop::StopSignal;
pub use sys::fork_and_reap;

/// Whether this machine runs io_uring (the `io-uring` model): false on old
/// kernels, with `kernel.io_uring_disabled` set, or under a seccomp filter
/// that refuses `io_uring_setup`.
pub fn io_uring_available() -> bool {
    sys::io_uring_available()
}

/// Raises this process's open-file limit to its hard limit (thousands of
/// connections need thousands of descriptors); returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard.max(soft))
}
