//! The per-second view of a whole run: every worker's seconds merged by
//! index from the end of the warm-up, with each second's p99.

use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use super::encoding::new_histogram;
use super::recorder::TickData;
use crate::report::Tick;

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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::recorder::{Extras, Recorder};
    use crate::stats::{interval_log, ErrorKind, NS_PER_S};

    #[test]
    fn seconds_roll_and_merge_by_index() {
        let start = 5 * NS_PER_S;
        let mut a = Recorder::new(start, Duration::from_secs(2), Extras::default());
        let mut b = Recorder::new(start, Duration::from_secs(2), Extras::default());
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
}
