//! Results are data: one JSON per measurement, a `run.json` describing the
//! run, a CSV of every summary. Charts and REPORT.md are always redrawn from
//! these files (`sockbench report DIR`), never edited.
//!
//! ```text
//! DIR/run.json                                  RunInfo
//! DIR/data/<experiment>/<series>__x<x>__r<k>.json   Measurement
//! DIR/summary.csv                               one row per measurement
//! DIR/charts/<experiment>-<chart>.{svg,png}
//! DIR/REPORT.md
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use loadgen::report::Machine;
use loadgen::LoadReport;
use serde::{Deserialize, Serialize};
use servers::Summary;

mod clients;
mod link;
mod order;
mod remote;
pub use clients::{ClientHostInfo, ClientHostsInfo, HostShare, SPREAD as CLIENTS_SPREAD};
pub use link::LinkInfo;
pub use order::{ConfidenceRecord, RunOrder};
pub use remote::{HostDescription, RemoteInfo};

/// How the run was set up: everything a reader needs to reproduce it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub profile: String,
    pub repeats: u32,
    /// The command line that produced the run.
    pub command: String,
    pub started_utc: String,
    pub finished_utc: String,
    pub machine: Machine,
    /// CPUs the servers were pinned to (`None`: not pinned).
    pub server_cpus: Option<Vec<usize>>,
    /// CPUs the load generator was pinned to.
    pub loadgen_cpus: Option<Vec<usize>>,
    pub experiments: Vec<String>,
    pub models: Vec<String>,
    /// The run was interrupted; some points are missing.
    pub partial: bool,
    /// `run --two-hosts`: the link between the server's and the load
    /// generator's namespaces (loss, delay, netem). `None`: one host, loopback.
    #[serde(default)]
    pub link: Option<LinkInfo>,
    /// `run --server-host`: the server host, both machines and their
    /// addresses. `None`: the servers ran on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteInfo>,
    /// The order and size of the repeats (absent in runs made before it was recorded).
    #[serde(default)]
    pub order: Option<RunOrder>,
    /// Share of CPU time stolen by the hypervisor over the run, in percent
    /// (/proc/stat `steal`, all CPUs); `None` if unreadable.
    #[serde(default)]
    pub steal_pct: Option<f64>,
    /// The load generator's own floor (1-connection RR latency, max RR rate)
    /// against a trivial reflector, measured at the start of the run.
    #[serde(default)]
    pub calibration: Option<loadgen::Calibration>,
    /// The open-file limit (RLIMIT_NOFILE) the run raised itself to, and
    /// what its largest point needed (absent in older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd_limit: Option<FdLimit>,
    /// `run --slo`: the p99 objective the overload knee is found against, in
    /// µs (absent in runs made before it was recorded: the default applies).
    #[serde(default)]
    pub slo_us: Option<u64>,
    /// `run --client-host`: the further load generators' hosts and how a
    /// point's load was spread over them. `None`: this machine's alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<ClientHostsInfo>,
}

/// The open-file limit of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdLimit {
    /// The soft limit after raising it to the hard one.
    pub soft: u64,
    /// Descriptors the largest point needs on the load generator's side.
    pub needed: u64,
}

/// How a measurement went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Outcome {
    /// The load ran and the server stopped cleanly.
    Ok,
    /// The server could not be started.
    ServerFailedToStart { message: String },
    /// The server died during the load.
    ServerCrashed { message: String },
    /// The server ignored SIGTERM and had to be killed.
    ServerHung,
    /// The load generator refused or failed the run.
    LoadFailed { message: String },
}

/// One run of one point of one experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub experiment: String,
    /// The legend entry: a model name, or a model and a variant.
    pub series: String,
    pub model: String,
    pub transport: String,
    /// The swept variable's value (connections, ballast MB, idle connections, …).
    pub x: f64,
    pub repeat: u32,
    /// The `sockbench serve` arguments used.
    pub server_args: Vec<String>,
    pub outcome: Outcome,
    pub report: Option<LoadReport>,
    /// A concurrent background load's report, where the point has one.
    pub background: Option<LoadReport>,
    /// The server's own summary line.
    pub server_summary: Option<Summary>,
    /// Set when this is another experiment's measurement of the same
    /// configuration, filed here too: the path of the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<PathBuf>,
    /// `run --client-host`: each load generator's part (this machine's
    /// first) of `report`, which is their exact merge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostShare>,
}

impl Measurement {
    /// Where this measurement is stored under a results folder.
    pub fn relative_path(&self) -> PathBuf {
        let series: String = self
            .series
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        PathBuf::from("data")
            .join(&self.experiment)
            .join(format!("{series}__x{}__r{}.json", self.x, self.repeat))
    }

    /// This measurement filed under another experiment's point (its legend
    /// entry `series` at `x`) that has the same configuration.
    pub fn reused_for(&self, experiment: &str, series: &str, x: f64) -> Measurement {
        Measurement {
            experiment: experiment.to_string(),
            series: series.to_string(),
            x,
            same_as: Some(self.same_as.clone().unwrap_or_else(|| self.relative_path())),
            ..self.clone()
        }
    }

    /// The report, if the run produced a usable one.
    pub fn ok_report(&self) -> Option<&LoadReport> {
        match self.outcome {
            Outcome::Ok => self.report.as_ref(),
            _ => None,
        }
    }
}

/// Writes `value` as pretty JSON, creating parent folders.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value).context("failed to encode JSON")?;
    fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}

/// Everything in a results folder.
pub struct ResultSet {
    pub dir: PathBuf,
    pub info: RunInfo,
    pub measurements: Vec<Measurement>,
}

impl ResultSet {
    /// Reads `dir/run.json` and every measurement under `dir/data/`.
    pub fn load(dir: &Path) -> Result<ResultSet> {
        let info_path = dir.join("run.json");
        if !info_path.exists() {
            bail!(
                "{} has no run.json: give the folder `sockbench run` wrote (e.g. results/<date>-<host>)",
                dir.display()
            );
        }
        let info: RunInfo = serde_json::from_str(
            &fs::read_to_string(&info_path)
                .with_context(|| format!("failed to read {}", info_path.display()))?,
        )
        .with_context(|| format!("{} is not a sockbench run description", info_path.display()))?;
        let mut measurements = Vec::new();
        let data = dir.join("data");
        let mut files = Vec::new();
        if data.exists() {
            collect_json(&data, &mut files)?;
        }
        files.sort();
        for file in files {
            let text = fs::read_to_string(&file)
                .with_context(|| format!("failed to read {}", file.display()))?;
            let m: Measurement = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a measurement", file.display()))?;
            measurements.push(m);
        }
        Ok(ResultSet {
            dir: dir.to_path_buf(),
            info,
            measurements,
        })
    }

    /// The measurements of one experiment, grouped by series then x.
    pub fn experiment(&self, id: &str) -> Points<'_> {
        let mut points: Points<'_> = BTreeMap::new();
        for m in self.measurements.iter().filter(|m| m.experiment == id) {
            points
                .entry(m.series.clone())
                .or_default()
                .entry(OrderedX(m.x))
                .or_default()
                .push(m);
        }
        points
    }
}

/// series → x → repeats.
pub type Points<'a> = BTreeMap<String, BTreeMap<OrderedX, Vec<&'a Measurement>>>;

/// An x value usable as a map key (never NaN: x values come from our own sweeps).
#[derive(Debug, Clone, Copy)]
pub struct OrderedX(pub f64);

impl PartialEq for OrderedX {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for OrderedX {}

impl PartialOrd for OrderedX {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedX {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}
