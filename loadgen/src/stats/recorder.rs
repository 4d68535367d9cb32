//! One engine thread's recorder: every sample of the thread goes here, with
//! no locks and no atomics, and the run merges the recorders at the end.
//! Each second closes into its own histogram (the timeline); the whole-run
//! histogram is the sum of the seconds.

use std::sync::mpsc::Sender;
use std::time::Duration;

use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;

use super::counts::{count_error, ErrorKind};
use super::encoding::new_histogram;
use super::progress::ThreadTick;
use super::{LOWEST_NS, NS_PER_S};
use crate::report::{LoadErrors, UdpCounts};

/// One finished second of one worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct TickData {
    pub(super) requests: u64,
    pub(super) errors: u64,
    /// The second's latency histogram, plain V2 (cheap to write once a second).
    pub(super) histogram: Vec<u8>,
}

/// Which histograms a recorder keeps beside the latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Extras {
    /// `open`: latency from the actual send (uncorrected) and the send lag.
    pub open: bool,
    /// `crr`: connect() latency.
    pub connect: bool,
}

/// One engine thread's measurements. Owned by its thread; merged at the end.
pub(crate) struct Recorder {
    /// Every success's latency: each second's histogram is added to it when
    /// the second closes, so it is whole only after [`Recorder::take_ticks`].
    pub latency: Histogram<u64>,
    pub uncorrected: Option<Histogram<u64>>,
    /// `open`: how late each recorded request left (actual − intended send time).
    pub send_lag: Option<Histogram<u64>>,
    pub connect: Option<Histogram<u64>>,
    pub requests: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub errors: LoadErrors,
    pub udp: UdpCounts,
    /// `open`: recorded requests that left before the recorded interval ended
    /// (the rate the generator really offered; late ones still go out after it).
    pub sent_in_window: u64,
    /// Correct answers that arrived inside the recorded interval, warm-up
    /// requests' too (`open`: the server's pace past its knee).
    pub answered_in_window: u64,
    record_start_ns: u64,
    duration_ns: u64,
    /// Completions after the last whole or partial second land in it.
    last_tick: usize,
    tick_index: usize,
    tick_hist: Histogram<u64>,
    tick_requests: u64,
    tick_errors: u64,
    ticks: Vec<TickData>,
    /// Where each finished second also goes while the run lasts (progress lines).
    progress: Option<Sender<ThreadTick>>,
}

impl Recorder {
    /// A recorder whose seconds count from `record_start_ns`, for a recorded
    /// interval of `duration`, keeping the `extras` histograms too.
    pub fn new(record_start_ns: u64, duration: Duration, extras: Extras) -> Self {
        let ticks = duration.as_nanos().div_ceil(u128::from(NS_PER_S)).max(1);
        Recorder {
            latency: new_histogram(),
            uncorrected: extras.open.then(new_histogram),
            send_lag: extras.open.then(new_histogram),
            connect: extras.connect.then(new_histogram),
            requests: 0,
            bytes_sent: 0,
            bytes_received: 0,
            errors: LoadErrors::default(),
            udp: UdpCounts::default(),
            sent_in_window: 0,
            answered_in_window: 0,
            record_start_ns,
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            last_tick: usize::try_from(ticks - 1).unwrap_or(usize::MAX),
            tick_index: 0,
            tick_hist: new_histogram(),
            tick_requests: 0,
            tick_errors: 0,
            ticks: Vec::new(),
            progress: None,
        }
    }

    /// Also sends each finished second to `progress` (one send a second).
    pub fn with_progress(mut self, progress: Option<Sender<ThreadTick>>) -> Self {
        self.progress = progress;
        self
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

    /// A recorded request left at `now_ns`, `lag_ns` after its intended send
    /// time (`open`). On time counts as the smallest value, so every send is one sample.
    #[inline]
    pub fn sent(&mut self, now_ns: u64, lag_ns: u64) {
        if let Some(h) = self.send_lag.as_mut() {
            h.saturating_record(lag_ns.max(LOWEST_NS));
        }
        if now_ns.saturating_sub(self.record_start_ns) < self.duration_ns {
            self.sent_in_window += 1;
        }
    }

    /// A correct answer arrived at `now_ns`, to any request, recorded or not.
    #[inline]
    pub fn answered(&mut self, now_ns: u64) {
        if now_ns >= self.record_start_ns
            && now_ns.saturating_sub(self.record_start_ns) < self.duration_ns
        {
            self.answered_in_window += 1;
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
        if let Some(progress) = &self.progress {
            // The coordinator may be gone (the run is ending): nothing to do then.
            let _ = progress.send(ThreadTick {
                index: self.tick_index as u64,
                requests: self.tick_requests,
                errors: self.tick_errors,
                latency: self.tick_hist.clone(),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Extras = Extras {
        open: false,
        connect: false,
    };

    #[test]
    fn latency_is_every_seconds_histogram_once_the_ticks_are_taken() {
        let start = NS_PER_S;
        let mut r = Recorder::new(start, Duration::from_secs(3), PLAIN);
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
        let mut r = Recorder::new(0, Duration::from_secs(1), PLAIN);
        r.lost_to(10, ErrorKind::Mismatch);
        r.lost(20);
        assert_eq!((r.errors.mismatch, r.errors.total, r.udp.lost), (1, 1, 2));
        let ticks = r.take_ticks();
        assert_eq!(ticks[0].errors, 2);
    }
}
