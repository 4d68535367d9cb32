//! `run --two-hosts` whose link vanishes mid-run (the veth deleted, or the
//! server's end set down) does not hang: the point it happened in ends as a
//! failure within the load's timeouts (never as an "ok" with nothing
//! answered), the run stops with one line that says what happened and what
//! to do, what was measured is kept (marked partial), and nothing of ours is
//! left: no model, no tether, no namespace.
//!
//! Every test skips with a one-line reason where namespaces cannot be made.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::hosts::*;
use common::ChildGuard;
use crossbeam_channel::RecvTimeoutError;

/// A quick point's window, the load's request timeout, the tether's stop,
/// and a margin for a loaded machine: the run must be over by then.
const STOPS_WITHIN: Duration = Duration::from_secs(60);

/// Pids of this build's `sockbench serve` (models and tethers), anywhere.
fn serving_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            words.first() == Some(&exe().as_bytes()) && words.get(1) == Some(&&b"serve"[..])
        })
        .collect()
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the file is written"))
        .expect("it parses")
}

/// Starts a run of several points, cuts its link with `ip ARGS` (`{ns}`
/// replaced by the server namespace) once the first point is measured, and
/// checks how the run ends.
fn the_run_stops_when_the_link(cut: &[&str], says: &str) {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let mut run = ChildGuard::spawn(
        Command::new(exe())
            .args(["run", "--two-hosts", "--profile", "quick"])
            .args(["--experiments", "fork-cost", "--repeats", "3", "--out"])
            .arg(&out_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = run.pid() as u32;
    let stdout = common::line_channel(run.child().stdout.take().expect("piped stdout"));
    let stderr = common::line_channel(run.child().stderr.take().expect("piped stderr"));
    // Off a terminal the run prints one line per point: once the first is
    // out, the hosts exist and the next point is under way.
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut seen = String::new();
    loop {
        match stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.starts_with("[1/") => break,
            Ok(line) => seen += &(line + "\n"),
            Err(RecvTimeoutError::Disconnected) => {
                let status = run.wait_timeout(STOP_GRACE).expect("the run exits");
                assert!(status.success(), "run failed: {seen}");
                assert!(seen.contains("cannot be created here"), "{seen}");
                eprintln!("SKIPPED: {}", seen.trim());
                return;
            }
            Err(RecvTimeoutError::Timeout) => panic!("no point measured in time: {seen}"),
        }
    }
    let server_ns = namespaces_of(pid)
        .into_iter()
        .find(|n| n.starts_with("sb-srv-"))
        .expect("the run's server namespace");
    let args: Vec<String> = cut.iter().map(|a| a.replace("{ns}", &server_ns)).collect();
    let out = ip().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cut_at = Instant::now();

    let status = run
        .wait_timeout(STOPS_WITHIN)
        .unwrap_or_else(|| panic!("the run still hangs {STOPS_WITHIN:?} after the link went"));
    eprintln!("the run stopped {:?} after the link went", cut_at.elapsed());
    assert_eq!(status.code(), Some(1), "stopped by an error: {status}");
    let errors: Vec<String> = stderr.iter().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(errors.len(), 1, "one line: {errors:?}");
    let line = &errors[0];
    assert!(line.contains("stopped after"), "{line}");
    assert!(line.contains(says), "says what happened: {line}");
    assert!(line.contains("run again"), "says what to do: {line}");
    assert!(line.contains(&out_dir.display().to_string()), "{line}");

    // What was measured is kept, partial; the point the link went in failed.
    let info = json(&out_dir.join("run.json"));
    assert_eq!(info["partial"], true, "{info}");
    let data = out_dir.join("data").join("fork-cost");
    let mut failed = 0;
    for file in std::fs::read_dir(&data).unwrap().flatten() {
        let m = json(&file.path());
        if m["outcome"]["status"] == "ok" {
            assert!(
                m["report"]["requests"].as_u64() > Some(0),
                "an ok point answered requests: {}",
                file.path().display()
            );
        } else {
            failed += 1;
        }
    }
    assert!(failed >= 1, "the point the link went in is a failure");
    assert!(
        namespaces_of(pid).is_empty(),
        "no namespace left: {:?}",
        namespaces_of(pid)
    );
    assert!(
        serving_pids().is_empty(),
        "no server of ours left: {:?}",
        serving_pids()
    );
}

#[test]
fn a_deleted_link_stops_the_run_in_one_line() {
    the_run_stops_when_the_link(&["-n", "{ns}", "link", "del", "to-cli1"], "does not exist");
}

#[test]
fn a_link_set_down_at_the_server_stops_the_run_in_one_line() {
    the_run_stops_when_the_link(&["-n", "{ns}", "link", "set", "to-cli1", "down"], "is down");
}
