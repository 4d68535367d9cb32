//! The report's Methods section: how long, how often and in what order each
//! point was measured, what each CPU and memory figure counts and which
//! question it answers, and how a verdict is computed — what a lab write-up
//! must state for a reader to trust or repeat the figures.

use std::fmt::Write as _;

use crate::experiments::measures;
use crate::results::ResultSet;

/// Appends `## Methods` for `results`.
pub fn write(md: &mut String, results: &ResultSet) {
    let info = &results.info;
    let _ = writeln!(md, "## Methods\n");

    let _ = writeln!(md, "**Windows.** {}", windows(results));
    let _ = writeln!(md);

    let _ = writeln!(md, "**Repeats and their order.** {}", order(results));
    let _ = writeln!(md);

    let pin = match (&info.server_cpus, &info.loadgen_cpus) {
        (Some(s), Some(l)) => format!(
            "servers pinned to CPUs {s:?} and the load generator to CPUs {l:?} (sched_setaffinity), so neither steals the other's core; \
             the kernel still runs interrupts and softirqs wherever they land"
        ),
        _ => "none: server and load generator share every core, so throughput says as much about the machine as about the server".to_string(),
    };
    let _ = writeln!(md, "**Pinning.** {pin}.\n");

    let _ = writeln!(
        md,
        "**What each figure counts, and which question it answers.**\n"
    );
    let _ = writeln!(
        md,
        "- *Server CPU per request* (service demand): {}. It answers \"what does this design cost the server\", but on loopback a \
         packet's receive path runs on the sending CPU, so part of the server's kernel work is charged to the load generator's core \
         and part of the generator's to the server's.",
        measures::SERVER_CPU_COUNTS
    );
    let _ = writeln!(
        md,
        "- *Server CPU source in this run*: {}.",
        measures::cpu_sources(results)
            .unwrap_or_else(|| "no measurement sampled the server".to_string())
    );
    let _ = writeln!(
        md,
        "- *Pinned-CPU busy per request*: {}.",
        measures::PINNED_CPU_COUNTS
    );
    let _ = writeln!(
        md,
        "- *Both cores' CPU per request*: {}. It answers \"what does one request cost this machine\" and is the figure to rank designs \
         whose kernel work lands on different cores (a connection per request, say).",
        measures::MACHINE_CPU_COUNTS
    );
    let _ = writeln!(
        md,
        "- *Load generator busy*: its engine threads' CPU over the window; above 90% a point is flagged, since the server may have had more to give."
    );
    let _ = writeln!(
        md,
        "- *Context switches per request*: {}.",
        measures::SWITCHES_COUNTS
    );
    let _ = writeln!(
        md,
        "- *System calls per request*: {}.",
        measures::SYSCALLS_COUNTS
    );
    let _ = writeln!(md, "- *Memory*: {}.", measures::MEMORY_COUNTS);
    let _ = writeln!(
        md,
        "- *Latency*: per-request, from the intended send time in open-loop points (coordinated omission corrected, wrk2's method) with \
         the uncorrected figure beside it; every response byte is checked, and failed requests are counted, never averaged in."
    );
    let _ = writeln!(
        md,
        "- *Connection sources*: connections to a server on IPv4 loopback leave from 64 loopback source addresses (127.0.0.1 to \
         127.0.0.64, the port still chosen at connect with IP_BIND_ADDRESS_NO_PORT), because the generator closes first and keeps \
         the TIME_WAIT: from one source, above about 14,000 connections a second each connect scans the busy half of the port range, \
         and the generator's kernel, not the server, sets a connection-per-request rate (how full the kernel's TIME_WAIT table was \
         from the points before decided whether it did). Remote and IPv6 targets connect from the route's source."
    );
    let _ = writeln!(
        md,
        "- *Generator floor*: {}.",
        measures::generator_floor(info).unwrap_or_else(|| "not calibrated in this run".to_string())
    );
    let _ = writeln!(
        md,
        "- *The probe's own cost*: {}.\n",
        measures::probe_cost(results)
            .unwrap_or_else(|| "not recorded in this run (the server is sampled from /proc by the load generator's process)".to_string())
    );

    let _ = writeln!(
        md,
        "**How verdicts are computed.** Each claim's rule (stated in its section, with its thresholds) is applied to the medians over \
         repeats. A decisive ratio is a ratio of two medians, shown with a 95% bootstrap percentile interval (2,000 resamples of each \
         side's repeats, independently, with a fixed seed, so a redraw gives the same interval). Figures in tables are medians with a \
         distribution-free 95% confidence interval of the median (order statistics, exact binomial ranks) in brackets when there are \
         at least 6 repeats, else the minimum–maximum. Each verdict is computed again on every repeat alone (repeat k of every \
         configuration was measured in the same round), and the verdict table says in how many it held. Every rule can return \
         \"supported\", \"not supported\" and \"depends\", shown by a unit test per claim on synthetic data.\n"
    );
}

