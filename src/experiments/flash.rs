//! Beyond the textbook: Flash's four server architectures under a mix of
//! cached and blocking requests.
//!
//! Pai, Druschel and Zwaenepoel (Flash, USENIX ATC 1999) compared four designs
//! on one code base: MP (a process per connection), MT (a thread per
//! connection), SPED (one event loop) and AMPED (an event loop that hands the
//! requests that would block, disk reads, to helper processes). Their ranking:
//! on cached content SPED and AMPED lead and MP trails; once requests block on
//! the disk SPED stalls, since its single thread waits too, and AMPED keeps
//! the lead. Here the "disk read" is a synthetic 2 ms blocking wait carried by
//! a share p of the requests, drawn per request with a fixed seed; the rest
//! are answered at once. MP is `fork` and `prefork`, MT `thread-pool`, SPED
//! `mio`, AMPED `reactor-pool`.

use loadgen::{Mode, Workload};
use servers::{Model, ServiceKind};

use super::stats::{self, cell, Table};
use super::{
    Context, Experiment, Finding, LoadSpec, NamedChart, Point, Profile, ServerSpec, Verdict,
};
use crate::charts::Scale;
use crate::results::{Points, ResultSet};

const ID: &str = "flash";
/// The blocking wait of a "disk-bound" request, µs.
const WAIT_US: u32 = 2_000;
/// Closed-loop clients: no more than prefork's 8 processes, so every client
/// has a process of its own in each design.
const CLIENTS: usize = 8;
/// SPED counts as best on cached requests when it serves at least this share
/// of the best other design's rate.
const BEST: f64 = 0.9;
/// AMPED is "close to SPED" on cached requests from this share of its rate.
const CLOSE: f64 = 0.8;
/// SPED "collapses" when its rate at the largest p is at most this share of
/// its rate with everything cached.
const COLLAPSE: f64 = 0.5;
/// MP "pays its process cost" when it serves at most this share of MT's rate
/// on cached requests.
const PROCESS_COST: f64 = 0.95;

/// Flash's name for the design the model named `name` stands for.
fn design(name: &str) -> &'static str {
    match name {
        "fork" | "prefork" => "MP",
        "thread-pool" => "MT",
        "mio" => "SPED",
        "reactor-pool" => "AMPED",
        _ => "other",
    }
}

fn models(profile: Profile) -> Vec<Model> {
    let mut models = vec![
        Model::Prefork,
        Model::ThreadPool,
        Model::Mio,
        Model::ReactorPool,
    ];
    if profile == Profile::Full {
        models.insert(0, Model::Fork);
    }
    models
}

pub fn experiment() -> Experiment {
    Experiment {
        id: ID,
        claim: "Flash (Pai et al., USENIX 1999): on cached content the event-driven SPED design is fastest and AMPED close to it, \
                with multi-process MP paying for its processes; once requests block, SPED collapses and AMPED is best.",
        method: "8 closed-loop clients on persistent connections send synthetic requests (64 B in, 1 KiB out); a share p of them \
                 (0 to 50 %, drawn per request with a fixed seed) makes the server block for 2 ms, a disk read's stand-in, the rest \
                 are answered at once. Throughput and p99 against p for MP (`prefork`, and `fork` in full), MT (`thread-pool`), \
                 SPED (`mio`) and AMPED (`reactor-pool`). What it adds to the textbook: Comer & Stevens weigh a process, a thread \
                 or a single process per connection by what each costs; this sets the four designs against one another on the \
                 harness, in the shape Flash measured, where blocking requests decide the ranking.",
        points,
        analyze,
    }
}

