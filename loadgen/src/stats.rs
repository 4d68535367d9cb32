//! Statistics: per-worker recorders merged at the end, as wrk2 and
//! HdrHistogram_rust do it. Each engine thread owns one `Recorder` (no locks,
//! no atomics while recording); the run merges them into one distribution, a
//! per-second timeline and an HdrHistogram interval log.
//!
//! Histograms track 1 ns .. 1 hour at 3 significant digits and travel as
//! HdrHistogram V2 (deflate) in base64, which every HdrHistogram library reads.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::report::{LoadErrors, Percentiles, Tick, UdpCounts};

/// Smallest latency tracked, in nanoseconds.
pub const LOWEST_NS: u64 = 1;
/// Largest latency tracked (one hour); longer ones saturate here.
pub const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGFIG: u8 = 3;

const NS_PER_S: u64 = 1_000_000_000;

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

/// Kinds of failed request or connection; each maps to one [`LoadErrors`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ConnectRefused,
    ConnectTimeout,
    ConnectOther,
    PortsExhausted,
    Reset,
    ShortResponse,
    Mismatch,
    ServerError,
    Timeout,
    Io,
    DroppedIdle,
}

/// Counts one error of `kind` in `errors` (and in its total).
pub fn count_error(errors: &mut LoadErrors, kind: ErrorKind) {
    let field = match kind {
        ErrorKind::ConnectRefused => &mut errors.connect_refused,
        ErrorKind::ConnectTimeout => &mut errors.connect_timeout,
        ErrorKind::ConnectOther => &mut errors.connect_other,
        ErrorKind::PortsExhausted => &mut errors.ports_exhausted,
        ErrorKind::Reset => &mut errors.reset,
        ErrorKind::ShortResponse => &mut errors.short_response,
        ErrorKind::Mismatch => &mut errors.mismatch,
        ErrorKind::ServerError => &mut errors.server_error,
        ErrorKind::Timeout => &mut errors.timeout,
        ErrorKind::Io => &mut errors.io,
        ErrorKind::DroppedIdle => &mut errors.dropped_idle,
    };
    *field += 1;
    errors.total += 1;
}

/// Adds every count of `b` to `a`.
pub fn add_errors(a: &mut LoadErrors, b: &LoadErrors) {
    a.connect_refused += b.connect_refused;
    a.connect_timeout += b.connect_timeout;
    a.connect_other += b.connect_other;
    a.ports_exhausted += b.ports_exhausted;
    a.reset += b.reset;
    a.short_response += b.short_response;
    a.mismatch += b.mismatch;
    a.server_error += b.server_error;
    a.timeout += b.timeout;
    a.io += b.io;
    a.dropped_idle += b.dropped_idle;
    a.total += b.total;
}

/// Adds every count of `b` to `a`.
pub fn add_udp(a: &mut UdpCounts, b: &UdpCounts) {
    a.sent += b.sent;
    a.answered += b.answered;
    a.lost += b.lost;
    a.late += b.late;
    a.duplicates += b.duplicates;
    a.kernel_rcvbuf_errors += b.kernel_rcvbuf_errors;
    a.kernel_in_errors += b.kernel_in_errors;
}

/// One finished second of one worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct TickData {
    requests: u64,
    errors: u64,
    /// The second's latency histogram, plain V2 (cheap to write once a second).
    histogram: Vec<u8>,
}

/// One engine thread's measurements. Owned by its thread; merged at the end.
pub(crate) struct Recorder {
    /// Every success's latency: each second's histogram is added to it when
    /// the second closes, so it is whole only after [`Recorder::take_ticks`].
    pub latency: Histogram<u64>,
    pub uncorrected: Option<Histogram<u64>>,
    pub connect: Option<Histogram<u64>>,
    pub requests: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub errors: LoadErrors,
    pub udp: UdpCounts,
    record_start_ns: u64,
    /// Completions after the last whole or partial second land in it.
    last_tick: usize,
    tick_index: usize,
    tick_hist: Histogram<u64>,
    tick_requests: u64,
    tick_errors: u64,
    ticks: Vec<TickData>,
}

