//! Intervals over repeats: a distribution-free 95 % confidence interval of a
//! median (order statistics, exact binomial), a bootstrap interval of a ratio
//! of two medians, and the confidence target `full` repeats towards.
//!
//! Both are computed from the stored repeats alone and are deterministic (the
//! bootstrap's generator is seeded), so `sockbench report DIR` redraws the same
//! intervals the run printed.

/// Repeats below which no 95 % interval of a median exists: with n values the
/// widest order-statistic interval, min–max, covers the median with
/// probability 1 − 2·0.5ⁿ, which first reaches 95 % at n = 6.
pub const MIN_REPEATS_FOR_CI: usize = 6;

/// Bootstrap resamples behind a ratio's interval.
const RESAMPLES: usize = 2000;

/// The bootstrap generator's fixed seed (any constant: determinism is the point).
const BOOTSTRAP_SEED: u64 = 0x05ee_d0f5_ca1e;

/// The median of sorted, non-empty `v`.
pub fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The ranks (0-based, inclusive) of the distribution-free 95 % interval of
/// the median of `n` sorted values: the largest `j` with
/// P(Binomial(n, ½) < j) ≤ 2.5 %, giving `[v[j-1], v[n-j]]`. `None` below
/// [`MIN_REPEATS_FOR_CI`].
pub fn median_ci_ranks(n: usize) -> Option<(usize, usize)> {
    if n < MIN_REPEATS_FOR_CI {
        return None;
    }
    // P(X ≤ k) for X ~ Binomial(n, ½), accumulated in floating point (n is small).
    let mut term = 0.5f64.powi(n as i32); // P(X = 0)
    let mut below = 0.0; // P(X < j)
    let mut j = 0usize;
    while j < n / 2 {
        if below + term > 0.025 {
            break;
        }
        below += term;
        term = term * (n - j) as f64 / (j + 1) as f64;
        j += 1;
    }
    // j values lie below the interval's lower end: it starts at rank j (0-based).
    let lo = j.max(1) - 1;
    Some((lo, n - 1 - lo))
}

/// A ratio of two medians with its 95 % bootstrap percentile interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    /// Repeats behind the smaller side (1: the interval is the point itself).
    pub n: usize,
}

impl Ratio {
    /// "2.90× (95% CI 2.81–2.99, 8 repeats)"; below [`MIN_REPEATS_FOR_CI`]
    /// repeats the bootstrap range is marked indicative, and with one usable
    /// repeat there is no interval at all.
    pub fn show(&self, digits: usize) -> String {
        if self.n < 2 {
            format!(
                "{:.*}× (one usable repeat, no interval)",
                digits, self.value
            )
        } else if self.n < MIN_REPEATS_FOR_CI {
            format!(
                "{:.*}× (bootstrap 95% range {:.*}–{:.*} over {} repeats, indicative only)",
                digits, self.value, digits, self.lo, digits, self.hi, self.n
            )
        } else {
            format!(
                "{:.*}× (95% CI {:.*}–{:.*}, {} repeats)",
                digits, self.value, digits, self.lo, digits, self.hi, self.n
            )
        }
    }
}

/// median(a) / median(b) with a bootstrap interval: both sides resampled
/// with replacement, independently, [`RESAMPLES`] times; the 2.5th and
/// 97.5th percentiles of the resampled ratios. `None` if a side is empty or
/// b's median is not positive.
pub fn ratio_of_medians(a: &[f64], b: &[f64]) -> Option<Ratio> {
    let clean = |v: &[f64]| {
        let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (clean(a), clean(b));
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (ma, mb) = (median_sorted(&a), median_sorted(&b));
    if mb <= 0.0 {
        return None;
    }
    let value = ma / mb;
    let n = a.len().min(b.len());
    if n < 2 {
        return Some(Ratio {
            value,
            lo: value,
            hi: value,
            n,
        });
    }
    let mut rng = fastrand::Rng::with_seed(BOOTSTRAP_SEED);
    let mut resample = |v: &[f64], buf: &mut Vec<f64>| {
        buf.clear();
        buf.extend((0..v.len()).map(|_| v[rng.usize(..v.len())]));
        buf.sort_by(f64::total_cmp);
        median_sorted(buf)
    };
    let (mut ba, mut bb) = (Vec::new(), Vec::new());
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .filter_map(|_| {
            let ra = resample(&a, &mut ba);
            let rb = resample(&b, &mut bb);
            (rb > 0.0).then(|| ra / rb)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    Some(Ratio {
        value,
        lo: at(0.025),
        hi: at(0.975),
        n,
    })
}

/// Whether the 95 % interval of the median of `values` lies within ±`pct` %
/// of the median (`false` while there are too few values for an interval).
pub fn median_within(values: &[f64], pct: f64) -> bool {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let Some((lo, hi)) = median_ci_ranks(v.len()) else {
        return false;
    };
    let m = median_sorted(&v);
    let tol = m.abs() * pct / 100.0;
    v[lo] >= m - tol && v[hi] <= m + tol
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistic_ranks_match_the_binomial_tables() {
        // Known 95 % ranks (1-based lower rank): n=6 → 1, n=9 → 2, n=10 → 2, n=20 → 6.
        assert_eq!(median_ci_ranks(5), None);
        assert_eq!(median_ci_ranks(6), Some((0, 5)));
        assert_eq!(median_ci_ranks(9), Some((1, 7)));
        assert_eq!(median_ci_ranks(10), Some((1, 8)));
        assert_eq!(median_ci_ranks(20), Some((5, 14)));
    }

    #[test]
    fn ratio_interval_brackets_the_ratio_and_narrows_with_agreement() {
        let r = ratio_of_medians(&[20.0, 21.0, 19.0, 20.5], &[10.0, 10.5, 9.5, 10.0]).unwrap();
        assert!((r.value - 2.0).abs() < 0.05, "{r:?}");
        assert!(r.lo <= r.value && r.value <= r.hi && r.lo < r.hi, "{r:?}");
        let tight = ratio_of_medians(&[20.0; 4], &[10.0; 4]).unwrap();
        assert_eq!((tight.lo, tight.hi), (2.0, 2.0));
        let one = ratio_of_medians(&[3.0], &[1.0]).unwrap();
        assert_eq!((one.value, one.n), (3.0, 1));
        assert!(ratio_of_medians(&[1.0], &[0.0]).is_none());
        assert!(ratio_of_medians(&[], &[1.0]).is_none());
    }

    #[test]
    fn confidence_target_needs_enough_agreeing_repeats() {
        assert!(
            !median_within(&[100.0; 5], 5.0),
            "five repeats have no 95% interval"
        );
        assert!(median_within(
            &[100.0, 101.0, 99.0, 100.5, 99.5, 100.0],
            5.0
        ));
        assert!(!median_within(
            &[100.0, 130.0, 70.0, 100.5, 99.5, 100.0],
            5.0
        ));
    }
}
