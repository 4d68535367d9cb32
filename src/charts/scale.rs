//! Axes: which values a scale can show, the range, where the ticks go and
//! how their labels read.
//!
//! Every chart is drawn on plain `f64` coordinates; a log axis holds
//! `log10(value)`, so one coordinate type serves all scale combinations and
//! the ticks are chosen here rather than by plotters.

use super::numbers::{
    distinct_sig, fmt_sig, fmt_time, fmt_times_shared, min_max, nice_step, snap_125, TimeUnit,
};
use super::ticked::Ticked;
use super::Scale;

/// Whether `scale` can place `v` at all.
pub(super) fn usable(scale: Scale, v: f64) -> bool {
    match scale {
        Scale::Linear => v.is_finite(),
        Scale::Log10 => v.is_finite() && v > 0.0,
    }
}

/// How tick values turn into labels.
#[derive(Debug, Clone)]
enum Labels {
    /// The value (through `10^` on a log axis), `sig` significant digits.
    Compact { sig: usize },
    /// A percentile axis in `log10(1/(1-q))`: 0%, 90%, 99%, 99.9%, …
    Percentile,
    /// Category names at the centres of unit-wide slots.
    Categories(Vec<String>),
}

/// One axis, in coordinates (after the scale's transform).
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) scale: Scale,
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// Labelled ticks and the major grid.
    bold: Vec<f64>,
    /// The minor grid (2…9 within decades on log axes).
    light: Vec<f64>,
    labels: Labels,
    /// Values are durations in this unit: labels read 250 µs, 10 ms, 1.5 s.
    time: Option<TimeUnit>,
}

use super::numbers::EPS;

impl Axis {
    /// A numeric axis over `values` (already usable on `scale`).
    /// A `value_axis` (y: rates, latencies) starts at 0 when linear, on a
    /// round step when logarithmic, and ends on a round step; `pad` is the
    /// fraction of the data's span added as room beyond it (at the top only
    /// for a value axis).
    pub(super) fn numeric(scale: Scale, values: &[f64], value_axis: bool, pad: f64) -> Axis {
        match scale {
            Scale::Linear => Self::linear(values, value_axis, pad),
            Scale::Log10 => {
                let logs: Vec<f64> = values.iter().map(|v| v.log10()).collect();
                Self::log(&logs, value_axis, pad)
            }
        }
    }

    fn linear(values: &[f64], value_axis: bool, pad: f64) -> Axis {
        let (mut lo, mut hi) = min_max(values).unwrap_or((0.0, 1.0));
        if value_axis {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let half = (hi.abs() * 0.1).max(1.0);
            (lo, hi) = if value_axis && lo == 0.0 {
                (0.0, 2.0 * half)
            } else {
                (lo - half, hi + half)
            };
        }
        let span = hi - lo;
        if !(value_axis && lo == 0.0) {
            lo -= span * pad;
        }
        if !(value_axis && hi == 0.0) {
            hi += span * pad;
        }
        let step = nice_step((hi - lo) / 6.0);
        if value_axis {
            // End a value axis on a labelled tick.
            (lo, hi) = (
                (lo / step + EPS).floor() * step,
                (hi / step - EPS).ceil() * step,
            );
        }
        let first = (lo / step - EPS).ceil() as i64;
        let last = (hi / step + EPS).floor() as i64;
        let bold: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
        let sig = distinct_sig(&bold, |v| v);
        Axis {
            scale: Scale::Linear,
            lo,
            hi,
            bold,
            light: Vec::new(),
            labels: Labels::Compact { sig },
            time: None,
        }
    }

    /// A log axis over `logs` (values already through `log10`). A value
    /// axis starts and ends on a 1-2-5 step (with `pad` of the span as
    /// headroom above the data); any other axis is padded by `pad` on both
    /// sides.
    fn log(logs: &[f64], value_axis: bool, pad: f64) -> Axis {
        let (min, max) = min_max(logs).unwrap_or((0.0, 1.0));
        let span = max - min;
        let (lo, hi) = if value_axis {
            // Strictly below the smallest value, so its bar has a height.
            let lo = snap_125(min - 0.02, false);
            // Headroom of at least `pad` decades, even for a single value.
            let hi = snap_125(max + span.max(1.0) * pad, true);
            (
                lo,
                if hi > lo + EPS {
                    hi
                } else {
                    snap_125(hi + 0.1, true)
                },
            )
        } else if span < EPS {
            (min - 0.5, max + 0.5)
        } else {
            (min - span * pad, max + span * pad)
        };
        let mut axis = Axis {
            scale: Scale::Log10,
            lo,
            hi,
            bold: Vec::new(),
            light: Vec::new(),
            labels: Labels::Compact { sig: 3 },
            time: None,
        };
        axis.log_ticks();
        axis
    }

