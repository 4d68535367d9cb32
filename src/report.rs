//! REPORT.md and the charts, drawn from a results folder's JSON alone, so
//! `sockbench report DIR` gives the same report as the run that measured it.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use rayon::prelude::*;

use crate::charts;
use crate::experiments::{self, stat, ChartSpec, Context, Finding, Verdict};
use crate::results::{Outcome, ResultSet};

mod machine;
mod methods;

/// What the report wrote.
pub struct Written {
    pub report: PathBuf,
    pub charts: Vec<PathBuf>,
}

/// The machine in one line, for chart footnotes.
pub fn footnote(results: &ResultSet) -> String {
    let m = &results.info.machine;
    let pin = match (&results.info.server_cpus, &results.info.loadgen_cpus) {
        (Some(s), Some(l)) => format!("server on CPU {s:?}, load generator on CPU {l:?}"),
        _ => "not pinned".to_string(),
    };
    let link = match &results.info.link {
        Some(l) => {
            let mut s = " · two hosts".to_string();
            if l.loss_pct > 0.0 {
                s.push_str(&format!(", {}% loss each way", l.loss_pct));
            }
            if let (Some(ms), true) = (l.delay_ms, l.delay_applied) {
                s.push_str(&format!(", {ms} ms delay each way"));
            }
            s
        }
        None => match &results.info.remote {
            Some(r) => format!(" · servers on {} over SSH", r.server.machine.hostname),
            None => String::new(),
        },
    };
    format!(
        "{} · {} cores · Linux {} · {} · profile {} × {} repeats · {pin}{link}",
        m.cpu_model, m.cores, m.kernel, m.git_revision, results.info.profile, results.info.repeats
    )
}

/// What the error bars of this run are, as `stat` computes them: a 95%
/// confidence interval of the median from 6 usable repeats, else min–max.
pub fn error_bars(repeats: u32) -> String {
    match repeats {
        0 | 1 => "one repeat: no error bars".to_string(),
        2..=5 => format!("marks: median of {repeats} repeats · error bars: min–max of the repeats"),
        _ => format!(
            "marks: median of {repeats} repeats · error bars: 95% CI of the median (min–max where fewer than 6 repeats succeeded)"
        ),
    }
}

/// Draws every chart and writes REPORT.md into the results folder.
pub fn write(results: &ResultSet) -> Result<Written> {
    let ctx = Context {
        footnote: footnote(results),
        error_bars: error_bars(results.info.repeats),
        slo: results
            .info
            .slo_us
            .map_or(experiments::DEFAULT_SLO, std::time::Duration::from_micros),
    };
    let chart_dir = results.dir.join("charts");
    fs::create_dir_all(&chart_dir)
        .with_context(|| format!("failed to create {}", chart_dir.display()))?;
    // Each experiment's analysis and drawing is independent of the others':
    // one per core, collected back in claim order.
    let drawn: Vec<_> = experiments::all()
        .into_par_iter()
        .filter(|experiment| {
            results
                .measurements
                .iter()
                .any(|m| m.experiment == experiment.id)
        })
        .map(|experiment| -> Result<_> {
            let (finding, tally) = experiments::per_repeat::judge(&experiment, results, &ctx);
            // Its charts too are drawn one per core (rasterising dominates).
            let drawn: Vec<Vec<PathBuf>> = finding
                .charts
                .par_iter()
                .map(|named| -> Result<_> {
                    let base = chart_dir.join(format!("{}-{}", experiment.id, named.name));
                    match &named.chart {
                        ChartSpec::Line(c) => charts::draw_line(c, &base),
                        ChartSpec::Bars(c) => charts::draw_bars(c, &base),
                        ChartSpec::Spectrum(c) => charts::draw_spectrum(c, &base),
                    }
                    .with_context(|| format!("failed to draw {}", base.display()))
                })
                .collect::<Result<_>>()?;
            let files: Vec<String> = finding
                .charts
                .iter()
                .map(|named| format!("charts/{}-{}.png", experiment.id, named.name))
                .collect();
            let written: Vec<PathBuf> = drawn.into_iter().flatten().collect();
            Ok(((experiment, finding, tally, files), written))
        })
        .collect::<Result<_>>()?;
    let mut written = Vec::new();
    let mut sections = Vec::new();
    for (section, files) in drawn {
        sections.push(section);
        written.extend(files);
    }

    let mut md = String::new();
    header(&mut md, results);
    let _ = writeln!(md, "## Verdicts\n");
    let _ = writeln!(
        md,
        "| # | claim | verdict | in each repeat | the number that decides |\n| --- | --- | --- | --- | --- |"
    );
    for (i, (e, f, tally, _)) in sections.iter().enumerate() {
        let repeats = tally.describe(f.verdict);
        let _ = writeln!(
            md,
            "| {i} | [{}](#{}) | **{}** | {} | {} |",
            short(e.claim),
            e.id,
            f.verdict.label(),
            if repeats.is_empty() {
                "–"
            } else {
                repeats.as_str()
            },
            f.because
        );
    }
    let _ = writeln!(
        md,
        "\nEvery verdict is computed from this run's data by the rule stated in its section; nothing is hard-coded. \
         Another machine, kernel or load may give another verdict, and a verdict is only as good as the errors and \
         caveats listed under it.\n"
    );
    methods::write(&mut md, results);
    undistorted(&mut md, results);
    for (i, (e, f, tally, files)) in sections.iter().enumerate() {
        section(&mut md, i, e, f, &tally.describe(f.verdict), files);
    }
    appendix(&mut md, results);

    // Rewritten too, so an older run's summary gains today's columns.
    crate::summary::write_csv(&results.dir, &results.measurements)?;
    let report = results.dir.join("REPORT.md");
    fs::write(&report, md).with_context(|| format!("failed to write {}", report.display()))?;
    Ok(Written {
        report,
        charts: written,
    })
}

