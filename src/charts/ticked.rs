//! The plotters coordinate every chart is drawn on: a plain `f64` range
//! whose ticks come from [`super::scale::Axis`] rather than from plotters.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// A linear `f64` coordinate whose ticks (bold: labelled, light: minor
/// grid) are given rather than computed by plotters.
#[derive(Debug, Clone)]
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
}

impl Ranged for Ticked {
    // Labels come from `Axis::label` through the mesh's label formatters.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (from, to): (i32, i32)) -> i32 {
        let share = (v - self.lo) / (self.hi - self.lo);
        if !share.is_finite() {
            return (from + to) / 2;
        }
        from + (f64::from(to - from) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}
