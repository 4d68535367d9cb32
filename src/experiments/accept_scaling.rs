//! Beyond the textbook: accept scaling — many workers taking connections
//! from one listener (a thundering herd?) against one listener each
//! (SO_REUSEPORT), and how evenly the work spreads.
//!
//! Linux puts a process blocked in `accept()` on the listener's wait queue
//! as an exclusive waiter and wakes one per connection (since 2.3): prefork's
//! N processes do not stampede. An epoll instance watching a shared listener
//! is woken for every connection unless it asked for EPOLLEXCLUSIVE (4.5), so
//! N event loops sharing one listener all wake and all but one find nothing.
//! SO_REUSEPORT (3.9) gives each loop a listener of its own and hashes each
//! connection to one, which was introduced to fix the imbalance of the
//! shared queue. The figures: connections per second; wake-ups per accepted
//! connection as the server's context switches (the probe) and as the event
//! loops' empty accepts (the server's summary); and balance, the most
//! connections one worker took over the fewest (the server's per-worker counts).

use loadgen::{LoadReport, Mode};
use servers::{Model, Summary, Transport};

use super::interval::{ratio_of_medians, Ratio};
use super::stats::{self, cell, stat, Stat, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::{Outcome, Points, ResultSet};

const ID: &str = "accept-scaling";
/// Clients connecting at once, again and again (CRR).
const CLIENTS: usize = 16;
/// Workers of the pools compared for balance.
const WORKERS: usize = 8;
/// prefork's worker counts: fewer than the clients (workers rarely wait in
/// accept) and more (at least half are always waiting: a herd would wake them all).
const PREFORK_FEW: usize = 4;
const PREFORK_MANY: usize = 32;
const SHARED: &str = "reuseport loops sharing one listener (unix)";

/// Wake-one holds while prefork's switches per connection grow at most this
/// much from 4 to 32 workers…
const WAKE_ONE_YES: f64 = 2.0;
/// …and a herd shows from this growth (16 or more waiters woken per connection).
const WAKE_ONE_NO: f64 = 4.0;
/// Empty accepts per connection from which the shared listener's loops stampede…
const HERD_YES: f64 = 0.5;
/// …and up to which they do not.
const HERD_NO: f64 = 0.1;
/// Most/fewest connections per worker up to which the work is spread evenly…
const EVEN: f64 = 1.5;
/// …and from which it is not.
const UNEVEN: f64 = 2.0;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Beyond the textbook: many processes blocked in accept() on one listener do not stampede (Linux wakes one), event loops \
                sharing one listener do (epoll wakes every watcher), and SO_REUSEPORT spreads connections evenly where one shared queue does not.",
        method: "16 clients connect, ask one 64-byte echo and close (CRR), again and again, against `prefork` with 4 and with 32 processes \
                 blocked in accept() on one listener, `thread-pool` (one acceptor, 8 workers), `mio` (one loop), `reuseport` (8 loops, a \
                 listener each) and the same 8 loops sharing one Unix-domain listener (SO_REUSEPORT does not spread Unix sockets): \
                 connections per second, the server's context switches per connection, the loops' accepts that found nothing per \
                 connection (woken for a connection another loop took), and the most connections one worker took over the fewest.",
        points,
        analyze,
    }
}

/// `spec` with exactly `n` workers (replacing the default's `--workers`).
fn with_workers(mut spec: ServerSpec, n: usize) -> ServerSpec {
    if let Some(i) = spec.args.iter().position(|a| a == "--workers") {
        spec.args.drain(i..(i + 2).min(spec.args.len()));
    }
    spec.arg("--workers", n)
}

fn points(profile: Profile) -> Vec<Point> {
    // CRR at thousands of connections per second counts enough in ¾ of a window.
    let crr = LoadSpec::new(Mode::Crr)
        .connections(CLIENTS)
        .window(profile.duration() * 3 / 4);
    let point = |series: &str, workers: usize, server: ServerSpec| {
        Point::new(series, workers as f64, server, crr.clone())
    };
    let prefork = |n| {
        point(
            Model::Prefork.name(),
            n,
            with_workers(ServerSpec::new(Model::Prefork), n),
        )
        .decisive("context switches per connection", switches_per_conn)
    };
    vec![
        prefork(PREFORK_FEW),
        prefork(PREFORK_MANY),
        point(
            Model::ThreadPool.name(),
            WORKERS,
            with_workers(ServerSpec::new(Model::ThreadPool), WORKERS),
        ),
        point(Model::Mio.name(), 1, ServerSpec::new(Model::Mio)),
        point(
            Model::Reuseport.name(),
            WORKERS,
            with_workers(ServerSpec::new(Model::Reuseport), WORKERS),
        ),
        point(
            SHARED,
            WORKERS,
            with_workers(
                ServerSpec::new(Model::Reuseport).transport(Transport::Unix),
                WORKERS,
            ),
        ),
    ]
}

