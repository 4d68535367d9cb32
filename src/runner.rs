//! The main job's engine: start each model as a child process, drive it with
//! the load generator, store one JSON per measurement, never leave a process
//! behind, and go on when a server crashes or hangs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use servers::{Model, Transport};

use crate::experiments::{self, Point, Profile};
use crate::hosts::{ServerHost, Session, SshHost};
use crate::progress::Progress;
use crate::results::{
    self, ConfidenceRecord, LinkInfo, Outcome, RemoteInfo, ResultSet, RunInfo, RunOrder,
};
use crate::schedule;

mod measure;

use measure::measure;
pub use measure::server_args;

/// What `sockbench run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub profile: Profile,
    pub repeats: u32,
    /// Experiment ids to run (empty: all).
    pub experiments: Vec<String>,
    /// Models to run (empty: all).
    pub models: Vec<Model>,
    pub out: PathBuf,
    pub server_cpus: Option<Vec<usize>>,
    pub loadgen_cpus: Option<Vec<usize>>,
    /// The `sockbench` binary that serves the models.
    pub exe: PathBuf,
    /// The command line, recorded in run.json.
    pub command: String,
    /// Two hosts: the servers start in this link's server namespace and bind
    /// its address; the caller has put this thread in the client namespace.
    /// `None`: everything on this host's loopback.
    pub link: Option<LinkInfo>,
    /// Another host: the servers start there over SSH and bind its address
    /// (`run --server-host`). `None`: this machine (or `link`'s namespace).
    pub remote: Option<RemoteInfo>,
    /// Further load generators on these hosts over SSH (`run --client-host`),
    /// started together with this one for every point.
    pub clients: Option<results::ClientHostsInfo>,
    /// Seed of the shuffled order of each round (recorded in run.json).
    pub seed: u64,
    /// The latency objective the overload knee is judged against (recorded in run.json).
    pub slo: std::time::Duration,
}

/// The default CPU split: the load generator on the lower half of the
/// cores, the server on the upper half; `None` on a single core.
pub fn default_split() -> (Option<Vec<usize>>, Option<Vec<usize>>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return (None, None);
    }
    let half = cores / 2;
    (
        (half..cores).collect::<Vec<_>>().into(),
        (0..half).collect::<Vec<_>>().into(),
    )
}

pub use crate::schedule::Plan;

/// Where this run's servers start: here, or tethered on a host apart (over
/// SSH, or in the server namespace of the two-host link).
pub fn server_host(config: &RunConfig) -> ServerHost {
    match (&config.remote, &config.link) {
        (Some(remote), _) => ServerHost::Tethered {
            session: Session::Ssh(SshHost::of(remote)),
            addr: remote.server_addr,
        },
        (None, Some(link)) => ServerHost::Tethered {
            session: Session::Netns {
                link: link.clone(),
                exe: config.exe.clone(),
            },
            addr: std::net::IpAddr::V4(link.server_addr),
        },
        (None, None) => ServerHost::Here,
    }
}

/// The selected experiments, with their points filtered to the selected
/// models (and, across two hosts, to those that can cross them).
pub fn plan(config: &RunConfig) -> Result<Plan> {
    Ok(plan_counting_skips(config)?.0)
}

/// A Unix-domain socket is a file on one host: it cannot cross a link.
fn crosses_hosts(point: &Point) -> bool {
    point.server.transport != Transport::Unix
}

