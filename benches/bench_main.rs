//! `cargo bench`: the primitives, each model's round trip, the transports.
//!
//! One file per group under `benchmarks/` (not directly in `benches/`, where
//! cargo would build each file as a bench of its own); this file only names
//! them. Run one group with `cargo bench --bench bench_main -- primitives`
//! (or `round_trip`, `transports`).
//! The servers run as separate processes from the `sockbench` binary that
//! cargo builds for this bench run (`CARGO_BIN_EXE_sockbench`), so nothing
//! has to be built first.
#![deny(unsafe_code)]

mod benchmarks;
mod support;

criterion::criterion_main!(
    benchmarks::primitives::benches,
    benchmarks::round_trip::benches,
    benchmarks::transports::benches
);
