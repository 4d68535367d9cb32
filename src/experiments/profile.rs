//! How long and how often each point is measured: the profiles `quick`,
//! `standard` and `full`.

use std::time::Duration;

/// `full`'s confidence target: repeat until the 95% interval of each decisive
/// figure's median lies within ±`pct` % of it, or `max_repeats` is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceTarget {
    pub pct: f64,
    pub max_repeats: u32,
}

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

    /// Warm-up excluded from every measurement. The server is already up and
    /// its idle connections open when it starts; in the reference standard run
    /// (0.5 s warm-up) the first recorded second served 0.99× the requests of
    /// the second (median over 373 measurements), so a quarter second is enough.
    pub fn warmup(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_millis(150),
            Profile::Standard => Duration::from_millis(250),
            Profile::Full => Duration::from_secs(1),
        }
    }

    /// Recorded time per measurement. Long enough that the slowest ordinary
    /// point (the 2 ms iterative service, ~450 requests/s) still records
    /// over a hundred requests per window in `standard`; slower ones (a light
    /// client beside CPU-heavy neighbours, ~135/s; fork with a 512 MB parent,
    /// ~60/s) ask for a window of their own, a multiple of this one.
    pub fn duration(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_millis(400),
            Profile::Standard => Duration::from_millis(800),
            Profile::Full => Duration::from_secs(5),
        }
    }

    /// The window of points whose events come seconds apart (SYN
    /// retransmissions after 1 s and 3 s): longer than the slowest step, so
    /// a connection retried twice from the window's start completes inside
    /// it (and the drain gives later ones their request timeout).
    pub fn long_window(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_secs(4),
            // 10 s, not less: a full accept queue drops SYNs in waves, and a
            // 4 s window catches the first retry wave only (the share of
            // connects that wait ≥ 1 s fell from 1.5% to 0.5–0.7%, onto the
            // verdict's threshold).
            Profile::Standard | Profile::Full => Duration::from_secs(10),
        }
    }

    /// Default repeats of each point (with a confidence target: the least).
    pub fn repeats(self) -> u32 {
        match self {
            Profile::Quick => 1,
            Profile::Standard => 3,
            Profile::Full => 6,
        }
    }

    /// `full` repeats until the 95% interval of each decisive figure's median
    /// is within ±5%, at most 20 times; the others repeat a fixed number of times.
    pub fn confidence(self) -> Option<ConfidenceTarget> {
        match self {
            Profile::Full => Some(ConfidenceTarget {
                pct: 5.0,
                max_repeats: 20,
            }),
            _ => None,
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