/// The plan, and how many points were left out because they cannot cross hosts.
fn plan_counting_skips(config: &RunConfig) -> Result<(Plan, usize)> {
    let all = experiments::all();
    for wanted in &config.experiments {
        if !all.iter().any(|e| e.id == wanted) {
            anyhow::bail!(
                "unknown experiment '{wanted}': choose from {}",
                all.iter().map(|e| e.id).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut skipped = 0;
    let plan = all
        .into_iter()
        .filter(|e| config.experiments.is_empty() || config.experiments.iter().any(|w| w == e.id))
        .map(|e| {
            let mut points: Vec<Point> = (e.points)(config.profile)
                .into_iter()
                .filter(|p| config.models.is_empty() || config.models.contains(&p.server.model))
                .collect();
            if server_host(config).is_apart() || config.clients.is_some() {
                let before = points.len();
                points.retain(crosses_hosts);
                skipped += before - points.len();
            }
            if !servers::io_uring_available() {
                let before = points.len();
                points.retain(|p| p.server.model != Model::IoUring);
                if points.len() < before {
                    println!(
                        "caveat: {}: skipping {} io-uring points (io_uring cannot be set up here: old kernel, kernel.io_uring_disabled or seccomp)",
                        e.id,
                        before - points.len()
                    );
                }
            }
            (e, points)
        })
        .filter(|(_, points)| !points.is_empty())
        .collect();
    Ok((plan, skipped))
}

fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The load generator's floor on this machine, measured once per run with
/// the points' threads and CPUs; a failure is a warning, not a lost run.
fn calibrate(config: &RunConfig) -> Option<loadgen::Calibration> {
    let plan = loadgen::CalibrationPlan {
        threads: config.loadgen_cpus.as_ref().map_or(0, Vec::len),
        reflector_cpus: config.server_cpus.clone(),
        ..loadgen::CalibrationPlan::default()
    };
    loadgen::calibrate(&plan)
        .map_err(|e| eprintln!("warning: the load generator's calibration failed: {e}"))
        .ok()
}

/// Raises this process's open-file limit (the load generator runs in it) to
/// its hard limit and checks that the largest point fits: its connections,
/// idle and attacking ones, plus a margin. Servers raise their own at start.
fn raise_fd_limit(selected: &Plan) -> Result<results::FdLimit> {
    let needed = selected
        .iter()
        .flat_map(|(_, points)| points)
        .map(|p| {
            let slow = match p.load.attack {
                Some(loadgen::Attack::Slowloris { connections, .. }) => connections,
                _ => 0,
            };
            (p.load.connections + p.load.idle + slow) as u64 + 64
        })
        .max()
        .unwrap_or(64);
    let soft = servers::raise_fd_limit()
        .context("failed to read or raise the open-file limit (RLIMIT_NOFILE)")?;
    if soft < needed {
        anyhow::bail!(
            "the largest point needs {needed} open files but the hard limit is {soft}: raise it (`ulimit -Hn`, \
             /etc/security/limits.conf) or leave out the largest C10K points"
        );
    }
    Ok(results::FdLimit { soft, needed })
}

/// Runs every point of every selected experiment and writes the results.
pub fn run(config: &RunConfig, stop: &AtomicBool) -> Result<ResultSet> {
    let (selected, skipped) = plan_counting_skips(config)?;
    if skipped > 0 {
        println!(
            "caveat: two hosts: skipping {skipped} Unix-domain points (a Unix socket is a file on one host; it cannot cross a link)"
        );
    }
    if selected.is_empty() {
        anyhow::bail!("nothing to run: no selected experiment measures the selected models");
    }
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("failed to create {}", config.out.display()))?;
    if let Some(cpus) = &config.loadgen_cpus {
        crate::pin::pin_self(cpus)?;
    }
    let fd_limit = raise_fd_limit(&selected)?;
    let mut info = RunInfo {
        profile: config.profile.name().to_string(),
        repeats: config.repeats,
        command: config.command.clone(),
        started_utc: now_utc(),
        finished_utc: String::new(),
        machine: loadgen::machine::machine(),
        server_cpus: config.server_cpus.clone(),
        loadgen_cpus: config.loadgen_cpus.clone(),
        experiments: selected.iter().map(|(e, _)| e.id.to_string()).collect(),
        models: config.models.iter().map(|m| m.name().to_string()).collect(),
        partial: true,
        link: config.link.clone(),
        remote: config.remote.clone(),
        order: None,
        steal_pct: None,
        calibration: calibrate(config),
        fd_limit: Some(fd_limit),
        slo_us: Some(config.slo.as_micros() as u64),
        clients: config.clients.clone(),
    };
    let steal_before = loadgen::machine::cpu_times();
    results::write_json(&config.out.join("run.json"), &info)?;

    // Every distinct configuration once per round, each round in a seeded
    // shuffled order (schedule.rs says why); several experiments that ask
    // for the same configuration get the one measurement, filed under each.
    let configurations = schedule::configurations(&selected);
    let target = config.profile.confidence();
    let mut rounds =
        schedule::Rounds::new(configurations.len(), config.seed, config.repeats, target);
    for (i, c) in configurations.iter().enumerate() {
        for figure in c.filings.iter().filter_map(|f| f.point.decisive) {
            rounds.decisive(i, figure);
        }
    }
    let mut order = RunOrder {
        seed: config.seed,
        warmup_s: config.profile.warmup().as_secs_f64(),
        window_s: config.profile.duration().as_secs_f64(),
        long_windows: configurations
            .iter()
            .filter_map(|c| {
                c.filings[0]
                    .point
                    .load
                    .window
                    .map(|w| (c.label(), w.as_secs_f64()))
            })
            .collect(),
        rounds: Vec::new(),
        confidence: None,
    };
    // The total grows round by round (`full` adds rounds until its target).
    let mut progress = Progress::new(0);
    let mut measurements = Vec::new();
    // Why the server's host was lost, if it was: no later point could run.
    let mut lost = None;
    'all: while let Some(round) = rounds.next_round() {
        let repeat = rounds.repeat();
        progress.add_total(
            round
                .iter()
                .map(|&i| configurations[i].filings.len() as u64)
                .sum(),
        );
        order
            .rounds
            .push(round.iter().map(|&i| configurations[i].label()).collect());
        for i in round {
            if stop.load(Ordering::Relaxed) {
                break 'all;
            }
            let first = &configurations[i].filings[0];
            progress.start(format!(
                "{}: {} x={} (round {})",
                first.experiment,
                first.point.series,
                first.point.x,
                repeat + 1
            ));
            let mut m = measure(config, first.experiment, &first.point, repeat, stop);
            // A host lost by the end of the point: its figures are not to be
            // trusted (requests hung, unanswered), and no later point can run.
            lost = server_host(config).lost(m.outcome != Outcome::Ok);
            if let (Some(why), Outcome::Ok) = (&lost, &m.outcome) {
                m.outcome = Outcome::LoadFailed {
                    message: format!("the server's host was lost during the point: {why}"),
                };
            }
            rounds.record(i, m.ok_report());
            if m.outcome != Outcome::Ok {
                progress.warn(&experiments::caveats(&m).join("; "));
            }
            for (k, filing) in configurations[i].filings.iter().enumerate() {
                let filed = if k == 0 {
                    m.clone()
                } else {
                    m.reused_for(filing.experiment, &filing.point.series, filing.point.x)
                };
                results::write_json(&config.out.join(filed.relative_path()), &filed)?;
                progress.finish(&filed);
                measurements.push(filed);
            }
            if lost.is_some() {
                break 'all;
            }
        }
    }
    order.confidence = target.map(|t| ConfidenceRecord {
        target_pct: t.pct,
        min_repeats: config.repeats,
        max_repeats: t.max_repeats,
        figures: {
            let mut names: Vec<String> = schedule::DECISIVE
                .iter()
                .map(|(n, _)| n.to_string())
                .collect();
            for (name, _) in configurations
                .iter()
                .flat_map(|c| &c.filings)
                .filter_map(|f| f.point.decisive)
            {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
            names
        },
        unmet: rounds
            .unmet()
            .into_iter()
            .map(|(i, figures)| {
                (
                    configurations[i].label(),
                    figures.into_iter().map(str::to_string).collect(),
                )
            })
            .collect(),
    });
    info.order = Some(order);
    progress.done();
    info.steal_pct = loadgen::machine::steal_pct_since(steal_before);
    info.partial = stop.load(Ordering::Relaxed) || lost.is_some();
    info.finished_utc = now_utc();
    results::write_json(&config.out.join("run.json"), &info)?;
    crate::summary::write_csv(&config.out, &measurements)?;
    if let Some(why) = lost {
        anyhow::bail!(
            "stopped after {} measurement{}, the server's host lost: {why}; what was measured is in {} \
             (run.json says partial; `sockbench report {}` draws it): run again once the host can be reached",
            measurements.len(),
            if measurements.len() == 1 { "" } else { "s" },
            config.out.display(),
            config.out.display()
        );
    }
    Ok(ResultSet {
        dir: config.out.clone(),
        info,
        measurements,
    })
}

pub use crate::schedule::configuration;
