//! # loadgen — the measuring instrument
//!
//! One event-driven engine (mio), a few threads, thousands of connections.
//! Every response byte is checked; latency goes into per-worker HdrHistograms
//! merged at the end; the server's own cost is read from /proc.
//!
//! | room | what lives there |
//! | --- | --- |
//! | [`plan`] | [`LoadPlan`]: what to run (target, mode, workload, bounds) |
//! | [`report`] | [`LoadReport`]: what a run measured (the JSON) |
//! | [`procfs`] | the server's process-tree cost, kernel counters, our own CPU |
//! | [`machine`] | the machine and build a result came from |
#![deny(unsafe_code)]

pub mod machine;
pub mod plan;
pub mod procfs;
pub mod report;

pub use plan::{LoadPlan, Mode, Target, Workload};
pub use report::LoadReport;
