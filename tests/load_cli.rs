//! `sockbench load` and `sockbench merge` as a user runs them, against the
//! project's server models started as separate processes.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use servers::ServerProcess;

mod common;

/// Load runs measure time: one at a time (the machine is small).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn sockbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockbench"))
}

fn serve(args: &[&str]) -> ServerProcess {
    let mut command = sockbench();
    command.arg("serve").args(args);
    ServerProcess::spawn(command, Duration::from_secs(20)).expect("server starts")
}

fn addr_of(server: &ServerProcess) -> String {
    server
        .ready()
        .addr
        .expect("an Internet address")
        .to_string()
}

fn load(args: &[&str]) -> Output {
    sockbench()
        .arg("load")
        .args(args)
        .output()
        .expect("sockbench runs")
}

/// A short run (1 s after 250 ms of warm-up) writing JSON; returns stdout and the JSON.
fn load_json(dir: &Path, name: &str, args: &[&str]) -> (String, serde_json::Value) {
    let json = dir.join(name);
    let mut all = vec![
        "--duration",
        "1s",
        "--warmup",
        "250ms",
        "--json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = load(&all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "load {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stdout, value)
}

fn u(v: &serde_json::Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

#[test]
fn crr_against_the_fork_and_mio_servers_has_no_errors() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    for model in ["fork", "mio"] {
        let server = serve(&["--model", model]);
        let addr = addr_of(&server);
        let (stdout, v) = load_json(
            dir.path(),
            "crr.json",
            &["--target", &addr, "--mode", "crr", "--connections", "4"],
        );
        assert_eq!(u(&v, "/errors/total"), 0, "{model}: {stdout}");
        assert!(u(&v, "/requests") > 50, "{model}: {stdout}");
        assert_eq!(
            u(&v, "/connect_latency_ns/count"),
            u(&v, "/requests"),
            "{model}"
        );
        assert!(stdout.contains("Connect latency"), "{stdout}");
        let stopped = server.stop(Duration::from_secs(5)).unwrap();
        assert!(
            stopped.status.success() || stopped.killed,
            "{model} stopped"
        );
    }
}

#[test]
fn rr_with_the_server_pid_reports_the_server_cost() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let (addr, pid) = (addr_of(&server), server.pid().to_string());
    let (stdout, v) = load_json(
        dir.path(),
        "rr.json",
        &[
            "--target",
            &addr,
            "--connections",
            "8",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(u(&v, "/errors/total"), 0, "{stdout}");
    assert_eq!(u(&v, "/server/pid"), server.pid() as u64);
    let demand = v
        .pointer("/server/cpu_us_per_req")
        .and_then(|x| x.as_f64())
        .unwrap();
    assert!(demand > 0.0, "service demand {demand}");
    assert!(stdout.contains(&format!("Server pid {pid}")), "{stdout}");
    assert!(stdout.contains("us CPU/request"), "{stdout}");
}

#[test]
fn udp_against_udp_iterative_accounts_for_every_datagram() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "udp-iterative"]);
    let addr = addr_of(&server);
    let (stdout, v) = load_json(
        dir.path(),
        "udp.json",
        &[
            "--target",
            &addr,
            "--mode",
            "udp",
            "--connections",
            "4",
            "--timeout",
            "100ms",
        ],
    );
    let (sent, answered, lost) = (
        u(&v, "/udp/sent"),
        u(&v, "/udp/answered"),
        u(&v, "/udp/lost"),
    );
    assert!(sent > 100, "{stdout}");
    assert_eq!(sent, answered + lost, "{stdout}");
    for field in [
        "late",
        "duplicates",
        "kernel_rcvbuf_errors",
        "kernel_in_errors",
    ] {
        u(&v, &format!("/udp/{field}"));
    }
    assert!(stdout.contains("UDP: sent"), "{stdout}");
}

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

#[test]
fn ten_thousand_connections_from_one_process() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let started = Instant::now();
    let (stdout, v) = load_json(
        dir.path(),
        "c10k.json",
        &[
            "--target",
            &addr,
            "--connections",
            "10",
            "--idle",
            "9990",
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(u(&v, "/errors/total"), 0, "{stdout}");
    assert_eq!(u(&v, "/plan/idle_connections"), 9990);
    assert!(u(&v, "/requests") > 100, "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// An echo server on its own threads that counts the bytes it has read, so
/// a test can tell how far a closed-loop load has got without guessing with
/// a sleep. Its threads end when the load closes its connections.
fn counting_echo_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Ok(0) or an error: the load closed this connection.
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    counter.fetch_add(n, Ordering::Relaxed);
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, received)
}

#[test]
fn ctrl_c_writes_partial_results() {
    const MESSAGE: usize = 64;
    const ANSWERED: usize = 10;
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let (addr, received) = counting_echo_server();
    let json = dir.path().join("partial.json");
    let mut child = common::ChildGuard::spawn(
        sockbench()
            .args(["load", "--target", &addr.to_string(), "--mode", "rr"])
            .args(["--connections", "1", "--size", &MESSAGE.to_string()])
            .args(["--duration", "30s", "--warmup", "0s"])
            .arg("--json")
            .arg(&json)
            .stdout(std::process::Stdio::piped()),
    );
    // One connection, closed loop: once the server has read request k+1 the
    // load has had answer k, so it has measured requests to report.
    common::wait_for(
        "the load's first answered requests",
        Duration::from_secs(20),
        || received.load(std::sync::atomic::Ordering::Relaxed) > ANSWERED * MESSAGE,
    );
    child.signal(nix::sys::signal::Signal::SIGINT);
    let started = Instant::now();
    let status = child
        .wait_timeout(Duration::from_secs(5))
        .expect("the load stops within 5 s of SIGINT");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(
        &mut child.child().stdout.take().expect("piped stdout"),
        &mut stdout,
    )
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["partial"], true);
    assert!(u(&v, "/requests") > 0, "{v}");
    assert!(stdout.contains("PARTIAL"), "{stdout}");
}

fn assert_one_line_error(out: &Output, hint: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(hint), "'{stderr}' should mention '{hint}'");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_a_one_line_error() {
    let (_held, refusing) = common::refusing_addr();
    let dead = refusing.to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--mode", "rr"], "no target"),
        (
            vec!["--target", "127.0.0.1:9", "--rate", "100"],
            "--rate applies to --mode open",
        ),
        (
            vec!["--target", "127.0.0.1:9", "--mode", "open"],
            "needs --rate",
        ),
        (
            vec!["--target", "127.0.0.1:9", "--connections", "0"],
            "zero connections",
        ),
        (vec!["--target", "nosuchhost.invalid:80"], "cannot resolve"),
        (
            vec!["--target", "127.0.0.1:9", "--transport", "unix"],
            "needs --path",
        ),
        (
            vec!["--target", &dead, "--duration", "1s"],
            "nothing answers",
        ),
        (
            vec!["--path", "/nonexistent/sock", "--duration", "1s"],
            "nothing answers",
        ),
    ];
    for (args, hint) in cases {
        let out = load(&args);
        assert_one_line_error(&out, hint);
    }
}

/// An enum flag with an unknown value is a usage error: exit 2, and the
/// message lists the possible values.
#[test]
fn unknown_enum_values_are_usage_errors_listing_the_choices() {
    for (flag, value, choice) in [
        ("--mode", "zigzag", "crr"),
        ("--transport", "sctp", "unix"),
        ("--service", "gopher", "synthetic"),
    ] {
        let out = load(&["--target", "127.0.0.1:9", flag, value]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(value) && stderr.contains("possible values") && stderr.contains(choice),
            "{flag} {value}: {stderr}"
        );
    }
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
