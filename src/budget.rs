//! How long a run takes before it starts: each experiment's measurements and
//! estimated seconds, from its points and the profile alone, so `run --list`
//! can say it and a test can hold the standard run to its budget.
//!
//! A measurement costs its warm-up, its window (the profile's, or the point's
//! own) and the start and stop around them. A configuration several
//! experiments share is measured once and charged to the first that asks for
//! it, as the runner does. Request-bounded points may end before their
//! window, and points whose requests can wait for seconds (SYN
//! retransmissions) may drain past it, so the figure is an estimate.

use std::time::Duration;

use crate::experiments::{Experiment, Point, Profile};
use crate::schedule::{self, Plan};

/// Start and stop around each window: the server's start up to its readiness
/// line, the load generator's set-up and drain, the server's stop and reap.
/// The reference standard run spent 27 s of its 998 s outside warm-ups and
/// windows over 369 measurements (calibration included): 0.075 s each.
pub const START_STOP: Duration = Duration::from_millis(100);

/// The 11 experiments of the first release, and their standard budget:
/// with the new ones, the whole standard run fits in about 10 minutes on 2 cores.
pub const FIRST_RELEASE: [&str; 11] = [
    "overview",
    "fork-cost",
    "tcp-overhead",
    "datagram-cost",
    "datagram-loss",
    "iterative",
    "single-process",
    "zombies",
    "unix-vs-inet",
    "backlog",
    "c10k",
];
pub const FIRST_RELEASE_BUDGET: Duration = Duration::from_secs(360);
/// The whole standard run, every experiment.
pub const RUN_BUDGET: Duration = Duration::from_secs(600);

/// One experiment's share of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub id: &'static str,
    /// Its points (some may be measured for an earlier experiment).
    pub points: usize,
    /// Measurements charged to it: its own configurations × repeats.
    pub measurements: usize,
    pub seconds: f64,
}

/// What a point with the long window (its requests wait seconds for SYN
/// retransmissions) adds after it: outstanding connects finish their wait,
/// up to the second retransmission, 3 s after the first SYN.
pub const LONG_DRAIN: Duration = Duration::from_secs(3);

/// One measurement of `point` under `profile`, start and stop included.
pub fn measurement(profile: Profile, point: &Point) -> Duration {
    let window = point.load.window.unwrap_or(profile.duration());
    let drain = if point.load.window == Some(profile.long_window()) {
        LONG_DRAIN
    } else {
        Duration::ZERO
    };
    profile.warmup() + window + START_STOP + drain
}

/// Every experiment of `plan` with its estimate, in plan order, for `repeats`
/// rounds (a confidence target may add rounds: `full` runs longer).
pub fn estimate(plan: &Plan, profile: Profile, repeats: u32) -> Vec<Estimate> {
    let mut out: Vec<Estimate> = plan
        .iter()
        .map(|(e, points)| Estimate {
            id: e.id,
            points: points.len(),
            measurements: 0,
            seconds: 0.0,
        })
        .collect();
    for configuration in schedule::configurations(plan) {
        let first = &configuration.filings[0];
        if let Some(e) = out.iter_mut().find(|e| e.id == first.experiment) {
            e.measurements += repeats as usize;
            e.seconds += f64::from(repeats) * measurement(profile, &first.point).as_secs_f64();
        }
    }
    out
}

/// The plan of these experiments (all when `ids` is empty) with every point
/// each lists for `profile`, before any model filter.
pub fn plan_of(ids: &[&str], profile: Profile) -> Plan {
    crate::experiments::all()
        .into_iter()
        .filter(|e: &Experiment| ids.is_empty() || ids.contains(&e.id))
        .map(|e| {
            let points = (e.points)(profile);
            (e, points)
        })
        .collect()
}

/// The total of some estimates, in seconds.
pub fn total(estimates: &[Estimate]) -> f64 {
    estimates.iter().map(|e| e.seconds).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard(ids: &[&str]) -> Vec<Estimate> {
        let profile = Profile::Standard;
        estimate(&plan_of(ids, profile), profile, profile.repeats())
    }

    fn table(estimates: &[Estimate]) -> String {
        estimates
            .iter()
            .map(|e| {
                format!(
                    "{}: {} measurements, {:.0} s",
                    e.id, e.measurements, e.seconds
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_first_release_fits_its_standard_budget() {
        let estimates = standard(&FIRST_RELEASE);
        assert_eq!(
            estimates.len(),
            FIRST_RELEASE.len(),
            "{}",
            table(&estimates)
        );
        let seconds = total(&estimates);
        assert!(
            seconds <= FIRST_RELEASE_BUDGET.as_secs_f64(),
            "the first release's experiments take {seconds:.0} s in standard, over their {} s:\n{}",
            FIRST_RELEASE_BUDGET.as_secs(),
            table(&estimates)
        );
    }

    #[test]
    fn the_whole_standard_run_fits_in_ten_minutes() {
        let estimates = standard(&[]);
        let seconds = total(&estimates);
        assert!(
            seconds <= RUN_BUDGET.as_secs_f64(),
            "the standard run takes {seconds:.0} s, over {} s:\n{}",
            RUN_BUDGET.as_secs(),
            table(&estimates)
        );
    }

    #[test]
    fn a_shared_configuration_is_charged_once_to_its_first_asker() {
        let profile = Profile::Standard;
        let plan = plan_of(&["overview", "tcp-overhead"], profile);
        let estimates = estimate(&plan, profile, 3);
        let distinct = schedule::configurations(&plan).len();
        let charged: usize = estimates.iter().map(|e| e.measurements).sum();
        assert_eq!(charged, 3 * distinct);
        let points: usize = estimates.iter().map(|e| e.points).sum();
        assert!(
            distinct < points,
            "tcp-overhead's mio rr at 1 connection is overview's: {}",
            table(&estimates)
        );
        let tcp = &estimates[1];
        assert_eq!(
            tcp.measurements,
            3 * (tcp.points - 1),
            "{}",
            table(&estimates)
        );
    }
}
