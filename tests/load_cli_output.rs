//! What `sockbench load` and `sockbench merge` write: the JSON's stable,
//! versioned fields, the wrk-like summary, merged results, the interval log.

use std::path::Path;

use common::load::*;

mod common;

#[test]
fn the_json_has_the_stable_fields_and_the_summary_ends_like_wrk() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let (stdout, v) = load_json(
        dir.path(),
        "open.json",
        &[
            "--target",
            &addr,
            "--mode",
            "open",
            "--rate",
            "2000",
            "--connections",
            "4",
        ],
    );
    assert!(v["throughput_rps"].as_f64().unwrap() > 1900.0, "{stdout}");
    for field in ["p50", "p90", "p99", "p999", "p9999", "max", "count"] {
        u(&v, &format!("/latency_ns/{field}"));
        u(&v, &format!("/uncorrected_latency_ns/{field}"));
    }
    assert!(v["latency_ns"]["mean"].is_f64() && v["latency_ns"]["stdev"].is_f64());
    u(&v, "/errors/total");
    assert_eq!(v["offered_rps"].as_f64(), Some(2000.0));
    assert_eq!(v["plan"]["mode"]["mode"], "open");
    for field in ["cpu_model", "cores", "kernel", "rustc", "git_revision"] {
        assert!(!v["machine"][field].is_null(), "machine.{field}");
    }
    assert!(v["histogram_v2"].as_str().unwrap().len() > 20);
    assert!(v["interval_log"].as_str().unwrap().contains("Tag=latency,"));
    assert_eq!(v["timeline"].as_array().unwrap().len(), 1);
    assert_eq!(v["partial"], false);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[lines.len() - 2].starts_with("Requests/sec:"),
        "{stdout}"
    );
    assert!(
        lines[lines.len() - 1].starts_with("Transfer/sec:"),
        "{stdout}"
    );
    assert!(stdout.contains("uncorrected"), "{stdout}");
    assert!(stdout.contains("Offered 2000.00 req/s"), "{stdout}");
}

#[test]
fn merge_combines_two_results() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let (_, a) = load_json(dir.path(), "a.json", &["--target", &addr]);
    let (_, b) = load_json(
        dir.path(),
        "b.json",
        &["--target", &addr, "--connections", "2"],
    );
    let merged = dir.path().join("merged.json");
    let out = sockbench()
        .arg("merge")
        .arg(dir.path().join("a.json"))
        .arg(dir.path().join("b.json"))
        .arg("--json")
        .arg(&merged)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("Merged 2 runs"), "{stdout}");
    assert!(stdout.contains("Requests/sec:"), "{stdout}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(u(&m, "/requests"), u(&a, "/requests") + u(&b, "/requests"));
    assert_eq!(u(&m, "/latency_ns/count"), u(&m, "/requests"));
    assert_eq!(u(&m, "/plan/connections"), 3);

    // A file that is not a result is a one-line error.
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{}").unwrap();
    let out = sockbench().arg("merge").arg(&bogus).output().unwrap();
    assert_one_line_error(&out, "not a load result");
}

/// `--json -` puts the JSON alone on stdout (the summary on stderr), with
/// its schema and version, durations as numbers with units in their
/// names, and wrk2's percentiles; `--hdr-log` writes an interval log.
#[test]
fn json_to_stdout_is_versioned_and_the_interval_log_is_a_file() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.hlog");
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let out = load(&[
        "--target",
        &addr,
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--think",
        "100us",
        "--json",
        "-",
        "--hdr-log",
        log.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!Path::new("-").exists(), "no file named '-'");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON alone ({e}): {stderr}"));
    assert_eq!(u(&v, "/schema_version"), 2);
    assert_eq!(
        v["sockbench_version"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        v.pointer("/plan/duration_s").and_then(|d| d.as_f64()),
        Some(1.0)
    );
    assert_eq!(
        v.pointer("/plan/warmup_s").and_then(|d| d.as_f64()),
        Some(0.2)
    );
    assert_eq!(
        v.pointer("/plan/think_time_us").and_then(|d| d.as_f64()),
        Some(100.0)
    );
    assert!(v["plan"].get("duration").is_none(), "{}", v["plan"]);
    let (p50, p75, p90) = (
        u(&v, "/latency_ns/p50"),
        u(&v, "/latency_ns/p75"),
        u(&v, "/latency_ns/p90"),
    );
    assert!(p50 > 0 && p50 <= p75 && p75 <= p90, "{p50} {p75} {p90}");
    let (p9999, p99999) = (u(&v, "/latency_ns/p9999"), u(&v, "/latency_ns/p99999"));
    assert!(p9999 <= p99999 && p99999 <= u(&v, "/latency_ns/max"));
    assert!(
        stderr.contains("99.999%") && stderr.contains("75%"),
        "{stderr}"
    );

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with('#'), "{text}");
    assert!(text.contains("#[StartTime: "), "{text}");
    // One line per interval: [Tag=NAME,] start, length, max, base64 histogram.
    let intervals: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("\"StartTimestamp\""))
        .collect();
    assert!(!intervals.is_empty(), "no intervals: {text}");
    for line in intervals {
        let fields: Vec<&str> = line.split(',').collect();
        let fields = if fields[0].starts_with("Tag=") {
            &fields[1..]
        } else {
            &fields[..]
        };
        assert_eq!(fields.len(), 4, "{line}");
        assert!(
            fields[3].starts_with("HISTF"),
            "a V2 deflate histogram: {line}"
        );
    }
}
