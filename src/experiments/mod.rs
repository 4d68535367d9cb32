//! The experiments, one file per Comer & Stevens claim.
//!
//! An experiment is declarative: [`Experiment::points`] lists what to measure
//! (models × workload × sweep) and [`Experiment::analyze`] turns the stored
//! measurements into a table, charts and a verdict computed from the data.
//! A new experiment is a new file with those two functions and a line in
//! [`all`].

use std::time::Duration;

use loadgen::{Mode, Workload};
use servers::{Model, ServiceKind, Transport};

use crate::charts::{BarChart, LineChart, SpectrumChart};
use crate::results::{Measurement, ResultSet};

mod backlog;
mod c10k;
mod datagram_cost;
mod datagram_loss;
mod fork_cost;
mod iterative;
mod overview;
mod single_process;
pub mod stats;
mod tcp_overhead;
mod unix_vs_inet;
mod zombies;

pub use stats::{stat, Stat, Table};

/// How long and how often: `quick` is a smoke test, `standard` the default,
/// `full` tight confidence intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Quick,
    Standard,
    Full,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Standard => "standard",
            Profile::Full => "full",
        }
    }

    /// Warm-up excluded from every measurement.
    pub fn warmup(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_millis(150),
            Profile::Standard => Duration::from_millis(250),
            Profile::Full => Duration::from_secs(1),
        }
    }

    /// Recorded time per measurement.
    pub fn duration(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_millis(400),
            Profile::Standard => Duration::from_millis(1000),
            Profile::Full => Duration::from_secs(5),
        }
    }

    /// Default repeats of each point.
    pub fn repeats(self) -> u32 {
        match self {
            Profile::Quick => 1,
            Profile::Standard => 3,
            Profile::Full => 7,
        }
    }

    /// Picks the sweep for this profile: quick gets the ends only.
    pub fn sweep<T: Copy>(self, quick: &[T], standard: &[T], full: &[T]) -> Vec<T> {
        match self {
            Profile::Quick => quick.to_vec(),
            Profile::Standard => standard.to_vec(),
            Profile::Full => full.to_vec(),
        }
    }
}

/// How to start the server for one point.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub model: Model,
    pub transport: Transport,
    pub service: ServiceKind,
    /// Extra `sockbench serve` flags (e.g. `--reap none`, `--ballast-mb 64`).
    pub args: Vec<String>,
}

impl ServerSpec {
    /// Echo over the model's natural transport, no extra flags.
    pub fn new(model: Model) -> Self {
        let transport = if model == Model::UdpIterative {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        // A pool smaller than a point's persistent connections starves the
        // rest (claim 6 shows that on purpose with idle connections); 128
        // workers is more than any other point uses, so elsewhere the pool is
        // measured for its hand-off cost, not its size.
        let args = match model {
            Model::ThreadPool => vec!["--workers".to_string(), "128".to_string()],
            // Preforked processes cost memory each; 8 serve every point's clients.
            Model::Prefork => vec!["--workers".to_string(), "8".to_string()],
            _ => Vec::new(),
        };
        ServerSpec {
            model,
            transport,
            service: ServiceKind::Echo,
            args,
        }
    }

    pub fn transport(mut self, t: Transport) -> Self {
        self.transport = t;
        self
    }

    pub fn service(mut self, s: ServiceKind) -> Self {
        self.service = s;
        self
    }

    pub fn arg(mut self, flag: &str, value: impl ToString) -> Self {
        self.args.push(flag.to_string());
        self.args.push(value.to_string());
        self
    }
}

/// What the load generator does for one point.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub mode: Mode,
    pub workload: Workload,
    pub connections: usize,
    pub idle: usize,
    pub think: Duration,
    pub timeout: Duration,
    pub linger_zero: bool,
    /// Stop after this many requests, whatever the profile's duration.
    pub requests: Option<u64>,
}

impl LoadSpec {
    /// 64-byte echo, one connection, the given mode.
    pub fn new(mode: Mode) -> Self {
        LoadSpec {
            mode,
            workload: Workload::Echo { size: 64 },
            connections: 1,
            idle: 0,
            think: Duration::ZERO,
            timeout: Duration::from_secs(2),
            linger_zero: false,
            requests: None,
        }
    }

    pub fn connections(mut self, c: usize) -> Self {
        self.connections = c;
        self
    }

    pub fn idle(mut self, k: usize) -> Self {
        self.idle = k;
        self
    }

