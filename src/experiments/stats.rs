//! Repeats into figures: medians with their spread, and the small helpers
//! every analysis uses to turn stored measurements into tables and series.

use loadgen::LoadReport;

use crate::charts::{Point as ChartPoint, Series};
use crate::results::{Measurement, OrderedX, Points};

/// A figure over repeats: the median and its spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub median: f64,
    /// Lower end of the spread: the distribution-free 95% confidence interval
    /// of the median when there are at least 6 repeats, else the minimum.
    pub lo: f64,
    /// Upper end of the spread (CI or maximum, as `lo`).
    pub hi: f64,
    pub n: usize,
    /// Whether `lo..hi` is a confidence interval (else min..max).
    pub is_ci: bool,
}

impl Stat {
    /// The spread of the median as a bracket for a "because" sentence, the
    /// median scaled by `scale` first (100 for a percentage):
    /// " [95% CI 0.03–0.05]", " [min–max 0.03–0.05 of 3 repeats]", or
    /// " (one repeat)".
    pub fn interval(&self, digits: usize, scale: f64) -> String {
        let (lo, hi) = (self.lo * scale, self.hi * scale);
        match (self.n, self.is_ci) {
            (1, _) => " (one repeat)".to_string(),
            (_, true) => format!(" [95% CI {lo:.digits$}–{hi:.digits$}]"),
            (n, false) => format!(" [min–max {lo:.digits$}–{hi:.digits$} of {n} repeats]"),
        }
    }
}

/// The median and spread of `values` (NaNs ignored); `None` if empty.
pub fn stat(values: &[f64]) -> Option<Stat> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = super::interval::median_sorted(&v);
    // Distribution-free 95% CI of the median from order statistics (exact
    // binomial ranks); below six repeats none exists, so min–max is shown.
    let (lo, hi, is_ci) = match super::interval::median_ci_ranks(n) {
        Some((j, k)) => (v[j], v[k], true),
        None => (v[0], v[n - 1], false),
    };
    Some(Stat {
        median,
        lo,
        hi,
        n,
        is_ci,
    })
}

/// The figure `f` over the usable repeats of one point.
pub fn over(repeats: &[&Measurement], f: impl Fn(&LoadReport) -> Option<f64>) -> Option<Stat> {
    let values: Vec<f64> = repeats
        .iter()
        .filter_map(|m| m.ok_report())
        .filter_map(&f)
        .collect();
    stat(&values)
}

/// One chart series per series of `points`, y = median of `f`, spread as error bars.
pub fn series(points: &Points<'_>, f: impl Fn(&LoadReport) -> Option<f64> + Copy) -> Vec<Series> {
    points
        .iter()
        .map(|(name, xs)| Series {
            name: name.clone(),
            points: xs
                .iter()
                .filter_map(|(x, repeats)| {
                    over(repeats, f).map(|s| ChartPoint {
                        x: x.0,
                        y: s.median,
                        spread: (s.n > 1).then_some((s.lo, s.hi)),
                    })
                })
                .collect(),
        })
        .collect()
}

/// Every repeat of one series at one x (none if it was not measured).
pub fn repeats_at<'p, 'm>(points: &'p Points<'m>, series: &str, x: f64) -> &'p [&'m Measurement] {
    points
        .get(series)
        .and_then(|xs| xs.get(&OrderedX(x)))
        .map_or(&[], Vec::as_slice)
}

/// The values of `f` over the usable repeats of one series at one x.
pub fn values_at(
    points: &Points<'_>,
    series: &str,
    x: f64,
    f: impl Fn(&LoadReport) -> Option<f64>,
) -> Vec<f64> {
    repeats_at(points, series, x)
        .iter()
        .filter_map(|m| m.ok_report())
        .filter_map(&f)
        .collect()
}

/// The ratio of the medians of `f` at two points (series, x), with its
/// bootstrap interval over repeats.
pub fn ratio_at(
    points: &Points<'_>,
    a: (&str, f64),
    b: (&str, f64),
    f: impl Fn(&LoadReport) -> Option<f64> + Copy,
) -> Option<super::interval::Ratio> {
    super::interval::ratio_of_medians(
        &values_at(points, a.0, a.1, f),
        &values_at(points, b.0, b.1, f),
    )
}

