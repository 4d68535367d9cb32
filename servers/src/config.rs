//! What to serve and how: the plain configuration every model reads.
//!
//! The CLI builds a [`ServerConfig`]; nothing here knows about flags.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::wire::FrameLimits;

/// Which server design runs. The CLI value, the file under `models/`, the CSV
/// column and the chart legend all use [`Model::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    /// Iterative, connectionless: one `recv_from` → serve → `send_to` loop.
    UdpIterative,
    /// Iterative, connection-oriented: one connection at a time.
    TcpIterative,
    /// Concurrent, connection-oriented: `fork()` per accepted connection.
    Fork,
    /// Concurrent with preallocated threads fed through a channel.
    ThreadPool,
    /// Single-process concurrent: one thread, one epoll loop.
    Mio,
    /// Single-process concurrent with the literal `select(2)` (FD_SETSIZE-bound).
    Select,
    /// Single-process concurrent with `poll(2)`.
    Poll,
    /// Preallocated processes: N children forked at start, all accepting.
    Prefork,
    /// A new thread per accepted connection, with a cap.
    ThreadPerConn,
    /// One mio event loop per core, each with its own `SO_REUSEPORT` listener.
    Reuseport,
    /// Half-sync/half-async: one mio reactor, requests served by a thread pool.
    ReactorPool,
    /// Single-threaded, completion-based: io_uring.
    IoUring,
    /// Idiomatic tokio on its current-thread runtime.
    Tokio,
    /// Idiomatic tokio on its multi-thread runtime.
    TokioMulti,
}

impl Model {
    /// Every model, in the order charts list them.
    pub const ALL: [Model; 14] = [
        Model::UdpIterative,
        Model::TcpIterative,
        Model::Fork,
        Model::ThreadPool,
        Model::Mio,
        Model::Select,
        Model::Poll,
        Model::Prefork,
        Model::ThreadPerConn,
        Model::Reuseport,
        Model::ReactorPool,
        Model::IoUring,
        Model::Tokio,
        Model::TokioMulti,
    ];

    /// The one name used everywhere (CLI, files, CSV, charts).
    pub fn name(self) -> &'static str {
        match self {
            Model::UdpIterative => "udp-iterative",
            Model::TcpIterative => "tcp-iterative",
            Model::Fork => "fork",
            Model::ThreadPool => "thread-pool",
            Model::Mio => "mio",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Prefork => "prefork",
            Model::ThreadPerConn => "thread-per-conn",
            Model::Reuseport => "reuseport",
            Model::ReactorPool => "reactor-pool",
            Model::IoUring => "io-uring",
            Model::Tokio => "tokio",
            Model::TokioMulti => "tokio-multi",
        }
    }

    /// Whether this model serves `transport`.
    pub fn supports(self, transport: Transport) -> bool {
        match self {
            Model::UdpIterative => transport == Transport::Udp,
            _ => transport != Transport::Udp,
        }
    }

    /// What `--workers 0` (the default) resolves to on a machine with
    /// `cores` cores, or `None` for a model that has no workers.
    ///
    /// A blocking pool holds one connection per worker, so one per core would
    /// serve 2 of 100 clients at once on a 2-core machine. `thread-pool` gets
    /// max(128, 4 × cores): the 100 persistent connections of a typical load
    /// all find a worker, in the range deployed pools use (Apache worker's
    /// 150, Tomcat's 200), and an idle thread costs only its stack.
    /// `prefork` gets max(64, 4 × cores): a process costs more, and Apache's
    /// prefork likewise keeps tens ready and forks more only under load.
    /// `reactor-pool`'s workers serve requests, not connections (a thread is
    /// busy only while a request blocks or computes): max(64, 4 × cores).
    /// Event loops (`reuseport`, `tokio-multi`) never block in a request on
    /// purpose: one per core.
    pub fn default_workers(self, cores: usize) -> Option<usize> {
        match self {
            Model::ThreadPool => Some((4 * cores).max(128)),
            Model::Prefork | Model::ReactorPool => Some((4 * cores).max(64)),
            Model::Reuseport | Model::TokioMulti => Some(cores),
            _ => None,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the choices; the message lists them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{given}': choose one of {choices}")]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub choices: String,
}

impl FromStr for Model {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownName {
                what: "model",
                given: s.to_string(),
                choices: Model::ALL.map(Model::name).join(", "),
            })
    }
}

/// The socket type a model serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP stream sockets (Internet domain).
    Tcp,
    /// UDP datagram sockets (Internet domain).
    Udp,
    /// Unix-domain stream sockets.
    Unix,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Tcp, Transport::Udp, Transport::Unix];

    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Unix => "unix",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Transport {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transport::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownName {
                what: "transport",
                given: s.to_string(),
                choices: Transport::ALL.map(Transport::name).join(", "),
            })
    }
}

