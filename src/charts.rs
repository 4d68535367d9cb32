//! Charts: plain data in, an SVG and a PNG out. The only user of plotters.
//!
//! Three kinds, each a plain struct handed to one function:
//! [`draw_line`] ([`LineChart`]: y over x, linear or log axes, error bars),
//! [`draw_bars`] ([`BarChart`]: grouped bars with value labels) and
//! [`draw_spectrum`] ([`SpectrumChart`]: latency by percentile on the usual
//! `1/(1-q)` axis). Each writes `<out_base>.svg` (plotters) and
//! `<out_base>.png` (1000×620, that same SVG rasterised by resvg), and
//! `<out_base>.csv` with exactly the numbers plotted, and returns the paths.
//!
//! Built for a printed report: title, axis labels, a legend in its own panel
//! beside the plot (it never hides data), the footnote (the machine) small at
//! the bottom. Series differ in colour *and* marker shape, bar groups in colour
//! *and* hatching, so a greyscale print still tells them apart. Points that a
//! scale cannot show (NaN, infinities, zero or negative values on a log axis)
//! are skipped; a chart left with nothing says "no data" instead of failing.
//!
//! Text is DejaVu Sans, embedded from `assets/fonts` (license beside it), so
//! rendering needs no system fonts and looks the same on every machine.
//!
//! | file | what lives there |
//! | --- | --- |
//! | `charts.rs` | the data types, the errors, the font, SVG + PNG from one drawing |
//! | `charts/lines.rs` | line charts and spectra: curves, markers, error bars |
//! | `charts/bars.rs` | grouped bars: hatching, error bars, value labels |
//! | `charts/layout.rs` | the page: title, footnote, legend panel, axes, category names |
//! | `charts/scale.rs` | ranges and ticks for each axis, and which label each tick gets |
//! | `charts/numbers.rs` | how numbers read: compact values (1.2k) and durations (250 µs, 10 ms) |
//! | `charts/ticked.rs` | the plotters coordinate that takes our ticks |
//! | `charts/data.rs` | the CSV beside each chart: one row per plotted mark |
//! | `charts/raster.rs` | the PNG: resvg rasterises the drawn SVG with the embedded font |
//! | `charts/marks.rs` | per-series colour, marker shape, hatch pattern, whiskers |

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

mod bars;
mod data;
mod layout;
mod lines;
mod marks;
mod numbers;
mod raster;
mod scale;
mod ticked;
mod wrap;

use layout::LegendKey;

/// One line of a [`LineChart`]; its `name` is the legend entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// One measured point of a [`Series`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// Spread (min, max) or a confidence interval, in y units (absolute
    /// values, not offsets), drawn as an error bar.
    pub spread: Option<(f64, f64)>,
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    /// Decades equally spaced; values ≤ 0 cannot be shown and are skipped.
    Log10,
}

/// Lines with markers: y over x, e.g. latency over the number of clients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    pub title: String,
    /// One small line under the title: what the error bars are (min–max or
    /// a confidence interval, over how many repeats); empty for none.
    pub caption: String,
    /// With its unit, e.g. `clients (connections)`.
    pub x_label: String,
    /// With its unit, e.g. `p99 latency (µs)`. A time unit in brackets at
    /// the end (`(ns)`, `(µs)`, `(ms)`, `(s)`) makes a time axis: its ticks
    /// read `250 µs`, `10 ms`, `1.5 s` and the bracket is dropped.
    pub y_label: String,
    pub x_scale: Scale,
    pub y_scale: Scale,
    pub series: Vec<Series>,
    /// The machine the numbers come from, printed small at the bottom.
    pub footnote: String,
}

/// Grouped bars: one cluster per category, one bar per group in each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarChart {
    pub title: String,
    /// One small line under the title: what the error bars are (min–max or
    /// a confidence interval, over how many repeats); empty for none.
    pub caption: String,
    pub y_label: String,
    /// The clusters along x, e.g. the server models.
    pub categories: Vec<String>,
    /// One per legend entry, values aligned with `categories`.
    pub groups: Vec<BarGroup>,
    pub footnote: String,
    /// On [`Scale::Log10`] the bars become dots with their error bars: a
    /// bar's length from an arbitrary log floor means nothing.
    pub y_scale: Scale,
}

/// One legend entry of a [`BarChart`]: a value (or none) per category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarGroup {
    pub name: String,
    pub values: Vec<Option<Bar>>,
}

/// One bar; `spread` (absolute y values) is drawn as an error bar.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bar {
    pub value: f64,
    pub spread: Option<(f64, f64)>,
}

