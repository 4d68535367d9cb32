//! `run --server-host` refuses, in one line and within ssh's connect
//! timeout, a host that runs another build of sockbench and a host that
//! cannot be reached; and a run whose network to the host vanishes mid-run
//! stops in one line within the session's timeouts, leaving nothing of ours
//! on the host. Skips with a one-line reason where namespaces cannot be
//! made or OpenSSH is missing.

mod common;

use std::time::{Duration, Instant};

use common::hosts::{serial, spawn_piped, RUN_TIMEOUT};
use common::sshd::{alive, SshLab};
use common::wait_for;

/// ssh's connect timeout (`ConnectTimeout=5`) and a margin for a loaded machine.
const WITHIN: Duration = Duration::from_secs(15);

/// Runs `run --server-host` through `ssh_command` with `remote_sockbench`;
/// its exit code and stderr, checked to come within the connect timeout.
fn refused(lab: &SshLab, ssh_command: &str, remote_sockbench: &str) -> (Option<i32>, String) {
    let started = Instant::now();
    let mut command = lab.run_command_via(
        ssh_command,
        remote_sockbench,
        &["--profile", "quick", "--out"],
    );
    command.arg(lab.dir.path().join("run"));
    let out = spawn_piped(&mut command).output_within(WITHIN * 2);
    assert!(started.elapsed() < WITHIN, "took {:?}", started.elapsed());
    assert!(
        !lab.dir.path().join("run").join("run.json").exists(),
        "refused before the first point"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    lines[0]
}

#[test]
fn a_host_running_another_build_is_refused_with_how_to_install_this_one() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    let wrapper = lab.dir.path().join("old-sockbench");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'sockbench 0.0.1 (git 0000000)'; exit 0; fi\nexec {} \"$@\"\n",
            common::hosts::exe()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, stderr) = refused(&lab, &lab.ssh_command(), wrapper.to_str().unwrap());
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(line.contains("0.0.1 (git 0000000)"), "{line}");
    assert!(line.contains("install the same build"), "{line}");
    assert!(line.contains(env!("CARGO_PKG_VERSION")), "{line}");
}

#[test]
fn an_unreachable_host_is_one_line_within_the_connect_timeout() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    // Nothing listens on port 2 of the server host.
    let ssh = format!("{} -p 2", lab.ssh_command());
    let (code, stderr) = refused(&lab, &ssh, common::hosts::exe());
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(line.contains("cannot reach"), "{line}");
    assert!(line.contains("port 2"), "ssh's own reason: {line}");
}

#[test]
fn a_host_without_sockbench_is_told_how_to_install_it() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    let (code, stderr) = refused(&lab, &lab.ssh_command(), "/nonexistent/sockbench");
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(line.contains("has no `/nonexistent/sockbench`"), "{line}");
    assert!(line.contains("cargo install"), "{line}");
}

/// The point's window, the keep-alive that notices a silent session (ssh's
/// `ServerAliveInterval=2`, 3 missed), the answer timeout, one fresh connect
/// attempt (`ConnectTimeout=5`), and a margin for a loaded machine.
const STOPS_WITHIN: Duration = Duration::from_secs(60);
/// The tether's `--exit-when-silent` (10 s) and a margin.
const HOST_CLEAN_WITHIN: Duration = Duration::from_secs(25);

#[test]
fn a_network_vanished_mid_run_stops_it_in_one_line_and_the_host_ends_its_server() {
    let _guard = serial();
    let Some(lab) = SshLab::start() else { return };
    let out_dir = lab.dir.path().join("run");
    let mut command = lab.run_command(
        common::hosts::exe(),
        &[
            "--profile",
            "quick",
            "--experiments",
            "fork-cost",
            "--repeats",
            "3",
            "--out",
        ],
    );
    command.arg(&out_dir);
    let run = spawn_piped(&mut command);
    wait_for("a model serving on the server host", RUN_TIMEOUT, || {
        !lab.model_pids().is_empty()
    });
    let serving = lab.project_pids();
    // The server's end goes down: no packet crosses, and nothing tells
    // either side (no reset, no unreachable): the session just goes silent.
    let out = common::hosts::ip()
        .args([
            "-n",
            &lab.net.server.netns,
            "link",
            "set",
            "to-cli1",
            "down",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cut_at = Instant::now();

    let out = run.output_within(STOPS_WITHIN);
    eprintln!("the run stopped {:?} after the link went", cut_at.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stopped by an error: {stdout}{stderr}"
    );
    let last = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .expect("a message");
    assert!(last.contains("stopped after"), "{stderr}");
    assert!(last.contains("cannot reach"), "says what happened: {last}");
    assert!(last.contains("run again"), "says what to do: {last}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["partial"], true);

    // The host ends what the silent session started, by itself.
    wait_for(
        "the server host to end the silent session's server",
        HOST_CLEAN_WITHIN,
        || !serving.iter().any(|&p| alive(p)),
    );
    assert!(
        lab.project_pids().is_empty(),
        "no process of ours on the server host: {:?}",
        lab.project_pids()
    );
}
