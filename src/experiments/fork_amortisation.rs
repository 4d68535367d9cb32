//! Beyond the textbook: how many requests a connection must carry before
//! forking a process for it stops mattering.
//!
//! Comer & Stevens say a process per connection suits long conversations:
//! the fork is paid once per connection, so its share of each request falls
//! as 1/k with k requests per connection. This experiment finds the k at which
//! fork's server CPU per request meets prefork's (the same process per
//! connection, forked once at start, so the gap is the fork alone), and sets
//! it against the thread pool's and the event loop's.
//! Stevens (UNP, ch. 30) measured the other end: with one request per
//! connection, preforked and threaded servers cut the process-control CPU
//! against fork per connection about ten-fold.

use loadgen::Mode;
use servers::Model;

use super::interval::Ratio;
use super::measures::server_cpu_us_per_req as demand;
use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::{Points, ResultSet};

const ID: &str = "fork-amortisation";
const CLIENTS: usize = 4;
/// The design the verdict compares fork with: the same process per
/// connection blocking in read(), minus the fork (its processes are forked
/// once, at start), so the gap between the two is the fork's own cost.
const REFERENCE: &str = "prefork";
/// The other designs fork's curve is set against in the sentence.
const OTHERS: [&str; 2] = ["thread-pool", "mio"];
/// Fork's CPU per request "meets" the others' within this factor.
const MEET: f64 = 1.1;
/// With one request per connection fork must cost at least this factor more
/// for its per-connection cost to matter at all.
const MATTERS: f64 = 1.5;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "A process per connection suits long conversations: the fork is paid once per connection, so its cost per request \
                falls with the requests a connection carries until it no longer matters.",
        method: "4 clients each open a connection, send k 64-byte echo requests on it one after another, close it and open the next \
                 (k = 1 is plain connect-request-response-close), k from 1 to 1,000: the server's CPU per request (its cgroup's exact \
                 figure) for `fork`, `prefork`, `thread-pool` and `mio`, and the k at which fork's curve meets prefork's (within \
                 1.1×: the same process per connection, forked once at start), read from fork's extra CPU per connection \
                 (measured at k = 1, where it is hundreds of µs) spread over k requests against prefork's CPU per request, \
                 interpolated on log k, unless fork is clearly dearer per request at k = 1,000 too, and where it meets \
                 `thread-pool`'s and `mio`'s. What it adds to the textbook: a number for \"long\" in \"fork suits long \
                 conversations\", and the per-request cost that remains once the fork is amortised.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let mut points = Vec::new();
    let ks = profile.sweep(
        &[1, 100],
        &[1, 10, 100, 1000],
        &[1, 3, 10, 30, 100, 300, 1000],
    );
    for &k in &ks {
        for model in [Model::Fork, Model::Prefork, Model::ThreadPool, Model::Mio] {
            let load = match k {
                // k = 1 is fork-cost's CRR point, measured once for both.
                1 => LoadSpec::new(Mode::Crr).connections(CLIENTS),
                _ => LoadSpec::new(Mode::Crr)
                    .connections(CLIENTS)
                    .requests_per_connection(k),
            };
            points.push(
                Point::new(model.name(), k as f64, ServerSpec::new(model), load)
                    .decisive("server CPU µs/request", demand),
            );
        }
    }
    points
}

/// Fork's CPU per request over `other`'s at each k both were measured at.
fn ratio_curve(points: &Points<'_>, other: &str) -> Vec<(f64, Ratio)> {
    stats::all_x(points)
        .into_iter()
        .filter_map(|k| stats::ratio_at(points, ("fork", k), (other, k), demand).map(|r| (k, r)))
        .collect()
}

