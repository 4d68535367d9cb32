//! `sockbench load`: drive a running server with the load generator and print
//! a wrk2-style summary (and the full result as JSON with `--json`, to
//! stdout with `--json -`; the interval log with `--hdr-log`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use loadgen::{LoadPlan, Mode, Target, Workload};
use servers::Transport;

/// Without `--duration`, a run bounded by `--requests` may take up to this long.
const REQUESTS_ONLY_BOUND: Duration = Duration::from_secs(24 * 3600);

/// `--mode`: what each connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Request-response on persistent connections (netperf TCP_RR).
    Rr,
    /// Connect, request, response, close (netperf TCP_CRR).
    Crr,
    /// A fixed offered rate (--rate), latency from each intended send time (wrk2).
    Open,
    /// Sequence-numbered datagrams with a timeout; loss, late, duplicates.
    Udp,
}

/// `--transport`: the socket family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    Tcp,
    Udp,
    /// Unix-domain stream socket (give --path).
    Unix,
}

/// `--service`: what a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceArg {
    /// RFC 862 echo: every byte comes back.
    Echo,
    /// Framed requests: payload and response sizes, CPU to burn, wait to simulate.
    Synthetic,
}

const EXAMPLES: &str = "\
Examples:
  sockbench load --target 127.0.0.1:7000 --connections 8 --duration 10s
  sockbench load --target 127.0.0.1:7000 --mode open --rate 20000 --json - | jq .latency_ns
  sockbench load --target 127.0.0.1:7000 --mode crr --linger-zero --hdr-log crr.hlog
  sockbench load --path /tmp/echo.sock --service synthetic --cpu 50us --wait 1ms";

/// Arguments of `sockbench load`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct LoadArgs {
    /// Server address, HOST:PORT (tcp or udp).
    #[arg(long)]
    pub target: Option<String>,
    /// Unix-domain socket file of the server.
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// The socket family (default: unix with --path, udp with --mode udp, else tcp).
    #[arg(long, value_enum)]
    pub transport: Option<TransportArg>,
    /// What each connection does (default: udp over --transport udp, else rr).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
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
    /// Think time between a response and the next request (e.g. 200us, 5ms).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub think: Duration,
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
    /// What a request asks for (synthetic: see --response-size, --cpu, --wait).
    #[arg(long, value_enum, default_value = "echo")]
    pub service: ServiceArg,
    /// synthetic: response body size in bytes (default: --size).
    #[arg(long)]
    pub response_size: Option<u32>,
    /// synthetic: CPU time the server burns per request (e.g. 50us).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub cpu: Option<Duration>,
    /// synthetic: blocking wait the server simulates per request (e.g. 1ms).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
    /// Synthetic: only this share (0–1) of the requests carry --wait, drawn
    /// per request with a fixed seed (e.g. 0.2: one request in five blocks).
    #[arg(long)]
    pub wait_share: Option<f64>,
    /// crr: requests on each connection before it is closed (default 1).
    #[arg(long)]
    pub requests_per_connection: Option<u64>,
    /// Misbehave beside the measured clients: hold this many slowloris
    /// connections, each sending one byte of a request every
    /// --slowloris-interval and never the last one (bounded by the run).
    #[arg(long, value_name = "CONNECTIONS", conflicts_with = "flood")]
    pub slowloris: Option<usize>,
    /// How often each slowloris connection sends its next byte.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, requires = "slowloris")]
    pub slowloris_interval: Duration,
    /// Misbehave beside the measured clients: open and reset this many
    /// connections a second, sending nothing (a connection flood).
    #[arg(long, value_name = "CONNECTIONS_PER_S")]
    pub flood: Option<f64>,
    /// The server's pid: its process tree's CPU, memory and processes are sampled.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The CPUs the server is pinned to (e.g. 0 or 0-1), for their busy time.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Also count the server's system calls over the window with `perf stat`
    /// (needs perf and permission to trace the server). Counting slows each
    /// of the server's system calls, so its CPU per request reads higher.
    #[arg(long, requires = "server_pid")]
    pub count_syscalls: bool,
    /// Pin the load generator to these CPUs (e.g. 1).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Write the full result (histograms included) as JSON to this file;
    /// `-` writes it to stdout and moves the summary to stderr.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the per-second HdrHistogram interval log to this file (read by
    /// HistogramLogProcessor and the other HdrHistogram log tools).
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
    /// Print nothing but errors (and the JSON of `--json -`).
    #[arg(long, short)]
    pub quiet: bool,
    /// Start together with other load generators (`run --client-host` runs
    /// this over SSH): once set up, say so on stdout, start at the instant
    /// stdin names, print the result as one JSON line; stop when stdin ends.
    #[arg(long, hide = true, conflicts_with_all = ["json", "hdr_log"])]
    pub rendezvous_stdin: bool,
}

/// A duration in whole microseconds for the synthetic frame's u32 field.
fn frame_micros(flag: &str, d: Option<Duration>) -> Result<u32> {
    match d {
        None => Ok(0),
        Some(d) => u32::try_from(d.as_micros())
            .with_context(|| format!("{flag} is too long: at most {} s", u32::MAX / 1_000_000)),
    }
}

