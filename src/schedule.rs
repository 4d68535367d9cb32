//! The order of measurements: every distinct configuration once per round,
//! rounds in a seeded shuffled order, and — where the profile sets a
//! confidence target — more rounds for the configurations whose decisive
//! figures have not settled yet (netperf's `-I`).
//!
//! Back-to-back repeats of one configuration share whatever the machine was
//! doing at that minute (a compile, a thermal state, a page-cache state), so
//! they agree with each other better than with the truth. Interleaving spreads
//! that drift over every configuration alike, and the shuffle keeps a slow
//! drift from lining up with the plan's order.

use loadgen::LoadReport;

use crate::experiments::{self, measures, stats, ConfidenceTarget, Experiment, Point};

/// Each selected experiment with the points to measure.
pub type Plan = Vec<(Experiment, Vec<Point>)>;

/// Everything a measurement of `point` depends on: two points with the same
/// configuration measure the same thing, whatever their experiment calls them.
pub fn configuration(point: &Point) -> String {
    format!(
        "{:?} | {:?} | {:?}",
        point.server, point.load, point.background
    )
}

/// Where one measurement of a configuration is filed: an experiment's legend entry at an x.
#[derive(Debug, Clone)]
pub struct Filing {
    pub experiment: &'static str,
    pub point: Point,
}

/// One distinct configuration and every experiment point that asks for it.
#[derive(Debug, Clone)]
pub struct Configuration {
    /// The first asker's point: it is measured, the others reuse it.
    pub filings: Vec<Filing>,
}

impl Configuration {
    /// "experiment: series @ x" of the first asker, as run.json records the order.
    pub fn label(&self) -> String {
        let f = &self.filings[0];
        format!("{}: {} @ {}", f.experiment, f.point.series, f.point.x)
    }
}

/// The distinct configurations of a plan, in plan order.
pub fn configurations(plan: &Plan) -> Vec<Configuration> {
    let mut out: Vec<Configuration> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (experiment, points) in plan {
        for point in points {
            let filing = Filing {
                experiment: experiment.id,
                point: point.clone(),
            };
            match index.get(&configuration(point)) {
                Some(&i) => out[i].filings.push(filing),
                None => {
                    index.insert(configuration(point), out.len());
                    out.push(Configuration {
                        filings: vec![filing],
                    });
                }
            }
        }
    }
    out
}

pub use crate::experiments::Figure;

/// The figures the confidence target is checked on, with their names.
pub const DECISIVE: [(&str, Figure); 3] = [
    ("requests/s", stats::throughput),
    ("p50 latency", stats::p50_us),
    ("server CPU per request", measures::server_cpu_us_per_req),
];

/// Which configurations each round measures, and in what order.
pub struct Rounds {
    rng: fastrand::Rng,
    min_repeats: u32,
    target: Option<ConfidenceTarget>,
    /// Per configuration: its decisive figures ([`DECISIVE`], then any its
    /// points name), and per figure the values of the repeats so far.
    figures: Vec<Vec<(&'static str, Figure)>>,
    values: Vec<Vec<Vec<f64>>>,
    measured: Vec<u32>,
    round: u32,
}

impl Rounds {
    /// Rounds over `configurations` configurations: `repeats` rounds, or with
    /// a target at least `repeats` and then as many as the target needs.
    pub fn new(
        configurations: usize,
        seed: u64,
        repeats: u32,
        target: Option<ConfidenceTarget>,
    ) -> Self {
        Rounds {
            rng: fastrand::Rng::with_seed(seed),
            min_repeats: repeats.max(1),
            target,
            figures: vec![DECISIVE.to_vec(); configurations],
            values: vec![vec![Vec::new(); DECISIVE.len()]; configurations],
            measured: vec![0; configurations],
            round: 0,
        }
    }

