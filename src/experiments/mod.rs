//! The experiments, one file per Comer & Stevens claim.
//!
//! An experiment is declarative: [`Experiment::points`] lists what to measure
//! (models × workload × sweep) and [`Experiment::analyze`] turns the stored
//! measurements into a table, charts and a verdict computed from the data.
//! A new experiment is a new file with those two functions and a line in
//! [`all`].
//!
//! | file | what lives there |
//! | --- | --- |
//! | `profile.rs` | [`Profile`]: warm-up, window and repeats of `quick`, `standard`, `full` |
//! | `point.rs` | [`Point`], [`ServerSpec`], [`LoadSpec`]: one thing to measure |
//! | `finding.rs` | [`Finding`], [`Verdict`], [`NamedChart`]: what an analysis returns |
//! | `headline.rs` | short numbers for chart titles that state the finding ("12×", "14k", "1.2 ms") |
//! | `caveats.rs` | problems a reader must see beside the figures |
//! | `measures.rs` | every server-cost figure (CPU, memory, validity) read from a report, in one place |
//! | `interval.rs` | 95% intervals: order-statistic CI of a median, bootstrap CI of a ratio, the confidence target |
//! | `per_repeat.rs` | each verdict again per repeat ("supported in k of n") |
//! | `stats.rs` | repeats into medians with intervals, table and series helpers |
//! | one file per claim | its points and its verdict rule |
//! | `flash.rs`, `fork_amortisation.rs`, `overload.rs` | claims beyond the textbook: Flash's four designs, the requests per connection that amortise a fork, the overload knee |

use crate::results::ResultSet;

mod accept_scaling;
mod backlog;
mod c10k;
mod caveats;
mod datagram_cost;
mod datagram_loss;
mod finding;
mod flash;
mod fork_amortisation;
mod fork_cost;
pub mod headline;
mod interval;
mod iterative;
pub mod measures;
mod overload;
mod overview;
pub mod per_repeat;
mod point;
mod profile;
mod single_process;
mod slow_clients;
pub mod stats;
#[cfg(test)]
pub(crate) mod synthetic;
mod tcp_overhead;
mod unix_vs_inet;
mod zombies;

pub use caveats::{caveats, experiment_caveats};
pub use finding::{Axis, ChartSpec, Context, Finding, NamedChart, Verdict};
pub use interval::{median_within, Ratio};
pub use overload::DEFAULT_SLO;
pub use point::{cpu_work, Figure, LoadSpec, Point, ServerSpec};
pub use profile::{ConfidenceTarget, Profile};
pub use stats::{stat, Stat, Table};

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
        accept_scaling::experiment(),
        slow_clients::experiment(),
        flash::experiment(),
        fork_amortisation::experiment(),
        overload::experiment(),
    ]
}
