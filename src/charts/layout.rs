//! The page every chart shares: title on top, footnote at the bottom, the
//! legend in its own panel on the right (so it never hides data), and the
//! plot with its axes in between.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::marks::{hatch_segments, hatch_style, marker, series_color};
use super::scale::Axis;
use super::ticked::Ticked;
use super::wrap::{fit, wrap, wrap_tokens};
use super::{text, DrawResult, Scale};

/// The chart context every body draws into.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// How a legend entry is keyed: a line with the series marker, or a bar swatch.
#[derive(Debug, Clone, Copy)]
pub(super) enum LegendKey {
    Line(usize),
    Bar(usize),
    /// The series marker alone (bars drawn as dots on a log axis).
    Dot(usize),
}

/// Everything around the data.
pub(super) struct Frame<'a> {
    pub(super) title: &'a str,
    /// What the error bars are, one small line under the title.
    pub(super) caption: &'a str,
    pub(super) footnote: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) legend: Vec<(String, LegendKey)>,
    /// False: draw the axes and a "no data" note.
    pub(super) has_data: bool,
}

// Sizes in pixels, for a 1000×620 page.
const PAD: i32 = 14;
const TITLE_PX: f64 = 24.0;
const AXIS_DESC_PX: f64 = 17.0;
const TICK_PX: f64 = 15.0;
const LEGEND_PX: f64 = 15.0;
const FOOT_PX: f64 = 14.0;
const CAPTION_PX: f64 = 14.0;
/// Lines a legend entry may wrap onto before it is shortened.
const LEGEND_MAX_LINES: usize = 3;
const LEGEND_ROW: i32 = 24;
const LEGEND_KEY_W: i32 = 36;
const LEGEND_MAX_W: i32 = 260;

const INK: RGBColor = RGBColor(0x1A, 0x1A, 0x1A);
const SOFT_INK: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xD4, 0xD4, 0xD4);
const MINOR_GRID: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