    /// Adds a decisive figure to configuration `i` (an experiment's own, such
    /// as drops per attempt); a name it already has is not added twice.
    pub fn decisive(&mut self, i: usize, figure: (&'static str, Figure)) {
        if self.figures[i].iter().all(|(name, _)| *name != figure.0) {
            self.figures[i].push(figure);
            self.values[i].push(Vec::new());
        }
    }

    /// The index of the round `next_round` last returned (0-based).
    pub fn repeat(&self) -> u32 {
        self.round.saturating_sub(1)
    }

    /// The configurations to measure in the next round, shuffled; `None` when done.
    pub fn next_round(&mut self) -> Option<Vec<usize>> {
        let cap = self
            .target
            .map_or(self.min_repeats, |t| t.max_repeats.max(self.min_repeats));
        if self.round >= cap {
            return None;
        }
        let mut due: Vec<usize> = (0..self.values.len())
            .filter(|&i| self.round < self.min_repeats || !self.settled(i))
            .collect();
        if due.is_empty() {
            return None;
        }
        self.rng.shuffle(&mut due);
        self.round += 1;
        Some(due)
    }

    /// Records one repeat of configuration `i` (`None`: it produced no usable report).
    pub fn record(&mut self, i: usize, report: Option<&LoadReport>) {
        self.measured[i] += 1;
        if let Some(r) = report {
            for (slot, (_, f)) in self.values[i].iter_mut().zip(&self.figures[i]) {
                if let Some(v) = f(r) {
                    slot.push(v);
                }
            }
        }
    }

    /// Whether configuration `i` meets the target (always, without one).
    pub fn settled(&self, i: usize) -> bool {
        let Some(t) = self.target else {
            return true;
        };
        let usable = self.values[i].iter().any(|v| !v.is_empty());
        usable
            && self.values[i]
                .iter()
                .filter(|v| !v.is_empty())
                .all(|v| experiments::median_within(v, t.pct))
    }

    /// Configurations that ended without meeting the target, with the
    /// decisive figures that had not settled.
    pub fn unmet(&self) -> Vec<(usize, Vec<&'static str>)> {
        let Some(t) = self.target else {
            return Vec::new();
        };
        (0..self.values.len())
            .filter(|&i| !self.settled(i))
            .map(|i| {
                let figures = self.values[i]
                    .iter()
                    .zip(&self.figures[i])
                    .filter(|(v, _)| v.is_empty() || !experiments::median_within(v, t.pct))
                    .map(|(_, (name, _))| *name)
                    .collect();
                (i, figures)
            })
            .collect()
    }

    /// Repeats measured of configuration `i`.
    pub fn measured(&self, i: usize) -> u32 {
        self.measured[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configuration_once_per_round_in_a_seeded_shuffle() {
        let mut a = Rounds::new(20, 7, 3, None);
        let mut orders = Vec::new();
        while let Some(order) = a.next_round() {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                (0..20).collect::<Vec<_>>(),
                "each configuration once per round"
            );
            orders.push(order);
        }
        assert_eq!(orders.len(), 3);
        assert_ne!(orders[0], orders[1], "rounds are shuffled afresh");
        let mut b = Rounds::new(20, 7, 3, None);
        assert_eq!(
            b.next_round().as_ref(),
            orders.first(),
            "the same seed gives the same order"
        );
        let mut c = Rounds::new(20, 8, 3, None);
        assert_ne!(c.next_round().as_ref(), orders.first());
    }

    fn report(rps: f64) -> LoadReport {
        let mut r = crate::experiments::synthetic::report();
        r.throughput_rps = rps;
        r
    }

    #[test]
    fn a_target_repeats_the_unsettled_until_the_cap() {
        let target = ConfidenceTarget {
            pct: 5.0,
            max_repeats: 12,
        };
        let mut rounds = Rounds::new(2, 1, 3, Some(target));
        let mut noisy = [100.0, 160.0, 60.0].into_iter().cycle();
        while let Some(order) = rounds.next_round() {
            for i in order {
                let rps = if i == 0 {
                    1000.0
                } else {
                    noisy.next().unwrap()
                };
                rounds.record(i, Some(&report(rps)));
            }
        }
        // The steady configuration stops once six repeats give an interval;
        // the noisy one runs to the cap and is reported unmet.
        assert_eq!(rounds.measured(0), 6);
        assert_eq!(rounds.measured(1), 12);
        let unmet = rounds.unmet();
        assert_eq!(unmet.len(), 1);
        assert_eq!(unmet[0].0, 1);
        assert!(unmet[0].1.contains(&"requests/s"));
    }

    #[test]
    fn a_named_decisive_figure_is_targeted_too() {
        fn drops(r: &LoadReport) -> Option<f64> {
            Some(r.kernel_tcp.listen_overflows as f64)
        }
        let target = ConfidenceTarget {
            pct: 5.0,
            max_repeats: 10,
        };
        let mut rounds = Rounds::new(1, 1, 3, Some(target));
        rounds.decisive(0, ("drops", drops));
        rounds.decisive(0, ("drops", drops));
        let mut noisy = [10, 40, 1].into_iter().cycle();
        while let Some(order) = rounds.next_round() {
            for i in order {
                // Throughput steady, the named figure noisy.
                let mut r = report(1000.0);
                r.kernel_tcp.listen_overflows = noisy.next().unwrap();
                rounds.record(i, Some(&r));
            }
        }
        assert_eq!(
            rounds.measured(0),
            10,
            "the noisy named figure ran to the cap"
        );
        let unmet = rounds.unmet();
        assert!(unmet[0].1.contains(&"drops"), "{unmet:?}");
        assert!(!unmet[0].1.contains(&"requests/s"), "{unmet:?}");
    }
}
