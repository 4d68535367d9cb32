//! Figures from the server's own summary line (`servers::Summary`), over the
//! usable repeats of a point: what the server counted itself, which the load
//! generator cannot see — connections per worker, accepts that found nothing,
//! connections it refused. The load report's figures live in `measures.rs`.

use servers::Summary;

use super::interval::{ratio_of_medians, Ratio};
use super::stats::{stat, Stat};
use crate::results::{Outcome, Points};

/// Accepts that found nothing per accepted connection (the server's whole life).
pub fn empty_per_conn(s: &Summary, _workers: usize) -> Option<f64> {
    (s.connections > 0).then(|| s.empty_accepts as f64 / s.connections as f64)
}

/// Most connections one worker took over the fewest (a worker that took
/// none counts as one); `None` for a model without named workers.
pub fn balance(s: &Summary, workers: usize) -> Option<f64> {
    if s.per_worker.is_empty() || workers < 2 {
        return None;
    }
    let mut counts = s.per_worker.clone();
    // Trailing workers that took nothing are not listed.
    counts.resize(workers.max(counts.len()), 0);
    let max = counts.iter().copied().max()?;
    let min = counts.iter().copied().min()?.max(1);
    Some(max as f64 / min as f64)
}

/// A figure of the server's own summary, over the usable repeats of one point.
pub type SummaryFigure = fn(&Summary, usize) -> Option<f64>;

pub fn summary_values(points: &Points<'_>, series: &str, x: f64, f: SummaryFigure) -> Vec<f64> {
    super::stats::repeats_at(points, series, x)
        .iter()
        .filter(|m| m.outcome == Outcome::Ok)
        .filter_map(|m| f(m.server_summary.as_ref()?, x as usize))
        .collect()
}

pub fn summary_at(points: &Points<'_>, series: &str, x: f64, f: SummaryFigure) -> Option<Stat> {
    stat(&summary_values(points, series, x, f))
}

pub fn summary_ratio(
    points: &Points<'_>,
    a: (&str, f64),
    b: (&str, f64),
    f: SummaryFigure,
) -> Option<Ratio> {
    ratio_of_medians(
        &summary_values(points, a.0, a.1, f),
        &summary_values(points, b.0, b.1, f),
    )
}

/// Connections the server turned away itself (select past FD_SETSIZE, a
/// connection or resource limit).
pub fn refused(s: &Summary, _workers: usize) -> Option<f64> {
    Some((s.errors.refused + s.errors.resource) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_counts_workers_that_took_nothing() {
        let s = Summary {
            per_worker: vec![10, 5],
            ..Summary::default()
        };
        assert_eq!(balance(&s, 2), Some(2.0));
        // Two more workers existed and took nothing (each counts as one).
        assert_eq!(balance(&s, 4), Some(10.0));
        assert_eq!(balance(&Summary::default(), 8), None);
    }
}
