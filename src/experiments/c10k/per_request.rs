//! The C10K experiment's connection-per-request variant: every request a new
//! connection beside the idle ones, so each adds a descriptor to the watched
//! set and removes it (`epoll_ctl` for epoll), and select and poll pay for
//! every idle descriptor on every call — Gammo et al. (2004) measured them
//! losing up to 79 % of their throughput with 10,000 idle connections. Its
//! series, its sweep, and the verdict rule the experiment reaches with it.

use servers::Model;

use crate::experiments::stats;
use crate::experiments::{Profile, Ratio, Verdict};
use crate::results::Points;

/// The connection-per-request variant's series: the readiness calls Gammo
/// et al. compared, each request a new descriptor to add and remove.
pub(super) const CRR_MODELS: [Model; 3] = [Model::Select, Model::Poll, Model::Mio];
pub(super) const CRR_SUFFIX: &str = ", connection per request";
/// select(2) cannot watch a descriptor at or above this.
pub(super) const FD_SETSIZE: usize = 1024;
/// Published: select and poll lost up to this share of their throughput with
/// 10,000 idle connections (Gammo, Brecht, Shukla, Pariag, OLS 2004).
pub(super) const GAMMO_LOSS: f64 = 0.79;
/// A readiness call "loses" from this share of its throughput…
const LOSES: f64 = 0.3;
/// …and "holds" up to this share lost.
const HOLDS: f64 = 0.15;

pub(super) fn crr_series(model: Model) -> String {
    format!("{}{CRR_SUFFIX}", model.name())
}

/// Idle connections of the connection-per-request variant (select only in
/// `full`: the verdict turns on poll and epoll, and standard has its budget).
pub(super) fn crr_sweep(profile: Profile, model: Model) -> Vec<usize> {
    if model == Model::Select && profile == Profile::Standard {
        return Vec::new();
    }
    let sweep = profile.sweep(&[1, 1_000], &[1, 1_000], &[1, 1_000, 10_000]);
    // Past FD_SETSIZE select refuses the new connections themselves.
    let most = if model == Model::Select {
        FD_SETSIZE - 64
    } else {
        usize::MAX
    };
    sweep.into_iter().filter(|k| *k <= most).collect()
}

/// Throughput the connection-per-request series `name` keeps at its most
/// idle connections, over its own with none: (idle, ratio with interval).
pub(super) fn kept(points: &Points<'_>, name: &str) -> Option<(f64, Ratio)> {
    let xs = points.get(name)?;
    let (lo, hi) = (xs.keys().next()?.0, xs.keys().next_back()?.0);
    (hi > lo).then_some(())?;
    Some((
        hi,
        stats::ratio_at(points, (name, hi), (name, lo), stats::throughput)?,
    ))
}

/// The load generator's busy share from which a connection rate is its own
/// rather than the server's.
const GENERATOR_BOUND: f64 = 0.95;

/// A note for each connection-per-request series whose rate with no idle
/// connections was set by the load generator (its median busy share at or
/// above [`GENERATOR_BOUND`]): the share it "kept" is then at most what the
/// server itself would keep.
pub(super) fn generator_bound_notes(points: &Points<'_>) -> Vec<String> {
    points
        .iter()
        .filter_map(|(name, xs)| {
            let first = xs.keys().next()?.0;
            let busy = stats::at(points, name, first, |r| {
                Some(crate::experiments::measures::loadgen_busy(r))
            })?;
            (busy.median >= GENERATOR_BOUND).then(|| {
                format!(
                    "{}: with {first} idle connection the load generator was busy {:.0}% of its time, so that rate is the \
                     generator's, and the share kept with more idle connections is at most what the server itself keeps.",
                    name.trim_end_matches(CRR_SUFFIX),
                    busy.median * 100.0
                )
            })
        })
        .collect()
}

