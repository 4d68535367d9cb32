//! `sockbench load`: drive a running server with the load generator and print
//! a wrk2-style summary (and the full result as JSON with `--json`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use loadgen::{LoadPlan, Mode, Target, Workload};
use servers::{ServiceKind, Transport};

/// Without `--duration`, a run bounded by `--requests` may take up to this long.
const REQUESTS_ONLY_BOUND: Duration = Duration::from_secs(24 * 3600);

/// Arguments of `sockbench load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Server address, HOST:PORT (tcp or udp).
    #[arg(long)]
    pub target: Option<String>,
    /// Unix-domain socket file of the server.
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// tcp, udp or unix (default: unix with --path, udp with --mode udp, else tcp).
    #[arg(long)]
    pub transport: Option<String>,
    /// rr (request-response), crr (connect-request-response), open (fixed rate) or udp
    /// (default: udp over --transport udp, else rr).
    #[arg(long)]
    pub mode: Option<String>,
    /// Active connections (UDP: flows).
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Extra connections held open and idle (the C10K shape).
    #[arg(long, default_value_t = 0)]
    pub idle: usize,
    /// Engine threads; 0 means one per core (never more than --connections).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Request size in bytes (echo payload; synthetic payload).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Offered rate in requests per second over all connections (--mode open only).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Think time between a response and the next request, in microseconds.
    #[arg(long, default_value_t = 0)]
    pub think_us: u64,
    /// Warm-up before recording (e.g. 1s, 300ms); its samples are discarded.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// How long to record (default 5s, or until --requests are done).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many recorded requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// A request without a complete answer after this long is an error (UDP: lost).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// crr: close with SO_LINGER 0 (RST), so no TIME_WAIT piles up here.
    #[arg(long)]
    pub linger_zero: bool,
    /// echo or synthetic (framed requests; see --response-size, --cpu-us, --wait-us).
    #[arg(long, default_value = "echo")]
    pub service: String,
    /// synthetic: response body size in bytes (default: --size).
    #[arg(long)]
    pub response_size: Option<u32>,
    /// synthetic: CPU time the server burns per request, in microseconds.
    #[arg(long)]
    pub cpu_us: Option<u32>,
    /// synthetic: blocking wait the server simulates per request, in microseconds.
    #[arg(long)]
    pub wait_us: Option<u32>,
    /// The server's pid: its process tree's CPU, memory and processes are sampled.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The CPUs the server is pinned to (e.g. 0 or 0-1), for their busy time.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Pin the load generator to these CPUs (e.g. 1).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Write the full result (histograms included) as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl LoadArgs {
    /// The library plan these flags describe, or a one-line reason why there is none.
    pub fn to_plan(&self) -> Result<LoadPlan> {
        let mode_name = self.mode.as_deref().map(str::to_ascii_lowercase);
        // Parsed here rather than by clap, whose value errors take two lines.
        let transport = match (self.transport.as_deref(), &self.path, mode_name.as_deref()) {
            (Some(t), _, _) => t.to_ascii_lowercase().parse::<Transport>()?,
            (None, Some(_), _) => Transport::Unix,
            (None, None, Some("udp")) => Transport::Udp,
            (None, None, _) => Transport::Tcp,
        };
        let mode = match mode_name.as_deref() {
            None if transport == Transport::Udp => Mode::Udp,
            None | Some("rr") => Mode::Rr,
            Some("crr") => Mode::Crr,
            Some("udp") => Mode::Udp,
            Some("open") => match self.rate {
                Some(rate_rps) => Mode::Open { rate_rps },
                None => bail!("--mode open needs --rate R (requests per second)"),
            },
            Some(other) => bail!("unknown mode '{other}': use rr, crr, open or udp"),
        };
        if self.rate.is_some() && !matches!(mode, Mode::Open { .. }) {
            bail!(
                "--rate applies to --mode open only; {} is closed-loop and sets its own pace",
                mode.name()
            );
        }
        let target = match (transport, &self.target, &self.path) {
            (Transport::Unix, _, Some(path)) => Target::Unix(path.clone()),
            (Transport::Unix, _, None) => bail!("--transport unix needs --path FILE"),
            (_, _, Some(_)) => {
                bail!("--path is for unix sockets; give --target HOST:PORT for {transport}")
            }
            (_, None, None) => bail!("no target: give --target HOST:PORT or --path FILE"),
            (Transport::Udp, Some(t), None) => Target::Udp(resolve(t)?),
            (Transport::Tcp, Some(t), None) => Target::Tcp(resolve(t)?),
        };
        let size = u32::try_from(self.size).context("--size is too large")?;
        let workload = match self.service.to_ascii_lowercase().parse::<ServiceKind>()? {
            ServiceKind::Echo => {
                if self.response_size.is_some() || self.cpu_us.is_some() || self.wait_us.is_some() {
                    bail!("--response-size, --cpu-us and --wait-us apply to --service synthetic");
                }
                Workload::Echo { size: self.size }
            }
            ServiceKind::Synthetic => Workload::Synthetic {
                payload_len: size,
                response_len: self.response_size.unwrap_or(size),
                cpu_us: self.cpu_us.unwrap_or(0),
                wait_us: self.wait_us.unwrap_or(0),
            },
            ServiceKind::Lab => bail!(
                "the load generator cannot check lab replies; use --service echo or synthetic"
            ),
        };
        let mut plan = LoadPlan::new(target, mode);
        plan.workload = workload;
        plan.connections = self.connections;
        plan.idle_connections = self.idle;
        plan.threads = self.threads;
        plan.think_time = Duration::from_micros(self.think_us);
        plan.warmup = self.warmup;
        plan.max_requests = self.requests;
        plan.duration = match (self.duration, self.requests) {
            (Some(d), _) => d,
            (None, Some(_)) => REQUESTS_ONLY_BOUND,
            (None, None) => Duration::from_secs(5),
        };
        plan.request_timeout = self.timeout;
        plan.linger_zero = self.linger_zero;
        plan.server_pid = self.server_pid;
        plan.server_cpus = match &self.server_cpus {
            Some(list) => Some(crate::pin::parse_cpu_list(list)?),
            None => None,
        };
        loadgen::validate(&plan)?;
        Ok(plan)
    }
}

fn resolve(target: &str) -> Result<SocketAddr> {
    target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve '{target}': give HOST:PORT, e.g. 127.0.0.1:7000"))?
        .next()
        .with_context(|| format!("'{target}' resolves to no address"))
}

pub fn execute(args: LoadArgs) -> Result<()> {
    let plan = args.to_plan()?;
    if let Some(list) = &args.cpus {
        crate::pin::pin_self(&crate::pin::parse_cpu_list(list)?)?;
    }
    // The first Ctrl-C ends the run (results are still written, marked
    // partial); a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        1,
        Arc::clone(&stop),
    )
    .context("failed to install the SIGINT handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))
        .context("failed to install the SIGINT handler")?;

    let report = loadgen::run(&plan, &stop)?;
    print!("{}", loadgen::output::summary(&report));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(())
}

/// Writes a result as pretty JSON (shared with `sockbench merge`).
pub fn write_json(path: &std::path::Path, report: &loadgen::LoadReport) -> Result<()> {
    let text = serde_json::to_string_pretty(report).context("failed to encode the result")?;
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}
