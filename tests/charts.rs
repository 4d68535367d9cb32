//! Charts are drawn to real files: both exist, the SVG carries the title and
//! legend, the PNG decodes to 1000×620 and is not blank, and awkward data
//! (empty, NaN, zero on a log axis) draws a chart instead of panicking.
//!
//! Set `SOCKBENCH_CHARTS_KEEP=DIR` to keep the drawings in DIR for a look.

use std::path::{Path, PathBuf};

use sockbench::charts::{
    draw_bars, draw_line, draw_spectrum, Bar, BarChart, BarGroup, LineChart, Point, Scale, Series,
    SpectrumChart, SpectrumSeries,
};

const FOOTNOTE: &str = "test machine: 8 cores, Linux, loopback; sockbench charts test";

/// Where drawings go: the kept folder if asked for, else a fresh tempdir.
struct Out {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

fn out() -> Out {
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
fn check_files(paths: &[PathBuf], base: &Path) -> String {
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
fn has_text(svg: &str, s: &str) -> bool {
    svg.contains(&format!(">\n{s}\n</text>"))
}

fn series(name: &str, f: impl Fn(f64) -> f64) -> Series {
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

fn line_chart() -> LineChart {
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

#[test]
fn zero_negative_and_nan_on_log_axes_are_skipped() {
    let out = out();
    let mut chart = line_chart();
    chart.title = "Log axes with a zero, a negative and a NaN".into();
    chart.series[0].points[0].y = 0.0;
    chart.series[1].points[2].x = -3.0;
    chart.series[2].points[3].y = f64::NAN;
    chart.series[3].points[1].spread = Some((0.0, f64::INFINITY));
    chart.series.push(Series {
        name: "all zero".into(),
        points: vec![Point {
            x: 0.0,
            y: 0.0,
            spread: None,
        }],
    });
    let base = out.dir.join("log-zero");
    check_files(&draw_line(&chart, &base).unwrap(), &base);

    let bars = BarChart {
        caption: String::new(),
        title: "Log bars with zero and missing values".into(),
        y_label: "rate (1/s)".into(),
        categories: vec!["a".into(), "b".into(), "c".into()],
        groups: vec![BarGroup {
            name: "g".into(),
            values: vec![
                Some(Bar {
                    value: 0.0,
                    spread: None,
                }),
                None,
                Some(Bar {
                    value: 500.0,
                    spread: Some((-1.0, 900.0)),
                }),
            ],
        }],
        footnote: String::new(),
        y_scale: Scale::Log10,
    };
    let base = out.dir.join("log-bars");
    check_files(&draw_bars(&bars, &base).unwrap(), &base);
}

#[test]
fn empty_charts_say_no_data() {
    let out = out();
    let line = LineChart {
        caption: String::new(),
        title: "Nothing measured".into(),
        y_scale: Scale::Log10,
        ..LineChart::default()
    };
    let base = out.dir.join("empty-line");
    let svg = std::fs::read_to_string(&draw_line(&line, &base).unwrap()[0]).unwrap();
    assert!(svg.contains("no data"));

    let empty_series = LineChart {
        caption: String::new(),
        series: vec![Series {
            name: "fork".into(),
            points: vec![],
        }],
        ..line.clone()
    };
    let base = out.dir.join("empty-series");
    let svg = std::fs::read_to_string(&draw_line(&empty_series, &base).unwrap()[0]).unwrap();
    assert!(svg.contains("no data") && svg.contains("fork (no data)"));

    let bars = BarChart {
        caption: String::new(),
        title: "No bars".into(),
        ..BarChart::default()
    };
    let base = out.dir.join("empty-bars");
    assert!(
        std::fs::read_to_string(&draw_bars(&bars, &base).unwrap()[0])
            .unwrap()
            .contains("no data")
    );

    let spectrum = SpectrumChart {
        caption: String::new(),
        title: "No latencies".into(),
        series: vec![SpectrumSeries {
            name: "mio".into(),
            points: vec![(1.0, 5.0), (f64::NAN, 1.0)],
        }],
        ..SpectrumChart::default()
    };
    let base = out.dir.join("empty-spectrum");
    assert!(
        std::fs::read_to_string(&draw_spectrum(&spectrum, &base).unwrap()[0])
            .unwrap()
            .contains("no data")
    );
}

#[test]
fn crowded_charts_still_draw() {
    let out = out();
    let long =
        "a title long enough that it has to wrap onto a second line on a thousand-pixel chart, \
                because somebody described the whole experiment in it";
    let footnote = "AMD EPYC 7763 64-Core Processor, 2 sockets, 128 cores / 256 threads, 512 GiB, \
                    Linux 6.8.0-45-generic x86_64, rustc 1.85.0, loopback, server on cores 0-63, \
                    load generator on cores 64-127, governor performance, turbo off";
    let chart = LineChart {
        caption: String::new(),
        title: long.into(),
        x_label: "offered load (requests/s)".into(),
        y_label: "change in throughput (%)".into(),
        series: (0..10)
            .map(|i| Series {
                name: format!("series {i} with a rather long legend name that needs trimming"),
                points: (0..200)
                    .map(|k| {
                        let x = k as f64 * 250.0;
                        Point {
                            x,
                            y: (x / 5000.0 + i as f64).sin() * 40.0 - 10.0,
                            spread: None,
                        }
                    })
                    .collect(),
            })
            .collect(),
        footnote: footnote.into(),
        ..LineChart::default()
    };
    let base = out.dir.join("crowded-line");
    check_files(&draw_line(&chart, &base).unwrap(), &base);

    let categories: Vec<String> = (0..12).map(|i| format!("reactor-pool-{i}")).collect();
    let bars = BarChart {
        caption: String::new(),
        title: "Twelve models, six transports".into(),
        y_label: "CPU per request (µs)".into(),
        groups: (0..6)
            .map(|g| BarGroup {
                name: format!("transport {g}"),
                values: (0..12)
                    .map(|c| (c + g) % 7 != 3)
                    .enumerate()
                    .map(|(c, present)| {
                        present.then_some(Bar {
                            value: 1234.5 * (1 + c + g) as f64,
                            spread: None,
                        })
                    })
                    .collect(),
            })
            .collect(),
        categories,
        footnote: footnote.into(),
        y_scale: Scale::Linear,
    };
    let base = out.dir.join("crowded-bars");
    check_files(&draw_bars(&bars, &base).unwrap(), &base);
}

#[test]
fn unwritable_path_is_an_error_naming_the_file() {
    let out = out();
    let blocker = out.dir.join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let err = draw_line(&line_chart(), &blocker.join("chart")).unwrap_err();
    assert!(err.to_string().contains("not-a-folder"), "{err}");
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