/// Latency percentile spectrum: x is the percentile on the usual `1/(1-q)`
/// log scale (labels 0%, 90%, 99%, 99.9%, …), y the latency. The y axis is
/// linear from zero unless the latencies span more than two decades, then
/// it is logarithmic.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpectrumChart {
    pub title: String,
    /// One small line under the title: what the error bars are (min–max or
    /// a confidence interval, over how many repeats); empty for none.
    pub caption: String,
    pub y_label: String,
    pub series: Vec<SpectrumSeries>,
    pub footnote: String,
}

/// One curve of a [`SpectrumChart`]: (quantile in `0..1`, latency) pairs.
/// Quantile 1 (the maximum) has no place on a `1/(1-q)` axis and is skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpectrumSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The folder for the chart files could not be created; check the path
    /// and its permissions.
    #[error("cannot create the chart folder {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// Drawing or writing a chart file failed (disk full, no permission, a
    /// folder in the way); the message is plotters' own.
    #[error("cannot draw the chart {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
    /// The embedded font did not load: `assets/fonts/DejaVuSans.ttf` is not
    /// a valid font file; restore it from git and rebuild.
    #[error("the embedded font assets/fonts/DejaVuSans.ttf is not a valid font; restore it from git and rebuild")]
    Font,
}

/// Draws `chart` to `<out_base>.svg` and `<out_base>.png`, its numbers to
/// `<out_base>.csv`; returns the three paths.
pub fn draw_line(chart: &LineChart, out_base: &Path) -> Result<Vec<PathBuf>, ChartError> {
    render(chart, out_base)
}

/// Draws `chart` to `<out_base>.svg` and `<out_base>.png`, its numbers to
/// `<out_base>.csv`; returns the three paths.
pub fn draw_bars(chart: &BarChart, out_base: &Path) -> Result<Vec<PathBuf>, ChartError> {
    render(chart, out_base)
}

/// Draws `chart` to `<out_base>.svg` and `<out_base>.png`, its numbers to
/// `<out_base>.csv`; returns the three paths.
pub fn draw_spectrum(chart: &SpectrumChart, out_base: &Path) -> Result<Vec<PathBuf>, ChartError> {
    render(chart, out_base)
}

/// Pixel size of every chart: legible in a printed report at page width.
const SIZE: (u32, u32) = (1000, 620);

/// The registered family name. It doubles as the SVG `font-family` list, so
/// an SVG viewer without DejaVu Sans falls back to its own sans-serif.
const FONT: &str = "DejaVu Sans, sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font with plotters, once per process.
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font)
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can draw itself on any plotters backend.
trait Plot {
    fn plot<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// The one place that picks backends and files: plotters draws the SVG,
/// resvg rasterises that same SVG to the PNG. One drawing, one text engine
/// per format that knows its job: plotters' own bitmap text path puts
/// decimal points at mid-height and spaces letters unevenly.
fn render(
    chart: &(impl Plot + data::Plotted),
    out_base: &Path,
) -> Result<Vec<PathBuf>, ChartError> {
    ensure_font()?;
    if let Some(dir) = out_base.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ChartError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let svg_path = with_extension(out_base, "svg");
    let png_path = with_extension(out_base, "png");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        chart.plot(&root).map_err(|e| draw_error(&svg_path, e))?;
        root.present().map_err(|e| draw_error(&svg_path, e))?;
    }
    std::fs::write(&svg_path, &svg).map_err(|e| ChartError::Draw {
        path: svg_path.clone(),
        message: e.to_string(),
    })?;
    raster::svg_to_png(&svg, &png_path)?;
    let csv_path = with_extension(out_base, "csv");
    data::write_csv(chart, &csv_path)?;
    Ok(vec![svg_path, png_path, csv_path])
}

/// `base` plus `.ext`, keeping any dots already in the name (`fig.1` →
/// `fig.1.svg`).
fn with_extension(base: &Path, ext: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn draw_error<E: std::error::Error + Send + Sync>(
    path: &Path,
    e: DrawingAreaErrorKind<E>,
) -> ChartError {
    ChartError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A text style in the embedded font.
fn text(px: f64, color: RGBColor) -> TextStyle<'static> {
    let mut style = TextStyle::from((FONT, px).into_font());
    style.color = color.to_backend_color();
    style
}
/// Legend entries; a series with nothing drawable says so.
fn legend<'a>(
    names: impl Iterator<Item = &'a str>,
    drawn: impl Iterator<Item = bool>,
    key: fn(usize) -> LegendKey,
) -> Vec<(String, LegendKey)> {
    names
        .zip(drawn)
        .enumerate()
        .map(|(i, (name, drawn))| {
            let name = if drawn {
                name.to_string()
            } else {
                format!("{name} (no data)")
            };
            (name, key(i))
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_extension_keeps_dots() {
        assert_eq!(
            with_extension(Path::new("a/fig.1"), "svg"),
            PathBuf::from("a/fig.1.svg")
        );
    }

    #[test]
    fn font_registers() {
        ensure_font().unwrap();
        ensure_font().unwrap();
    }
}
