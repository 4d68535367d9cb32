//! `sockbench serve`: one server model in the foreground.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use servers::{
    Endpoint, Limits, Model, ReapPolicy, ServerConfig, ServiceKind, StopSignal, Transport,
};

const EXAMPLES: &str = "\
Examples:
  sockbench serve --model mio --addr 127.0.0.1:7000
  sockbench serve --model fork --addr 127.0.0.1:0 --service synthetic --reap handler
  sockbench serve --model thread-pool --transport unix --path /tmp/echo.sock";

/// Arguments of `sockbench serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    /// Server design.
    #[arg(long, value_parser = super::named(&Model::ALL, |m| m.name()))]
    pub model: Model,
    /// Socket family (default: udp for udp-iterative, unix with --path, else tcp).
    #[arg(long, value_parser = super::named(&Transport::ALL, |t| t.name()))]
    pub transport: Option<Transport>,
    /// Address to bind; port 0 picks a free port (the readiness line tells which).
    #[arg(long, default_value = "127.0.0.1:0", conflicts_with = "path")]
    pub addr: SocketAddr,
    /// Unix-domain socket file to bind instead of an address.
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// echo (RFC 862), lab (the socket lab's messages) or synthetic (framed requests).
    #[arg(long, default_value = "echo", value_parser = super::named(&ServiceKind::ALL, |s| s.name()))]
    pub service: ServiceKind,
    /// Workers: threads of thread-pool and reactor-pool, processes of prefork, event loops of
    /// reuseport, runtime threads of tokio-multi. 0 = the model's default: max(128, 4 × cores)
    /// for thread-pool, max(64, 4 × cores) for prefork and reactor-pool (a blocking pool holds
    /// one connection or request per worker, so it needs more workers than cores); one per core
    /// for reuseport and tokio-multi.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// listen() backlog, set exactly (the lab uses 5).
    #[arg(long, default_value_t = 1024)]
    pub backlog: i32,
    /// How fork reaps children.
    #[arg(long, default_value = "handler", value_parser = super::named(&ReapPolicy::ALL, |r| r.name()))]
    pub reap: ReapPolicy,
    /// Megabytes the fork parent holds (and touches) before accepting.
    #[arg(long, default_value_t = 0)]
    pub ballast_mb: usize,
    /// Most live children of fork; beyond, clients wait in the backlog.
    #[arg(long, default_value_t = 512)]
    pub max_children: usize,
    /// Most live connection threads of thread-per-conn; beyond, clients wait in the backlog.
    #[arg(long, default_value_t = 4096)]
    pub max_threads: usize,
    /// Most simultaneous connections of the event-loop models.
    #[arg(long, default_value_t = 100_000)]
    pub max_connections: usize,
    /// Close a connection silent for this long (e.g. 30s, 500ms).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Largest synthetic payload or response, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_frame_bytes: u32,
    /// Stop after serving this many connections.
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// Pin the server to these CPUs (e.g. 0 or 0-1).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Stop the server (model and children) when stdin ends, and take the
    /// probe's window commands on it: the server side of `run --server-host`
    /// and `run --two-hosts`.
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// With --exit-on-stdin-close: also stop when no line came on stdin for
    /// this long (a session whose network vanished without closing), e.g. 10s.
    #[arg(long, requires = "exit_on_stdin_close", value_parser = humantime::parse_duration)]
    pub exit_when_silent: Option<Duration>,
    /// Ask the kernel for SIGTERM when process PID (our parent) dies.
    #[arg(long, hide = true, value_name = "PID")]
    pub die_with_parent: Option<u32>,
}

impl ServeArgs {
    /// The library config these flags describe.
    pub fn to_config(&self) -> ServerConfig {
        let mut config = ServerConfig::new(self.model);
        config.transport = match (self.transport, &self.path) {
            (Some(t), _) => t,
            (None, Some(_)) => Transport::Unix,
            (None, None) => config.transport,
        };
        config.endpoint = match &self.path {
            Some(p) => Endpoint::Unix(p.clone()),
            None => Endpoint::Inet(self.addr),
        };
        config.service = self.service;
        config.workers = self.workers;
        config.backlog = self.backlog;
        config.reap = self.reap;
        config.ballast_mb = self.ballast_mb;
        config.max_children = self.max_children;
        config.max_threads = self.max_threads;
        config.stop_after = self.stop_after;
        let mut limits = Limits {
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            ..Limits::default()
        };
        limits.frame.max_payload = self.max_frame_bytes;
        limits.frame.max_response = self.max_frame_bytes;
        config.limits = limits;
        config
    }
}

pub fn execute(args: ServeArgs) -> Result<()> {
    if args.exit_on_stdin_close {
        let argv: Vec<String> = std::env::args().collect();
        let after_serve = argv
            .iter()
            .position(|a| a == "serve")
            .map_or(&argv[..0], |i| &argv[i + 1..]);
        return crate::hosts::tether::run(
            &crate::hosts::tether::model_args(after_serve),
            args.exit_when_silent,
        );
    }
    if let Some(parent) = args.die_with_parent {
        die_with(parent)?;
    }
    // First of all, before the model starts a thread or forks: a cgroup of
    // its own, so the probe counts every task the server ever runs (children
    // reaped by nobody or by the kernel included). Without one (not root) the
    // probe falls back to per-process clocks and says so in `cpu_source`.
    // Dropped at the end of this function: back out, group removed.
    let _group = probe::ServerGroup::join_fresh().ok();
    if let Some(list) = &args.cpus {
        crate::pin::pin_self(&crate::pin::parse_cpu_list(list)?)?;
    }
    // Thousands of connections need thousands of descriptors; a refusal here
    // only lowers the ceiling, which the counters will show.
    let _ = servers::raise_fd_limit();
    let config = args.to_config();
    let stop = StopSignal::install().context("failed to install the SIGINT/SIGTERM handlers")?;
    let summary = servers::serve(&config, stop, |ready| {
        println!("{}", ready.to_line());
    })
    .with_context(|| format!("{} server on {}", config.model, config.endpoint))?;
    println!(
        "{}",
        serde_json::to_string(&summary).context("failed to encode the summary")?
    );
    Ok(())
}

/// SIGTERM from the kernel when `parent` dies (the tether of a remote run);
/// if it died already, we have been handed to another parent: stop now.
fn die_with(parent: u32) -> Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .context("failed to ask for a signal when the parent dies")?;
    if nix::unistd::getppid().as_raw() as u32 != parent {
        anyhow::bail!("the process that started this server ({parent}) is gone");
    }
    Ok(())
}