fn short(claim: &str) -> String {
    let first = claim.split(':').next().unwrap_or(claim);
    first.trim_end_matches('.').to_string()
}

fn header(md: &mut String, results: &ResultSet) {
    let info = &results.info;
    let _ = writeln!(
        md,
        "# sockbench report — what does each server design really cost?\n"
    );
    if info.partial {
        let _ = writeln!(
            md,
            "> **Partial run**: it was interrupted; some points are missing.\n"
        );
    }
    let _ = writeln!(
        md,
        "Each section takes one claim from Comer & Stevens, *Internetworking with TCP/IP Vol. III*, measures it with the \
         server models of this project, and says whether the data support it.\n"
    );
    methods::unmet_warning(md, results);
    machine::write(md, results);
    let _ = writeln!(md, "## Configuration\n");
    let _ = writeln!(md, "| | |\n| --- | --- |");
    let rows = [
        ("profile", format!("{} ({}, interleaved: see Methods; the median is shown, with min–max or a 95% CI of the median in brackets)", info.profile, repeats_phrase(info))),
        (
            "pinning",
            match (&info.server_cpus, &info.loadgen_cpus) {
                (Some(s), Some(l)) => format!("servers on CPUs {s:?}, load generator on CPUs {l:?}"),
                _ => "none: server and load generator share every core".to_string(),
            },
        ),
        (
            "network",
            match (&info.remote, &info.link) {
                (Some(remote), _) => match &info.clients {
                    Some(clients) => format!("{}; {}", remote.describe(), clients.describe()),
                    None => remote.describe(),
                },
                (None, Some(link)) => link.describe(),
                (None, None) => "one host: servers on loopback (127.0.0.1)".to_string(),
            },
        ),
        ("started / finished (UTC)", format!("{} / {}", info.started_utc, info.finished_utc)),
        ("command", format!("`{}`", info.command)),
    ];
    for (k, v) in rows {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(md);
}

/// "3 repeats per point", or with a confidence target "6 to 20 repeats per point".
fn repeats_phrase(info: &crate::results::RunInfo) -> String {
    match info.order.as_ref().and_then(|o| o.confidence.as_ref()) {
        Some(c) => format!(
            "{} to {} repeats per point, until the 95% CI of each decisive median is within ±{}%",
            c.min_repeats, c.max_repeats, c.target_pct
        ),
        None => format!("{} repeats per point", info.repeats),
    }
}

/// The figures a shared small machine does not distort, per model.
fn undistorted(md: &mut String, results: &ResultSet) {
    let _ = writeln!(md, "## What this machine can tell reliably\n");
    let _ = writeln!(
        md,
        "On a small machine the load generator and the server compete for the cores, so raw throughput says as much about \
         the machine as about the server. The figures below do not depend on that sharing: the server's CPU per request \
         (service demand), latency with one client, and memory. Collected across all experiments, per model and workload \
         (points with a background load are left out: their server also served the background requests).\n"
    );
    let mut table = experiments::stats::Table::new(&[
        "model",
        "workload",
        "server CPU µs/req",
        "p50 µs at 1 client",
        "peak server memory MB",
        "load generator busy",
    ]);
    let mut keys: Vec<(String, String)> = results
        .measurements
        .iter()
        .filter(|m| m.report.is_some() && m.background.is_none())
        .map(|m| (m.model.clone(), workload_name(m)))
        .collect();
    keys.sort();
    keys.dedup();
    for (model, workload) in keys {
        let of = |f: &dyn Fn(&loadgen::LoadReport) -> Option<f64>, one_client: bool| {
            let values: Vec<f64> = results
                .measurements
                .iter()
                .filter(|m| {
                    m.model == model && workload_name(m) == workload && m.background.is_none()
                })
                .filter_map(|m| m.ok_report())
                .filter(|r| {
                    !one_client || (r.plan.connections == 1 && r.plan.idle_connections == 0)
                })
                .filter_map(f)
                .collect();
            stat(&values)
        };
        table.row(vec![
            model.clone(),
            workload.clone(),
            experiments::stats::cell(of(&experiments::measures::server_cpu_us_per_req, false), 1),
            experiments::stats::cell(of(&experiments::stats::p50_us, true), 1),
            experiments::stats::cell(of(&experiments::measures::memory_mb, false), 1),
            experiments::stats::cell(
                of(
                    &|r| Some(experiments::measures::loadgen_busy(r) * 100.0),
                    false,
                ),
                0,
            ) + "%",
        ]);
    }
    let _ = writeln!(md, "{}", table.markdown());
}

fn workload_name(m: &crate::results::Measurement) -> String {
    match &m.report {
        Some(r) => {
            let service = match r.plan.workload {
                loadgen::Workload::Echo { size } => format!("echo {size} B"),
                loadgen::Workload::Synthetic {
                    cpu_us, wait_us, ..
                } => format!("synthetic cpu {cpu_us} µs, wait {wait_us} µs"),
            };
            format!("{} {service}", r.plan.mode.name())
        }
        None => String::new(),
    }
}

fn section(
    md: &mut String,
    i: usize,
    e: &experiments::Experiment,
    f: &Finding,
    repeats: &str,
    files: &[String],
) {
    let title = if f.verdict == Verdict::Baseline {
        format!("{i}. Baseline")
    } else {
        format!("{i}. Claim: {}", short(e.claim))
    };
    let _ = writeln!(md, "<a id=\"{}\"></a>\n## {title}\n", e.id);
    let _ = writeln!(md, "**Claim.** {}\n", e.claim);
    let _ = writeln!(
        md,
        "**Experiment** (`--experiments {}`). {}\n",
        e.id, e.method
    );
    let repeats = if repeats.is_empty() {
        String::new()
    } else {
        format!(" ({repeats})")
    };
    let _ = writeln!(
        md,
        "**Verdict: {}**{repeats} — {}.\n",
        f.verdict.label(),
        f.because
    );
    let _ = writeln!(md, "{}", f.table);
    for file in files {
        let _ = writeln!(
            md,
            "![{}]({file})\n",
            file.trim_start_matches("charts/").trim_end_matches(".png")
        );
    }
    if !f.notes.is_empty() {
        let _ = writeln!(md, "**Caveats** (errors are never averaged into the figures above; they are listed here):\n");
        for n in &f.notes {
            let _ = writeln!(md, "- {n}");
        }
        let _ = writeln!(md);
    }
}

fn appendix(md: &mut String, results: &ResultSet) {
    let bad: Vec<_> = results
        .measurements
        .iter()
        .filter(|m| m.outcome != Outcome::Ok)
        .collect();
    let _ = writeln!(md, "## Appendix: data\n");
    let _ = writeln!(
        md,
        "{} measurements; raw data in `data/` (one JSON per measurement, with the full load-generator report, its \
         HdrHistogram and the server's own summary) and `summary.csv`. Redraw with `sockbench report {}`.\n",
        results.measurements.len(),
        results.dir.display()
    );
    if !bad.is_empty() {
        let _ = writeln!(md, "Measurements that did not run cleanly:\n");
        for m in bad {
            let _ = writeln!(md, "- {}", experiments::caveats(m).join("; "));
        }
    }
}
