//! How a run ordered and sized its repeats, as recorded in run.json: the
//! seed of the shuffle, each round's order, the windows, and the confidence
//! target with the configurations that did not meet it.

use serde::{Deserialize, Serialize};

/// The order and size of a run's measurements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOrder {
    /// Seed of the per-round shuffle (`run --seed` repeats the order exactly).
    pub seed: u64,
    /// Warm-up before each recorded window, in seconds.
    pub warmup_s: f64,
    /// The recorded window of an ordinary point, in seconds.
    pub window_s: f64,
    /// Points with a longer window of their own ("backlog: backlog 5 @ 5" → seconds).
    pub long_windows: Vec<(String, f64)>,
    /// Each round's configurations, in the order measured ("experiment: series @ x").
    pub rounds: Vec<Vec<String>>,
    /// `full`'s target, if the profile has one.
    pub confidence: Option<ConfidenceRecord>,
}

/// A confidence target and how the run met it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceRecord {
    /// The 95% interval of each decisive figure's median must lie within ± this %.
    pub target_pct: f64,
    pub min_repeats: u32,
    pub max_repeats: u32,
    /// The figures checked.
    pub figures: Vec<String>,
    /// Configurations that reached the cap first, with the figures still too wide.
    pub unmet: Vec<(String, Vec<String>)>,
}
