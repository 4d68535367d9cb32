//! The numbers behind a chart, as a CSV beside it: exactly what is plotted,
//! one row per mark, so a reader can re-plot or check a figure without the
//! JSON.

use std::path::Path;

use serde::Serialize;

use super::{BarChart, ChartError, LineChart, SpectrumChart};

/// One plotted mark. `x` is a number for line charts and spectra (the
/// quantile there), the category name for bar charts; `lo`/`hi` are the
/// error bar's ends, empty when none is drawn.
#[derive(Debug, Serialize)]
pub(super) struct Row<'a> {
    chart: &'a str,
    series: &'a str,
    x_label: &'a str,
    x: String,
    y_label: &'a str,
    y: f64,
    lo: Option<f64>,
    hi: Option<f64>,
}

/// What a chart plots, as rows.
pub(super) trait Plotted {
    fn rows(&self) -> Vec<Row<'_>>;
}

impl Plotted for LineChart {
    fn rows(&self) -> Vec<Row<'_>> {
        self.series
            .iter()
            .flat_map(|s| {
                s.points.iter().map(|p| Row {
                    chart: &self.title,
                    series: &s.name,
                    x_label: &self.x_label,
                    x: p.x.to_string(),
                    y_label: &self.y_label,
                    y: p.y,
                    lo: p.spread.map(|s| s.0),
                    hi: p.spread.map(|s| s.1),
                })
            })
            .collect()
    }
}

impl Plotted for BarChart {
    fn rows(&self) -> Vec<Row<'_>> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.values
                    .iter()
                    .zip(&self.categories)
                    .filter_map(|(bar, category)| Some((bar.as_ref()?, category)))
                    .map(|(bar, category)| Row {
                        chart: &self.title,
                        series: &g.name,
                        x_label: "category",
                        x: category.clone(),
                        y_label: &self.y_label,
                        y: bar.value,
                        lo: bar.spread.map(|s| s.0),
                        hi: bar.spread.map(|s| s.1),
                    })
            })
            .collect()
    }
}

impl Plotted for SpectrumChart {
    fn rows(&self) -> Vec<Row<'_>> {
        self.series
            .iter()
            .flat_map(|s| {
                s.points.iter().map(|(q, v)| Row {
                    chart: &self.title,
                    series: &s.name,
                    x_label: "quantile",
                    x: q.to_string(),
                    y_label: &self.y_label,
                    y: *v,
                    lo: None,
                    hi: None,
                })
            })
            .collect()
    }
}

/// Writes `chart`'s rows to `path`.
pub(super) fn write_csv(chart: &impl Plotted, path: &Path) -> Result<(), ChartError> {
    let failed = |message: String| ChartError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let mut out = csv::Writer::from_path(path).map_err(|e| failed(e.to_string()))?;
    for row in chart.rows() {
        out.serialize(row).map_err(|e| failed(e.to_string()))?;
    }
    out.flush().map_err(|e| failed(e.to_string()))
}
