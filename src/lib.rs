//! # sockbench — what does each classic server design really cost?
//!
//! The root crate holds the command line and the main job. The server models
//! live in the `servers` crate and the load generator in `loadgen`.
//!
//! | room | what lives there |
//! | --- | --- |
//! | [`charts`] | charts from plain data: line, grouped bars, latency spectrum → SVG + PNG (the only plotters user) |
//! | [`cli`] | clap types for every subcommand, and the error-to-exit-code mapping |
//! | [`experiments`] | one file per Comer & Stevens claim: what to measure, and the verdict from the data |
//! | [`lab`] | the socket lab's `server` and `client` programs |
//! | [`netns`] | two (or more) hosts on one machine: network namespaces, veth links, loss and delay |
//! | [`pin`] | CPU pinning (server and load generator on disjoint cores) |
//! | [`report`] | REPORT.md and the charts, from a results folder alone |
//! | [`results`] | results as data: run.json, one JSON per measurement, summary.csv |
//! | [`runner`] | the main job: start each model, load it, store the measurement |
//! | [`schedule`] | the order of measurements: rounds, seeded shuffle, `full`'s confidence target |
#![deny(unsafe_code)]

pub mod charts;
pub mod cli;
pub mod experiments;
pub mod lab;
pub mod netns;
pub mod pin;
pub mod report;
pub mod results;
pub mod runner;
pub mod schedule;