    pub fn workload(mut self, w: Workload) -> Self {
        self.workload = w;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn linger_zero(mut self) -> Self {
        self.linger_zero = true;
        self
    }

    pub fn requests(mut self, n: u64) -> Self {
        self.requests = Some(n);
        self
    }
}

/// A synthetic request that burns `cpu_us` and answers 64 bytes.
pub fn cpu_work(cpu_us: u32) -> Workload {
    Workload::Synthetic {
        payload_len: 64,
        response_len: 64,
        cpu_us,
        wait_us: 0,
    }
}

/// One thing to measure.
#[derive(Debug, Clone)]
pub struct Point {
    /// The legend entry.
    pub series: String,
    /// The swept variable.
    pub x: f64,
    pub server: ServerSpec,
    pub load: LoadSpec,
    /// A second load run at the same time (its latency is not the one charted).
    pub background: Option<LoadSpec>,
}

impl Point {
    pub fn new(series: impl Into<String>, x: f64, server: ServerSpec, load: LoadSpec) -> Self {
        Point {
            series: series.into(),
            x,
            server,
            load,
            background: None,
        }
    }
}

/// Whether the data support the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    NotSupported,
    /// True in some conditions and not others; the finding says which.
    Depends,
    /// Not enough usable measurements to decide.
    NoData,
    /// Not a claim: the baseline the claims are read against.
    Baseline,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::Depends => "depends",
            Verdict::NoData => "no data",
            Verdict::Baseline => "baseline",
        }
    }
}

/// A chart an analysis asks for; the report draws it.
pub enum ChartSpec {
    Line(LineChart),
    Bars(BarChart),
    Spectrum(SpectrumChart),
}

/// A named chart (the file stem is `<experiment>-<name>`).
pub struct NamedChart {
    pub name: String,
    pub chart: ChartSpec,
}

/// A chart axis: its label (with the unit) and its scale.
pub type Axis<'a> = (&'a str, crate::charts::Scale);

impl NamedChart {
    /// A line chart, footnoted with the machine.
    pub fn line(
        name: &str,
        title: impl Into<String>,
        (x_label, x_scale): Axis<'_>,
        (y_label, y_scale): Axis<'_>,
        series: Vec<crate::charts::Series>,
        ctx: &Context,
    ) -> Self {
        NamedChart {
            name: name.to_string(),
            chart: ChartSpec::Line(LineChart {
                title: title.into(),
                x_label: x_label.to_string(),
                y_label: y_label.to_string(),
                x_scale,
                y_scale,
                caption: if series
                    .iter()
                    .flat_map(|s| &s.points)
                    .any(|p| p.spread.is_some())
                {
                    ctx.error_bars.clone()
                } else {
                    String::new()
                },
                series,
                footnote: ctx.footnote.clone(),
            }),
        }
    }

    /// A grouped bar chart, one bar per category in each group, footnoted with the machine.
    pub fn bars(
        name: &str,
        title: impl Into<String>,
        (y_label, y_scale): Axis<'_>,
        categories: &[String],
        groups: Vec<crate::charts::BarGroup>,
        ctx: &Context,
    ) -> Self {
        NamedChart {
            name: name.to_string(),
            chart: ChartSpec::Bars(BarChart {
                title: title.into(),
                y_label: y_label.to_string(),
                categories: categories.to_vec(),
                caption: if groups
                    .iter()
                    .flat_map(|g| g.values.iter().flatten())
                    .any(|b| b.spread.is_some())
                {
                    ctx.error_bars.clone()
                } else {
                    String::new()
                },
                groups,
                footnote: ctx.footnote.clone(),
                y_scale,
            }),
        }
    }
}

impl NamedChart {
    /// The same chart titled with its finding ("fork costs 3× thread-pool
    /// per connection"); the topic title it had moves to the caption line.
    pub fn titled(mut self, finding: impl Into<String>) -> Self {
        let finding = finding.into();
        let (title, caption) = match &mut self.chart {
            ChartSpec::Line(c) => (&mut c.title, &mut c.caption),
            ChartSpec::Bars(c) => (&mut c.title, &mut c.caption),
            ChartSpec::Spectrum(c) => (&mut c.title, &mut c.caption),
        };
        let topic = std::mem::replace(title, finding);
        *caption = if caption.is_empty() {
            topic
        } else {
            format!("{topic} · {caption}")
        };
        self
    }
}