/// Draws the page and axes of `frame`, then calls `body` to draw the data.
pub(super) fn draw_frame<DB, F>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    body: F,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    F: FnOnce(&mut Chart<'_, DB>) -> DrawResult<DB>,
{
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);

    let foot_style = text(FOOT_PX, SOFT_INK);
    let foot = wrap(root, frame.footnote, &foot_style, w - 2 * PAD, 3)?;
    let foot_line = (FOOT_PX * 1.3) as i32;
    let foot_h = if foot.is_empty() {
        PAD / 2
    } else {
        foot.len() as i32 * foot_line + PAD
    };
    for (i, line) in foot.iter().enumerate() {
        let y = h - foot_h + PAD / 2 + i as i32 * foot_line;
        root.draw_text(line, &foot_style, (PAD, y))?;
    }

    let title_style = text(TITLE_PX, INK).pos(Pos::new(HPos::Center, VPos::Top));
    let title = wrap(root, frame.title, &title_style, w - 2 * PAD, 2)?;
    let title_line = (TITLE_PX * 1.25) as i32;
    for (i, line) in title.iter().enumerate() {
        root.draw_text(line, &title_style, (w / 2, PAD + i as i32 * title_line))?;
    }
    let mut top = PAD + title.len() as i32 * title_line + PAD / 2;
    let caption_style = text(CAPTION_PX, SOFT_INK).pos(Pos::new(HPos::Center, VPos::Top));
    let caption_line = (CAPTION_PX * 1.3) as i32;
    for line in wrap(root, frame.caption, &caption_style, w - 2 * PAD, 2)? {
        root.draw_text(&line, &caption_style, (w / 2, top))?;
        top += caption_line;
    }

    let legend_style = text(LEGEND_PX, INK);
    let mut names = Vec::with_capacity(frame.legend.len());
    // Long names wrap onto more lines rather than lose their end.
    for (name, _) in &frame.legend {
        names.push(wrap(
            root,
            name,
            &legend_style,
            LEGEND_MAX_W - LEGEND_KEY_W - 3 * PAD,
            LEGEND_MAX_LINES,
        )?);
    }
    let mut text_w = 0;
    for line in names.iter().flatten() {
        text_w = text_w.max(root.estimate_text_size(line, &legend_style)?.0 as i32);
    }
    let legend_w = if names.is_empty() {
        0
    } else {
        LEGEND_KEY_W + text_w + 3 * PAD
    };

    let tick_style = text(TICK_PX, INK);
    let desc_style = text(AXIS_DESC_PX, INK);
    let mut y_tick_w = 0;
    for label in frame.y.tick_labels() {
        y_tick_w = y_tick_w.max(root.estimate_text_size(&label, &tick_style)?.0 as i32);
    }
    let y_area = y_tick_w
        + 14
        + if frame.y_label.is_empty() {
            0
        } else {
            (AXIS_DESC_PX * 1.6) as i32
        };
    let x_desc_h = if frame.x_label.is_empty() {
        0
    } else {
        (AXIS_DESC_PX * 1.5) as i32
    };
    let categories = if frame.x.is_categorical() {
        let plot_w = w - legend_w - y_area - PAD - PAD / 2;
        let slot = plot_w / frame.x.category_names().len().max(1) as i32 - 6;
        Some(CategoryLabels::fit(root, frame.x.category_names(), slot)?)
    } else {
        None
    };
    let x_area = match &categories {
        Some(labels) => labels.height + 12 + x_desc_h,
        None => (TICK_PX * 1.6) as i32 + x_desc_h,
    };

    let plot_area = root.margin(top, foot_h, 0, legend_w);
    let x = &frame.x;
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(PAD / 2)
        .margin_right(PAD)
        .margin_top(PAD / 2)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x.coord(), frame.y.coord())?;
    let x_fmt = |t: &f64| x.label(*t);
    let y_fmt = |t: &f64| frame.y.label(*t);
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(tick_style.clone())
        .axis_desc_style(desc_style.clone())
        .axis_style(INK.stroke_width(1))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(MINOR_GRID.stroke_width(1))
        .set_all_tick_mark_size(5);
    if x.is_categorical() {
        mesh.disable_x_mesh();
    }
    if !frame.x_label.is_empty() {
        mesh.x_desc(frame.x_label);
    }
    if !frame.y_label.is_empty() {
        mesh.y_desc(frame.y_label);
    }
    mesh.draw()?;
    if frame.y.scale == Scale::Linear && frame.y.lo < 0.0 && frame.y.hi > 0.0 {
        // Values on both sides of zero: make zero the line to read from.
        let zero = PathElement::new(vec![(x.lo, 0.0), (x.hi, 0.0)], INK.stroke_width(1));
        chart.plotting_area().draw(&zero)?;
    }
    if let Some(labels) = &categories {
        labels.draw(root, &chart, x)?;
    }

    body(&mut chart)?;

    if !frame.has_data {
        let note = text(AXIS_DESC_PX * 1.2, SOFT_INK).pos(Pos::new(HPos::Center, VPos::Center));
        let centre = ((x.lo + x.hi) / 2.0, (frame.y.lo + frame.y.hi) / 2.0);
        chart.draw_series([Text::new("no data", centre, note)])?;
    }

    let (plot_top, plot_right) = (chart.backend_coord(&(x.lo, frame.y.hi)).1, w - legend_w);
    let entries: Vec<(Vec<String>, LegendKey)> = names
        .into_iter()
        .zip(frame.legend.iter().map(|(_, key)| *key))
        .collect();
    draw_legend(
        root,
        &entries,
        (plot_right, plot_top),
        legend_w - PAD,
        &legend_style,
    )
}