/// The server tree's context switches (voluntary and not) per completed connection.
fn switches_per_conn(r: &LoadReport) -> Option<f64> {
    let s = r.server.as_ref()?;
    (r.requests > 0)
        .then(|| (s.voluntary_ctxt_switches + s.involuntary_ctxt_switches) as f64 / r.requests as f64)
}

/// Accepts that found nothing per accepted connection (the server's whole life).
fn empty_per_conn(s: &Summary, _workers: usize) -> Option<f64> {
    (s.connections > 0).then(|| s.empty_accepts as f64 / s.connections as f64)
}

/// Most connections one worker took over the fewest (a worker that took
/// none counts as one); `None` for a model without named workers.
fn balance(s: &Summary, workers: usize) -> Option<f64> {
    if s.per_worker.is_empty() || workers < 2 {
        return None;
    }
    let mut counts = s.per_worker.clone();
    // Trailing workers that took nothing are not listed.
    counts.resize(workers.max(counts.len()), 0);
    let max = counts.iter().copied().max()?;
    let min = counts.iter().copied().min()?.max(1);
    Some(max as f64 / min as f64)
}

/// A figure of the server's own summary, over the usable repeats of one point.
type SummaryFigure = fn(&Summary, usize) -> Option<f64>;

fn summary_values(points: &Points<'_>, series: &str, x: f64, f: SummaryFigure) -> Vec<f64> {
    points
        .get(series)
        .and_then(|xs| xs.iter().find(|(k, _)| k.0 == x))
        .map(|(_, repeats)| {
            repeats
                .iter()
                .filter(|m| m.outcome == Outcome::Ok)
                .filter_map(|m| f(m.server_summary.as_ref()?, x as usize))
                .collect()
        })
        .unwrap_or_default()
}

fn summary_at(points: &Points<'_>, series: &str, x: f64, f: SummaryFigure) -> Option<Stat> {
    stat(&summary_values(points, series, x, f))
}

fn summary_ratio(points: &Points<'_>, a: (&str, f64), b: (&str, f64), f: SummaryFigure) -> Option<Ratio> {
    ratio_of_medians(
        &summary_values(points, a.0, a.1, f),
        &summary_values(points, b.0, b.1, f),
    )
}

