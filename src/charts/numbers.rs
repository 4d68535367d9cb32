//! How numbers read on a chart: round 1-2-5 steps, compact values (0.5, 12, 1.2k, 3.4M) and
//! durations in the unit that suits them (250 µs, 10 ms, 1.5 s), so a
//! latency axis never says "10k".

/// Slop for floating-point comparisons (`log10(1000) = 2.9999999…`).
pub(super) const EPS: f64 = 1e-9;

/// The unit a time axis's values are stored in, read from its label:
/// `p99 latency (µs)` holds microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeUnit {
    Nanos,
    Micros,
    Millis,
    Seconds,
}

impl TimeUnit {
    /// Seconds per one of this unit.
    fn seconds(self) -> f64 {
        match self {
            TimeUnit::Nanos => 1e-9,
            TimeUnit::Micros => 1e-6,
            TimeUnit::Millis => 1e-3,
            TimeUnit::Seconds => 1.0,
        }
    }

    /// The display unit for a magnitude of `seconds`, and its symbol.
    fn display_for(seconds: f64) -> (TimeUnit, &'static str) {
        let a = seconds.abs() * (1.0 + 1e-9);
        if a >= 1.0 {
            (TimeUnit::Seconds, "s")
        } else if a >= 1e-3 {
            (TimeUnit::Millis, "ms")
        } else if a >= 1e-6 || a == 0.0 {
            (TimeUnit::Micros, "µs")
        } else {
            (TimeUnit::Nanos, "ns")
        }
    }
}

/// Splits an axis label that ends in a time unit, `p99 latency (µs)`, into
/// the label without it (`p99 latency`) and the unit; other labels come
/// back whole, with `None`.
pub(super) fn time_unit_of(label: &str) -> (String, Option<TimeUnit>) {
    let units = [
        ("(ns)", TimeUnit::Nanos),
        ("(µs)", TimeUnit::Micros),
        ("(us)", TimeUnit::Micros),
        ("(ms)", TimeUnit::Millis),
        ("(s)", TimeUnit::Seconds),
    ];
    let trimmed = label.trim_end();
    for (suffix, unit) in units {
        if let Some(rest) = trimmed.strip_suffix(suffix) {
            return (rest.trim_end().to_string(), Some(unit));
        }
    }
    (label.to_string(), None)
}

/// `v` (in `unit`) as a duration in its own best unit: 250 µs, 12 ms, 1.5 s.
pub(super) fn fmt_time(v: f64, unit: TimeUnit, sig: usize) -> String {
    let seconds = v * unit.seconds();
    let (display, symbol) = TimeUnit::display_for(seconds);
    fmt_time_in(v, unit, display, symbol, sig)
}

/// Labels for ticks `values` (in `unit`) all in one display unit, picked by
/// the largest, as a linear axis reads best: 0 ms, 0.5 ms, 1 ms.
pub(super) fn fmt_times_shared(values: &[f64], unit: TimeUnit, sig: usize) -> Vec<String> {
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (display, symbol) = TimeUnit::display_for(largest * unit.seconds());
    values
        .iter()
        .map(|v| fmt_time_in(*v, unit, display, symbol, sig))
        .collect()
}

fn fmt_time_in(v: f64, unit: TimeUnit, display: TimeUnit, symbol: &str, sig: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let scaled = v * unit.seconds() / display.seconds();
    format!("{} {symbol}", fmt_sig(scaled, sig))
}

/// The fewest significant digits (3 to 8) at which all ticks read differently.
pub(super) fn distinct_sig(ticks: &[f64], value: impl Fn(f64) -> f64) -> usize {
    (3..=8)
        .find(|&sig| {
            let labels: Vec<String> = ticks.iter().map(|t| fmt_sig(value(*t), sig)).collect();
            labels.windows(2).all(|w| w[0] != w[1])
        })
        .unwrap_or(8)
}

/// A compact number: at most `sig` significant digits, trailing zeros
/// dropped, k/M/G/T for large values, `e` notation for tiny ones:
/// 0.5, 12, 1.2k, 3.4M, 1e−6 (with a real minus sign).
pub(super) fn fmt_sig(v: f64, sig: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "-∞".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let sig = sig.max(1);
    // Round first, so that 999.7 becomes 1k rather than "1000".
    let mag = v.abs().log10().floor();
    let unit = 10f64.powf(mag - (sig as f64 - 1.0));
    let r = (v / unit).round() * unit;
    let a = r.abs();
    if !(1e-3..1e15).contains(&a) {
        let s = format!("{:.*e}", sig - 1, r);
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{exp}", trim_zeros(mantissa)).replace('-', "−");
    }
    let (scaled, suffix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(f, _)| a >= *f * (1.0 - EPS))
        .map_or((r, ""), |(f, s)| (r / f, s));
    let exponent = (scaled.abs().log10() + EPS).floor();
    let decimals = if exponent < 0.0 {
        // Leading zeros are not significant: 0.0123 needs 4 decimals.
        sig + (-exponent) as usize - 1
    } else {
        sig.saturating_sub(exponent as usize + 1)
    };
    // A real minus sign: a hyphen is too short to read in print.
    format!("{}{suffix}", trim_zeros(&format!("{scaled:.decimals$}"))).replace('-', "−")
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The 1-2-5 step (in log10) nearest to `t` going up or down.
pub(super) fn snap_125(t: f64, up: bool) -> f64 {
    let decade = t.floor();
    let steps = [0.0, 2f64.log10(), 5f64.log10(), 1.0];
    let within = t - decade;
    let pick = if up {
        steps.iter().find(|s| **s >= within - EPS)
    } else {
        steps.iter().rev().find(|s| **s <= within + EPS)
    };
    decade + pick.copied().unwrap_or(0.0)
}

pub(super) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let mut it = values.iter().copied().filter(|v| v.is_finite());
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
}

/// The 1-2-5 step nearest above `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    let nice = if m <= 1.0 + EPS {
        1.0
    } else if m <= 2.0 + EPS {
        2.0
    } else if m <= 5.0 + EPS {
        5.0
    } else {
        10.0
    };
    nice * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        let cases = [
            (0.0, "0"),
            (0.5, "0.5"),
            (0.0123, "0.0123"),
            (1.0, "1"),
            (12.0, "12"),
            (999.7, "1k"),
            (1000.0, "1k"),
            (1234.0, "1.23k"),
            (12_500.0, "12.5k"),
            (100_000.0, "100k"),
            (3_400_000.0, "3.4M"),
            (2e9, "2G"),
            (-1500.0, "−1.5k"),
            (1e-6, "1e−6"),
            (2.5e16, "2.5e16"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_sig(v, 3), want, "{v}");
        }
    }

    #[test]
    fn time_labels_change_unit() {
        assert_eq!(
            time_unit_of("p99 latency (µs)"),
            ("p99 latency".to_string(), Some(TimeUnit::Micros))
        );
        assert_eq!(time_unit_of("rate (req/s)").1, None);
        let us = TimeUnit::Micros;
        assert_eq!(fmt_time(250.0, us, 3), "250 µs");
        assert_eq!(fmt_time(10_000.0, us, 3), "10 ms");
        assert_eq!(fmt_time(1_500_000.0, us, 3), "1.5 s");
        assert_eq!(fmt_time(0.5, us, 3), "500 ns");
        assert_eq!(
            fmt_times_shared(&[0.0, 500.0, 1000.0, 1500.0], us, 3),
            ["0", "0.5 ms", "1 ms", "1.5 ms"]
        );
    }
}
