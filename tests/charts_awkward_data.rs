//! Awkward data (empty, NaN, zero or negative on a log axis, crowded, an
//! unwritable path) draws a chart or names the file instead of panicking.
//!
//! Set `SOCKBENCH_CHARTS_KEEP=DIR` to keep the drawings in DIR for a look.

use common::charts::*;
use sockbench::charts::{
    draw_bars, draw_line, draw_spectrum, Bar, BarChart, BarGroup, LineChart, Point, Scale, Series,
    SpectrumChart, SpectrumSeries,
};

mod common;

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
