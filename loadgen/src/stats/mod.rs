//! Statistics: per-worker recorders merged at the end, as wrk2 and
//! HdrHistogram_rust do it. Each engine thread owns one recorder (no locks,
//! no atomics while recording); the run merges them into one distribution, a
//! per-second timeline and an HdrHistogram interval log.
//!
//! Histograms track 1 ns .. 1 hour at 3 significant digits and travel as
//! HdrHistogram V2 (deflate) in base64, which every HdrHistogram library reads.
//!
//! | file | what lives there |
//! | --- | --- |
//! | `encoding.rs` | the bounds, percentiles, V2 base64 and the interval log |
//! | `counts.rs` | error kinds and the sums of error and datagram counts |
//! | `recorder.rs` | one thread's recorder: samples, errors, its seconds |
//! | `timeline.rs` | the workers' seconds merged into the run's timeline |
//! | `progress.rs` | the workers' seconds merged while the run goes, for a line a second |

mod counts;
mod encoding;
mod progress;
mod recorder;
mod timeline;

pub use counts::{add_errors, add_udp, count_error, ErrorKind};
pub use encoding::{
    decode_v2, encode_v2, interval_log, new_histogram, percentiles, HistogramError,
};
pub use progress::Tick;
pub(crate) use progress::{Merger, ThreadTick};
pub(crate) use recorder::{Extras, Recorder, TickData};
pub(crate) use timeline::merge_ticks;

/// Smallest latency tracked, in nanoseconds.
pub const LOWEST_NS: u64 = 1;
/// Largest latency tracked (one hour); longer ones saturate here.
pub const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGFIG: u8 = 3;

pub(crate) const NS_PER_S: u64 = 1_000_000_000;
