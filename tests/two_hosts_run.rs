//! `run --two-hosts` records its link and removes its namespaces, even after
//! Ctrl-C or a panic, and says so and skips without the privilege to make them;
//! its servers are probed in the server namespace, through the tether.
//!
//! Every test skips with a message where namespaces cannot be made (not
//! root, no `ip`) and, for loss, where `nft` is missing (scripts/install-deps.sh).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::hosts::*;
use common::ChildGuard;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sockbench::netns::LinkOptions;

#[test]
fn nothing_is_left_behind_even_when_a_test_panics() {
    let _guard = serial();
    let names: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let straggler: Mutex<Option<ChildGuard>> = Mutex::new(None);
    let outcome = std::panic::catch_unwind(|| {
        let Some(net) = network(&LinkOptions {
            clients: 2,
            ..LinkOptions::default()
        }) else {
            return;
        };
        *names.lock().unwrap() = net.names();
        let listed = netns_list();
        for name in net.names() {
            assert!(
                listed.contains(&name),
                "{name} exists while the network lives"
            );
        }
        // A process left running inside must not keep the namespace alive.
        let sleeper = ChildGuard::spawn(net.server.command("sleep").arg("60"));
        *straggler.lock().unwrap() = Some(sleeper);
        panic!("on purpose: the guard must still tear everything down");
    });
    let names = names.into_inner().unwrap();
    if names.is_empty() {
        return; // skipped: no namespaces here
    }
    assert!(outcome.is_err(), "the closure panicked");
    let listed = netns_list();
    for name in &names {
        assert!(!listed.contains(name), "{name} is gone: {listed}");
    }
    let links = ip().args(["-o", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(
        !links.contains("to-srv") && !links.contains("to-cli"),
        "no veth end on this host: {links}"
    );
    let mut sleeper = straggler.into_inner().unwrap().expect("the sleeper ran");
    let status = sleeper
        .wait_timeout(Duration::from_secs(5))
        .expect("the process inside was killed");
    assert!(!status.success(), "killed, not finished");
}

#[test]
fn run_two_hosts_records_the_link_and_removes_it() {
    let _guard = serial();
    if !have_nft() {
        eprintln!("SKIPPED: packet loss needs nft (nftables): run scripts/install-deps.sh");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let child = spawn_piped(
        Command::new(exe())
            .args([
                "run",
                "--two-hosts",
                "--loss",
                "1%",
                // A lost SYN costs 1 s, longer than a quick point: with two
                // repeats, one of them measures the one-client TCP point.
                "--repeats",
                "2",
                "--delay",
                "1ms",
                "--profile",
                "quick",
                "--experiments",
                "datagram-loss,unix-vs-inet",
                "--out",
            ])
            .arg(&out_dir),
    );
    let pid = child.pid() as u32;
    let out = child.output_within(RUN_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.contains("cannot be created here") {
        eprintln!("SKIPPED: {stdout}");
        return;
    }
    assert!(stdout.contains("skipping") && stdout.contains("Unix-domain points"));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    let link = &info["link"];
    assert_eq!(link["loss_pct"].as_f64(), Some(1.0));
    assert_eq!(link["delay_ms"].as_f64(), Some(1.0));
    let netem = link["netem_available"].as_bool().expect("netem detected");
    assert_eq!(link["delay_applied"].as_bool(), Some(netem));
    assert_eq!(
        stdout.contains("delay needs sch_netem, which this kernel lacks; running without delay"),
        !netem,
        "a missing netem is said, never silent: {stdout}"
    );
    let report = std::fs::read_to_string(out_dir.join("REPORT.md")).unwrap();
    assert!(
        report.contains("| network | two hosts: server 10.251.0.1"),
        "{report}"
    );
    assert!(report.contains("1% of packets dropped each way"));
    assert!(
        report.contains("on the two-host link dropping 1% of packets each way"),
        "{report}"
    );
    // The one-client UDP point lost datagrams to the wire, TCP none.
    let point = |name: &str| -> serde_json::Value {
        let path = out_dir.join("data/datagram-loss").join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let udp = point("udp-iterative__udp___x1__r0.json");
    assert!(
        u(&udp, "/report/udp/lost") > 0,
        "UDP counts the wire's loss"
    );
    let tcp = point("mio__tcp___x1__r0.json");
    assert_eq!(
        u(&tcp, "/report/errors/total"),
        0,
        "TCP retransmits instead"
    );
    assert!(
        namespaces_of(pid).is_empty(),
        "the run removed its namespaces: {:?}",
        namespaces_of(pid)
    );
}

#[test]
fn ctrl_c_during_run_two_hosts_removes_everything() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut child = ChildGuard::spawn(
        Command::new(exe())
            .args([
                "run",
                "--two-hosts",
                "--profile",
                "quick",
                "--experiments",
                "overview",
                "--out",
            ])
            .arg(dir.path().join("run"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let pid = child.pid() as u32;
    // Off a terminal the run prints one line per point measured ("[1/N …]"):
    // once the first is out, the hosts exist and measuring is under way.
    let lines = common::line_channel(child.child().stdout.take().expect("piped stdout"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with("[1/") => break,
            Ok(line) => seen += &(line + "\n"),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let status = child.wait_timeout(STOP_GRACE).expect("the run exits");
                assert!(status.success(), "run failed: {seen}");
                assert!(seen.contains("cannot be created here"), "{seen}");
                eprintln!("SKIPPED: {seen}");
                return;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                panic!("no point measured within 120 s: {seen}")
            }
        }
    }
    assert!(
        !namespaces_of(pid).is_empty(),
        "the run measures on its hosts"
    );
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .expect("the run stops within 30 s of Ctrl-C");
    // Interrupted: the partial results are written and the exit code says so.
    assert_eq!(
        status.code(),
        Some(130),
        "a Ctrl-C'd run ends as interrupted: {status}"
    );
    let rest: String = lines.iter().map(|l| l + "\n").collect();
    assert!(
        rest.contains("wrote "),
        "the partial results are written: {rest}"
    );
    assert!(
        namespaces_of(pid).is_empty(),
        "no namespace left: {:?}",
        namespaces_of(pid)
    );
}

#[test]
fn without_privilege_run_two_hosts_says_so_and_skips() {
    let _guard = serial();
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !Path::new("/usr/bin/setpriv").exists() || !root {
        eprintln!("SKIPPED: needs root and setpriv to drop to an unprivileged user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = spawn_piped(
        Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", exe()])
            .args(["run", "--two-hosts", "--profile", "quick", "--out"])
            .arg(dir.path().join("run")),
    )
    .output_within(LOAD_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.starts_with("setpriv:") {
        // E.g. the build lives where that user may not go (/root/…).
        eprintln!("SKIPPED: the unprivileged user cannot run the binary: {stderr}");
        return;
    }
    assert!(
        out.status.success(),
        "exit 0 with the message: {stdout}{stderr}"
    );
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    assert!(
        stdout.contains("network namespaces cannot be created here") && stdout.contains("skipping"),
        "{stdout}"
    );
}

#[test]
fn the_server_is_probed_in_its_namespace_through_the_tether() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = spawn_piped(
        Command::new(exe())
            .args(["run", "--two-hosts", "--profile", "quick"])
            .args(["--experiments", "backlog", "--out"])
            .arg(&out_dir),
    )
    .output_within(RUN_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.contains("cannot be created here") {
        eprintln!("SKIPPED: {}", stdout.trim());
        return;
    }
    let point = |name: &str| -> serde_json::Value {
        let path = out_dir.join("data/backlog").join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let small = point("backlog_5__x5__r0.json");
    let report = &small["report"];
    // Nothing here watched a pid: the probe ran beside the model, in the
    // server namespace, and its figures came back over the session.
    assert!(report["plan"]["server_pid"].is_null(), "{}", report["plan"]);
    let server = &report["server"];
    assert!(server["cpu_ns"].as_u64() > Some(0), "server CPU: {server}");
    assert!(
        server["cpu_source"]
            .as_str()
            .is_some_and(|s| s.starts_with("cgroup")),
        "the model's own cgroup, even in a namespace: {server}"
    );
    assert!(server["peak_pss_kb"].as_u64() > Some(0));
    // Listen overflows are counted per network namespace, and nothing
    // listens in the client's: these can only be the server namespace's.
    assert!(
        u(report, "/kernel_tcp/listen_overflows") > 0,
        "a burst overflows a backlog of 5: {}",
        report["kernel_tcp"]
    );
}