/// What an analysis found.
pub struct Finding {
    pub verdict: Verdict,
    /// The sentence with the number that decides the verdict.
    pub because: String,
    /// A markdown table of the measured figures.
    pub table: String,
    pub charts: Vec<NamedChart>,
    /// Caveats: errors seen, a saturated load generator, a crashed server.
    pub notes: Vec<String>,
}

/// One claim, its experiment and its analysis.
pub struct Experiment {
    /// Short id used in file names and `--experiments`.
    pub id: &'static str,
    /// The claim in one sentence, as the textbook makes it.
    pub claim: &'static str,
    /// What is measured, in one or two sentences.
    pub method: &'static str,
    pub points: fn(Profile) -> Vec<Point>,
    pub analyze: fn(&ResultSet, &Context) -> Finding,
}

/// What an analysis knows besides the data.
pub struct Context {
    /// The machine line for chart footnotes.
    pub footnote: String,
    /// What the error bars are in this run (min–max or a CI, over how many
    /// repeats): the caption of every chart that draws them.
    pub error_bars: String,
}

/// Every experiment, in claim order.
pub fn all() -> Vec<Experiment> {
    vec![
        overview::experiment(),
        fork_cost::experiment(),
        tcp_overhead::experiment(),
        datagram_cost::experiment(),
        datagram_loss::experiment(),
        iterative::experiment(),
        single_process::experiment(),
        zombies::experiment(),
        unix_vs_inet::experiment(),
        backlog::experiment(),
        c10k::experiment(),
    ]
}

/// One problem with one measurement: what kind, and its detail.
struct Caveat {
    kind: &'static str,
    detail: String,
}

fn measurement_caveats(m: &Measurement) -> Vec<Caveat> {
    use crate::results::Outcome;
    let mut out = Vec::new();
    let mut push = |kind, detail: String| out.push(Caveat { kind, detail });
    match &m.outcome {
        Outcome::Ok => {}
        Outcome::ServerFailedToStart { message } => push("server failed to start", message.clone()),
        Outcome::ServerCrashed { message } => push("server crashed", message.clone()),
        Outcome::ServerHung => push("server ignored SIGTERM and was killed", String::new()),
        Outcome::LoadFailed { message } => push("load failed", message.clone()),
    }
    if let Some(r) = &m.report {
        if r.errors.total > 0 {
            push(
                "request errors",
                format!(
                    "{} ({})",
                    r.errors.total,
                    loadgen::output::error_kinds(&r.errors)
                ),
            );
        }
        if r.loadgen.utilization > 0.9 {
            push(
                "load generator saturated (the server may have had more to give)",
                format!("{:.0}% busy", r.loadgen.utilization * 100.0),
            );
        }
    }
    out
}

/// Problems with one measurement that a reader must see next to its figures.
pub fn caveats(m: &Measurement) -> Vec<String> {
    measurement_caveats(m)
        .into_iter()
        .map(|c| {
            let detail = if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            };
            format!(
                "{} at x={} (repeat {}): {}{detail}",
                m.series, m.x, m.repeat, c.kind
            )
        })
        .collect()
}

/// Caveats of one experiment, one line per point and kind ("in 2 of 3
/// repeats"), capped so a noisy run still reads.
pub fn experiment_caveats(results: &ResultSet, id: &str) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut repeats: BTreeMap<(String, crate::results::OrderedX), usize> = BTreeMap::new();
    let mut found: BTreeMap<(String, crate::results::OrderedX, &'static str), Vec<String>> =
        BTreeMap::new();
    for m in results.measurements.iter().filter(|m| m.experiment == id) {
        let point = (m.series.clone(), crate::results::OrderedX(m.x));
        *repeats.entry(point.clone()).or_default() += 1;
        for c in measurement_caveats(m) {
            found
                .entry((point.0.clone(), point.1, c.kind))
                .or_default()
                .push(c.detail);
        }
    }
    let mut notes: Vec<String> = found
        .into_iter()
        .map(|((series, x, kind), details)| {
            let count = details.len();
            let of = repeats.get(&(series.clone(), x)).copied().unwrap_or(count);
            let details: Vec<String> = details.into_iter().filter(|d| !d.is_empty()).collect();
            let shown = if details.is_empty() {
                String::new()
            } else {
                format!(" — {}", details.join("; "))
            };
            format!(
                "{series} at x={}: {kind} in {} of {of} repeats{shown}",
                x.0, count
            )
        })
        .collect();
    let total = notes.len();
    notes.truncate(15);
    if total > 15 {
        notes.push(format!("… and {} more (see summary.csv)", total - 15));
    }
    notes
}
