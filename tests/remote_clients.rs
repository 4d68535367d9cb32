//! `run --client-host` against real sshds in network namespaces: the server
//! host (an sshd in the server namespace), the run in the first client
//! namespace, and two client hosts (an sshd in each of two more) whose load
//! generators start with the run's and are merged exactly. The merge is
//! checked against `sockbench merge` of the per-host reports, and an
//! unreachable client host is refused in one line within the connect
//! timeout.
//!
//! Every test skips with a one-line reason where namespaces cannot be made or
//! OpenSSH is missing (scripts/install-deps.sh installs it).

mod common;

use std::time::{Duration, Instant};

use common::hosts::{serial, spawn_piped, RUN_TIMEOUT};
use common::sshd::SshLab;
use common::wait_for;

/// How long the hosts may take to be rid of a run's processes.
const GONE_TIMEOUT: Duration = Duration::from_secs(10);
/// ssh's connect timeout (`ConnectTimeout=5`) and a margin for a loaded machine.
const WITHIN: Duration = Duration::from_secs(15);

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the file is written"))
        .expect("it parses")
}

fn u(v: &serde_json::Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

#[test]
fn two_client_hosts_start_with_the_run_and_their_histograms_are_merged_exactly() {
    let _guard = serial();
    let Some(lab) = SshLab::with_client_hosts(2) else {
        return;
    };
    let out_dir = lab.dir.path().join("run");
    let destinations = lab.client_destinations();
    let mut args = common::hosts::QUICK_MIO_FORK_COST.to_vec();
    for d in &destinations {
        args.extend(["--client-host", d.as_str()]);
    }
    args.push("--out");
    let out = spawn_piped(lab.run_command(common::hosts::exe(), &args).arg(&out_dir))
        .output_within(RUN_TIMEOUT);
    assert!(
        out.status.success(),
        "run failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // run.json names every client host, as its own sockbench described it.
    let info = json(&out_dir.join("run.json"));
    let hosts = info["clients"]["hosts"].as_array().expect("clients.hosts");
    assert_eq!(hosts.len(), 2, "{info}");
    for (host, addr) in hosts.iter().zip(lab.client_host_addrs()) {
        assert_eq!(host["destination"], format!("root@{addr}"));
        let addresses = host["description"]["addresses"].as_array().unwrap();
        assert!(
            addresses
                .iter()
                .any(|a| a.as_str() == Some(&addr.to_string())),
            "{host}"
        );
        assert_eq!(
            host["description"]["version"],
            info["remote"]["client"]["version"]
        );
    }
    assert!(info["clients"]["spread"]
        .as_str()
        .is_some_and(|s| s.contains("per generator")));

    let data = out_dir.join("data").join("fork-cost");
    let files: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
    assert!(!files.is_empty(), "measurements in {}", data.display());
    for (n, file) in files.iter().enumerate() {
        let m = json(&file.path());
        assert_eq!(m["outcome"]["status"], "ok", "{m}");
        let report = &m["report"];
        let shares = m["hosts"].as_array().expect("a per-host breakdown");
        let names: Vec<&str> = shares.iter().map(|s| s["host"].as_str().unwrap()).collect();
        assert_eq!(names[0], "here");
        assert_eq!(
            &names[1..],
            destinations.iter().map(String::as_str).collect::<Vec<_>>()
        );
        // The windows coincide: they began within one window of each other
        // (by each host's clock; the lab's hosts share one).
        let starts: Vec<f64> = shares
            .iter()
            .map(|s| s["window_start_unix_s"].as_f64().expect("a window start"))
            .collect();
        let spread = starts.iter().cloned().fold(f64::MIN, f64::max)
            - starts.iter().cloned().fold(f64::MAX, f64::min);
        let window = report["duration_s"].as_f64().unwrap();
        assert!(
            spread < window,
            "windows {starts:?} do not overlap ({window} s)"
        );
        let mut requests = 0;
        let mut counted = 0;
        let mut connections = 0;
        for share in shares {
            assert!(u(share, "/requests") > 0, "every host made load: {share}");
            assert_eq!(u(share, "/requests"), u(share, "/report/requests"));
            requests += u(share, "/requests");
            counted += u(share, "/report/latency_ns/count");
            connections += u(share, "/report/plan/connections");
        }
        assert_eq!(
            u(report, "/requests"),
            requests,
            "the merge adds the requests"
        );
        assert_eq!(
            u(report, "/latency_ns/count"),
            counted,
            "and the histograms"
        );
        assert_eq!(u(report, "/plan/connections"), connections);
        // The server's cost is the one watch's, from the server host.
        assert!(u(report, "/server/cpu_ns") > 0);

        // An independent merge: `sockbench merge` of the per-host reports.
        let parts: Vec<_> = shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let path = lab.dir.path().join(format!("part-{n}-{i}.json"));
                std::fs::write(&path, share["report"].to_string()).unwrap();
                path
            })
            .collect();
        let merged_path = lab.dir.path().join(format!("merged-{n}.json"));
        let merged = common::sockbench()
            .arg("merge")
            .args(&parts)
            .arg("--json")
            .arg(&merged_path)
            .output()
            .unwrap();
        assert!(merged.status.success(), "{merged:?}");
        let merged = json(&merged_path);
        for field in ["count", "p50", "p99", "max"] {
            assert_eq!(
                merged["latency_ns"][field], report["latency_ns"][field],
                "{field}: the run's merge and sockbench merge agree"
            );
        }
    }
    let md = std::fs::read_to_string(out_dir.join("REPORT.md")).unwrap();
    for d in &destinations {
        assert!(md.contains(d.as_str()), "the Machine section names {d}");
    }
    wait_for(
        "the client hosts to be rid of the run",
        GONE_TIMEOUT,
        || lab.client_host_pids().is_empty(),
    );
}

