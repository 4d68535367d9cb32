//! Problems with measurements that a reader must see next to the figures:
//! failed servers, request errors, a saturated load generator.

use std::collections::BTreeMap;

use crate::results::{Measurement, OrderedX, Outcome, ResultSet};

/// One problem with one measurement: what kind, and its detail.
struct Caveat {
    kind: &'static str,
    detail: String,
}

fn measurement_caveats(m: &Measurement) -> Vec<Caveat> {
    let mut out = Vec::new();
    let mut push = |kind, detail: String| out.push(Caveat { kind, detail });
    match &m.outcome {
        Outcome::Ok => {}
        Outcome::ServerFailedToStart { message } => push("server failed to start", message.clone()),
        Outcome::ServerCrashed { message } => push("server crashed", message.clone()),
        Outcome::ServerHung => push("server ignored SIGTERM and was killed", String::new()),
        Outcome::LoadFailed { message } => push("load failed", message.clone()),
    }
    if let Some(r) = &m.report {
        if r.errors.total > 0 {
            push(
                "request errors",
                format!(
                    "{} ({})",
                    r.errors.total,
                    loadgen::output::error_kinds(&r.errors)
                ),
            );
        }
        if let Some(why) = super::measures::cpu_inexact(r) {
            push(
                "server CPU from per-process clocks (children reaped under SIG_IGN are missing)",
                why,
            );
        }
        if super::measures::memory_is_rss(r) {
            push(
                "memory is RSS, an upper bound for forked trees",
                "no PSS was recorded".to_string(),
            );
        }
        let busy = super::measures::loadgen_busy(r);
        if busy > 0.9 {
            push(
                "load generator saturated (the server may have had more to give)",
                format!("{:.0}% busy", busy * 100.0),
            );
        }
    }
    if let Some(why) = super::measures::invalid_reason(m) {
        push("invalid: the load generator did not offer its plan", why);
    }
    out
}

/// Problems with one measurement that a reader must see next to its figures.
pub fn caveats(m: &Measurement) -> Vec<String> {
    measurement_caveats(m)
        .into_iter()
        .map(|c| {
            let detail = if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            };
            format!(
                "{} at x={} (repeat {}): {}{detail}",
                m.series, m.x, m.repeat, c.kind
            )
        })
        .collect()
}

/// Caveats of one experiment, one line per point and kind ("in 2 of 3
/// repeats"), capped so a noisy run still reads.
pub fn experiment_caveats(results: &ResultSet, id: &str) -> Vec<String> {
    let mut repeats: BTreeMap<(String, OrderedX), usize> = BTreeMap::new();
    let mut found: BTreeMap<(String, OrderedX, &'static str), Vec<String>> = BTreeMap::new();
    for m in results.measurements.iter().filter(|m| m.experiment == id) {
        let point = (m.series.clone(), OrderedX(m.x));
        *repeats.entry(point.clone()).or_default() += 1;
        for c in measurement_caveats(m) {
            found
                .entry((point.0.clone(), point.1, c.kind))
                .or_default()
                .push(c.detail);
        }
    }
    let mut notes: Vec<String> = found
        .into_iter()
        .map(|((series, x, kind), details)| {
            let count = details.len();
            let of = repeats.get(&(series.clone(), x)).copied().unwrap_or(count);
            let details: Vec<String> = details.into_iter().filter(|d| !d.is_empty()).collect();
            let shown = if details.is_empty() {
                String::new()
            } else {
                format!(" — {}", details.join("; "))
            };
            format!(
                "{series} at x={}: {kind} in {} of {of} repeats{shown}",
                x.0, count
            )
        })
        .collect();
    let total = notes.len();
    notes.truncate(15);
    if total > 15 {
        notes.push(format!("… and {} more (see summary.csv)", total - 15));
    }
    notes
}
