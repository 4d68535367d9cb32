//! Progress while a run goes: each thread's recorder sends its finished
//! second (one channel send a second, off the hot path); the coordinator
//! merges the threads' seconds and hands each whole second to the caller
//! as a [`Tick`], for a line a second like iperf3's or oha's.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender};

use hdrhistogram::Histogram;

use super::encoding::new_histogram;
use super::NS_PER_S;

/// One second of the recorded window, over every thread.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Which second of the recorded window (1 = the first).
    pub second: u64,
    /// How long it is, s: 1, less for the window's last, partial second.
    pub span_s: f64,
    /// Successes completed in it.
    pub requests: u64,
    /// Errors (and datagrams lost) in it.
    pub errors: u64,
    /// The latencies of its successes, ns.
    pub latency: Histogram<u64>,
}

impl Tick {
    /// Successes per second over its span.
    pub fn rate_rps(&self) -> f64 {
        if self.span_s > 0.0 {
            self.requests as f64 / self.span_s
        } else {
            0.0
        }
    }

    /// The `q` quantile (0.5 = the median) of the second's latency, ns; 0 without successes.
    pub fn latency_ns(&self, q: f64) -> u64 {
        if self.latency.is_empty() {
            0
        } else {
            self.latency.value_at_quantile(q)
        }
    }
}

/// One thread's finished second (0-based index).
pub(crate) struct ThreadTick {
    pub index: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

/// How long after a second ends the coordinator waits for a thread that has
/// not reported it (a thread sees a second end only at its next event).
const GRACE_NS: u64 = 300_000_000;

/// The coordinator's side: merges the threads' seconds.
pub(crate) struct Merger {
    inbox: Receiver<ThreadTick>,
    out: Sender<Tick>,
    threads: usize,
    /// The recorded window's length, ns (the last second may be partial).
    window_ns: u64,
    pending: BTreeMap<u64, (usize, Tick)>,
    /// Seconds before this one were handed over (late reports are dropped).
    next: u64,
}

impl Merger {
    pub fn new(
        inbox: Receiver<ThreadTick>,
        out: Sender<Tick>,
        threads: usize,
        window_ns: u64,
    ) -> Self {
        Merger {
            inbox,
            out,
            threads,
            window_ns,
            pending: BTreeMap::new(),
            next: 0,
        }
    }

    /// Takes what the threads sent and hands over every second all threads
    /// reported, or that ended more than a grace ago (`since_record_ns`: now,
    /// from the start of the recorded window).
    pub fn pump(&mut self, since_record_ns: Option<u64>) {
        while let Ok(t) = self.inbox.try_recv() {
            if t.index < self.next {
                continue;
            }
            let from_ns = t.index.saturating_mul(NS_PER_S);
            let span_ns = self.window_ns.saturating_sub(from_ns).min(NS_PER_S);
            let (count, tick) = self.pending.entry(t.index).or_insert_with(|| {
                (
                    0,
                    Tick {
                        second: t.index + 1,
                        span_s: span_ns as f64 / 1e9,
                        requests: 0,
                        errors: 0,
                        latency: new_histogram(),
                    },
                )
            });
            *count += 1;
            tick.requests += t.requests;
            tick.errors += t.errors;
            // Same bounds on both sides, so adding cannot fail.
            let _ = tick.latency.add(&t.latency);
        }
        while let Some(entry) = self.pending.first_entry() {
            let index = *entry.key();
            let overdue =
                since_record_ns.is_none_or(|now| now >= (index + 1) * NS_PER_S + GRACE_NS);
            if entry.get().0 < self.threads && !overdue {
                break;
            }
            let (_, tick) = entry.remove();
            self.next = index + 1;
            // The caller may have stopped listening; the run goes on.
            let _ = self.out.send(tick);
        }
    }

    /// Hands over everything left (the threads have ended).
    pub fn flush(mut self) {
        self.pump(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn tick(index: u64, requests: u64, latency_ns: u64) -> ThreadTick {
        let mut latency = new_histogram();
        latency.saturating_record(latency_ns);
        ThreadTick {
            index,
            requests,
            errors: 0,
            latency,
        }
    }

    #[test]
    fn a_second_goes_out_once_every_thread_reported_it_or_its_grace_is_over() {
        let (tx, rx) = mpsc::channel();
        let (out, got) = mpsc::channel();
        let mut m = Merger::new(rx, out, 2, 2_500_000_000);
        tx.send(tick(0, 3, 1_000)).unwrap();
        m.pump(Some(NS_PER_S));
        assert!(got.try_recv().is_err(), "the other thread has not reported");
        tx.send(tick(0, 5, 9_000)).unwrap();
        tx.send(tick(1, 7, 2_000)).unwrap();
        m.pump(Some(NS_PER_S + 1));
        let first = got.try_recv().expect("second 1, both threads");
        assert_eq!((first.second, first.requests), (1, 8));
        assert_eq!(first.latency.len(), 2);
        assert!(got.try_recv().is_err(), "second 2 waits for its grace");
        m.pump(Some(2 * NS_PER_S + GRACE_NS));
        assert_eq!(got.try_recv().expect("second 2, overdue").requests, 7);
        // The last second is half a second long: its rate is over that half.
        tx.send(tick(2, 10, 2_000)).unwrap();
        tx.send(tick(0, 1, 1_000)).unwrap();
        m.flush();
        let last = got.try_recv().expect("the last second, flushed");
        assert_eq!(last.second, 3);
        assert!((last.rate_rps() - 20.0).abs() < 1e-9);
        assert!(
            got.try_recv().is_err(),
            "a late report of a second already out is dropped"
        );
    }
}