#[test]
fn an_unreachable_client_host_is_one_line_within_the_connect_timeout() {
    let _guard = serial();
    let Some(lab) = SshLab::with_client_hosts(1) else {
        return;
    };
    // No host has this address: the server host, which routes the lab's
    // addresses, answers that there is no route to it.
    let destination = "root@10.251.0.250";
    let started = Instant::now();
    let mut command = lab.run_command(
        common::hosts::exe(),
        &["--client-host", destination, "--profile", "quick", "--out"],
    );
    command.arg(lab.dir.path().join("run"));
    let out = spawn_piped(&mut command).output_within(WITHIN * 2);
    assert!(started.elapsed() < WITHIN, "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("client host"), "{}", lines[0]);
    assert!(
        lines[0].contains("cannot reach 10.251.0.250"),
        "{}",
        lines[0]
    );
    assert!(
        !lab.dir.path().join("run").join("run.json").exists(),
        "refused before the first point"
    );
}

/// A sockbench for the hosts at `name` in the lab's folder: `load` runs
/// through `load_script` (bash, with `$REAL` the real one), the rest as is.
fn wrapped_sockbench(lab: &SshLab, name: &str, load_script: &str) -> String {
    let wrapper = lab.dir.path().join(name);
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\nREAL={}\n[[ $1 == load ]] || exec \"$REAL\" \"$@\"\n{load_script}\n",
            common::hosts::exe()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper.to_str().unwrap().to_string()
}

/// A quick one-point run with one client host whose sockbench is
/// `remote_sockbench`: it must end with that point failed, the message
/// naming the host and saying `what`, and nothing of ours left there.
fn the_point_fails_naming_the_client_host(lab: &SshLab, remote_sockbench: &str, what: &str) {
    let destination = lab.client_destinations().remove(0);
    let out_dir = lab.dir.path().join("run");
    let out = spawn_piped(
        lab.run_command(
            remote_sockbench,
            &[
                &["--client-host", destination.as_str()][..],
                &common::hosts::QUICK_MIO_FORK_COST,
                &["--out"],
            ]
            .concat(),
        )
        .arg(&out_dir),
    )
    .output_within(RUN_TIMEOUT);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the run ends with a failed point: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let data = out_dir.join("data").join("fork-cost");
    let file = std::fs::read_dir(&data).unwrap().flatten().next().unwrap();
    let m = json(&file.path());
    assert_eq!(m["outcome"]["status"], "load_failed", "{m}");
    let message = m["outcome"]["message"].as_str().unwrap();
    let host = destination.trim_start_matches("root@");
    assert!(
        message.contains(&format!("client host {host}")) && message.contains(what),
        "{message}"
    );
    wait_for("the client host to be rid of the run", GONE_TIMEOUT, || {
        lab.client_host_pids().is_empty()
    });
}

#[test]
fn a_client_host_that_never_reports_fails_its_point_by_name_and_is_left_clean() {
    let _guard = serial();
    let Some(lab) = SshLab::with_client_hosts(1) else {
        return;
    };
    // Its load generator records for an hour: it meets the others at the
    // start, then never sends its report in time.
    let slow = wrapped_sockbench(
        &lab,
        "slow-sockbench",
        r#"args=(); for a in "$@"; do [[ $prev == --duration ]] && a=3600s; args+=("$a"); prev=$a; done
exec "$REAL" "${args[@]}""#,
    );
    the_point_fails_naming_the_client_host(&lab, &slow, "no report");
}

#[test]
fn a_client_host_whose_generator_dies_after_the_start_fails_its_point_by_name() {
    let _guard = serial();
    let Some(lab) = SshLab::with_client_hosts(1) else {
        return;
    };
    // Its load generator is killed as soon as it is told the start instant.
    let crashing = wrapped_sockbench(
        &lab,
        "crashing-sockbench",
        r#"coproc GEN { exec "$REAL" "$@"; }
exec 3<&"${GEN[0]}"
cat <&3 &
while IFS= read -r line; do
  printf '%s\n' "$line" >&"${GEN[1]}"
  if [[ $line == *'"start"'* ]]; then kill -9 "$GEN_PID"; wait; exit 1; fi
done"#,
    );
    the_point_fails_naming_the_client_host(&lab, &crashing, "ended without a report");
}
