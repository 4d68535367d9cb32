//! The main job end to end: `sockbench run` survives a server that dies
//! mid-experiment (reports it, goes on, leaves nothing behind), and
//! `sockbench report` redraws exactly the same report from the JSON alone.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{become_subreaper, children_of, sockbench, ChildGuard};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The `sockbench serve` processes whose parent is `ppid`.
fn servers_of(ppid: i32) -> Vec<i32> {
    children_of(ppid)
        .into_iter()
        .filter(|s| s.state != 'Z' && cmdline(s.pid).contains(" serve "))
        .map(|s| s.pid)
        .collect()
}

fn measurements(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("data")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("data folder") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(serde_json::from_str(&text).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_server_killed_mid_run_is_reported_and_the_run_goes_on() {
    // Orphans of the run would become our children, so none can hide.
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Off a terminal (stdout is a file), progress is one line per point.
    let log_path = dir.path().join("stdout.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut run = ChildGuard::spawn(
        sockbench()
            .args([
                "run",
                "--profile",
                "quick",
                "--experiments",
                "unix-vs-inet",
                "--out",
            ])
            .arg(&out)
            .stdout(log)
            .stderr(Stdio::null()),
    );

    // Kill the first server the run starts, as a crash would.
    let deadline = Instant::now() + Duration::from_secs(30);
    let victim = loop {
        if let Some(&pid) = servers_of(run.pid()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the run never started a server");
        std::thread::sleep(Duration::from_millis(2));
    };
    kill(Pid::from_raw(victim), Signal::SIGKILL).unwrap();

    let status = run
        .wait_timeout(Duration::from_secs(120))
        .expect("the run ends by itself");
    assert_eq!(
        status.code(),
        Some(3),
        "the run goes on after a crash and exits 3 (points failed): {status}"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let point_lines: Vec<&str> = log.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(point_lines.len(), 4, "one line per point:\n{log}");
    assert!(
        point_lines.iter().any(|l| l.contains("FAILED")),
        "the failed point says so:\n{log}"
    );
    assert!(
        point_lines.iter().any(|l| l.contains(" req/s, p50 ")),
        "a good point carries its figures:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.starts_with("warning: ")),
        "the crash warning is in the log:\n{log}"
    );

    let all = measurements(&out);
    assert_eq!(
        all.len(),
        4,
        "every point of the quick profile was measured"
    );
    let failed: Vec<_> = all
        .iter()
        .filter(|m| m["outcome"]["status"] != "ok")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "exactly the killed server's point failed: {failed:?}"
    );
    let status = failed[0]["outcome"]["status"].as_str().unwrap();
    assert!(
        ["server_crashed", "server_failed_to_start", "load_failed"].contains(&status),
        "{status}"
    );
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(
        report.contains("Measurements that did not run cleanly"),
        "the report lists the failed measurement"
    );
    assert!(
        servers_of(std::process::id() as i32).is_empty() && servers_of(run.pid()).is_empty(),
        "no server left behind"
    );
}

#[test]
fn report_redraws_the_same_report_from_the_json_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let status = sockbench()
        .args([
            "run",
            "--profile",
            "quick",
            "--experiments",
            "backlog",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "every point good: exit 0");
    let first = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    let first_png = std::fs::read(out.join("charts/backlog-connect-spectrum.png")).unwrap();
    check_summary_csv(&out.join("summary.csv"));
    let chart_csv =
        std::fs::read_to_string(out.join("charts/backlog-connect-spectrum.csv")).unwrap();
    assert!(
        chart_csv.starts_with("chart,series,x_label,x,y_label,y,lo,hi\n")
            && chart_csv.contains("backlog 5"),
        "the chart's numbers beside it: {chart_csv}"
    );
    assert!(first.contains("## Verdicts") && first.contains("backlog 5"));

    std::fs::remove_file(out.join("REPORT.md")).unwrap();
    std::fs::remove_dir_all(out.join("charts")).unwrap();
    let redraw = sockbench().arg("report").arg(&out).output().unwrap();
    assert!(
        redraw.status.success(),
        "{}",
        String::from_utf8_lossy(&redraw.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("REPORT.md")).unwrap(),
        first
    );
    assert_eq!(
        std::fs::read(out.join("charts/backlog-connect-spectrum.png")).unwrap(),
        first_png
    );
}

/// summary.csv has every plan column and the figures, and each clean row
/// fills them in.
fn check_summary_csv(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in [
        "experiment",
        "series",
        "model",
        "transport",
        "x",
        "x_is",
        "repeat",
        "status",
        "mode",
        "connections",
        "idle_connections",
        "offered_rps",
        "size_bytes",
        "service",
        "latency_p50_ns",
        "latency_p90_ns",
        "latency_p99_ns",
        "latency_p999_ns",
        "latency_mean_ns",
        "server_memory_kb",
        "server_pss_kb",
        "server_cpu_source",
        "machine_cpu_us_per_req",
        "syn_retransmits",
    ] {
        assert!(
            header.contains(&column),
            "summary.csv lacks {column}: {header:?}"
        );
    }
    let at = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{line}");
        if cells[at("status")] == "ok" {
            rows += 1;
            for column in [
                "mode",
                "connections",
                "service",
                "latency_p90_ns",
                "latency_mean_ns",
            ] {
                assert!(!cells[at(column)].is_empty(), "{column} empty in {line}");
            }
        }
    }
    assert!(rows > 0, "no clean rows in {text}");
}

#[test]
fn bad_run_and_report_arguments_are_one_line_errors() {
    let empty = tempfile::tempdir().unwrap();
    for usage in [
        &["run", "--profile", "nope"][..],
        &["load", "--mode", "xyz"],
    ] {
        let out = sockbench().args(usage).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{usage:?} is a usage error");
    }
    let cases: [&[&str]; 3] = [
        &["report", empty.path().to_str().unwrap()],
        &["run", "--experiments", "no-such-claim", "--list"],
        &["run", "--models", "no-such-model", "--list"],
    ];
    for args in cases {
        let out = sockbench().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            lines.len() <= 3 && lines[0].contains("error"),
            "{args:?}: a short error, not a wall of text: {stderr}"
        );
    }
}