/// Gammo et al.'s claim on our data: poll (select where it can) loses, epoll holds.
pub(super) fn judge(points: &Points<'_>) -> (Verdict, String) {
    let (Some((k_poll, poll)), Some((k_mio, epoll))) = (
        kept(points, &crr_series(Model::Poll)),
        kept(points, &crr_series(Model::Mio)),
    ) else {
        return (
            Verdict::NoData,
            "the connection-per-request variant has no usable poll or mio measurement with and without idle connections".to_string(),
        );
    };
    let (poll_loss, mio_loss) = (1.0 - poll.value, 1.0 - epoll.value);
    let verdict = if poll_loss >= LOSES && mio_loss <= HOLDS {
        Verdict::Supported
    } else if poll_loss <= HOLDS || mio_loss >= poll_loss - 0.05 {
        Verdict::NotSupported
    } else {
        Verdict::Depends
    };
    let select = kept(points, &crr_series(Model::Select))
        .map(|(k, r)| {
            format!(
                "; select lost {:.0}% with {k} (it cannot go past FD_SETSIZE)",
                (1.0 - r.value) * 100.0
            )
        })
        .unwrap_or_default();
    (
        verdict,
        format!(
            "with a connection per request, poll kept {} of its throughput with {k_poll} idle connections (lost {:.0}%), mio (epoll) \
             kept {} with {k_mio} (lost {:.0}%){select}; Gammo et al. (2004) measured select and poll losing up to {:.0}% with \
             10,000 idle connections (rule: supported when poll loses ≥ {:.0}% and epoll ≤ {:.0}%; not supported when poll loses \
             ≤ {:.0}% or epoll loses as much as poll; else \"depends\")",
            poll.show(2),
            poll_loss * 100.0,
            epoll.show(2),
            mio_loss * 100.0,
            GAMMO_LOSS * 100.0,
            LOSES * 100.0,
            HOLDS * 100.0,
            HOLDS * 100.0,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::c10k::{experiment, idle_sweep};
    use crate::experiments::synthetic::verdict;

    /// Synthetic data: the share of its connection rate with no idle
    /// connections that poll and mio keep with the most.
    fn with(poll_kept: f64, mio_kept: f64) -> Verdict {
        verdict(&experiment(), |p, _, r| {
            let kept = match (p.series.as_str(), p.x > 1.0) {
                (_, false) => 1.0,
                (s, true) if s == crr_series(Model::Poll) => poll_kept,
                (s, true) if s == crr_series(Model::Mio) => mio_kept,
                _ => 0.9,
            };
            r.throughput_rps = 8_000.0 * kept;
        })
        .0
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        // Gammo et al.: poll loses most of its rate, epoll keeps it.
        assert_eq!(with(0.25, 0.97), Verdict::Supported);
        // Nobody loses (a kernel that made poll cheap).
        assert_eq!(with(0.95, 0.97), Verdict::NotSupported);
        // Both lose alike.
        assert_eq!(with(0.4, 0.42), Verdict::NotSupported);
        // Poll loses, but epoll loses a fair share too.
        assert_eq!(with(0.4, 0.75), Verdict::Depends);
    }

    #[test]
    fn a_rate_the_generator_set_is_named_in_the_notes() {
        let notes = |busy: f64| {
            let data = crate::experiments::synthetic::results(&experiment(), 3, |p, _, r| {
                r.throughput_rps = if p.x > 1.0 { 7_000.0 } else { 8_000.0 };
                r.loadgen.utilization = if p.x > 1.0 { 0.5 } else { busy };
            });
            let ctx = crate::experiments::Context {
                footnote: String::new(),
                error_bars: String::new(),
                slo: crate::experiments::DEFAULT_SLO,
            };
            (experiment().analyze)(&data, &ctx).notes.join("\n")
        };
        let bound = notes(0.99);
        assert!(
            bound.contains("mio: with 1 idle connection the load generator was busy 99%"),
            "{bound}"
        );
        assert!(!notes(0.6).contains("the load generator was busy"));
    }

    #[test]
    fn select_stops_below_fd_setsize_in_the_connection_per_request_variant() {
        for profile in Profile::ALL {
            assert!(crr_sweep(profile, Model::Select)
                .iter()
                .all(|k| *k < FD_SETSIZE));
            assert!(idle_sweep(profile, Model::Fork).iter().all(|k| *k <= 5_000));
        }
    }
}
