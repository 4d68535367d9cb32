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
/// Clients connecting, again and again (CRR): one at a time, so that every
/// worker but the one serving is asleep waiting when a connection arrives —
/// the condition a herd needs. Under saturation nobody sleeps and a herd
/// costs nothing: a loop that wakes late finds the next connection queued.
const CLIENTS: usize = 1;
/// Workers of the pools compared for balance.
const WORKERS: usize = 8;
/// prefork's worker counts: a few, and many more (all but a few always
/// waiting in accept: a herd would wake them all for every connection).
const PREFORK_FEW: usize = 4;
const PREFORK_MANY: usize = 32;
const SHARED: &str = "reuseport loops sharing one listener (unix)";
/// One loop on the same Unix-domain transport: the shared loops' baseline.
const ONE_LOOP_UNIX: &str = "mio (unix)";

/// Extra wake-ups per connection per extra waiting worker up to which one
/// waiter is woken per connection…
const WAKE_ONE: f64 = 0.1;
/// …and from which (half the waiters or more) the waiters stampede.
const HERD: f64 = 0.5;
/// Most/fewest connections per worker up to which the work is spread evenly…
const EVEN: f64 = 1.5;
/// …and from which it is not.
const UNEVEN: f64 = 2.0;

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Many processes blocked in accept() on one listener do not stampede (Linux wakes one), event loops \
                sharing one listener do (epoll wakes every watcher), and SO_REUSEPORT spreads connections evenly where one shared queue does not (beyond the textbook).",
        method: "One client connects, asks one 64-byte echo and closes (CRR), again and again, as fast as it can (so every idle worker is \
                 asleep waiting when a connection arrives, the condition a herd needs), against `prefork` with 4 and with 32 processes \
                 blocked in accept() on one listener, `thread-pool` (one acceptor, 8 workers), `mio` (one loop), `reuseport` (8 loops, a \
                 listener each) and the same 8 loops sharing one Unix-domain listener (SO_REUSEPORT does not spread Unix sockets; \
                 `mio` over Unix is their one-loop baseline): connections per second; wake-ups as the server's context switches per \
                 connection, and from them the extra wake-ups per connection per extra waiting worker (≈ 0: one waiter woken, ≈ 1: all); \
                 the loops' accepts that found nothing; and the most connections one worker took over the fewest.",
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
    // CRR at thousands of connections per second counts enough in half a window.
    let crr = LoadSpec::new(Mode::Crr)
        .connections(CLIENTS)
        .window(profile.duration() / 2);
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
            ONE_LOOP_UNIX,
            1,
            ServerSpec::new(Model::Mio).transport(Transport::Unix),
        ),
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
        )
        .decisive("context switches per connection", switches_per_conn),
    ]
}

