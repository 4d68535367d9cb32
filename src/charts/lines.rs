//! Line charts and latency spectra: curves with markers and error bars.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::layout::{draw_frame, Chart, Frame, LegendKey};
use super::marks::{marker, series_color, thin_markers, whisker};
use super::numbers::time_unit_of;
use super::scale::{self, Axis};
use super::{legend, DrawResult, LineChart, Plot, Point, Scale, SpectrumChart};

/// A point in axis coordinates (already through the scales) with its error
/// bar ends, if any.
#[derive(Debug, Clone, Copy)]
struct Mapped {
    x: f64,
    y: f64,
    bar: Option<(f64, f64)>,
}

impl LineChart {
    fn mapped(&self, x: &Axis, y: &Axis) -> Vec<Vec<Mapped>> {
        self.series
            .iter()
            .map(|s| {
                let mut pts: Vec<Mapped> = s
                    .points
                    .iter()
                    .filter_map(|p| {
                        Some(Mapped {
                            x: x.to_coord(p.x)?,
                            y: y.to_coord(p.y)?,
                            bar: p.spread.and_then(|(a, b)| y.to_bar(a, b)),
                        })
                    })
                    .collect();
                pts.sort_by(|a, b| a.x.total_cmp(&b.x));
                pts
            })
            .collect()
    }
}

impl Plot for LineChart {
    fn plot<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let valid =
            |p: &&Point| scale::usable(self.x_scale, p.x) && scale::usable(self.y_scale, p.y);
        let points = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(valid)
        };
        let xs: Vec<f64> = points().map(|p| p.x).collect();
        let ys: Vec<f64> = points()
            .flat_map(|p| {
                let (a, b) = p.spread.unwrap_or((p.y, p.y));
                [p.y, a, b]
            })
            .filter(|v| scale::usable(self.y_scale, *v))
            .collect();
        let (x_label, x_time) = time_unit_of(&self.x_label);
        let (y_label, y_time) = time_unit_of(&self.y_label);
        let x = Axis::numeric(self.x_scale, &xs, false, 0.03).with_time(x_time);
        let y = Axis::numeric(self.y_scale, &ys, true, 0.06).with_time(y_time);
        let series = self.mapped(&x, &y);
        let frame = Frame {
            title: &self.title,
            caption: &self.caption,
            footnote: &self.footnote,
            x_label: &x_label,
            y_label: &y_label,
            legend: legend(
                self.series.iter().map(|s| s.name.as_str()),
                series.iter().map(|s| !s.is_empty()),
                LegendKey::Line,
            ),
            has_data: !xs.is_empty(),
            x,
            y,
        };
        draw_frame(root, &frame, |chart| {
            for (i, pts) in series.iter().enumerate() {
                draw_curve(chart, i, series.len(), pts, &frame.x)?;
            }
            Ok(())
        })
    }
}

/// One series: error bars, then the line, then markers on top.
fn draw_curve<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    index: usize,
    count: usize,
    pts: &[Mapped],
    x: &Axis,
) -> DrawResult<DB> {
    let area = chart.plotting_area().clone();
    for p in pts {
        if let Some((lo, hi)) = p.bar {
            for part in whisker(p.x, lo, hi, series_color(index)) {
                area.draw(&part)?;
            }
        }
    }
    let line = series_color(index).stroke_width(2);
    chart.draw_series(LineSeries::new(pts.iter().map(|p| (p.x, p.y)), line))?;
    let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.x, p.y)).collect();
    for at in thin_markers(&xy, x.lo, x.hi, index, count) {
        area.draw(&marker(at, index))?;
    }
    Ok(())
}

impl Plot for SpectrumChart {
    fn plot<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let x =
            |q: f64| (q.is_finite() && (0.0..1.0).contains(&q)).then(|| (1.0 / (1.0 - q)).log10());
        let lat_ok = |v: f64| v.is_finite() && v >= 0.0;
        let valid = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|(q, v)| x(*q).is_some() && lat_ok(*v))
        };
        let ys: Vec<f64> = valid().map(|(_, v)| *v).collect();
        let positive = || ys.iter().copied().filter(|v| *v > 0.0);
        let (min, max) = (
            positive().fold(f64::MAX, f64::min),
            positive().fold(0.0, f64::max),
        );
        let y_scale = if positive().count() == ys.len() && !ys.is_empty() && max / min > 100.0 {
            Scale::Log10
        } else {
            Scale::Linear
        };
        let (y_label, y_time) = time_unit_of(&self.y_label);
        let y = Axis::numeric(y_scale, &ys, true, 0.06).with_time(y_time);
        let xs: Vec<f64> = valid().filter_map(|(q, _)| x(*q)).collect();
        let x_axis = Axis::percentile(&xs);
        let series: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| {
                let mut pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .filter_map(|(q, v)| Some((x(*q)?, y.to_coord(*v)?)))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                pts
            })
            .collect();
        let frame = Frame {
            title: &self.title,
            caption: &self.caption,
            footnote: &self.footnote,
            x_label: "percentile",
            y_label: &y_label,
            legend: legend(
                self.series.iter().map(|s| s.name.as_str()),
                series.iter().map(|s| !s.is_empty()),
                LegendKey::Line,
            ),
            has_data: !xs.is_empty(),
            x: x_axis,
            y,
        };
        draw_frame(root, &frame, |chart| {
            for (i, pts) in series.iter().enumerate() {
                let pts: Vec<Mapped> = pts
                    .iter()
                    .map(|&(x, y)| Mapped { x, y, bar: None })
                    .collect();
                draw_curve(chart, i, series.len(), &pts, &frame.x)?;
            }
            Ok(())
        })
    }
}
