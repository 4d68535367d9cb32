//! # loadgen — the measuring instrument
//!
//! One event-driven engine (mio), a few threads, thousands of connections.
//! Every response byte is checked; latency goes into per-worker HdrHistograms
//! merged at the end; the server's own cost is measured by the `probe` crate.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use loadgen::{LoadPlan, Mode, Target};
//!
//! let plan = LoadPlan::new(Target::Tcp("127.0.0.1:7000".parse().unwrap()), Mode::Rr);
//! let report = loadgen::run(&plan, &AtomicBool::new(false))?;
//! print!("{}", loadgen::output::summary(&report));
//! # Ok::<(), loadgen::LoadError>(())
//! ```
//!
//! | room | what lives there |
//! | --- | --- |
//! | [`plan`] | [`LoadPlan`]: what to run (target, mode, workload, bounds) |
//! | [`report`] | [`LoadReport`]: what a run measured (the JSON) |
//! | `engine/` | [`run`] and [`LoadError`]: mio event loops on a few threads, pacing, TCP / Unix / UDP |
//! | [`check`] | requests built and every response byte checked (echo, synthetic) |
//! | [`stats`] | per-worker histograms, percentiles, timeline, V2 encoding, interval log |
//! | [`output`] | the human summary in wrk2's shape |
//! | [`validity`] | whether an `open` point offered its load (rate, send lag) |
//! | [`mod@merge`] | [`merge()`](fn@merge): several runs (hosts) into one distribution |
//! | `cost.rs` | the probe's figures (server tree, our own CPU) carried into the report |
//! | [`mod@calibrate`] | the generator's own floor, against a reflector it starts itself |
//! | [`machine`] | the machine and build a result came from |
//! | `units` | durations in JSON as numbers with the unit in the name |
//! | [`watch`] | [`ServerWatch`]: where the server's cost is measured (here, or on its host) |
#![deny(unsafe_code)]

pub mod calibrate;
pub mod check;
mod cost;
mod engine;
pub mod machine;
pub mod merge;
pub mod output;
pub mod plan;
pub mod report;
pub mod stats;
mod units;
pub mod validity;
pub mod watch;

pub use calibrate::{calibrate, Calibration, CalibrationPlan};
pub use engine::{
    run, run_together, run_watched, run_with_progress, validate, LoadError, Rendezvous,
};
pub use merge::{merge, MergeError};
pub use plan::{Attack, LoadPlan, Mode, Target, Workload};
pub use report::LoadReport;
pub use stats::Tick;
pub use watch::{LocalWatch, ServerSide, ServerWatch};
