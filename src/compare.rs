//! `sockbench compare OLD NEW`: two results folders side by side, as
//! criterion and hyperfine compare against a baseline. For every point
//! measured in both (same experiment, series and x), each figure's median
//! in the old and the new run, their ratio, and whether the change is
//! beyond both runs' intervals (each median outside the other's spread),
//! which is the only change this data can tell from noise.

use std::collections::BTreeMap;

use loadgen::LoadReport;

use crate::experiments::{stats, Stat};
use crate::results::{Measurement, OrderedX, ResultSet};

/// A figure compared, read from each repeat's report.
pub struct Figure {
    pub name: &'static str,
    pub read: fn(&LoadReport) -> Option<f64>,
}

/// What is compared: the rate and the tail, as every point has both.
pub const FIGURES: [Figure; 2] = [
    Figure {
        name: "throughput_rps",
        read: |r| Some(r.throughput_rps),
    },
    Figure {
        name: "latency_p99_us",
        read: |r| Some(r.latency_ns.p99 as f64 / 1000.0),
    },
];

/// One figure of one point in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub experiment: String,
    pub series: String,
    pub x: f64,
    pub figure: &'static str,
    pub old: Stat,
    pub new: Stat,
}

impl Change {
    /// New over old.
    pub fn ratio(&self) -> f64 {
        self.new.median / self.old.median
    }

    /// Whether each median lies outside the other run's interval: a change
    /// the repeats cannot explain. With one repeat a side there is no
    /// interval, so nothing is ever called significant.
    pub fn beyond_intervals(&self) -> bool {
        let outside = |v: f64, s: &Stat| s.n > 1 && (v < s.lo || v > s.hi);
        outside(self.new.median, &self.old) && outside(self.old.median, &self.new)
    }
}

/// Every figure of every point present (with a usable repeat) in both runs.
pub fn compare(old: &ResultSet, new: &ResultSet) -> Vec<Change> {
    let (old_points, new_points) = (group(old), group(new));
    let mut changes = Vec::new();
    for (key, old_repeats) in &old_points {
        let Some(new_repeats) = new_points.get(key) else {
            continue;
        };
        for figure in &FIGURES {
            let (Some(o), Some(n)) = (
                stats::over(old_repeats, figure.read),
                stats::over(new_repeats, figure.read),
            ) else {
                continue;
            };
            changes.push(Change {
                experiment: key.0.clone(),
                series: key.1.clone(),
                x: key.2 .0,
                figure: figure.name,
                old: o,
                new: n,
            });
        }
    }
    changes
}

type Key = (String, String, OrderedX);

/// The repeats of each point, by (experiment, series, x).
fn group(set: &ResultSet) -> BTreeMap<Key, Vec<&Measurement>> {
    let mut points: BTreeMap<Key, Vec<&Measurement>> = BTreeMap::new();
    for m in &set.measurements {
        points
            .entry((m.experiment.clone(), m.series.clone(), OrderedX(m.x)))
            .or_default()
            .push(m);
    }
    points
}

/// The comparison as an aligned text table, one row per figure.
pub fn table(changes: &[Change]) -> String {
    let spread = |s: &Stat| {
        if s.n > 1 {
            format!("{:.1} [{:.1}, {:.1}]", s.median, s.lo, s.hi)
        } else {
            format!("{:.1}", s.median)
        }
    };
    let rows: Vec<[String; 6]> = changes
        .iter()
        .map(|c| {
            [
                format!("{} {} x={}", c.experiment, c.series, c.x),
                c.figure.to_string(),
                spread(&c.old),
                spread(&c.new),
                format!("{:.3}", c.ratio()),
                if c.beyond_intervals() {
                    "changed".to_string()
                } else {
                    "within noise".to_string()
                },
            ]
        })
        .collect();
    let head = ["point", "figure", "old", "new", "new/old", "verdict"].map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&head).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&head).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(median: f64, lo: f64, hi: f64, n: usize) -> Stat {
        Stat {
            median,
            lo,
            hi,
            n,
            is_ci: false,
        }
    }

    fn change(old: Stat, new: Stat) -> Change {
        Change {
            experiment: "e".into(),
            series: "s".into(),
            x: 1.0,
            figure: "throughput_rps",
            old,
            new,
        }
    }

    #[test]
    fn a_change_counts_only_beyond_both_intervals() {
        let apart = change(stat(100.0, 95.0, 105.0, 3), stat(200.0, 190.0, 210.0, 3));
        assert!(apart.beyond_intervals());
        assert_eq!(apart.ratio(), 2.0);
        // The new median is outside the old spread, but the old median is
        // inside the new one (a wide new spread): not beyond both.
        let wide = change(stat(100.0, 95.0, 105.0, 3), stat(120.0, 90.0, 150.0, 3));
        assert!(!wide.beyond_intervals());
        let single = change(stat(100.0, 100.0, 100.0, 1), stat(200.0, 200.0, 200.0, 1));
        assert!(!single.beyond_intervals(), "one repeat has no interval");
    }

    #[test]
    fn the_table_has_a_row_per_change() {
        let t = table(&[change(
            stat(100.0, 95.0, 105.0, 3),
            stat(200.0, 190.0, 210.0, 3),
        )]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(lines[1].contains("100.0 [95.0, 105.0]") && lines[1].contains("2.000"));
        assert!(lines[1].ends_with("changed"), "{t}");
    }
}