impl Recorder {
    /// A recorder whose seconds count from `record_start_ns`, for a recorded
    /// interval of `duration`.
    pub fn new(record_start_ns: u64, duration: Duration, uncorrected: bool, connect: bool) -> Self {
        let ticks = duration.as_nanos().div_ceil(u128::from(NS_PER_S)).max(1);
        Recorder {
            latency: new_histogram(),
            uncorrected: uncorrected.then(new_histogram),
            connect: connect.then(new_histogram),
            requests: 0,
            bytes_sent: 0,
            bytes_received: 0,
            errors: LoadErrors::default(),
            udp: UdpCounts::default(),
            record_start_ns,
            last_tick: usize::try_from(ticks - 1).unwrap_or(usize::MAX),
            tick_index: 0,
            tick_hist: new_histogram(),
            tick_requests: 0,
            tick_errors: 0,
            ticks: Vec::new(),
        }
    }

    /// Counts seconds from `record_start_ns` (known once the threads have started).
    pub fn set_record_start(&mut self, record_start_ns: u64) {
        self.record_start_ns = record_start_ns;
    }

    /// A checked response completed at `now_ns`.
    #[inline]
    pub fn success(&mut self, now_ns: u64, latency_ns: u64, uncorrected_ns: Option<u64>) {
        self.roll(now_ns);
        self.requests += 1;
        self.tick_hist.saturating_record(latency_ns.max(LOWEST_NS));
        self.tick_requests += 1;
        if let (Some(h), Some(v)) = (self.uncorrected.as_mut(), uncorrected_ns) {
            h.saturating_record(v.max(LOWEST_NS));
        }
    }

    /// A request or connection failed at `now_ns`.
    pub fn error(&mut self, now_ns: u64, kind: ErrorKind) {
        self.roll(now_ns);
        count_error(&mut self.errors, kind);
        self.tick_errors += 1;
    }

    /// A datagram was counted lost at `now_ns` (an error in the timeline only).
    pub fn lost(&mut self, now_ns: u64) {
        self.roll(now_ns);
        self.udp.lost += 1;
        self.tick_errors += 1;
    }

    /// A datagram was counted lost at `now_ns` because of a fault of `kind`
    /// (a wrong answer, a receive error): the kind is counted in the errors,
    /// and the timeline counts the request once, as lost.
    pub fn lost_to(&mut self, now_ns: u64, kind: ErrorKind) {
        count_error(&mut self.errors, kind);
        self.lost(now_ns);
    }

    /// A connect() completed after `ns`.
    #[inline]
    pub fn connected(&mut self, ns: u64) {
        if let Some(h) = self.connect.as_mut() {
            h.saturating_record(ns.max(LOWEST_NS));
        }
    }

    /// Moves to the second `now_ns` falls in, closing the seconds before it.
    #[inline]
    fn roll(&mut self, now_ns: u64) {
        let second = now_ns.saturating_sub(self.record_start_ns) / NS_PER_S;
        let index = usize::try_from(second)
            .unwrap_or(usize::MAX)
            .min(self.last_tick);
        while self.tick_index < index {
            self.close_tick();
        }
    }

    fn close_tick(&mut self) {
        let mut histogram = Vec::new();
        if !self.tick_hist.is_empty() {
            // Writing to a Vec cannot fail; an empty second stays empty.
            let _ = V2Serializer::new().serialize(&self.tick_hist, &mut histogram);
            // Same bounds on both sides, so adding cannot fail.
            let _ = self.latency.add(&self.tick_hist);
            self.tick_hist.reset();
        }
        self.ticks.push(TickData {
            requests: self.tick_requests,
            errors: self.tick_errors,
            histogram,
        });
        self.tick_requests = 0;
        self.tick_errors = 0;
        self.tick_index += 1;
    }

    /// Closes the current second (completing `latency`) and hands over the per-second data.
    pub fn take_ticks(&mut self) -> Vec<TickData> {
        self.close_tick();
        std::mem::take(&mut self.ticks)
    }
}

/// The per-second view of a whole run: every worker's seconds, merged by index.
pub(crate) struct Timeline {
    pub ticks: Vec<Tick>,
    pub histograms: Vec<Histogram<u64>>,
}