/// Where on log k a curve of ratios `(k, r)` first falls to [`MEET`],
/// interpolated between the last k above it and the first at or below it.
fn meeting(curve: &[(f64, f64)]) -> Option<f64> {
    if curve.first()?.1 <= MEET {
        return Some(curve[0].0);
    }
    curve.windows(2).find_map(|w| {
        let ((k1, r1), (k2, r2)) = (w[0], w[1]);
        (r2 <= MEET).then(|| {
            let t = (r1 - MEET) / (r1 - r2);
            (k1.ln() + t * (k2.ln() - k1.ln())).exp()
        })
    })
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let ks = stats::all_x(&points);
    let mut table = Table::new(&[
        "requests per connection",
        "model",
        "server CPU µs/request",
        "requests/s",
        "fork ÷ prefork",
    ]);
    let curve = ratio_curve(&points, REFERENCE);
    for &k in &ks {
        let ratio = curve.iter().find(|(x, _)| *x == k).map(|(_, r)| *r);
        for n in ["fork", "prefork", "thread-pool", "mio"] {
            if stats::at(&points, n, k, stats::throughput).is_none() {
                continue;
            }
            table.row(vec![
                format!("{k}"),
                n.to_string(),
                cell(stats::at(&points, n, k, demand), 2),
                cell(stats::at(&points, n, k, stats::throughput), 0),
                match (n, ratio) {
                    ("fork", Some(r)) => r.show(2),
                    _ => String::new(),
                },
            ]);
        }
    }
    let reference: Vec<(f64, f64)> = ks
        .iter()
        .filter_map(|&k| stats::at(&points, REFERENCE, k, demand).map(|s| (k, s.median)))
        .collect();
    let (verdict, mut because, headline) = judge(&curve, &reference);
    let mut published = Table::new(&["figure", "published", "here"]);
    published.row(vec![
        "fork per connection ÷ a preforked pool, one request per connection (published: process-control CPU; here: the server's whole CPU per request)".to_string(),
        "about 10× (Stevens, UNP vol. 1, ch. 30)".to_string(),
        curve.first().map_or("–".to_string(), |(k, r)| format!("{} at k = {k}", r.show(1))),
    ]);
    published.row(vec![
        "requests per connection at which fork stops mattering".to_string(),
        "no figure (\"long conversations\")".to_string(),
        meeting(&curve.iter().map(|(k, r)| (*k, r.value)).collect::<Vec<_>>())
            .map_or("not within the sweep".to_string(), |k| {
                format!("about {k:.0}")
            }),
    ]);
    for other in OTHERS {
        let c = ratio_curve(&points, other);
        if let (Some((k1, first)), Some((kn, last))) = (c.first(), c.last()) {
            let medians: Vec<(f64, f64)> = c.iter().map(|(k, r)| (*k, r.value)).collect();
            because.push_str(&format!(
                ". Against {other}: {:.2}× at {k1}, {:.2}× at {kn}, {}",
                first.value,
                last.value,
                match meeting(&medians) {
                    Some(k) => format!("meeting at about {k:.0} requests per connection"),
                    None => "not meeting within the sweep".to_string(),
                }
            ));
        }
    }
    let charts = vec![NamedChart::line(
        "demand",
        "Fork amortisation — server CPU per request against requests per connection",
        ("requests per connection", Scale::Log10),
        ("server CPU per request (µs)", Scale::Log10),
        stats::series(&points, demand),
        ctx,
    )
    .titled(headline)];
    let mut notes = super::experiment_caveats(results, ID);
    notes.insert(
        0,
        format!(
            "Published: Stevens, Fenner and Rudoff (UNIX Network Programming vol. 1, 3rd ed., ch. 30) measured, with one \
             request per connection, the process-control CPU of preforked and threaded servers about a tenth of fork per \
             connection's; the textbook's \"fork suits long conversations\" gives no number of requests. Server CPU is {}.",
            super::measures::SERVER_CPU_COUNTS
        ),
    );
    Finding {
        verdict,
        because,
        table: format!("{}\n{}", table.markdown(), published.markdown()),
        charts,
        notes,
    }
}