fn points(profile: Profile) -> Vec<Point> {
    let shares = profile.sweep(
        &[0.0, 0.2],
        &[0.0, 0.1, 0.5],
        &[0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    );
    let work = Workload::Synthetic {
        payload_len: 64,
        response_len: 1024,
        cpu_us: 0,
        wait_us: WAIT_US,
    };
    let mut points = Vec::new();
    for &p in &shares {
        for model in models(profile) {
            let server = ServerSpec::new(model)
                .service(ServiceKind::Synthetic)
                .arg("--max-children", 4096);
            let load = LoadSpec::new(Mode::Rr)
                .connections(CLIENTS)
                .workload(work)
                .wait_share(p);
            points.push(Point::new(model.name(), p * 100.0, server, load));
        }
    }
    points
}

/// The rate of `name` at x, over repeats.
fn rate(points: &Points<'_>, name: &str, x: f64) -> Option<stats::Stat> {
    stats::at(points, name, x, stats::throughput)
}

/// The best measured design at x other than `except`, by median rate.
fn best_other<'a>(points: &Points<'_>, names: &[&'a str], x: f64, except: &str) -> Option<&'a str> {
    names
        .iter()
        .copied()
        .filter(|n| *n != except)
        .filter_map(|n| rate(points, n, x).map(|s| (n, s.median)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, _)| n)
}

fn analyze(results: &ResultSet, ctx: &Context) -> Finding {
    let points = results.experiment(ID);
    let names: Vec<&str> = [
        Model::Fork,
        Model::Prefork,
        Model::ThreadPool,
        Model::Mio,
        Model::ReactorPool,
    ]
    .iter()
    .map(|m| m.name())
    .filter(|n| points.contains_key(*n))
    .collect();
    let xs = stats::all_x(&points);
    let mut table = Table::new(&[
        "model (Flash's design)",
        "blocking share p %",
        "requests/s",
        "p50 µs",
        "p99 µs",
        "errors",
    ]);
    for n in &names {
        let label = format!("{n} ({})", design(n));
        for x in &xs {
            if stats::at(&points, n, *x, stats::throughput).is_none() {
                continue;
            }
            table.row(vec![
                label.clone(),
                format!("{x}"),
                cell(stats::at(&points, n, *x, stats::throughput), 0),
                cell(stats::at(&points, n, *x, stats::p50_us), 0),
                cell(stats::at(&points, n, *x, stats::p99_us), 0),
                cell(stats::at(&points, n, *x, stats::errors), 0),
            ]);
        }
    }
    let (verdict, because, headline) = judge(&points, &names, &xs);
    let ranking = ranking(&points, &names, &xs);
    let charts = vec![
        NamedChart::line(
            "throughput",
            "Flash — throughput against the share of requests that block for 2 ms",
            ("requests that block (%)", Scale::Linear),
            ("requests per second", Scale::Log10),
            stats::series(&points, stats::throughput),
            ctx,
        )
        .titled(headline.clone()),
        NamedChart::line(
            "p99",
            "Flash — p99 latency against the share of requests that block for 2 ms",
            ("requests that block (%)", Scale::Linear),
            ("p99 latency (µs)", Scale::Log10),
            stats::series(&points, stats::p99_us),
            ctx,
        )
        .titled(format!("{headline} (p99)")),
    ];
    let mut notes = super::experiment_caveats(results, ID);
    notes.insert(
        0,
        "Published (Pai, Druschel and Zwaenepoel, \"Flash: An efficient and portable Web server\", USENIX ATC 1999): on cached \
         workloads Flash-SPED and Flash-AMPED had the highest throughput, AMPED a little below SPED, Flash-MT close behind and \
         Flash-MP lowest; on disk-bound workloads (data sets larger than the cache) SPED fell far behind and AMPED matched or \
         beat MP and MT. The ranking is stated here as the paper reports it, not as ratios. Two differences from Flash: the \
         blocking is a sleep, not a disk read, so nothing is cached or evicted; and `reactor-pool` hands every synthetic \
         request to its workers, the quick ones too, where Flash's helpers took only the disk reads."
            .to_string(),
    );
    Finding {
        verdict,
        because,
        table: format!("{}\n{}", table.markdown(), ranking),
        charts,
        notes,
    }
}

/// Our ranking beside Pai et al.'s, cached (p = 0) and at the largest p.
fn ranking(points: &Points<'_>, names: &[&str], xs: &[f64]) -> String {
    // Published (Pai et al. 1999), as ranks, not ratios: on cached content
    // SPED first with AMPED just below it, then MT, MP last; disk-bound,
    // AMPED first, MT and MP behind it, SPED last.
    const PUBLISHED: [(&str, &str, &str); 4] = [
        ("SPED", "1 (fastest)", "4 (falls far behind)"),
        ("AMPED", "2 (just below SPED)", "1 (best)"),
        ("MT", "3", "2–3 (behind AMPED)"),
        ("MP", "4 (lowest)", "2–3 (behind AMPED)"),
    ];
    let (Some(&lo), Some(&hi)) = (xs.first(), xs.last()) else {
        return String::new();
    };
    let rank_at = |x: f64| -> Vec<(&'static str, usize)> {
        let mut by: Vec<(&'static str, f64)> = Vec::new();
        for n in names {
            let d = design(n);
            let Some(r) = rate(points, n, x) else {
                continue;
            };
            // MP's rank is its better process model's.
            match by.iter_mut().find(|(k, _)| *k == d) {
                Some(e) => e.1 = e.1.max(r.median),
                None => by.push((d, r.median)),
            }
        }
        by.sort_by(|a, b| b.1.total_cmp(&a.1));
        by.iter()
            .enumerate()
            .map(|(i, (d, _))| (*d, i + 1))
            .collect()
    };
    let (cached, blocking) = (rank_at(lo), rank_at(hi));
    let ours = |ranks: &[(&str, usize)], d: &str| {
        ranks
            .iter()
            .find(|(k, _)| *k == d)
            .map_or("–".to_string(), |(_, r)| r.to_string())
    };
    let mut t = Table::new(&[
        "design",
        &format!("our rank, p = {lo} %"),
        "Pai et al., cached",
        &format!("our rank, p = {hi} %"),
        "Pai et al., disk-bound",
    ]);
    for (d, pub_cached, pub_disk) in PUBLISHED {
        t.row(vec![
            d.to_string(),
            ours(&cached, d),
            pub_cached.to_string(),
            ours(&blocking, d),
            pub_disk.to_string(),
        ]);
    }
    t.markdown()
}

/// The four halves of Flash's ranking, each judged alone; all hold:
/// supported, none: not supported, some: depends. Returns the verdict, the
/// sentence and a chart title.
fn judge(points: &Points<'_>, names: &[&str], xs: &[f64]) -> (Verdict, String, String) {
    let (Some(&lo), Some(&hi)) = (xs.first(), xs.last()) else {
        return no_data("no point was measured");
    };
    let (sped, amped, mt) = ("mio", "reactor-pool", "thread-pool");
    let mp = if rate(points, "prefork", lo).is_some() {
        "prefork"
    } else {
        "fork"
    };
    if lo != 0.0
        || hi <= lo
        || rate(points, sped, lo).is_none()
        || rate(points, amped, hi).is_none()
    {
        return no_data(
            "SPED (mio) or AMPED (reactor-pool) lack a cached (p = 0) or a blocking measurement",
        );
    }
    let mut verdicts = Vec::new();
    let mut parts = Vec::new();
    let mut part = |holds: bool, text: String| {
        verdicts.push(if holds {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        });
        parts.push(format!(
            "{text}: {}",
            if holds { "holds" } else { "does not hold" }
        ));
    };
    let ratio = |a: (&str, f64), b: (&str, f64)| stats::ratio_at(points, a, b, stats::throughput);
    // 1. SPED best when everything is cached.
    if let Some(other) = best_other(points, names, lo, sped) {
        if let Some(r) = ratio((sped, lo), (other, lo)) {
            part(
                r.value >= BEST,
                format!("with every request cached SPED serves {} the best other design's rate ({other}; best from {BEST}×)", r.show(2)),
            );
        }
    }
    // 2. SPED collapses as p grows.
    let collapse = ratio((sped, hi), (sped, lo));
    if let Some(r) = collapse {
        part(
            r.value <= COLLAPSE,
            format!(
                "at p = {hi} % SPED keeps {} its cached rate (collapsed at or below {COLLAPSE}×)",
                r.show(2)
            ),
        );
    }
    // 3. AMPED close to SPED when cached, best when requests block.
    if let Some(r) = ratio((amped, lo), (sped, lo)) {
        part(
            r.value >= CLOSE,
            format!(
                "cached, AMPED serves {} SPED's rate (close from {CLOSE}×)",
                r.show(2)
            ),
        );
    }
    let amped_best = best_other(points, names, hi, amped)
        .and_then(|other| ratio((amped, hi), (other, hi)).map(|r| (other, r)));
    if let Some((other, r)) = amped_best {
        part(
            r.value >= BEST,
            format!("at p = {hi} % AMPED serves {} the best other design's rate ({other}; best from {BEST}×)", r.show(2)),
        );
    }
    // 4. MP pays its process cost.
    if let Some(r) = ratio((mp, lo), (mt, lo)) {
        part(
            r.value <= PROCESS_COST,
            format!("cached, MP ({mp}) serves {} MT's rate (a process cost at or below {PROCESS_COST}×)", r.show(2)),
        );
    }
    let verdict = Verdict::all(&verdicts);
    let holding = verdicts
        .iter()
        .filter(|v| **v == Verdict::Supported)
        .count();
    let headline = match (collapse, amped_best) {
        (Some(c), Some((other, r))) => format!(
            "Flash — with {hi} % of requests blocking, SPED keeps {:.0} % of its rate and AMPED serves {:.2}× {other}",
            100.0 * c.value,
            r.value
        ),
        _ => "Flash — throughput against the share of blocking requests".to_string(),
    };
    (
        verdict,
        format!(
            "{holding} of {} parts of Flash's ranking hold here: {}",
            verdicts.len(),
            parts.join("; ")
        ),
        headline,
    )
}

fn no_data(why: &str) -> (Verdict, String, String) {
    (
        Verdict::NoData,
        why.to_string(),
        "Flash — throughput against the share of blocking requests".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::synthetic::verdict;

    /// Synthetic rates: `cached[i]` and `blocking[i]` for prefork,
    /// thread-pool, mio, reactor-pool at p = 0 and at the largest p.
    fn with(cached: [f64; 4], blocking: [f64; 4]) -> (Verdict, String) {
        verdict(&experiment(), |p, _, r| {
            let i = match p.series.as_str() {
                "prefork" => 0,
                "thread-pool" => 1,
                "mio" => 2,
                _ => 3,
            };
            r.throughput_rps = if p.x == 0.0 { cached[i] } else { blocking[i] };
        })
    }

    #[test]
    fn each_outcome_on_plausible_data() {
        // Flash's ranking: SPED best cached, AMPED close; SPED collapses, AMPED best.
        let (v, because) = with(
            [20_000.0, 24_000.0, 30_000.0, 27_000.0],
            [12_000.0, 14_000.0, 2_400.0, 15_000.0],
        );
        assert_eq!(v, Verdict::Supported, "{because}");
        assert!(because.starts_with("5 of 5"), "{because}");
        // The opposite everywhere: SPED slowest cached and unaffected by blocking.
        let (v, because) = with(
            [30_000.0, 28_000.0, 10_000.0, 5_000.0],
            [30_000.0, 28_000.0, 10_000.0, 5_000.0],
        );
        assert_eq!(v, Verdict::NotSupported, "{because}");
        // SPED and AMPED behave as Flash says, MP costs nothing extra.
        let (v, because) = with(
            [24_000.0, 24_000.0, 30_000.0, 27_000.0],
            [12_000.0, 14_000.0, 2_400.0, 15_000.0],
        );
        assert_eq!(v, Verdict::Depends, "{because}");
        assert!(because.contains("MP (prefork)"), "{because}");
        assert!(because.starts_with("4 of 5"), "{because}");
    }
}
