//! One file per benchmark group; `bench_main.rs` runs them in this order.

pub mod primitives;
pub mod round_trip;
pub mod transports;