    /// Log ticks: every 1…9 multiple within half a decade, 1-2-3-5 across
    /// about one, 1-2-5 across a few, whole decades beyond (every third past
    /// eight); the other multiples become the minor grid.
    fn log_ticks(&mut self) {
        let decades = self.hi - self.lo;
        let labelled: &[u32] = if decades < 0.6 {
            &[1, 2, 3, 4, 5, 6, 7, 8, 9]
        } else if decades < 1.2 {
            &[1, 2, 3, 5]
        } else if decades < 3.5 {
            &[1, 2, 5]
        } else {
            &[1]
        };
        // Past eight decades, label every third: 1, 1k, 1M, … read well.
        let every = if decades <= 8.0 {
            1
        } else {
            3 * (decades / 24.0).ceil() as i64
        };
        let (mut bold, mut light) = (Vec::new(), Vec::new());
        for d in (self.lo - EPS).floor() as i64..=(self.hi + EPS).floor() as i64 {
            for m in 1..10u32 {
                let t = d as f64 + f64::from(m).log10();
                if t < self.lo - EPS || t > self.hi + EPS {
                    continue;
                }
                if labelled.contains(&m) && (m != 1 || d.rem_euclid(every) == 0) {
                    bold.push(t);
                } else if decades <= 6.0 || m == 1 {
                    light.push(t);
                }
            }
        }
        self.labels = Labels::Compact {
            sig: distinct_sig(&bold, |t| 10f64.powf(t)),
        };
        (self.bold, self.light) = (bold, light);
    }

    /// The percentile axis of a spectrum over `xs = log10(1/(1-q))`: from
    /// 0% to at least 99%, whole decades, one "nine" per decade.
    pub(super) fn percentile(xs: &[f64]) -> Axis {
        let max = xs.iter().copied().fold(0.0, f64::max);
        let hi = (max - 1e-6).ceil().max(2.0);
        Axis {
            scale: Scale::Log10,
            lo: 0.0,
            hi,
            bold: (0..=hi as i64).map(|d| d as f64).collect(),
            light: (0..hi as i64)
                .flat_map(|d| (2..10).map(move |m| d as f64 + f64::from(m).log10()))
                .collect(),
            labels: Labels::Percentile,
            time: None,
        }
    }

    /// Unit-wide slots, one per category, labelled at their centres.
    pub(super) fn categories(names: &[String]) -> Axis {
        Axis {
            scale: Scale::Linear,
            lo: 0.0,
            hi: names.len().max(1) as f64,
            bold: (0..names.len()).map(|i| i as f64 + 0.5).collect(),
            light: Vec::new(),
            labels: Labels::Categories(names.to_vec()),
            time: None,
        }
    }

    pub(super) fn is_categorical(&self) -> bool {
        matches!(self.labels, Labels::Categories(_))
    }

    pub(super) fn category_names(&self) -> &[String] {
        match &self.labels {
            Labels::Categories(names) => names,
            _ => &[],
        }
    }

    /// The coordinate of a data value, or `None` if the scale cannot show it.
    pub(super) fn to_coord(&self, v: f64) -> Option<f64> {
        usable(self.scale, v).then(|| match self.scale {
            Scale::Linear => v,
            Scale::Log10 => v.log10(),
        })
    }

    /// The coordinates of an error bar from `a` to `b`. An end a log axis
    /// cannot show (≤ 0) runs to the bottom of the axis; NaN drops the bar.
    pub(super) fn to_bar(&self, a: f64, b: f64) -> Option<(f64, f64)> {
        let end = |v: f64| match self.scale {
            Scale::Log10 if v <= 0.0 => Some(self.lo),
            _ => self.to_coord(v),
        };
        let (a, b) = (end(a)?, end(b)?);
        Some((a.min(b), a.max(b)))
    }

    /// Where bars start: 0 on a linear axis, the bottom of a log axis.
    pub(super) fn base(&self) -> f64 {
        match self.scale {
            Scale::Linear => 0.0f64.clamp(self.lo, self.hi),
            Scale::Log10 => self.lo,
        }
    }