/// The stat of `f` for one series at one x, if measured.
pub fn at(
    points: &Points<'_>,
    series: &str,
    x: f64,
    f: impl Fn(&LoadReport) -> Option<f64>,
) -> Option<Stat> {
    over(points.get(series)?.get(&OrderedX(x))?, f)
}

/// The stat of `f` for one series at its largest x.
pub fn at_max_x(
    points: &Points<'_>,
    series: &str,
    f: impl Fn(&LoadReport) -> Option<f64>,
) -> Option<(f64, Stat)> {
    let (x, repeats) = points.get(series)?.iter().next_back()?;
    over(repeats, f).map(|s| (x.0, s))
}

pub fn throughput(r: &LoadReport) -> Option<f64> {
    Some(r.throughput_rps)
}

pub fn p50_us(r: &LoadReport) -> Option<f64> {
    (r.latency_ns.count > 0).then(|| r.latency_ns.p50 as f64 / 1000.0)
}

pub fn p99_us(r: &LoadReport) -> Option<f64> {
    (r.latency_ns.count > 0).then(|| r.latency_ns.p99 as f64 / 1000.0)
}

pub fn errors(r: &LoadReport) -> Option<f64> {
    Some(r.errors.total as f64)
}

/// "12.3 ± spread" style cell: the median, and the spread in brackets.
pub fn cell(s: Option<Stat>, digits: usize) -> String {
    match s {
        None => "–".to_string(),
        Some(s) if s.n == 1 => format!("{:.*}", digits, s.median),
        Some(s) => format!(
            "{:.*} [{:.*}–{:.*}]",
            digits, s.median, digits, s.lo, digits, s.hi
        ),
    }
}

/// A markdown table.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.header.join(" | "));
        out.push_str(&format!("|{}\n", " --- |".repeat(self.header.len())));
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

/// A ratio `a / b` if both are known and `b` is positive.
pub fn ratio(a: Option<Stat>, b: Option<Stat>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    }
}

/// One bar group: `f` for each of `categories` (series names) at `x`.
pub fn bar_group(
    name: &str,
    points: &Points<'_>,
    categories: &[String],
    x: f64,
    f: impl Fn(&LoadReport) -> Option<f64> + Copy,
) -> crate::charts::BarGroup {
    crate::charts::BarGroup {
        name: name.to_string(),
        values: categories
            .iter()
            .map(|c| {
                at(points, c, x, f).map(|s| crate::charts::Bar {
                    value: s.median,
                    spread: (s.n > 1).then_some((s.lo, s.hi)),
                })
            })
            .collect(),
    }
}

/// The points of the named series only (for a chart of part of an experiment).
pub fn only<'a>(points: &Points<'a>, names: &[&str]) -> Points<'a> {
    points
        .iter()
        .filter(|(k, _)| names.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Chooses a verdict from a ratio: supported at or above `yes`, not supported at or below `no`.
pub fn verdict_from_ratio(r: f64, yes: f64, no: f64) -> super::Verdict {
    if r >= yes {
        super::Verdict::Supported
    } else if r <= no {
        super::Verdict::NotSupported
    } else {
        super::Verdict::Depends
    }
}

/// Every x measured in any series, ascending.
pub fn all_x(points: &Points<'_>) -> Vec<f64> {
    let set: std::collections::BTreeSet<crate::results::OrderedX> =
        points.values().flat_map(|v| v.keys().copied()).collect();
    set.into_iter().map(|x| x.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = stat(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.lo, s.hi, s.is_ci), (2.0, 1.0, 3.0, false));
        let s = stat(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(stat(&[]).is_none());
        assert!(stat(&[f64::NAN]).is_none());
    }

    #[test]
    fn ci_of_the_median_with_enough_repeats() {
        let v: Vec<f64> = (1..=9).map(f64::from).collect();
        let s = stat(&v).unwrap();
        assert!(s.is_ci);
        assert_eq!(s.median, 5.0);
        assert!(
            s.lo >= 1.0 && s.lo < 5.0 && s.hi > 5.0 && s.hi <= 9.0,
            "{s:?}"
        );
    }
}
