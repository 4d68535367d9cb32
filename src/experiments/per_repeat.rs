//! Each verdict computed once per repeat as well as over the medians: the
//! report says "supported in k of n", so a verdict that hangs on one lucky
//! repeat shows.
//!
//! Repeat k of every configuration was measured in the same round (the runner
//! interleaves them), so the data of one repeat is a whole small run; the
//! claim's own rule is applied to it unchanged.

use rayon::prelude::*;

use super::{Context, Experiment, Finding, Verdict};
use crate::results::ResultSet;

/// The verdicts of the single repeats of one experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// One verdict per repeat index that had enough data to decide.
    pub verdicts: Vec<Verdict>,
}

impl Tally {
    /// How many repeats reached `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.verdicts.iter().filter(|v| **v == verdict).count()
    }

    /// "supported in 3 of 3 repeats", or "" for a baseline or no repeat.
    pub fn describe(&self, overall: Verdict) -> String {
        if self.verdicts.is_empty() || overall == Verdict::Baseline {
            return String::new();
        }
        let n = self.verdicts.len();
        let mut parts = vec![format!(
            "{} in {} of {n}",
            overall.label(),
            self.count(overall)
        )];
        for other in [Verdict::Supported, Verdict::Depends, Verdict::NotSupported] {
            let k = self.count(other);
            if other != overall && k > 0 {
                parts.push(format!("{} in {k}", other.label()));
            }
        }
        format!("{} repeats", parts.join(", "))
    }
}

/// The experiment's finding over all repeats, and its verdict per repeat.
pub fn judge(experiment: &Experiment, results: &ResultSet, ctx: &Context) -> (Finding, Tally) {
    let finding = (experiment.analyze)(results, ctx);
    let mut repeats: Vec<u32> = results
        .measurements
        .iter()
        .filter(|m| m.experiment == experiment.id)
        .map(|m| m.repeat)
        .collect();
    repeats.sort_unstable();
    repeats.dedup();
    let verdicts = if repeats.len() < 2 {
        Vec::new()
    } else {
        // Each repeat's analysis reads its own copy: one per core, in repeat order.
        repeats
            .into_par_iter()
            .map(|k| {
                let one = ResultSet {
                    dir: results.dir.clone(),
                    info: results.info.clone(),
                    measurements: results
                        .measurements
                        .iter()
                        .filter(|m| m.experiment == experiment.id && m.repeat == k)
                        .cloned()
                        .collect(),
                };
                (experiment.analyze)(&one, ctx).verdict
            })
            .filter(|v| *v != Verdict::NoData)
            .collect()
    };
    (finding, Tally { verdicts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic::{latency_us, results};

    #[test]
    fn a_verdict_that_holds_in_two_repeats_of_three_says_so() {
        let experiment = crate::experiments::all()
            .into_iter()
            .find(|e| e.id == "unix-vs-inet")
            .expect("unix-vs-inet is registered");
        // Unix takes 0.68× TCP's latency in repeats 0 and 1, 1.05× in repeat 2.
        let data = results(&experiment, 3, |p, repeat, r| {
            let tcp = 20.0;
            let unix = if repeat == 2 { 21.0 } else { 13.6 };
            let us = if p.series.contains("unix") { unix } else { tcp };
            latency_us(r, us, 2.0 * us);
        });
        let ctx = Context {
            footnote: String::new(),
            error_bars: String::new(),
            slo: crate::experiments::DEFAULT_SLO,
        };
        let (finding, tally) = judge(&experiment, &data, &ctx);
        assert_eq!(finding.verdict, Verdict::Supported);
        assert_eq!(tally.verdicts.len(), 3);
        assert_eq!(tally.count(Verdict::Supported), 2);
        assert_eq!(tally.count(Verdict::NotSupported), 1);
        assert_eq!(
            tally.describe(finding.verdict),
            "supported in 2 of 3, not supported in 1 repeats"
        );
    }
}