    /// The same axis, its values durations in `unit` (from the label).
    pub(super) fn with_time(mut self, unit: Option<TimeUnit>) -> Axis {
        self.time = unit;
        self
    }

    /// A data value as a label reads, e.g. above a bar: `1.23k`, `12 ms`.
    pub(super) fn value_label(&self, v: f64) -> String {
        match self.time {
            Some(unit) => fmt_time(v, unit, 3),
            None => fmt_sig(v, 3),
        }
    }

    /// The label of the tick at coordinate `t`.
    pub(super) fn label(&self, t: f64) -> String {
        match &self.labels {
            Labels::Compact { sig } => match (self.scale, self.time) {
                (Scale::Linear, None) => fmt_sig(t, *sig),
                (Scale::Log10, None) => fmt_sig(10f64.powf(t), *sig),
                // One unit along a linear axis, picked by its largest tick.
                (Scale::Linear, Some(unit)) => {
                    let largest = self.bold.iter().fold(0.0f64, |m, b| m.max(b.abs()));
                    fmt_times_shared(&[largest, t], unit, *sig).swap_remove(1)
                }
                (Scale::Log10, Some(unit)) => fmt_time(10f64.powf(t), unit, *sig),
            },
            Labels::Percentile => {
                let decades = t.round().max(0.0);
                let percent = 100.0 * (1.0 - 10f64.powf(-t));
                format!("{:.*}%", (decades as usize).saturating_sub(2), percent)
            }
            Labels::Categories(names) => {
                let i = (t - 0.5).round();
                if i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }

    /// The plotters coordinate for this axis, with our ticks.
    pub(super) fn coord(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            // Category names are drawn by the layout, which can wrap them.
            bold: if self.is_categorical() {
                Vec::new()
            } else {
                self.bold.clone()
            },
            light: self.light.clone(),
        }
    }

    /// All labels this axis will print.
    pub(super) fn tick_labels(&self) -> Vec<String> {
        self.bold.iter().map(|t| self.label(*t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_decades_with_round_labels() {
        let value = Axis::numeric(Scale::Log10, &[3.0, 45_000.0], true, 0.0);
        assert_eq!(value.tick_labels(), ["10", "100", "1k", "10k"]);
        assert_eq!(
            (value.label(value.lo), value.label(value.hi)),
            ("2".into(), "50k".into())
        );
        let bars = Axis::numeric(Scale::Log10, &[500.0], true, 0.1);
        assert_eq!(
            (bars.label(bars.lo), bars.label(bars.hi)),
            ("200".into(), "1k".into())
        );
        let x = Axis::numeric(Scale::Log10, &[1.0, 1000.0], false, 0.03);
        assert_eq!(
            x.tick_labels(),
            ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1k"]
        );
        let narrow = Axis::numeric(Scale::Log10, &[120.0, 800.0], true, 0.0);
        assert_eq!(narrow.tick_labels(), ["100", "200", "300", "500", "1k"]);
        assert_eq!(narrow.label(narrow.lo), "100");
        let wide = Axis::numeric(Scale::Log10, &[2e-3, 1e12], true, 0.0);
        assert_eq!(wide.tick_labels(), ["0.001", "1", "1k", "1M", "1G", "1T"]);
    }

    #[test]
    fn linear_ticks_are_round_and_distinct() {
        let axis = Axis::numeric(Scale::Linear, &[0.0, 47_000.0], true, 0.06);
        assert_eq!(axis.lo, 0.0);
        assert_eq!(axis.tick_labels(), ["0", "10k", "20k", "30k", "40k", "50k"]);
        let tight = Axis::numeric(Scale::Linear, &[1000.1, 1000.6], false, 0.0);
        let labels = tight.tick_labels();
        assert!(labels.windows(2).all(|w| w[0] != w[1]), "{labels:?}");
    }

    #[test]
    fn percentile_labels() {
        let axis = Axis::percentile(&[(1.0f64 / (1.0 - 0.9999)).log10()]);
        assert_eq!(axis.tick_labels(), ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn degenerate_inputs_still_give_an_axis() {
        for axis in [
            Axis::numeric(Scale::Linear, &[], true, 0.1),
            Axis::numeric(Scale::Linear, &[5.0], false, 0.1),
            Axis::numeric(Scale::Log10, &[], false, 0.0),
            Axis::numeric(Scale::Log10, &[7.0], true, 0.1),
        ] {
            assert!(axis.lo < axis.hi, "{axis:?}");
            assert!(!axis.bold.is_empty(), "{axis:?}");
        }
    }
}
