//! Helpers for the chart tests: where drawings go (kept on request), checks
//! that an SVG and a PNG are real drawings, and sample series and charts.

use std::path::{Path, PathBuf};

use sockbench::charts::{
    draw_bars, draw_line, draw_spectrum, Bar, BarChart, BarGroup, LineChart, Point, Scale, Series,
    SpectrumChart, SpectrumSeries,
};

pub const FOOTNOTE: &str = "test machine: 8 cores, Linux, loopback; sockbench charts test";

/// Where drawings go: the kept folder if asked for, else a fresh tempdir.
pub struct Out {
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

pub fn out() -> Out {
    match std::env::var_os("SOCKBENCH_CHARTS_KEEP") {
        Some(dir) => Out {
            dir: dir.into(),
            _temp: None,
        },
        None => {
            let temp = tempfile::tempdir().unwrap();
            Out {
                dir: temp.path().to_path_buf(),
                _temp: Some(temp),
            }
        }
    }
}

/// Both files exist and look like real drawings; returns the SVG text.
pub fn check_files(paths: &[PathBuf], base: &Path) -> String {
    assert_eq!(paths.len(), 3, "{paths:?}");
    let csv_path = paths
        .iter()
        .find(|p| p.extension().unwrap() == "csv")
        .unwrap();
    let csv = std::fs::read_to_string(csv_path).unwrap();
    assert!(
        csv.starts_with("chart,series,x_label,x,y_label,y,lo,hi\n"),
        "{csv}"
    );
    let svg_path = paths
        .iter()
        .find(|p| p.extension().unwrap() == "svg")
        .unwrap();
    let png_path = paths
        .iter()
        .find(|p| p.extension().unwrap() == "png")
        .unwrap();
    assert!(svg_path.starts_with(base.parent().unwrap()), "{svg_path:?}");
    let svg = std::fs::read_to_string(svg_path).unwrap();
    assert!(svg.len() > 3_000, "svg only {} bytes", svg.len());
    assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
    let png_len = std::fs::metadata(png_path).unwrap().len();
    assert!(png_len > 10_000, "png only {png_len} bytes");
    let img = image::open(png_path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1000, 620));
    let first = *img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| **p != first).count();
    assert!(
        differing > 5_000,
        "png nearly one colour: {differing} pixels differ"
    );
    // Not just black and white: the series colours are there.
    assert!(
        img.pixels().any(|p| p[0] != p[1] || p[1] != p[2]),
        "png has no colour"
    );
    svg
}

/// Whether the SVG has a text element reading exactly `s`.
pub fn has_text(svg: &str, s: &str) -> bool {
    svg.contains(&format!(">\n{s}\n</text>"))
}

pub fn series(name: &str, f: impl Fn(f64) -> f64) -> Series {
    let points = [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1000.0,
    ]
    .into_iter()
    .map(|x| {
        let y = f(x);
        Point {
            x,
            y,
            spread: Some((y * 0.85, y * 1.2)),
        }
    })
    .collect();
    Series {
        name: name.into(),
        points,
    }
}

pub fn line_chart() -> LineChart {
    LineChart {
        caption: String::new(),
        title: "Round-trip latency vs. concurrent clients (echo, 64 B)".into(),
        x_label: "concurrent clients".into(),
        y_label: "p99 latency (µs)".into(),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        series: vec![
            series("tcp-iterative", |x| 20.0 * x),
            series("fork", |x| 60.0 + 3.0 * x),
            series("thread-pool", |x| 25.0 + 1.1 * x),
            series("mio", |x| 18.0 + 0.6 * x),
            series("udp-iterative", |x| 12.0 + 0.4 * x),
        ],
        footnote: FOOTNOTE.into(),
    }
}
