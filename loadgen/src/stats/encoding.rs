//! Histograms as data: the suite's bounds, the summary percentiles, and the
//! HdrHistogram V2 encodings (one histogram in base64, an interval log of
//! many) that every HdrHistogram library reads, so merges across hosts are exact.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::{HIGHEST_NS, LOWEST_NS, SIGFIG};
use crate::report::{Percentiles, Tick};

/// Why a histogram could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    /// The text is not base64; the JSON was edited or truncated.
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The bytes are not an HdrHistogram V2 histogram; the JSON was edited or truncated.
    #[error("histogram is not HdrHistogram V2: {0:?}")]
    Decode(hdrhistogram::serialization::DeserializeError),
    /// Encoding failed (a bug: an in-memory histogram always encodes).
    #[error("histogram could not be encoded: {0}")]
    Encode(String),
}

/// An empty latency histogram with the suite's bounds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGFIG).expect("constant bounds are valid")
}

/// The summary figures of a distribution (all zero when it is empty).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        min: h.min(),
        p50: h.value_at_quantile(0.50),
        p75: h.value_at_quantile(0.75),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        p9999: h.value_at_quantile(0.9999),
        p99999: h.value_at_quantile(0.99999),
        max: h.max(),
        mean: h.mean(),
        stdev: h.stdev(),
    }
}

/// The histogram as HdrHistogram V2 deflate, base64 (standard alphabet, padded).
pub fn encode_v2(h: &Histogram<u64>) -> Result<String, HistogramError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| HistogramError::Encode(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Reads a histogram written by [`encode_v2`] (or any V2 / V2 deflate encoder).
pub fn decode_v2(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim())?;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(HistogramError::Decode)
}

/// An HdrHistogram interval log (V2 deflate, one interval per second) whose
/// intervals start at `start` (the end of the warm-up).
pub fn interval_log(
    histograms: &[Histogram<u64>],
    ticks: &[Tick],
    start: SystemTime,
    comment: &str,
) -> Result<String, HistogramError> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .add_comment("latency in nanoseconds; MaxValueDivisor turns the max column into ms")
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|e| HistogramError::Encode(e.to_string()))?;
        let mut from_s = 0.0f64;
        for (h, tick) in histograms.iter().zip(ticks) {
            let length = (tick.t_s - from_s).max(0.0);
            writer
                .write_histogram(
                    h,
                    Duration::from_secs_f64(from_s),
                    Duration::from_secs_f64(length),
                    Tag::new("latency"),
                )
                .map_err(|e| HistogramError::Encode(e.to_string()))?;
            from_s = tick.t_s;
        }
    }
    String::from_utf8(out).map_err(|e| HistogramError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_has_zero_percentiles() {
        assert_eq!(percentiles(&new_histogram()), Percentiles::default());
    }

    #[test]
    fn v2_round_trips() {
        let mut h = new_histogram();
        for v in [1, 10, 1_000, 123_456, 9_999_999_999] {
            h.record(v).unwrap();
        }
        let back = decode_v2(&encode_v2(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        assert!(decode_v2("not base64!").is_err());
        assert!(decode_v2("AAAA").is_err());
    }
}