fn windows(results: &ResultSet) -> String {
    let info = &results.info;
    let Some(order) = &info.order else {
        return format!(
            "profile {}: windows not recorded in this run (made before they were).",
            info.profile
        );
    };
    let mut s = format!(
        "profile {}: each point runs {:.2} s of warm-up (not recorded), then a {:.1} s recorded window",
        info.profile, order.warmup_s, order.window_s
    );
    if !order.long_windows.is_empty() {
        let long: Vec<String> = order
            .long_windows
            .iter()
            .map(|(label, w)| format!("{label} ({w:.0} s)"))
            .collect();
        let _ = write!(
            s,
            "; points whose events come seconds apart, or come too slowly to fill it, get a longer one: {}",
            long.join(", ")
        );
    }
    s.push('.');
    // The slowest point: the fewest requests any usable window recorded.
    if let Some((m, r)) = results
        .measurements
        .iter()
        .filter(|m| m.same_as.is_none())
        .filter_map(|m| m.ok_report().map(|r| (m, r)))
        .filter(|(_, r)| r.requests > 0)
        .min_by_key(|(_, r)| r.requests)
    {
        let _ = write!(
            s,
            " The slowest point ({}: {} at x={}) recorded {} requests in one window.",
            m.experiment, m.series, m.x, r.requests
        );
    }
    s
}

fn order(results: &ResultSet) -> String {
    let info = &results.info;
    let Some(order) = &info.order else {
        return format!(
            "{} repeats per point, back to back (a run made before repeats were interleaved).",
            info.repeats
        );
    };
    let mut s = format!(
        "{} rounds; each round measures every distinct configuration once, in an order shuffled afresh from seed {} \
         (`run --seed {}` repeats it; every round's order is in run.json), so slow drift of the machine spreads over every \
         configuration alike instead of lining up with one. A configuration that several experiments ask for is measured once per \
         round and filed under each.",
        order.rounds.len(),
        order.seed,
        order.seed
    );
    match &order.confidence {
        None => {
            let _ = write!(
                s,
                " This profile repeats a fixed {} times, with no confidence target (`--profile full` has one).",
                info.repeats
            );
        }
        Some(c) => {
            let _ = write!(
                s,
                " Confidence target (netperf's `-I`): after at least {} repeats, a configuration is repeated until the 95% interval of \
                 the median of each of its decisive figures ({}) lies within ±{}% of the median, at most {} times.",
                c.min_repeats,
                c.figures.join(", "),
                c.target_pct,
                c.max_repeats
            );
            if c.unmet.is_empty() {
                s.push_str(" Every configuration met it.");
            } else {
                let _ = write!(
                    s,
                    " **{} configurations did not meet it** within {} repeats (listed at the top of this report).",
                    c.unmet.len(),
                    c.max_repeats
                );
            }
        }
    }
    s
}

/// The loud caveat at the top of the report when the confidence target was not met.
pub fn unmet_warning(md: &mut String, results: &ResultSet) {
    let Some(c) = results
        .info
        .order
        .as_ref()
        .and_then(|o| o.confidence.as_ref())
    else {
        return;
    };
    if c.unmet.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "> **Confidence target not met** for {} configurations: after {} repeats the 95% interval of their median was still wider \
         than ±{}%. Their figures are less certain than the rest:",
        c.unmet.len(),
        c.max_repeats,
        c.target_pct
    );
    for (label, figures) in c.unmet.iter().take(15) {
        let _ = writeln!(md, "> - {label}: {}", figures.join(", "));
    }
    if c.unmet.len() > 15 {
        let _ = writeln!(md, "> - … and {} more (see run.json)", c.unmet.len() - 15);
    }
    let _ = writeln!(md);
}
