//! Grouped bar charts: hatched bars, error bars, value labels.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{draw_frame, Chart, Frame, LegendKey};
use super::marks::{hatch_segments, hatch_style, marker, series_color, whisker};
use super::numbers::time_unit_of;
use super::scale::{self, Axis};
use super::{legend, text, Bar, BarChart, BarGroup, DrawResult, Plot, Scale};

impl Plot for BarChart {
    fn plot<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let ncat = self.categories.len();
        let bars = |g: &BarGroup| -> Vec<(usize, Bar)> {
            g.values
                .iter()
                .take(ncat)
                .enumerate()
                .filter_map(|(c, b)| Some((c, (*b)?)))
                .filter(|(_, b)| scale::usable(self.y_scale, b.value))
                .collect()
        };
        let ys: Vec<f64> = self
            .groups
            .iter()
            .flat_map(|g| bars(g).into_iter())
            .flat_map(|(_, b)| {
                let (a, c) = b.spread.unwrap_or((b.value, b.value));
                [b.value, a, c]
            })
            .filter(|v| scale::usable(self.y_scale, *v))
            .collect();
        let (y_label, y_time) = time_unit_of(&self.y_label);
        let y = Axis::numeric(self.y_scale, &ys, true, 0.12).with_time(y_time);
        let frame = Frame {
            title: &self.title,
            caption: &self.caption,
            footnote: &self.footnote,
            x_label: "",
            y_label: &y_label,
            legend: legend(
                self.groups.iter().map(|g| g.name.as_str()),
                self.groups.iter().map(|g| !bars(g).is_empty()),
                if self.y_scale == Scale::Log10 {
                    LegendKey::Dot
                } else {
                    LegendKey::Bar
                },
            ),
            has_data: !ys.is_empty(),
            x: Axis::categories(&self.categories),
            y,
        };
        let ngroups = self.groups.len().max(1);
        // Each category gets 0.8 of its unit width, split evenly among groups.
        let slot = 0.8 / ngroups as f64;
        draw_frame(root, &frame, |chart| {
            let base = frame.y.base();
            let mut labels = Vec::new();
            for (i, group) in self.groups.iter().enumerate() {
                let drawn = bars(group);
                for c in 0..ncat {
                    let x0 = c as f64 + 0.1 + i as f64 * slot;
                    let centre = x0 + slot / 2.0;
                    let found = drawn.iter().find(|(at, _)| *at == c);
                    let Some((bar, top)) =
                        found.and_then(|(_, b)| Some((b, frame.y.to_coord(b.value)?)))
                    else {
                        // Say so, or a missing bar reads as a zero.
                        if frame.has_data {
                            labels.push(ValueLabel {
                                x: centre,
                                y: base,
                                text: "n/a".into(),
                                below: false,
                            });
                        }
                        continue;
                    };
                    if frame.y.scale == Scale::Log10 {
                        // A dot, not a bar: length from a log floor means nothing.
                        chart.plotting_area().draw(&marker((centre, top), i))?;
                    } else {
                        draw_bar(chart, (x0 + slot * 0.06, base), (x0 + slot * 0.94, top), i)?;
                    }
                    let bar_ends = bar.spread.and_then(|(a, b)| frame.y.to_bar(a, b));
                    if let Some((lo, hi)) = bar_ends {
                        for part in whisker(centre, lo, hi, BLACK) {
                            chart.plotting_area().draw(&part)?;
                        }
                    }
                    // Above a bar that grows upwards, below one that hangs down.
                    let below = top < base;
                    let (lo, hi) = bar_ends.unwrap_or((top, top));
                    let y = if below { lo.min(top) } else { hi.max(top) };
                    labels.push(ValueLabel {
                        x: centre,
                        y,
                        text: frame.y.value_label(bar.value),
                        below,
                    });
                }
            }
            draw_value_labels(chart, &labels, slot)
        })
    }
}

/// One bar of group `group` between two data corners: fill, the group's
/// hatching (pixel lines anchored at the top-left corner), outline.
fn draw_bar<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (l, base): (f64, f64),
    (r, top): (f64, f64),
    group: usize,
) -> DrawResult<DB> {
    let corners = [(l, base), (r, top)];
    chart.draw_series([Rectangle::new(corners, series_color(group).filled())])?;
    let (a, b) = (
        chart.backend_coord(&corners[0]),
        chart.backend_coord(&corners[1]),
    );
    let anchor = (l, base.max(top));
    let lines = hatch_segments(group, (b.0 - a.0).abs(), (b.1 - a.1).abs());
    chart.draw_series(
        lines
            .into_iter()
            .map(|[p, q]| EmptyElement::at(anchor) + PathElement::new(vec![p, q], hatch_style())),
    )?;
    chart.draw_series([Rectangle::new(
        corners,
        RGBColor(0x1A, 0x1A, 0x1A).stroke_width(1),
    )])?;
    Ok(())
}

/// A bar's value, written at the end of the bar (and its error bar).
struct ValueLabel {
    x: f64,
    y: f64,
    text: String,
    /// Under the point (a bar hanging below zero) rather than above it.
    below: bool,
}

/// Value labels at the bars, in the largest of a few sizes at which the
/// widest one fits its bar's slot; left out if none does.
fn draw_value_labels<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    labels: &[ValueLabel],
    slot: f64,
) -> DrawResult<DB> {
    let slot_px = chart.backend_coord(&(slot, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0;
    let area = chart.plotting_area();
    for px in [13.0, 11.0, 9.5] {
        let style = text(px, RGBColor(0x22, 0x22, 0x22));
        let mut widest = 0;
        for label in labels {
            widest = widest.max(area.estimate_text_size(&label.text, &style)?.0 as i32);
        }
        if widest + 2 <= slot_px {
            let elements = labels.iter().map(|label| {
                let (v, dy) = if label.below {
                    (VPos::Top, 4)
                } else {
                    (VPos::Bottom, -4)
                };
                let style = style.pos(Pos::new(HPos::Center, v));
                EmptyElement::at((label.x, label.y)) + Text::new(label.text.clone(), (0, dy), style)
            });
            chart.draw_series(elements)?;
            break;
        }
    }
    Ok(())
}
