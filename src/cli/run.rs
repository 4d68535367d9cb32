//! `sockbench run`: the main job.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use servers::Model;

use crate::experiments::Profile;
use crate::runner::{self, RunConfig};

/// How long and how thoroughly to measure.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProfileArg {
    /// About a minute: one repeat, the ends of each sweep (CI's smoke test).
    Quick,
    /// About five minutes on two cores: three repeats.
    Standard,
    /// As long as it takes for tight confidence intervals: seven repeats, longer runs.
    Full,
}

/// Arguments of `sockbench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value = "standard")]
    pub profile: ProfileArg,
    /// Only these models (comma-separated), e.g. fork,mio.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<Model>,
    /// Only these experiments (comma-separated), e.g. fork-cost,zombies.
    #[arg(long, value_delimiter = ',')]
    pub experiments: Vec<String>,
    /// Repeats of each point (default: the profile's).
    #[arg(long)]
    pub repeats: Option<u32>,
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
    PathBuf::from("results").join(format!("{}-{host}", chrono::Utc::now().format("%Y-%m-%d")))
}

pub fn execute(args: RunArgs) -> Result<()> {
    let profile = match args.profile {
        ProfileArg::Quick => Profile::Quick,
        ProfileArg::Standard => Profile::Standard,
        ProfileArg::Full => Profile::Full,
    };
    let (default_server, default_loadgen) = runner::default_split();
    let parse = |s: &Option<String>, default: Option<Vec<usize>>| -> Result<Option<Vec<usize>>> {
        if args.no_pin {
            return Ok(None);
        }
        match s {
            Some(list) => Ok(Some(crate::pin::parse_cpu_list(list)?)),
            None => Ok(default),
        }
    };
    let config = RunConfig {
        profile,
        repeats: args.repeats.unwrap_or(profile.repeats()).max(1),
        experiments: args.experiments.clone(),
        models: args.models.clone(),
        out: args.out.clone().unwrap_or_else(default_out),
        server_cpus: parse(&args.server_cpus, default_server)?,
        loadgen_cpus: parse(&args.loadgen_cpus, default_loadgen)?,
        exe: std::env::current_exe().context("failed to find the sockbench binary")?,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    if args.list {
        for (e, points) in runner::plan(&config)? {
            println!(
                "{} ({} points × {} repeats)",
                e.id,
                points.len(),
                config.repeats
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
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))
        .context("failed to install the Ctrl-C handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))
        .context("failed to install the SIGTERM handler")?;
    let results = runner::run(&config, &stop)?;
    let written = crate::report::write(&results)?;
    println!(
        "wrote {} measurements, {} chart files and {} in {}",
        results.measurements.len(),
        written.charts.len(),
        written.report.display(),
        results.dir.display()
    );
    Ok(())
}