/// Fork's curve as its extra CPU per connection alone would draw it: with
/// `excess_us` more per connection than prefork (measured where it is
/// large, at the shortest conversations), fork costs
/// `1 + excess / (k × prefork(k))` times prefork at k.
fn amortised(excess_us: f64, reference: &[(f64, f64)]) -> Vec<(f64, f64)> {
    reference
        .iter()
        .filter(|(_, p)| *p > 0.0)
        .map(|&(k, p)| (k, 1.0 + excess_us / (k * p)))
        .collect()
}

/// Supported when fork's cost matters with one request per connection (at
/// least [`MATTERS`]×) and its extra cost per connection, spread over the
/// requests, falls within [`MEET`]× of prefork's per-request cost inside the
/// sweep, while at the longest conversations fork is not clearly dearer
/// per request (the interval of the ratio there reaches [`MEET`]); not
/// supported when it never mattered, or is clearly dearer at the longest
/// conversations and hardly fell; depends in between.
///
/// Where the curves meet is read from the extra cost per connection, not
/// from the ratio at the longest conversations: there fork's extra is a
/// few tenths of a µs on a request of about ten, below what separates two
/// runs of the same design (the two reference runs read 0.94× and 1.14× at
/// 1,000, deciding "meets" against "does not" on the same machine), while
/// at one request per connection it is hundreds of µs.
fn judge(curve: &[(f64, Ratio)], reference: &[(f64, f64)]) -> (Verdict, String, String) {
    let (Some(&(k1, first)), Some(&(kn, last))) = (curve.first(), curve.last()) else {
        return (
            Verdict::NoData,
            "fork or prefork has no usable CPU measurement".to_string(),
            "Fork amortisation — server CPU per request".to_string(),
        );
    };
    let prefork_k1 = reference
        .iter()
        .find(|(k, _)| *k == k1)
        .map_or(0.0, |(_, p)| *p);
    // Fork's extra CPU per connection: the gap per request times k.
    let excess = |ratio: f64| (ratio - 1.0).max(0.0) * prefork_k1 * k1;
    let meet_at = |ratio: f64| meeting(&amortised(excess(ratio), reference));
    let meet = meet_at(first.value);
    // Dearer per request too: the ratio's interval at the longest
    // conversations lies wholly above MEET.
    let dearer = last.lo > MEET;
    let where_ = match (meet, dearer) {
        (Some(k), false) => {
            // The interval: the same reading from the ends of the
            // interval of the ratio with one request per connection.
            let early = meet_at(first.lo).map_or("?".to_string(), |v| format!("{v:.0}"));
            let late = meet_at(first.hi).map_or(format!("beyond {kn}"), |v| format!("{v:.0}"));
            format!(
                "fork's extra {:.0} µs per connection, spread over the requests, falls within {MEET}× of prefork's CPU per \
                 request at about {k:.0} requests per connection (interval {early}–{late})",
                excess(first.value)
            )
        }
        (_, true) => format!(
            "fork's curve does not meet prefork's (within {MEET}×) up to {kn} requests per connection: even there it is \
             dearer per request beyond its extra cost per connection"
        ),
        (None, false) => format!(
            "fork's extra {:.0} µs per connection, spread over the requests, is still more than {:.0}% of prefork's CPU per \
             request at {kn}: fork's curve does not meet prefork's (within {MEET}×) inside the sweep",
            excess(first.value),
            (MEET - 1.0) * 100.0
        ),
    };
    let meets = meet.filter(|_| !dearer);
    let verdict = if first.value <= MEET || (dearer && last.value >= first.value * 0.9) {
        Verdict::NotSupported
    } else if first.value >= MATTERS && meets.is_some() {
        Verdict::Supported
    } else {
        Verdict::Depends
    };
    let headline = match meets {
        Some(k) => format!(
            "Fork amortisation — fork costs {:.1}× prefork per request at {k1} request per connection, and meets it at about {k:.0}",
            first.value
        ),
        None => format!(
            "Fork amortisation — fork still costs {:.1}× prefork per request at {kn} requests per connection",
            last.value
        ),
    };
    (
        verdict,
        format!(
            "with {k1} request per connection fork spends {} the server CPU per request of prefork (the same design forked \
             once), with {kn} {}; {where_} (supported when it costs at least {MATTERS}× at first and its extra cost per \
             connection is amortised to within {MEET}× inside the sweep, unless the ratio's interval at the longest \
             conversations lies wholly above {MEET}×; not supported when it never costs more than {MEET}×, or stays dearer \
             there without falling)",
            first.show(2),
            last.show(2)
        ),
        headline,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic::{server_cpu_us, verdict};

    /// Synthetic CPU per request: `per_conn / k + per_req` for fork, and
    /// `others / k + 5` for prefork, thread-pool and mio.
    fn with(fork_per_conn: f64, others_per_conn: f64, fork_per_req: f64) -> (Verdict, String) {
        verdict(&experiment(), |p, _, r| {
            r.throughput_rps = 1000.0;
            let k = p.x;
            let cost = match p.series.as_str() {
                "fork" => fork_per_conn / k + fork_per_req,
                _ => others_per_conn / k + 5.0,
            };
            server_cpu_us(r, cost);
        })
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        // Fork 150 µs per connection against 20: 6.2× at k = 1, within 1.1× between 100 and 1,000.
        let (v, because) = with(150.0, 20.0, 5.0);
        assert_eq!(v, Verdict::Supported, "{because}");
        assert!(
            because.contains("falls within 1.1× of prefork's"),
            "{because}"
        );
        assert!(because.contains("Against mio"), "{because}");
        // Fork costs no more than the others from the start.
        assert_eq!(with(20.0, 20.0, 5.0).0, Verdict::NotSupported);
        // Fork's per-request path is dearer too: it never meets, nor falls much.
        let (v, because) = with(30.0, 20.0, 20.0);
        assert_eq!(v, Verdict::NotSupported, "{because}");
        // Fork dearer per connection and a little per request: it falls, never meets.
        let (v, because) = with(150.0, 20.0, 7.0);
        assert_eq!(v, Verdict::Depends, "{because}");
        assert!(because.contains("does not meet"), "{because}");
    }

    #[test]
    fn the_meeting_point_comes_from_the_cost_per_connection_not_the_noisy_tail() {
        // Fork 150 µs per connection against prefork's 20, the same 5 µs per
        // request; at the longest conversations fork's repeats scatter
        // around 1.12× or 0.93× (two runs' noise on a 5 µs request): the
        // meeting point is the same.
        let with_tail = |tail: [f64; 3]| {
            verdict(&experiment(), |p, repeat, r| {
                r.throughput_rps = 1000.0;
                let k = p.x;
                let mut cost = match p.series.as_str() {
                    "fork" => 150.0 / k + 5.0,
                    _ => 20.0 / k + 5.0,
                };
                if p.series == "fork" && k == 1000.0 {
                    cost *= tail[repeat as usize % 3];
                }
                server_cpu_us(r, cost);
            })
        };
        let (hi, lo) = (with_tail([1.0, 1.12, 1.2]), with_tail([0.85, 0.93, 1.0]));
        assert_eq!((hi.0, lo.0), (Verdict::Supported, Verdict::Supported));
        let at = |b: &str| {
            b.split("at about ")
                .nth(1)
                .map(|t| t.split(' ').next().unwrap_or("").to_string())
        };
        assert_eq!(at(&hi.1), at(&lo.1), "{} / {}", hi.1, lo.1);
        // Dearer in every repeat: fork does not meet.
        let (v, because) = with_tail([1.3, 1.35, 1.4]);
        assert_eq!(v, Verdict::Depends, "{because}");
        assert!(because.contains("does not meet"), "{because}");
    }

    #[test]
    fn the_meeting_point_is_interpolated_on_log_k() {
        assert_eq!(
            meeting(&[(1.0, 3.0), (100.0, 1.0)]).map(|k| k.round()),
            Some(79.0)
        );
        assert_eq!(meeting(&[(1.0, 1.0)]), Some(1.0));
        assert_eq!(meeting(&[(1.0, 3.0), (10.0, 2.0)]), None);
    }
}
