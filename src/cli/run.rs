//! `sockbench run`: the main job.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use servers::Model;

use crate::experiments::Profile;
use crate::netns::{LinkOptions, NetnsError, Network};
use crate::runner::{self, RunConfig};

/// How long and how thoroughly to measure.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProfileArg {
    /// About a minute: one repeat, the ends of each sweep (CI's smoke test).
    Quick,
    /// Three repeats; at most about ten minutes on two cores (`run --list` estimates each experiment).
    Standard,
    /// As long as it takes for tight confidence intervals: seven repeats, longer runs.
    Full,
}

const EXAMPLES: &str = "\
Examples:
  sockbench run --profile quick
  sockbench run --experiments fork-cost,zombies --models fork,thread-pool,mio
  sockbench run --list
  sockbench run --two-hosts --loss 1% --delay 1ms
  sockbench run --server-host student@server-vm --profile quick
  sockbench run --server-host server-vm --client-host client2 --client-host client3

Exit codes: 0 every point measured cleanly, 1 an error stopped the run,
2 usage error, 3 the run finished but some points failed, 130 interrupted.";

/// Arguments of `sockbench run`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value = "standard")]
    pub profile: ProfileArg,
    /// Only these models (comma-separated), e.g. fork,mio.
    #[arg(long, value_delimiter = ',', value_parser = super::named(&Model::ALL, |m| m.name()))]
    pub models: Vec<Model>,
    /// Only these experiments (comma-separated), e.g. fork-cost,zombies.
    #[arg(long, value_delimiter = ',')]
    pub experiments: Vec<String>,
    /// Repeats of each point (default: the profile's).
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Seed of the shuffled order of each round of repeats (default: from the
    /// clock; run.json records it, so the same seed repeats the order).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Results folder (default: results/<date>-<host>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// CPUs for the servers (default: the upper half of the cores).
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// CPUs for the load generator (default: the lower half of the cores).
    #[arg(long)]
    pub loadgen_cpus: Option<String>,
    /// Do not pin: server and load generator share every core.
    #[arg(long, conflicts_with_all = ["server_cpus", "loadgen_cpus"])]
    pub no_pin: bool,
    /// List the experiments and their points, and exit.
    #[arg(long)]
    pub list: bool,
    /// The lab's Server and Client VMs: servers in one network namespace, the
    /// load generator in another, joined by a veth link (needs root and `ip`).
    #[arg(long)]
    pub two_hosts: bool,
    /// With --two-hosts: drop this share of the packets on the link, each way (e.g. 1%; needs nft).
    #[arg(long, requires = "two_hosts", value_parser = parse_loss)]
    pub loss: Option<f64>,
    /// With --two-hosts: one-way delay on the link, each way (e.g. 1ms; needs the kernel's sch_netem).
    #[arg(long, requires = "two_hosts", value_parser = humantime::parse_duration)]
    pub delay: Option<Duration>,
    /// The p99 latency objective of the overload experiment: its knee is the
    /// highest offered rate whose p99 stays under it (e.g. 500us, 2ms).
    #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
    pub slo: Duration,
    /// Run every model on this host over SSH ([USER@]HOST); the load generator
    /// stays here. The host needs the same sockbench build (checked first).
    #[arg(long, value_name = "[USER@]HOST", conflicts_with = "two_hosts")]
    pub server_host: Option<String>,
    /// The ssh program and its options, run through `sh -c` (like rsync's -e,
    /// GIT_SSH_COMMAND), e.g. "ssh -i ~/.ssh/lab -p 2222".
    #[arg(long, default_value = "ssh", requires = "server_host")]
    pub ssh_command: String,
    /// sockbench on the server host (a path there; `~/` is the remote home).
    #[arg(long, default_value = "sockbench", requires = "server_host")]
    pub remote_sockbench: String,
    /// The address the models bind on the server host and the load goes to
    /// (default: what HOST resolves to here). IPv4 or IPv6.
    #[arg(long, requires = "server_host")]
    pub server_addr: Option<std::net::IpAddr>,
    /// Also run a load generator on this host over SSH ([USER@]HOST;
    /// repeatable), started together with this machine's for every point and
    /// merged exactly. Each generator opens the point's connections; an
    /// open-loop rate is the total, split over them. Same ssh command and
    /// remote sockbench as --server-host, same build check.
    #[arg(long, value_name = "[USER@]HOST", requires = "server_host")]
    pub client_host: Vec<String>,
}

/// A loss rate: `1%`, `0.5%` or `1` (percent).
fn parse_loss(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(pct) if (0.0..100.0).contains(&pct) => Ok(pct),
        _ => Err(format!(
            "'{text}' is not a loss rate: give a percentage from 0 up to 100, e.g. 1% or 0.5%"
        )),
    }
}

/// A seed from the clock, for runs that do not name one.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn default_out() -> PathBuf {
    let host = loadgen::machine::machine().hostname;
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // humantime's RFC 3339 starts with the date: 2026-12-01T…
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    PathBuf::from("results").join(format!("{}-{host}", &now[..10]))
}