impl LoadArgs {
    /// The library plan these flags describe, or a one-line reason why there is none.
    pub fn to_plan(&self) -> Result<LoadPlan> {
        let transport = match (self.transport, &self.path, self.mode) {
            (Some(TransportArg::Tcp), _, _) => Transport::Tcp,
            (Some(TransportArg::Udp), _, _) => Transport::Udp,
            (Some(TransportArg::Unix), _, _) => Transport::Unix,
            (None, Some(_), _) => Transport::Unix,
            (None, None, Some(ModeArg::Udp)) => Transport::Udp,
            (None, None, _) => Transport::Tcp,
        };
        let mode = match self.mode {
            None if transport == Transport::Udp => Mode::Udp,
            None | Some(ModeArg::Rr) => Mode::Rr,
            Some(ModeArg::Crr) => Mode::Crr,
            Some(ModeArg::Udp) => Mode::Udp,
            Some(ModeArg::Open) => match self.rate {
                Some(rate_rps) => Mode::Open { rate_rps },
                None => bail!("--mode open needs --rate R (requests per second)"),
            },
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
        let workload = match self.service {
            ServiceArg::Echo => {
                if self.response_size.is_some() || self.cpu.is_some() || self.wait.is_some() {
                    bail!("--response-size, --cpu and --wait apply to --service synthetic");
                }
                Workload::Echo { size: self.size }
            }
            ServiceArg::Synthetic => Workload::Synthetic {
                payload_len: size,
                response_len: self.response_size.unwrap_or(size),
                cpu_us: frame_micros("--cpu", self.cpu)?,
                wait_us: frame_micros("--wait", self.wait)?,
            },
        };
        let mut plan = LoadPlan::new(target, mode);
        plan.workload = workload;
        plan.connections = self.connections;
        plan.idle_connections = self.idle;
        plan.threads = self.threads;
        plan.think_time = self.think;
        plan.warmup = self.warmup;
        plan.max_requests = self.requests;
        plan.duration = match (self.duration, self.requests) {
            (Some(d), _) => d,
            (None, Some(_)) => REQUESTS_ONLY_BOUND,
            (None, None) => Duration::from_secs(5),
        };
        plan.request_timeout = self.timeout;
        plan.linger_zero = self.linger_zero;
        plan.wait_share = self.wait_share;
        plan.requests_per_connection = self.requests_per_connection;
        plan.attack = match (self.slowloris, self.flood) {
            (Some(connections), _) => Some(loadgen::Attack::Slowloris {
                connections,
                interval_ms: self.slowloris_interval.as_millis() as u64,
            }),
            (None, Some(rate_cps)) => Some(loadgen::Attack::Flood { rate_cps }),
            (None, None) => None,
        };
        plan.server_pid = self.server_pid;
        plan.count_syscalls = self.count_syscalls;
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

    // A line a second on stderr while the run goes (stdout may carry the JSON).
    let (progress, printer) = if args.quiet {
        (None, None)
    } else {
        let (tx, rx) = std::sync::mpsc::channel::<loadgen::Tick>();
        let printer = std::thread::spawn(move || {
            for tick in rx {
                eprintln!("{}", loadgen::output::progress_line(&tick));
            }
        });
        (Some(tx), Some(printer))
    };
    let report = if args.rendezvous_stdin {
        let meet = crate::hosts::rendezvous::generator_end(Arc::clone(&stop));
        loadgen::run_together(&plan, &stop, progress, None, Some(meet))
    } else {
        loadgen::run_with_progress(&plan, &stop, progress)
    };
    // The run dropped the sender: the printer ends after the last second.
    if let Some(p) = printer {
        let _ = p.join();
    }
    let report = report?;
    if args.rendezvous_stdin {
        // One line: the run reads stdout line by line.
        let line = serde_json::to_string(&report).context("failed to encode the result")?;
        println!("{line}");
        return Ok(());
    }
    let to_stdout = args.json.as_deref() == Some(std::path::Path::new("-"));
    if !args.quiet {
        let summary = loadgen::output::summary(&report);
        // With the JSON on stdout the summary goes to stderr, as iperf3 does.
        if to_stdout {
            eprint!("{summary}");
        } else {
            print!("{summary}");
        }
    }
    match &args.json {
        Some(_) if to_stdout => {
            let text =
                serde_json::to_string_pretty(&report).context("failed to encode the result")?;
            println!("{text}");
        }
        Some(path) => write_json(path, &report)?,
        None => {}
    }
    if let Some(path) = &args.hdr_log {
        std::fs::write(path, &report.interval_log)
            .with_context(|| format!("failed to write the interval log {}", path.display()))?;
    }
    Ok(())
}

/// Writes a result as pretty JSON (shared with `sockbench merge`).
pub fn write_json(path: &std::path::Path, report: &loadgen::LoadReport) -> Result<()> {
    let text = serde_json::to_string_pretty(report).context("failed to encode the result")?;
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}
