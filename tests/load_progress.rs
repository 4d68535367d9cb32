//! `sockbench load` prints a line a second on stderr while it runs (the
//! second, requests/s, p50, p99, errors), none with `--quiet`, and never on
//! stdout, so `--json -` stays pure JSON.
//!
//! The server is a `sockbench serve` child, killed by its guard.

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use servers::ServerProcess;

/// Load runs measure time: one at a time (the machine is small).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn sockbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockbench"))
}

fn serve() -> ServerProcess {
    let mut command = sockbench();
    command.args(["serve", "--model", "mio", "--addr", "127.0.0.1:0"]);
    ServerProcess::spawn(command, Duration::from_secs(20)).expect("server starts")
}

/// A 2.5 s run against a fresh server, with `extra` flags.
fn load(extra: &[&str]) -> Output {
    let server = serve();
    let addr = server
        .ready()
        .addr
        .expect("an Internet address")
        .to_string();
    let out = sockbench()
        .args(["load", "--target", &addr, "--duration", "2500ms"])
        .args(["--warmup", "0s", "--connections", "2"])
        .args(extra)
        .output()
        .expect("sockbench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
    out
}

/// The progress lines of `text`: `[   1s]  41200 req/s  p50 23.10us  p99 88.00us  0 errors`.
fn progress_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('[') && l.contains("s]"))
        .collect()
}

#[test]
fn a_run_prints_a_line_a_second_on_stderr() {
    let _serial = serial();
    let out = load(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = progress_lines(&stderr);
    assert!(lines.len() >= 2, "a line for each whole second:\n{stderr}");
    for line in &lines {
        for field in ["req/s", "p50", "p99", "errors"] {
            assert!(line.contains(field), "no {field} in {line:?}");
        }
    }
    let first = lines[0];
    assert!(
        first.contains("[   1s]"),
        "the first second first: {first:?}"
    );
    let rate: u64 = first
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a request count in {first:?}"));
    assert!(
        rate > 0,
        "requests completed in the first second: {first:?}"
    );
    assert!(
        progress_lines(&String::from_utf8_lossy(&out.stdout)).is_empty(),
        "progress goes to stderr only"
    );
}

#[test]
fn quiet_prints_no_progress() {
    let _serial = serial();
    let out = load(&["--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(progress_lines(&stderr).is_empty(), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn json_on_stdout_stays_pure_json_with_progress_on_stderr() {
    let _serial = serial();
    let out = load(&["--json", "-"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert!(report["requests"].as_u64().unwrap_or(0) > 0, "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!progress_lines(&stderr).is_empty(), "{stderr}");
}
