//! How long and how often each point is measured: the profiles `quick`,
//! `standard` and `full`.

use std::time::Duration;

/// How long and how often: `quick` is a smoke test, `standard` the default,
/// `full` tight confidence intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Quick,
    Standard,
    Full,
}

impl Profile {
    /// Every profile, shortest first.
    pub const ALL: [Profile; 3] = [Profile::Quick, Profile::Standard, Profile::Full];

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