/// What a request asks for (see `service.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// RFC 862: every byte comes back.
    Echo,
    /// The socket lab's messages: print `Here is the message: …`, answer `I got your message`.
    Lab,
    /// Framed requests (see `wire/`) that ask for a response size, CPU time and a wait.
    Synthetic,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 3] = [ServiceKind::Echo, ServiceKind::Lab, ServiceKind::Synthetic];

    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Echo => "echo",
            ServiceKind::Lab => "lab",
            ServiceKind::Synthetic => "synthetic",
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ServiceKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownName {
                what: "service",
                given: s.to_string(),
                choices: ServiceKind::ALL.map(ServiceKind::name).join(", "),
            })
    }
}

/// How the fork model collects its dead children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReapPolicy {
    /// A SIGCHLD handler that loops `waitpid(-1, WNOHANG)` until nothing is left:
    /// signals do not queue, so one SIGCHLD can stand for several dead children.
    Handler,
    /// One `waitpid(-1, WNOHANG)` per SIGCHLD, as the lab's `wait3` snippet does:
    /// leaks zombies when children exit together.
    Once,
    /// `SIGCHLD` set to `SIG_IGN`: the kernel reaps for us.
    Ignore,
    /// Never reap while serving: zombies pile up (the problem, shown on purpose).
    None,
}

impl ReapPolicy {
    pub const ALL: [ReapPolicy; 4] = [
        ReapPolicy::Handler,
        ReapPolicy::Once,
        ReapPolicy::Ignore,
        ReapPolicy::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReapPolicy::Handler => "handler",
            ReapPolicy::Once => "once",
            ReapPolicy::Ignore => "ignore",
            ReapPolicy::None => "none",
        }
    }
}

impl fmt::Display for ReapPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReapPolicy {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReapPolicy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownName {
                what: "reap policy",
                given: s.to_string(),
                choices: ReapPolicy::ALL.map(ReapPolicy::name).join(", "),
            })
    }
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An Internet-domain address (TCP or UDP); port 0 picks a free port.
    Inet(SocketAddr),
    /// A Unix-domain socket file.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Inet(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Bounds that keep one client from holding a server's resources forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Limits on a synthetic frame.
    pub frame: FrameLimits,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// Bytes of unsent response a connection may queue before the server stops
    /// reading from it (back-pressure on a client that writes but never reads).
    pub max_pending_output: usize,
    /// Most simultaneous connections (event-loop models refuse beyond it).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            frame: FrameLimits::default(),
            idle_timeout: Duration::from_secs(60),
            max_pending_output: 4 << 20,
            max_connections: 100_000,
        }
    }
}

/// Everything one server run needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub model: Model,
    pub transport: Transport,
    pub endpoint: Endpoint,
    pub service: ServiceKind,
    /// Worker threads (`thread-pool`, `reactor-pool`, `tokio-multi`), event
    /// loops (`reuseport`) or processes (`prefork`); 0 means the model's
    /// default ([`Model::default_workers`]).
    pub workers: usize,
    /// The `listen()` backlog, set exactly (the lab's is 5).
    pub backlog: i32,
    pub limits: Limits,
    /// How `fork` reaps its children.
    pub reap: ReapPolicy,
    /// Megabytes the `fork` parent holds and touches before accepting.
    pub ballast_mb: usize,
    /// Most live children of `fork`; over it, connections wait in the backlog.
    pub max_children: usize,
    /// Most live connection threads of `thread-per-conn`; over it, connections wait in the backlog.
    pub max_threads: usize,
    /// Stop after serving this many connections (the lab's `--once` is 1).
    pub stop_after: Option<u64>,
}

impl ServerConfig {
    /// A config with the defaults: echo over TCP on 127.0.0.1, port 0.
    pub fn new(model: Model) -> Self {
        let transport = if model == Model::UdpIterative {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        ServerConfig {
            model,
            transport,
            endpoint: Endpoint::Inet(SocketAddr::from(([127, 0, 0, 1], 0))),
            service: ServiceKind::Echo,
            workers: 0,
            backlog: 1024,
            limits: Limits::default(),
            reap: ReapPolicy::Handler,
            ballast_mb: 0,
            max_children: 512,
            max_threads: 4096,
            stop_after: None,
        }
    }

    /// The number of workers after resolving 0 to the model's default.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.model.default_workers(cores).unwrap_or(cores)
    }
}
