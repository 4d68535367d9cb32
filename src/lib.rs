//! # sockbench — what does each classic server design really cost?
//!
//! The root crate holds the command line and the main job. The server models
//! live in the `servers` crate and the load generator in `loadgen`.
//!
//! | room | what lives there |
//! | --- | --- |
//! | [`budget`] | how long a run takes before it starts: measurements and estimated seconds per experiment |
//! | [`charts`] | charts from plain data: line, grouped bars, latency spectrum → SVG + PNG + CSV (the only plotters and resvg user) |
//! | [`cli`] | clap types for every subcommand, and the error-to-exit-code mapping |
//! | [`compare`] | two results folders point by point: medians, ratio, beyond both intervals or not |
//! | [`experiments`] | one file per Comer & Stevens claim: what to measure, and the verdict from the data |
//! | [`hosts`] | where the server runs: here, a network namespace, another host over SSH (start, probe, stop) |
//! | [`lab`] | the socket lab's `server` and `client` programs |
//! | [`netns`] | two (or more) hosts on one machine: network namespaces, veth links, loss and delay |
//! | [`pin`] | CPU pinning (server and load generator on disjoint cores) |
//! | [`progress`] | what `run` says while it measures: a bar on a terminal, a line per point elsewhere |
//! | [`report`] | REPORT.md and the charts, from a results folder alone |
//! | [`results`] | results as data: run.json, one JSON per measurement, summary.csv |
//! | [`summary`] | summary.csv: one serde row per measurement, every plan column and figure |
//! | [`runner`] | the main job: start each model, load it, store the measurement |
//! | [`schedule`] | the order of measurements: rounds, seeded shuffle, `full`'s confidence target |
#![deny(unsafe_code)]

pub mod budget;
pub mod charts;
pub mod cli;
pub mod compare;
pub mod experiments;
pub mod hosts;
pub mod lab;
pub mod netns;
pub mod pin;
pub mod progress;
pub mod report;
pub mod results;
pub mod runner;
pub mod schedule;
pub mod summary;