/// The legend box: white, thin grey border, one row per entry.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(Vec<String>, LegendKey)],
    (left, top): (i32, i32),
    width: i32,
    style: &TextStyle<'_>,
) -> DrawResult<DB> {
    if entries.is_empty() {
        return Ok(());
    }
    let line_h = (LEGEND_PX * 1.25) as i32;
    // A row is one key high, or as high as its wrapped name.
    let row_h =
        |lines: &[String]| LEGEND_ROW.max(LEGEND_ROW - line_h + lines.len() as i32 * line_h);
    let height = entries.iter().map(|(l, _)| row_h(l)).sum::<i32>() + PAD;
    let corners = [(left, top), (left + width, top + height)];
    root.draw(&Rectangle::new(corners, WHITE.filled()))?;
    root.draw(&Rectangle::new(
        corners,
        RGBColor(0x99, 0x99, 0x99).stroke_width(1),
    ))?;
    let style = style.pos(Pos::new(HPos::Left, VPos::Center));
    let mut row_top = top + PAD / 2;
    for (lines, key) in entries {
        // The key sits beside the first line of its name.
        let y = row_top + LEGEND_ROW / 2;
        let x = left + PAD / 2;
        match *key {
            LegendKey::Line(s) => {
                let line = series_color(s).stroke_width(2);
                root.draw(&PathElement::new(vec![(x, y), (x + LEGEND_KEY_W, y)], line))?;
                root.draw(&marker((x + LEGEND_KEY_W / 2, y), s))?;
            }
            LegendKey::Dot(s) => root.draw(&marker((x + LEGEND_KEY_W / 2, y), s))?,
            LegendKey::Bar(g) => {
                let (l, t) = (x + 4, y - 8);
                let (r, b) = (x + LEGEND_KEY_W - 4, y + 8);
                root.draw(&Rectangle::new([(l, t), (r, b)], series_color(g).filled()))?;
                for [p, q] in hatch_segments(g, r - l, b - t) {
                    root.draw(&PathElement::new(
                        vec![(l + p.0, t + p.1), (l + q.0, t + q.1)],
                        hatch_style(),
                    ))?;
                }
                root.draw(&Rectangle::new([(l, t), (r, b)], INK.stroke_width(1)))?;
            }
        }
        for (k, line) in lines.iter().enumerate() {
            let at = (x + LEGEND_KEY_W + PAD / 2, y + k as i32 * line_h);
            root.draw_text(line, &style, at)?;
        }
        row_top += row_h(lines);
    }
    Ok(())
}

/// Category names under their slots: on one line if they fit, else
/// wrapped after spaces and dashes onto two, else turned vertical.
struct CategoryLabels {
    lines: Vec<Vec<String>>,
    style: TextStyle<'static>,
    line_h: i32,
    rotated: bool,
    /// Pixels the labels need below the axis.
    height: i32,
}

impl CategoryLabels {
    fn fit<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        names: &[String],
        slot: i32,
    ) -> Result<CategoryLabels, DrawingAreaErrorKind<DB::ErrorType>> {
        for (max_lines, px) in [(1, TICK_PX), (1, 13.0), (2, TICK_PX), (2, 13.0), (3, 13.0)] {
            let style = text(px, INK).pos(Pos::new(HPos::Center, VPos::Top));
            let mut lines = Vec::new();
            let mut fits = true;
            for name in names {
                let tokens: Vec<&str> = name.split_inclusive([' ', '-', '_', '/']).collect();
                let wrapped = wrap_tokens(area, &tokens, "", &style, slot, usize::MAX)?;
                fits &= wrapped.len() <= max_lines;
                lines.push(wrapped);
            }
            if fits {
                let line_h = (px * 1.25) as i32;
                let height = lines.iter().map(Vec::len).max().unwrap_or(1) as i32 * line_h;
                return Ok(CategoryLabels {
                    lines,
                    style,
                    line_h,
                    rotated: false,
                    height,
                });
            }
        }
        let style = text(13.0, INK)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let (mut lines, mut height) = (Vec::new(), 0);
        for name in names {
            let short = fit(area, name, &style, 150)?;
            height = height.max(area.estimate_text_size(&short, &style)?.0 as i32);
            lines.push(vec![short]);
        }
        Ok(CategoryLabels {
            lines,
            style,
            line_h: 0,
            rotated: true,
            height,
        })
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &Chart<'_, DB>,
        x: &Axis,
    ) -> DrawResult<DB> {
        let bottom = chart.backend_coord(&(x.lo, chart.y_range().start)).1 + 9;
        for (i, lines) in self.lines.iter().enumerate() {
            let centre = chart.backend_coord(&(i as f64 + 0.5, 0.0)).0;
            for (k, line) in lines.iter().enumerate() {
                // Rotated text is anchored at its end, so it hangs below the axis.
                let y = bottom
                    + if self.rotated {
                        0
                    } else {
                        k as i32 * self.line_h
                    };
                root.draw_text(line, &self.style, (centre, y))?;
            }
        }
        Ok(())
    }
}
