//! What `sockbench run` says while it measures. On a terminal, a progress
//! bar with the point being measured; anywhere else (CI, `nohup`, `| tee`,
//! a log file) one line per finished point with its key figures, so a log
//! shows the run as it goes. Warnings (a failed point, a crashed server)
//! print as they happen in both modes, above the bar or in the log.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::results::{Measurement, Outcome};

/// How progress is shown.
enum Mode {
    Bar(ProgressBar),
    /// Line-based: the start time, and the points done so far.
    Lines {
        started: Instant,
        done: u64,
    },
}

/// Progress of one run over `total` point × repeat measurements.
pub struct Progress {
    mode: Mode,
    total: u64,
    /// What is being measured now, for the line of a finished point.
    current: String,
}

impl Progress {
    /// A bar when stdout is a terminal, lines otherwise.
    pub fn new(total: u64) -> Progress {
        Self::with_bar(total, std::io::stdout().is_terminal())
    }

    /// Progress with the mode chosen by the caller (`bar`: a progress bar).
    pub fn with_bar(total: u64, bar: bool) -> Progress {
        let mode = if bar {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} (about {eta} left) {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            Mode::Bar(bar)
        } else {
            Mode::Lines {
                started: Instant::now(),
                done: 0,
            }
        };
        Progress {
            mode,
            total,
            current: String::new(),
        }
    }

    /// `n` more measurements are planned (a round added).
    pub fn add_total(&mut self, n: u64) {
        self.total += n;
        if let Mode::Bar(bar) = &self.mode {
            bar.inc_length(n);
        }
    }

    /// A point starts: `what` names it (experiment, series, x, repeat).
    pub fn start(&mut self, what: String) {
        if let Mode::Bar(bar) = &self.mode {
            bar.set_message(what.clone());
        }
        self.current = what;
    }

    /// A warning, shown at once.
    pub fn warn(&self, message: &str) {
        match &self.mode {
            Mode::Bar(bar) => bar.println(format!("warning: {message}")),
            Mode::Lines { .. } => println!("warning: {message}"),
        }
    }

    /// The point started last is done; `m` is what it measured.
    pub fn finish(&mut self, m: &Measurement) {
        match &mut self.mode {
            Mode::Bar(bar) => bar.inc(1),
            Mode::Lines { started, done } => {
                *done += 1;
                let elapsed = started.elapsed().as_secs();
                println!(
                    "[{done}/{total} {:02}:{:02}:{:02}] {}: {}",
                    elapsed / 3600,
                    elapsed / 60 % 60,
                    elapsed % 60,
                    self.current,
                    figures(m),
                    total = self.total,
                );
            }
        }
    }

    /// The run is over (complete or interrupted).
    pub fn done(&self) {
        match &self.mode {
            Mode::Bar(bar) => bar.finish_with_message("measured"),
            Mode::Lines { started, done } => println!(
                "measured {done} of {} points in {:.0} s",
                self.total,
                started.elapsed().as_secs_f64()
            ),
        }
    }
}

/// The key figures of one measurement in one line: its outcome, the rate,
/// p50 and p99, errors, the server's CPU per request.
pub fn figures(m: &Measurement) -> String {
    let outcome = match &m.outcome {
        Outcome::Ok if m.same_as.is_some() => "ok (reused)".to_string(),
        Outcome::Ok => "ok".to_string(),
        Outcome::ServerFailedToStart { .. } => "FAILED: server did not start".to_string(),
        Outcome::ServerCrashed { .. } => "FAILED: server crashed".to_string(),
        Outcome::ServerHung => "FAILED: server hung".to_string(),
        Outcome::LoadFailed { .. } => "FAILED: load failed".to_string(),
    };
    let Some(r) = &m.report else {
        return outcome;
    };
    let mut line = format!(
        "{outcome}, {:.0} req/s, p50 {}, p99 {}",
        r.throughput_rps,
        micros(r.latency_ns.p50),
        micros(r.latency_ns.p99)
    );
    if r.errors.total > 0 {
        line.push_str(&format!(", {} errors", r.errors.total));
    }
    if let Some(server) = &r.server {
        line.push_str(&format!(", server {:.1} µs CPU/req", server.cpu_us_per_req));
    }
    line
}

/// Nanoseconds as microseconds with one decimal.
fn micros(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1000.0)
}
