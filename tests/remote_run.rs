//! `run --server-host` against a real sshd in a network namespace: the
//! server-side cost is measured on the server host, both machines are
//! recorded, and nothing of ours is left there after the run, after Ctrl-C,
//! or after its SSH session drops.
//!
//! Every test skips with a one-line reason where namespaces cannot be made or
//! OpenSSH is missing (scripts/install-deps.sh installs it).

mod common;

use std::time::Duration;

use common::hosts::{serial, spawn_piped, RUN_TIMEOUT};
use common::sshd::{alive, SshLab};
use common::wait_for;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long the server host may take to be rid of a run's processes.
const GONE_TIMEOUT: Duration = Duration::from_secs(10);

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the file is written"))
        .expect("it parses")
}

#[test]
fn a_quick_run_measures_the_server_on_its_host_and_records_both_machines() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    let out_dir = lab.dir.path().join("run");
    let out = spawn_piped(
        lab.run_command(
            common::hosts::exe(),
            &[&common::hosts::QUICK_MIO_FORK_COST[..], &["--out"]].concat(),
        )
        .arg(&out_dir),
    )
    .output_within(RUN_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server_addr = lab.net.server.addr.to_string();
    let info = json(&out_dir.join("run.json"));
    let remote = &info["remote"];
    assert_eq!(remote["server_addr"].as_str(), Some(server_addr.as_str()));
    let has = |v: &serde_json::Value, addr: &str| {
        v.as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(addr)))
    };
    assert!(
        has(&remote["server"]["addresses"], &server_addr),
        "{remote}"
    );
    let client_addr = lab.net.clients[0].addr.to_string();
    assert!(
        has(&remote["client"]["addresses"], &client_addr),
        "{remote}"
    );
    assert!(remote["server"]["machine"]["cores"].as_u64() >= Some(1));
    assert_eq!(remote["server"]["version"], remote["client"]["version"]);

    let data = out_dir.join("data").join("fork-cost");
    let files: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
    assert!(!files.is_empty(), "measurements in {}", data.display());
    for file in files {
        let m = json(&file.path());
        assert_eq!(m["outcome"]["status"], "ok", "{m}");
        let report = &m["report"];
        // The load went to the server host, and nothing here watched a pid:
        // the figures came back over the session from the probe there.
        let target = report["plan"]["target"]["tcp"].as_str().unwrap_or("");
        assert!(target.starts_with(&format!("{server_addr}:")), "{target}");
        assert!(report["plan"]["server_pid"].is_null());
        let server = &report["server"];
        assert!(server["cpu_ns"].as_u64() > Some(0), "server CPU: {server}");
        assert!(server["cpu_us_per_req"].as_f64() > Some(0.0));
        assert!(server["peak_pss_kb"].as_u64() > Some(0));
        assert!(server["peak_processes"].as_u64() >= Some(1));
        assert!(!server["samples"].as_array().unwrap().is_empty());
    }
    let report = std::fs::read_to_string(out_dir.join("REPORT.md")).unwrap();
    assert!(
        report.contains("Server host"),
        "the Machine section names it"
    );
    wait_for("the server host to be rid of the run", GONE_TIMEOUT, || {
        lab.project_pids().is_empty()
    });
}

/// Starts a run of several fork points (two rounds: a session dropped in the
/// first leaves points to come) and waits for a model to be up on the server
/// host: the run, and the pids of ours there.
fn run_in_progress(lab: &SshLab) -> (common::ChildGuard, Vec<i32>) {
    let out_dir = lab.dir.path().join("run");
    let run = spawn_piped(
        lab.run_command(
            common::hosts::exe(),
            &[
                "--profile",
                "quick",
                "--experiments",
                "zombies",
                "--repeats",
                "2",
                "--out",
            ],
        )
        .arg(&out_dir),
    );
    wait_for("a model serving on the server host", RUN_TIMEOUT, || {
        !lab.model_pids().is_empty()
    });
    // The model, the tether that runs it, the shell that started that.
    (run, lab.project_pids())
}

#[test]
fn ctrl_c_mid_run_leaves_no_process_of_ours_on_the_server_host() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    let (mut run, serving) = run_in_progress(&lab);
    run.signal(Signal::SIGINT);
    let status = run
        .wait_timeout(Duration::from_secs(60))
        .expect("the run ends after Ctrl-C");
    assert_eq!(status.code(), Some(130), "interrupted");
    wait_for("the served pids to be gone", GONE_TIMEOUT, || {
        !serving.iter().any(|&p| alive(p))
    });
    wait_for(
        "no process of ours on the server host",
        GONE_TIMEOUT,
        || lab.project_pids().is_empty(),
    );
}

/// The `ssh` processes among the descendants of `pid` (found in /proc).
fn ssh_under(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        let Ok(children) =
            std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        else {
            continue;
        };
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if comm.trim() == "ssh" {
                found.push(child);
            }
            frontier.push(child);
        }
    }
    found
}

#[test]
fn a_dropped_session_ends_its_server_and_the_killed_run_leaves_nothing() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    let (mut run, serving) = run_in_progress(&lab);
    // The session drops: its ssh dies without a word.
    let sessions = ssh_under(run.pid());
    assert!(
        !sessions.is_empty(),
        "the run talks to the host through ssh"
    );
    for pid in sessions {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    wait_for(
        "the dropped session's server to be gone",
        GONE_TIMEOUT,
        || !serving.iter().any(|&p| alive(p)),
    );
    // And the run itself dies outright mid-point: its sessions end with it.
    wait_for("the next model serving", RUN_TIMEOUT, || {
        lab.model_pids().iter().any(|p| !serving.contains(p))
    });
    run.signal(Signal::SIGKILL);
    let _ = run.wait_timeout(Duration::from_secs(10));
    wait_for(
        "no process of ours on the server host",
        GONE_TIMEOUT,
        || lab.project_pids().is_empty(),
    );
}

#[test]
fn the_models_bind_an_ipv6_server_addr_and_the_load_goes_there() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    // Control stays on IPv4; the models and the load use IPv6.
    let (server_v6, client_v6) = ("fd00:251::1", "fd00:251::2");
    for (ns, dev, addr) in [
        (&lab.net.server.netns, "to-cli1", server_v6),
        (&lab.net.clients[0].netns, "to-srv", client_v6),
    ] {
        let out = common::hosts::ip()
            .args([
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                dev,
                "nodad",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out_dir = lab.dir.path().join("run");
    let out = spawn_piped(
        lab.run_command(
            common::hosts::exe(),
            &[
                "--server-addr",
                server_v6,
                "--profile",
                "quick",
                "--experiments",
                "datagram-cost",
                "--models",
                "udp-iterative",
                "--out",
            ],
        )
        .arg(&out_dir),
    )
    .output_within(RUN_TIMEOUT);
    assert!(
        out.status.success(),
        "run failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let data = out_dir.join("data").join("datagram-cost");
    let mut seen = 0;
    for file in std::fs::read_dir(&data).unwrap().flatten() {
        let m = json(&file.path());
        let report = &m["report"];
        let target = report["plan"]["target"]["udp"].as_str().unwrap_or("");
        assert!(target.starts_with(&format!("[{server_v6}]:")), "{target}");
        assert!(report["udp"]["answered"].as_u64() > Some(0), "{report}");
        assert!(report["server"]["cpu_ns"].as_u64() > Some(0));
        seen += 1;
    }
    assert!(seen > 0, "measurements in {}", data.display());
}
