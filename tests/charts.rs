//! Charts are drawn to real files: both exist, the SVG carries the title and
//! legend, the PNG decodes to 1000×620 and is not blank, and its text sits
//! where the SVG puts it.
//!
//! Set `SOCKBENCH_CHARTS_KEEP=DIR` to keep the drawings in DIR for a look.

use common::charts::*;
use sockbench::charts::{
    draw_bars, draw_line, draw_spectrum, Bar, BarChart, BarGroup, Scale, SpectrumChart,
    SpectrumSeries,
};

mod common;

#[test]
fn line_chart_writes_svg_and_png_with_title_and_legend() {
    let out = out();
    let base = out.dir.join("line");
    let chart = line_chart();
    let svg = check_files(&draw_line(&chart, &base).unwrap(), &base);
    assert!(svg.contains("Round-trip latency vs. concurrent clients"));
    for s in &chart.series {
        assert!(svg.contains(&s.name), "legend lacks {}", s.name);
    }
    // A time axis: the unit moves from the label into the ticks.
    assert!(svg.contains("p99 latency"));
    assert!(!svg.contains("p99 latency (µs)"));
    for tick in ["100 µs", "1 ms", "10 ms"] {
        assert!(has_text(&svg, tick), "no time tick {tick:?}");
    }
    assert!(!has_text(&svg, "10k"), "a time tick reads 10k");
    assert!(svg.contains(FOOTNOTE));
    assert!(svg.contains("DejaVu Sans"));
    // Log ticks on the count axis are compact round numbers.
    for tick in ["1", "10", "100", "1k"] {
        assert!(has_text(&svg, tick), "no tick {tick:?}");
    }
}

#[test]
fn bar_chart_writes_svg_and_png_with_value_labels() {
    let out = out();
    let base = out.dir.join("bars");
    let models = [
        "udp-iterative",
        "tcp-iterative",
        "fork",
        "thread-pool",
        "mio",
    ];
    let group = |name: &str, scale: f64| BarGroup {
        name: name.into(),
        values: models
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (*m != "udp-iterative" || name != "CRR").then(|| {
                    let value = scale * (i as f64 + 1.0) * 7_300.0;
                    Bar {
                        value,
                        spread: Some((value * 0.95, value * 1.04)),
                    }
                })
            })
            .collect(),
    };
    let chart = BarChart {
        caption: String::new(),
        title: "Requests per second by server model".into(),
        y_label: "throughput (requests/s)".into(),
        categories: models.iter().map(|m| m.to_string()).collect(),
        groups: vec![group("RR", 1.0), group("CRR", 0.3), group("UDP", 1.4)],
        footnote: FOOTNOTE.into(),
        y_scale: Scale::Linear,
    };
    let svg = check_files(&draw_bars(&chart, &base).unwrap(), &base);
    assert!(svg.contains("Requests per second by server model"));
    for name in ["RR", "CRR", "UDP", "thread-pool", "throughput (requests/s)"] {
        assert!(svg.contains(name), "svg lacks {name}");
    }
    assert!(has_text(&svg, "7.3k"), "no value label 7.3k");
}

#[test]
fn spectrum_chart_writes_svg_and_png_with_percentile_axis() {
    let out = out();
    let base = out.dir.join("spectrum");
    let curve = |name: &str, median: f64, tail: f64| SpectrumSeries {
        name: name.into(),
        points: (0..=500)
            .map(|i| {
                let q = 1.0 - 10f64.powf(-(i as f64) / 100.0);
                (q, median * (1.0 + tail * (i as f64 / 100.0).powi(3)))
            })
            .chain([(1.0, median * 1000.0)])
            .collect(),
    };
    let chart = SpectrumChart {
        caption: String::new(),
        title: "Latency by percentile at 50k requests/s".into(),
        y_label: "latency (µs)".into(),
        series: vec![
            curve("fork", 80.0, 2.0),
            curve("thread-pool", 40.0, 1.0),
            curve("mio", 30.0, 0.5),
        ],
        footnote: FOOTNOTE.into(),
    };
    let svg = check_files(&draw_spectrum(&chart, &base).unwrap(), &base);
    assert!(svg.contains("Latency by percentile at 50k requests/s"));
    for label in ["fork", "thread-pool", "mio", "0%", "99%", "99.999%"] {
        assert!(has_text(&svg, label), "svg lacks {label}");
    }
}

/// The PNG's text sits where the SVG puts it and reads like type: a title
/// of "1.5" drawn at the top centre has its ink in the title band, three
/// glyphs from left to right, and the decimal point on the baseline (the
/// bottom quarter of the digits' height), not floating at mid-height.
#[test]
fn png_text_sits_on_its_baseline_in_the_title_box() {
    let out = out();
    let base = out.dir.join("baseline-title");
    let chart = BarChart {
        title: "1.5".into(),
        caption: String::new(),
        y_label: String::new(),
        categories: vec!["a".into()],
        groups: vec![BarGroup {
            name: "g".into(),
            values: vec![Some(Bar {
                value: 1.0,
                spread: None,
            })],
        }],
        footnote: String::new(),
        y_scale: Scale::Linear,
    };
    let paths = draw_bars(&chart, &base).unwrap();
    let png = paths.iter().find(|p| p.extension().unwrap() == "png");
    let img = image::open(png.unwrap()).unwrap().to_luma8();
    let ink = |x: u32, y: u32| img.get_pixel(x, y)[0] < 128;
    // The title band: above the plot, which starts below 14 px padding and
    // one 30 px title line.
    let band = 0..48u32;
    let inked: Vec<(u32, u32)> = band
        .clone()
        .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| ink(x, y))
        .collect();
    assert!(!inked.is_empty(), "no title ink in the top 48 px");
    let (left, right) = (
        inked.iter().map(|p| p.0).min().unwrap(),
        inked.iter().map(|p| p.0).max().unwrap(),
    );
    // Centred on the page (1000 px wide), about three glyphs of 24 px type.
    let centre = (left + right) / 2;
    assert!((490..=510).contains(&centre), "title centred at {centre}");
    assert!(right - left < 60, "title {left}..{right} too wide");
    // Split the ink into glyphs by empty columns.
    let mut glyphs: Vec<(u32, u32)> = Vec::new();
    for x in left..=right {
        if band.clone().any(|y| ink(x, y)) {
            match glyphs.last_mut() {
                Some(g) if g.1 + 1 == x => g.1 = x,
                _ => glyphs.push((x, x)),
            }
        }
    }
    assert_eq!(glyphs.len(), 3, "glyph column runs {glyphs:?}");
    let rows = |(a, b): (u32, u32)| {
        let ys: Vec<u32> = band
            .clone()
            .filter(|&y| (a..=b).any(|x| ink(x, y)))
            .collect();
        (*ys.first().unwrap(), *ys.last().unwrap())
    };
    let (one, point, five) = (rows(glyphs[0]), rows(glyphs[1]), rows(glyphs[2]));
    let (top, bottom) = (one.0.min(five.0), one.1.max(five.1));
    let height = bottom - top;
    assert!(height >= 12, "digits only {height} px tall");
    assert!(
        point.0 >= bottom - height / 4,
        "decimal point rows {point:?} float above the baseline of digits {top}..{bottom}"
    );
    assert!(
        point.1 <= bottom + 1,
        "decimal point {point:?} below the digits"
    );
}