/// Merges the workers' seconds by index and cuts the timeline at `duration_s`.
pub(crate) fn merge_ticks(workers: Vec<Vec<TickData>>, duration_s: f64) -> Timeline {
    let whole = (duration_s.ceil() as usize).max(1);
    let mut ticks: Vec<Tick> = Vec::new();
    let mut histograms: Vec<Histogram<u64>> = Vec::new();
    for worker in workers {
        for (i, data) in worker.into_iter().enumerate() {
            while ticks.len() <= i {
                ticks.push(Tick::default());
                histograms.push(new_histogram());
            }
            ticks[i].requests += data.requests;
            ticks[i].errors += data.errors;
            if !data.histogram.is_empty() {
                if let Ok(h) = Deserializer::new().deserialize::<u64, _>(&mut &data.histogram[..]) {
                    // Same bounds on both sides, so adding cannot fail.
                    let _ = histograms[i].add(&h);
                }
            }
        }
    }
    // Seconds past the recorded interval only exist when a worker stopped late;
    // fold them into the last one so the timeline covers the interval exactly.
    while ticks.len() > whole {
        let extra = ticks.pop().expect("len > whole >= 1");
        let extra_h = histograms.pop().expect("same length as ticks");
        let last = ticks.len() - 1;
        ticks[last].requests += extra.requests;
        ticks[last].errors += extra.errors;
        let _ = histograms[last].add(&extra_h);
    }
    for (i, (tick, h)) in ticks.iter_mut().zip(&histograms).enumerate() {
        tick.t_s = ((i + 1) as f64).min(duration_s.max(0.0));
        tick.p99_ns = if h.is_empty() {
            0
        } else {
            h.value_at_quantile(0.99)
        };
    }
    Timeline { ticks, histograms }
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

    #[test]
    fn errors_count_by_kind_and_total() {
        let mut e = LoadErrors::default();
        count_error(&mut e, ErrorKind::Mismatch);
        count_error(&mut e, ErrorKind::Reset);
        count_error(&mut e, ErrorKind::Reset);
        assert_eq!((e.mismatch, e.reset, e.total), (1, 2, 3));
        let mut sum = LoadErrors::default();
        add_errors(&mut sum, &e);
        add_errors(&mut sum, &e);
        assert_eq!((sum.reset, sum.total), (4, 6));
    }

    #[test]
    fn seconds_roll_and_merge_by_index() {
        let start = 5 * NS_PER_S;
        let mut a = Recorder::new(start, Duration::from_secs(2), false, false);
        let mut b = Recorder::new(start, Duration::from_secs(2), false, false);
        a.success(start + 10, 100, None);
        a.success(start + NS_PER_S + 10, 200, None);
        b.error(start + NS_PER_S + 20, ErrorKind::Timeout);
        // A completion after the interval lands in the last second.
        b.success(start + 3 * NS_PER_S, 300, None);
        let t = merge_ticks(vec![a.take_ticks(), b.take_ticks()], 2.0);
        assert_eq!(t.ticks.len(), 2);
        assert_eq!((t.ticks[0].requests, t.ticks[0].errors), (1, 0));
        assert_eq!((t.ticks[1].requests, t.ticks[1].errors), (2, 1));
        assert_eq!(t.ticks[1].t_s, 2.0);
        assert!(t.ticks[1].p99_ns >= 300);
        let log = interval_log(&t.histograms, &t.ticks, SystemTime::now(), "test").unwrap();
        let intervals = log
            .lines()
            .filter(|l| l.starts_with("Tag=latency,"))
            .count();
        assert_eq!(intervals, 2);
    }

    #[test]
    fn latency_is_every_seconds_histogram_once_the_ticks_are_taken() {
        let start = NS_PER_S;
        let mut r = Recorder::new(start, Duration::from_secs(3), false, false);
        let mut expected = new_histogram();
        for (k, at) in [
            10,
            NS_PER_S / 2,
            NS_PER_S + 5,
            2 * NS_PER_S + 7,
            9 * NS_PER_S,
        ]
        .into_iter()
        .enumerate()
        {
            let ns = 1_000 * (k as u64 + 1);
            r.success(start + at, ns, None);
            expected.saturating_record(ns.max(LOWEST_NS));
        }
        let ticks = r.take_ticks();
        assert_eq!(ticks.len(), 3);
        assert_eq!(r.latency, expected);
        assert_eq!(r.latency.len(), r.requests);
    }

    #[test]
    fn a_datagram_lost_to_a_fault_counts_once_in_the_timeline() {
        let mut r = Recorder::new(0, Duration::from_secs(1), false, false);
        r.lost_to(10, ErrorKind::Mismatch);
        r.lost(20);
        assert_eq!((r.errors.mismatch, r.errors.total, r.udp.lost), (1, 1, 2));
        let ticks = r.take_ticks();
        assert_eq!(ticks[0].errors, 2);
    }
}