pub fn execute(args: RunArgs) -> Result<()> {
    let profile = match args.profile {
        ProfileArg::Quick => Profile::Quick,
        ProfileArg::Standard => Profile::Standard,
        ProfileArg::Full => Profile::Full,
    };
    // Across machines each side has its own cores: pin only when asked.
    let (default_server, default_loadgen) = if args.server_host.is_some() {
        (None, None)
    } else {
        runner::default_split()
    };
    let parse = |s: &Option<String>, default: Option<Vec<usize>>| -> Result<Option<Vec<usize>>> {
        if args.no_pin {
            return Ok(None);
        }
        match s {
            Some(list) => Ok(Some(crate::pin::parse_cpu_list(list)?)),
            None => Ok(default),
        }
    };
    let mut config = RunConfig {
        profile,
        repeats: args.repeats.unwrap_or(profile.repeats()).max(1),
        experiments: args.experiments.clone(),
        models: args.models.clone(),
        out: args.out.clone().unwrap_or_else(default_out),
        server_cpus: parse(&args.server_cpus, default_server)?,
        loadgen_cpus: parse(&args.loadgen_cpus, default_loadgen)?,
        exe: std::env::current_exe().context("failed to find the sockbench binary")?,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        link: None,
        remote: None,
        clients: None,
        seed: args.seed.unwrap_or_else(clock_seed),
        slo: args.slo,
    };
    if args.list {
        let plan = runner::plan(&config)?;
        let distinct: std::collections::HashSet<String> = plan
            .iter()
            .flat_map(|(_, points)| points.iter().map(runner::configuration))
            .collect();
        let estimates = crate::budget::estimate(&plan, profile, config.repeats);
        for ((e, points), estimate) in plan.iter().zip(&estimates) {
            println!(
                "{} ({} points × {} repeats; {} measurements of its own, about {:.0} s)",
                e.id,
                points.len(),
                config.repeats,
                estimate.measurements,
                estimate.seconds
            );
            for p in points {
                println!(
                    "    {} x={} [{} {}]",
                    p.series,
                    p.x,
                    p.server.model,
                    p.load.mode.name()
                );
            }
        }
        if args.two_hosts || args.server_host.is_some() || !args.client_host.is_empty() {
            println!(
                "(across two hosts the Unix-domain points are skipped: they cannot cross hosts)"
            );
        }
        println!(
            "{} distinct configurations × {} repeats (a configuration several experiments share is measured once): about {:.0} s{}",
            distinct.len(),
            config.repeats,
            crate::budget::total(&estimates),
            if profile.confidence().is_some() {
                " at the fewest repeats (the confidence target adds rounds)"
            } else {
                ""
            }
        );
        return Ok(());
    }
    // The flags go in first, so Ctrl-C during the set-up of the two hosts
    // still ends in their teardown.
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))
        .context("failed to install the Ctrl-C handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))
        .context("failed to install the SIGTERM handler")?;
    if let Some(destination) = &args.server_host {
        config.remote = Some(super::remote::prepare(
            destination,
            &args.ssh_command,
            &args.remote_sockbench,
            args.server_addr,
        )?);
        if let Some(remote) = &config.remote {
            println!("{}", remote.describe());
        }
        if !args.client_host.is_empty() {
            let clients = super::clients::prepare(
                &args.client_host,
                &args.ssh_command,
                &args.remote_sockbench,
            )?;
            println!("{}", clients.describe());
            config.clients = Some(clients);
        }
        return run_and_report(&config, &stop);
    }
    if !args.two_hosts {
        return run_and_report(&config, &stop);
    }
    let options = LinkOptions {
        clients: 1,
        loss_pct: args.loss.unwrap_or(0.0),
        delay: args.delay,
    };
    let network = match Network::create(&options) {
        Ok(n) => n,
        Err(NetnsError::Unavailable(why)) => {
            println!(
                "two hosts: network namespaces cannot be created here ({why}); skipping the run"
            );
            return Ok(());
        }
        Err(e) => return Err(e).context("failed to build the two hosts"),
    };
    for note in network.notes() {
        println!("two hosts: {note}");
    }
    let info = network.info();
    println!("{}", info.describe());
    config.link = Some(info);
    // The server host's own copy of this build (`Installed` says why).
    let installed = crate::hosts::Installed::copy_of(&config.exe);
    match &installed {
        Ok(copy) => config.exe = copy.path().to_path_buf(),
        Err(e) => println!(
            "two hosts: cannot give the server host its own copy of this build ({e}); \
             the servers' PSS then shares their code pages with the load generator too"
        ),
    }
    // This thread, and the load generator's threads it starts, now live on
    // the client host; `_client` takes it home before `network` is removed.
    let _client = network.clients[0]
        .enter()
        .context("failed to move the load generator to the client host")?;
    run_and_report(&config, &stop)
}

fn run_and_report(config: &RunConfig, stop: &AtomicBool) -> Result<()> {
    let results = runner::run(config, stop)?;
    let written = crate::report::write(&results)?;
    println!(
        "wrote {} measurements, {} chart files and {} in {}",
        results.measurements.len(),
        written.charts.len(),
        written.report.display(),
        results.dir.display()
    );
    if results.info.partial {
        return Err(super::Unsuccessful::Interrupted {
            dir: results.dir.clone(),
        }
        .into());
    }
    let failed = results
        .measurements
        .iter()
        .filter(|m| m.outcome != crate::results::Outcome::Ok && m.same_as.is_none())
        .count();
    if failed > 0 {
        return Err(super::Unsuccessful::PointsFailed {
            failed,
            total: results.measurements.len(),
            dir: results.dir.clone(),
        }
        .into());
    }
    Ok(())
}
