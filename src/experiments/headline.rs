//! How a finding reads in a chart's title: short numbers ("14k", "12×",
//! "1.2 ms") so the title states what the chart shows in one line, e.g.
//! "fork costs 12× mio's server CPU per connection".

/// A count or rate to three significant figures at most: 450, 2.9k, 198k, 1.2M.
pub fn count(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if scaled.abs() >= 10.0 || scaled.fract().abs() < 0.05 {
        0
    } else {
        1
    };
    format!("{scaled:.digits$}{suffix}")
}

/// A ratio: "12×" from 10 up, "3.0×" from 1, "0.82×" below.
pub fn times(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A duration given in µs: "45 µs", "1.2 ms", "2.0 s".
pub fn micros(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.1} s", us / 1e6)
    } else if us >= 1e3 {
        let ms = us / 1e3;
        if ms >= 10.0 {
            format!("{ms:.0} ms")
        } else {
            format!("{ms:.1} ms")
        }
    } else if us >= 10.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// A share in percent: "8.5%", "0.64%", "0%".
pub fn percent(p: f64) -> String {
    if p == 0.0 {
        "0%".to_string()
    } else if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_short() {
        assert_eq!(count(450.0), "450");
        assert_eq!(count(7.0), "7");
        assert_eq!(count(2_870.0), "2.9k");
        assert_eq!(count(5_000.0), "5k");
        assert_eq!(count(14_370.0), "14k");
        assert_eq!(count(198_421.0), "198k");
        assert_eq!(count(1_250_000.0), "1.2M");
        assert_eq!(times(12.18), "12×");
        assert_eq!(times(3.004), "3.0×");
        assert_eq!(times(0.821), "0.82×");
        assert_eq!(micros(16.7), "17 µs");
        assert_eq!(micros(1_465.3), "1.5 ms");
        assert_eq!(micros(63_603.0), "64 ms");
        assert_eq!(micros(2_050_000.0), "2.0 s");
        assert_eq!(percent(8.5), "8.5%");
        assert_eq!(percent(0.64), "0.64%");
        assert_eq!(percent(0.0), "0%");
    }
}