/// The server tree's context switches (voluntary and not) per completed connection.
fn switches_per_conn(r: &LoadReport) -> Option<f64> {
    let s = r.server.as_ref()?;
    (r.requests > 0).then(|| {
        (s.voluntary_ctxt_switches + s.involuntary_ctxt_switches) as f64 / r.requests as f64
    })
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

fn summary_ratio(
    points: &Points<'_>,
    a: (&str, f64),
    b: (&str, f64),
    f: SummaryFigure,
) -> Option<Ratio> {
    ratio_of_medians(
        &summary_values(points, a.0, a.1, f),
        &summary_values(points, b.0, b.1, f),
    )
}

/// Extra wake-ups per connection per extra waiting worker, from `small` to
/// `big` workers of the same design (`(series, workers)` each), with the
/// ratio of the two switch counts and its interval.
fn woken_share(points: &Points<'_>, small: (&str, f64), big: (&str, f64)) -> Option<(f64, Ratio)> {
    let a = stats::at(points, small.0, small.1, switches_per_conn)?;
    let b = stats::at(points, big.0, big.1, switches_per_conn)?;
    let ratio = stats::ratio_at(points, big, small, switches_per_conn)?;
    Some(((b.median - a.median) / (big.1 - small.1), ratio))
}

/// Wake-one or a herd, from the woken share (`wake_one`: the claim is that one waiter wakes).
fn herd_verdict(share: f64, wake_one: bool) -> Verdict {
    let v = match share {
        s if s <= WAKE_ONE => Verdict::Supported,
        s if s >= HERD => Verdict::NotSupported,
        _ => Verdict::Depends,
    };
    match (v, wake_one) {
        (v, true) | (v @ Verdict::Depends, false) => v,
        (Verdict::Supported, false) => Verdict::NotSupported,
        _ => Verdict::Supported,
    }
}

/// The three parts of the claim, each with the sentence that decides it.
fn judge(points: &Points<'_>) -> (Verdict, String) {
    let prefork = Model::Prefork.name();
    let blocked = woken_share(
        points,
        (prefork, PREFORK_FEW as f64),
        (prefork, PREFORK_MANY as f64),
    );
    let shared = woken_share(points, (ONE_LOOP_UNIX, 1.0), (SHARED, WORKERS as f64));
    let reuse_balance = summary_at(points, Model::Reuseport.name(), WORKERS as f64, balance);
    let spread = summary_ratio(
        points,
        (SHARED, WORKERS as f64),
        (Model::Reuseport.name(), WORKERS as f64),
        balance,
    );
    let (
        Some((blocked, blocked_ratio)),
        Some((shared, shared_ratio)),
        Some(reuse_balance),
        Some(spread),
    ) = (blocked, shared, reuse_balance, spread)
    else {
        return (
            Verdict::NoData,
            "prefork (4 and 32 workers), mio and the loops sharing one Unix listener, or reuseport, have no usable measurement \
             with server counts"
                .to_string(),
        );
    };
    let one = herd_verdict(blocked, true);
    let stampede = herd_verdict(shared, false);
    let even = if reuse_balance.median <= EVEN && spread.value >= EVEN {
        Verdict::Supported
    } else if reuse_balance.median >= UNEVEN || spread.value <= 1.1 {
        Verdict::NotSupported
    } else {
        Verdict::Depends
    };
    let because = format!(
        "blocked accept() wakes one: {} (prefork from 4 to 32 processes: {blocked:.3} extra wake-ups per connection per extra \
         waiting process; its context switches per connection grew {}); epoll on a shared listener wakes every loop: {} \
         (8 loops on one listener against one loop: {shared:.2} extra wake-ups per connection per extra loop, switches per \
         connection {}); SO_REUSEPORT spreads evenly: {} (most/fewest connections per loop {:.2}{} with a listener each; the \
         shared listener {} as uneven) \
         (rule: a design wakes one waiter when the extra wake-ups per connection per extra waiter are ≤ {WAKE_ONE}, all of them \
         when ≥ {HERD}; balance supported when reuseport's most/fewest is ≤ {EVEN} and the shared listener's is ≥ {EVEN}× it, \
         not when reuseport's is ≥ {UNEVEN} or the shared listener is within 1.1× of it; the three agreeing give the verdict, \
         else \"depends\")",
        one.label(),
        blocked_ratio.show(2),
        stampede.label(),
        shared_ratio.show(2),
        even.label(),
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
    let mut spread = per_row(&|n, x| summary_at(&points, n, x, balance));
    spread.name = "most/fewest per worker".to_string();
    let mut rate = per_row(&|n, x| stats::at(&points, n, x, stats::throughput));
    rate.name = "CRR rate".to_string();
    let herd_title = match (
        woken_share(&points, (ONE_LOOP_UNIX, 1.0), (SHARED, WORKERS as f64)),
        woken_share(
            &points,
            (Model::Prefork.name(), PREFORK_FEW as f64),
            (Model::Prefork.name(), PREFORK_MANY as f64),
        ),
    ) {
        (Some((shared, _)), Some((blocked, _))) => format!(
            "Each connection wakes {:.0}% of the loops sharing a listener but {:.1}% of the processes blocked in accept()",
            (shared * 100.0).max(0.0),
            (blocked * 100.0).max(0.0)
        ),
        _ => "Wake-ups per accepted connection".to_string(),
    };
    let balance_title = match summary_at(&points, Model::Reuseport.name(), WORKERS as f64, balance)
    {
        Some(b) => format!(
            "SO_REUSEPORT's busiest loop took {:.2}× the connections of its idlest",
            b.median
        ),
        None => "Balance: most over fewest connections per worker".to_string(),
    };
    let charts = vec![
        NamedChart::bars(
            "wakeups",
            "Accept scaling — server context switches per accepted connection (CRR, one client at a time)",
            ("context switches per connection", Scale::Linear),
            &labels,
            vec![wakeups],
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
            "Accept scaling — connections per second (CRR, one client at a time)",
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
         the wake-ups and the balance, measured, and with them where the herd still lives (event loops sharing a listener, \
         waking while idle; under saturation nobody sleeps and it costs nothing). Published beside ours: Linux made a blocked accept() wake one waiter in 2.3/2.4 \
         (before, every waiter woke: the thundering herd of Apache's prefork); epoll gained EPOLLEXCLUSIVE in 4.5 (2016) because \
         every epoll instance watching a listener is still woken; SO_REUSEPORT's author reported up to 3:1 between the threads \
         accepting the most and the fewest connections from one shared socket (LWN, \"The SO_REUSEPORT socket option\", 2013), \
         which one listener per thread removes. Wake-ups are context switches: a blocked accept() never returns empty-handed (the \
         kernel retries inside the call), and an edge-triggered epoll re-checks the listener before reporting it, so a loop woken \
         for a connection another took goes back to sleep inside epoll_wait() — its empty accepts stay near 0 even in a herd. \
         The switches include those of serving each connection, hence the few-against-many comparison of one design. Balance counts the server's whole \
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

    /// Synthetic data: extra wake-ups per connection per extra waiter of
    /// prefork and of the loops sharing one listener, and the most/fewest
    /// per worker of reuseport and of the shared listener.
    fn with(
        prefork_share: f64,
        shared_share: f64,
        reuse_spread: f64,
        shared_spread: f64,
    ) -> Verdict {
        let mut data = synthetic::results(&experiment(), 3, |p, _, r| {
            r.requests = 10_000;
            r.throughput_rps = 5_000.0;
            let base = 2.0;
            let per_conn = match (p.series.as_str(), p.x as usize) {
                ("prefork", n) => base + prefork_share * (n - PREFORK_FEW) as f64,
                (SHARED, n) => base + shared_share * (n - 1) as f64,
                _ => base,
            };
            let s = r.server.as_mut().unwrap();
            s.voluntary_ctxt_switches = (per_conn * 10_000.0) as u64;
        });
        for m in &mut data.measurements {
            let spread = match m.series.as_str() {
                SHARED => shared_spread,
                "reuseport" => reuse_spread,
                _ => 1.0,
            };
            let low = 1000u64;
            let mut per_worker = vec![low; m.x as usize];
            per_worker[0] = (low as f64 * spread) as u64;
            m.server_summary = Some(Summary {
                connections: per_worker.iter().sum(),
                per_worker,
                ..Summary::default()
            });
        }
        let ctx = Context {
            footnote: String::new(),
            error_bars: String::new(),
            slo: crate::experiments::DEFAULT_SLO,
        };
        (experiment().analyze)(&data, &ctx).verdict
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        // Linux today: wake-one in accept(), a herd on the shared listener, reuseport even.
        assert_eq!(with(0.01, 1.0, 1.1, 3.0), Verdict::Supported);
        // A stampede in accept(), none in epoll, reuseport as uneven as the shared queue.
        assert_eq!(with(0.9, 0.0, 2.5, 2.5), Verdict::NotSupported);
        // Wake-one and a herd, but reuseport no more even than the shared listener.
        assert_eq!(with(0.01, 1.0, 1.3, 1.3), Verdict::Depends);
        // In between on every count.
        assert_eq!(with(0.3, 0.3, 1.7, 2.0), Verdict::Depends);
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