/// The three halves of the claim, each with the sentence that decides it.
fn judge(points: &Points<'_>) -> (Verdict, String) {
    let prefork = Model::Prefork.name();
    let (few, many) = (PREFORK_FEW as f64, PREFORK_MANY as f64);
    let wake_one = stats::ratio_at(points, (prefork, many), (prefork, few), switches_per_conn);
    let herd = summary_at(points, SHARED, WORKERS as f64, empty_per_conn);
    let reuse_balance = summary_at(points, Model::Reuseport.name(), WORKERS as f64, balance);
    let spread = summary_ratio(
        points,
        (SHARED, WORKERS as f64),
        (Model::Reuseport.name(), WORKERS as f64),
        balance,
    );
    let (Some(wake_one), Some(herd), Some(reuse_balance), Some(spread)) =
        (wake_one, herd, reuse_balance, spread)
    else {
        return (
            Verdict::NoData,
            "prefork (4 and 32 workers), reuseport or the shared-listener loops have no usable measurement with server counts"
                .to_string(),
        );
    };
    let one = match wake_one.value {
        r if r <= WAKE_ONE_YES => Verdict::Supported,
        r if r >= WAKE_ONE_NO => Verdict::NotSupported,
        _ => Verdict::Depends,
    };
    let stampede = stats::verdict_from_ratio(herd.median, HERD_YES, HERD_NO);
    let even = if reuse_balance.median <= EVEN && spread.value >= EVEN {
        Verdict::Supported
    } else if reuse_balance.median >= UNEVEN || spread.value <= 1.1 {
        Verdict::NotSupported
    } else {
        Verdict::Depends
    };
    let label = |v: Verdict| v.label();
    let because = format!(
        "blocked accept() wakes one: {} (prefork's context switches per connection with 32 processes over 4: {}; a herd would wake \
         every waiting process, 16 or more, per connection); epoll on a shared listener wakes every loop: {} ({:.2}{} accepts that \
         found nothing per connection with 8 loops on one listener); SO_REUSEPORT spreads evenly: {} (most/fewest connections per \
         loop {:.2}{} with a listener each, the shared listener {} as uneven) \
         (rule: wake-one supported up to {WAKE_ONE_YES}×, not from {WAKE_ONE_NO}×; the shared listener's herd supported from {HERD_YES} \
         empty accepts per connection, not up to {HERD_NO}; balance supported when reuseport's most/fewest is ≤ {EVEN} and the shared \
         listener's is ≥ {EVEN}× it, not when reuseport's is ≥ {UNEVEN} or the shared listener is within 1.1× of it; \
         all three agreeing give the verdict, else \"depends\")",
        label(one),
        wake_one.show(2),
        label(stampede),
        herd.median,
        herd.interval(2, 1.0),
        label(even),
        reuse_balance.median,
        reuse_balance.interval(2, 1.0),
        spread.show(2),
    );
    (Verdict::all(&[one, stampede, even]), because)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let mut table = Table::new(&[
        "server",
        "workers",
        "connections/s",
        "context switches per connection",
        "empty accepts per connection",
        "most/fewest connections per worker",
        "per-worker connections (first repeat)",
    ]);
    let mut rows = Vec::new();
    for (name, xs) in &points {
        for (x, repeats) in xs {
            rows.push((name.clone(), x.0));
            let first = repeats
                .iter()
                .filter_map(|m| m.server_summary.as_ref())
                .next()
                .map_or("–".to_string(), |s| format!("{:?}", s.per_worker));
            table.row(vec![
                name.clone(),
                format!("{}", x.0),
                cell(stats::over(repeats, stats::throughput), 0),
                cell(stats::over(repeats, switches_per_conn), 2),
                cell(summary_at(&points, name, x.0, empty_per_conn), 2),
                cell(summary_at(&points, name, x.0, balance), 2),
                first,
            ]);
        }
    }
    let (verdict, because) = judge(&points);
    // One bar per (server, workers): the chart's categories.
    let labels: Vec<String> = rows.iter().map(|(n, x)| format!("{n} ×{x}")).collect();
    let per_row = |f: &dyn Fn(&str, f64) -> Option<Stat>| crate::charts::BarGroup {
        name: String::new(),
        values: rows
            .iter()
            .map(|(n, x)| {
                f(n, *x).map(|s| crate::charts::Bar {
                    value: s.median,
                    spread: (s.n > 1).then_some((s.lo, s.hi)),
                })
            })
            .collect(),
    };
    let mut wakeups = per_row(&|n, x| stats::at(&points, n, x, switches_per_conn));
    wakeups.name = "context switches".to_string();
    let mut empties = per_row(&|n, x| summary_at(&points, n, x, empty_per_conn));
    empties.name = "accepts that found nothing".to_string();
    let mut spread = per_row(&|n, x| summary_at(&points, n, x, balance));
    spread.name = "most/fewest per worker".to_string();
    let mut rate = per_row(&|n, x| stats::at(&points, n, x, stats::throughput));
    rate.name = "CRR rate".to_string();
    let herd_title = match summary_at(&points, SHARED, WORKERS as f64, empty_per_conn) {
        Some(h) if h.median >= HERD_YES => format!(
            "Loops sharing one listener wake for connections they do not get ({:.1} empty accepts per connection); blocked accept() does not",
            h.median
        ),
        Some(h) => format!(
            "No herd here: loops sharing one listener found nothing {:.2} times per connection",
            h.median
        ),
        None => "Wake-ups per accepted connection".to_string(),
    };
    let balance_title = match summary_at(&points, Model::Reuseport.name(), WORKERS as f64, balance) {
        Some(b) => format!("SO_REUSEPORT's busiest loop took {:.2}× the connections of its idlest", b.median),
        None => "Balance: most over fewest connections per worker".to_string(),
    };
    let charts = vec![
        NamedChart::bars(
            "wakeups",
            "Accept scaling — wake-ups per accepted connection (CRR, 16 clients)",
            ("per accepted connection", Scale::Linear),
            &labels,
            vec![wakeups, empties],
            ctx,
        )
        .titled(herd_title),
        NamedChart::bars(
            "balance",
            "Accept scaling — most over fewest connections taken per worker",
            ("most / fewest connections per worker", Scale::Linear),
            &labels,
            vec![spread],
            ctx,
        )
        .titled(balance_title),
        NamedChart::bars(
            "rate",
            "Accept scaling — connections per second (CRR, 16 clients)",
            ("connections per second", Scale::Linear),
            &labels,
            vec![rate],
            ctx,
        ),
    ];
    let mut notes = super::experiment_caveats(results, ID);
    notes.insert(
        0,
        "What this adds to the textbook, which has every process of a preallocated server call accept() without asking who wakes: \
         the wake-ups and the balance, measured. Published beside ours: Linux made a blocked accept() wake one waiter in 2.3/2.4 \
         (before, every waiter woke: the thundering herd of Apache's prefork); epoll gained EPOLLEXCLUSIVE in 4.5 (2016) because \
         every epoll instance watching a listener is still woken; SO_REUSEPORT's author reported up to 3:1 between the threads \
         accepting the most and the fewest connections from one shared socket (LWN, \"The SO_REUSEPORT socket option\", 2013), \
         which one listener per thread removes. Empty accepts are counted only by the event loops (a blocked accept() never \
         returns empty-handed: the kernel retries inside the call), so prefork's wake-ups are its context switches; those \
         include the switches of serving each connection, hence the 4-against-32 comparison. Balance counts the server's whole \
         life (warm-up included); thread-pool's is the hand-off queue's, not the kernel's."
            .to_string(),
    );
    Finding {
        verdict,
        because,
        table: table.markdown(),
        charts,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic;

    /// Synthetic data: prefork's switches per connection with 32 workers
    /// over 4, the shared listener's empty accepts per connection, and the
    /// most/fewest per worker of reuseport and of the shared listener.
    fn with(growth: f64, empty: f64, reuse_spread: f64, shared_spread: f64) -> Verdict {
        let mut data = synthetic::results(&experiment(), 3, |p, _, r| {
            r.requests = 10_000;
            r.throughput_rps = 5_000.0;
            let per_conn = if p.x == PREFORK_MANY as f64 { 3.0 * growth } else { 3.0 };
            let s = r.server.as_mut().unwrap();
            s.voluntary_ctxt_switches = (per_conn * 10_000.0) as u64;
        });
        for m in &mut data.measurements {
            let spread = match m.series.as_str() {
                SHARED => shared_spread,
                "reuseport" => reuse_spread,
                _ => 1.0,
            };
            let workers = m.x as usize;
            let low = 1000u64;
            let mut per_worker = vec![low; workers];
            per_worker[0] = (low as f64 * spread) as u64;
            let connections: u64 = per_worker.iter().sum();
            m.server_summary = Some(Summary {
                connections,
                empty_accepts: if m.series == SHARED {
                    (empty * connections as f64) as u64
                } else {
                    0
                },
                per_worker,
                ..Summary::default()
            });
        }
        let ctx = Context {
            footnote: String::new(),
            error_bars: String::new(),
        };
        (experiment().analyze)(&data, &ctx).verdict
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        // Linux today: wake-one, a herd on the shared listener, reuseport even.
        assert_eq!(with(1.2, 3.0, 1.1, 3.0), Verdict::Supported);
        // A stampede in accept(), no herd in epoll, reuseport as uneven as the shared queue.
        assert_eq!(with(6.0, 0.0, 2.5, 2.5), Verdict::NotSupported);
        // Wake-one and a herd, but reuseport no more even than the shared listener.
        assert_eq!(with(1.2, 3.0, 1.3, 1.3), Verdict::Depends);
        // In between on every count.
        assert_eq!(with(3.0, 0.3, 1.7, 2.0), Verdict::Depends);
    }

    #[test]
    fn balance_counts_workers_that_took_nothing() {
        let s = Summary {
            per_worker: vec![10, 5],
            ..Summary::default()
        };
        assert_eq!(balance(&s, 2), Some(2.0));
        // Two more workers existed and took nothing (each counts as one).
        assert_eq!(balance(&s, 4), Some(10.0));
        assert_eq!(balance(&Summary::default(), 8), None);
    }
}
