//! The two-host lab on one machine: servers in one network namespace, load
//! generators in others, over veth links, with and without loss; and the
//! namespaces gone afterwards, even after a panic or Ctrl-C.
//!
//! Every test skips with a message where namespaces cannot be made (not
//! root, no `ip`) and, for loss, where `nft` is missing (scripts/install-deps.sh).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::ChildGuard;

use loadgen::report::Percentiles;
use loadgen::{LoadPlan, Mode, Target};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use servers::ServerProcess;
use sockbench::netns::{Host, LinkOptions, NetnsError, Network};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Longest a one-second `sockbench load` may take, namespaces and all.
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a quick `run --two-hosts` may take on a loaded machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Load runs measure time and namespaces are set up with many commands: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hosts, or `None` (with the reason printed) where this machine cannot make them.
fn network(options: &LinkOptions) -> Option<Network> {
    match Network::create(options) {
        Ok(n) => Some(n),
        Err(NetnsError::Unavailable(why)) => {
            eprintln!("SKIPPED: network namespaces are unavailable here: {why}");
            None
        }
        Err(NetnsError::NoNft) => {
            eprintln!("SKIPPED: packet loss needs nft (nftables): run scripts/install-deps.sh");
            None
        }
        Err(e) => panic!("building the hosts failed: {e}"),
    }
}

fn have_nft() -> bool {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .iter()
        .any(|p| Path::new(p).exists())
}

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_sockbench")
}

/// `sockbench serve ARGS` on `host`, ready.
fn serve_on(host: &Host, args: &[&str]) -> ServerProcess {
    let mut command = host.command(exe());
    command.arg("serve").args(args);
    ServerProcess::spawn(command, READY_TIMEOUT).expect("the server starts on its host")
}

/// `sockbench load` on `host` for 1 s after 200 ms of warm-up; its JSON result.
fn load_command(host: &Host, json: &Path, args: &[&str]) -> Command {
    let mut command = host.command(exe());
    command
        .args(["load", "--duration", "1s", "--warmup", "200ms", "--json"])
        .arg(json)
        .args(args);
    command
}

fn result_of(out: Output, json: &Path) -> serde_json::Value {
    assert!(
        out.status.success(),
        "load failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).expect("the JSON is written"))
        .expect("the JSON parses")
}

/// Starts `cmd` with its output piped, killed and reaped if the test fails.
fn spawn_piped(cmd: &mut Command) -> ChildGuard {
    ChildGuard::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

fn load_on(host: &Host, json: &Path, args: &[&str]) -> serde_json::Value {
    let out = spawn_piped(&mut load_command(host, json, args)).output_within(LOAD_TIMEOUT);
    result_of(out, json)
}

fn u(v: &serde_json::Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in the result"))
}

/// `ip`, wherever it is (root's PATH may or may not hold /usr/sbin).
fn ip() -> Command {
    let path = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ip");
    Command::new(path)
}

/// `ip netns list` (empty where there is no `ip`).
fn netns_list() -> String {
    ip().args(["netns", "list"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

fn thread_netns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .expect("the thread's namespace")
        .ino()
}

fn stop(server: ServerProcess) {
    let stopped = server.stop(STOP_GRACE).expect("the server stops");
    assert!(!stopped.killed, "ignored SIGTERM: {}", stopped.stderr);
}

#[test]
fn the_link_carries_tcp_and_udp_without_errors() {
    let _guard = serial();
    let Some(net) = network(&LinkOptions::default()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = &net.clients[0];
    let bind = format!("{}:0", net.server.addr);

    let tcp = serve_on(&net.server, &["--model", "mio", "--addr", &bind]);
    let addr = tcp.ready().addr.expect("an address");
    assert_eq!(
        addr.ip(),
        net.server.addr,
        "the server binds its own host's address"
    );
    let v = load_on(
        client,
        &dir.path().join("tcp.json"),
        &["--target", &addr.to_string(), "--connections", "4"],
    );
    assert_eq!(u(&v, "/errors/total"), 0, "no errors over the link");
    assert!(u(&v, "/requests") > 0);

    // The in-process path of `run --two-hosts`: this thread moves to the
    // client host, and the load generator's threads are born there.
    let home = thread_netns();
    {
        let _inside = client.enter().expect("enter the client host");
        assert_ne!(thread_netns(), home);
        let mut plan = LoadPlan::new(Target::Tcp(addr), Mode::Rr);
        plan.warmup = Duration::from_millis(100);
        plan.duration = Duration::from_millis(500);
        plan.threads = 2;
        plan.connections = 2;
        let report = loadgen::run(&plan, &AtomicBool::new(false)).expect("load in-process");
        assert_eq!(report.errors.total, 0);
        assert!(report.requests > 0);
    }
    assert_eq!(thread_netns(), home, "the guard takes the thread home");
    stop(tcp);

    let udp = serve_on(&net.server, &["--model", "udp-iterative", "--addr", &bind]);
    let addr = udp.ready().addr.expect("an address").to_string();
    let v = load_on(
        client,
        &dir.path().join("udp.json"),
        &["--target", &addr, "--mode", "udp", "--timeout", "500ms"],
    );
    assert_eq!(u(&v, "/udp/lost"), 0, "a clean link loses nothing");
    assert_eq!(u(&v, "/udp/sent"), u(&v, "/udp/answered"));
    stop(udp);
}

#[test]
fn loss_on_the_wire_is_counted_loss_for_udp_and_latency_for_tcp() {
    let _guard = serial();
    if !have_nft() {
        eprintln!("SKIPPED: packet loss needs nft (nftables): run scripts/install-deps.sh");
        return;
    }
    let Some(mut net) = network(&LinkOptions::default()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = net.clients[0].clone();
    let bind = format!("{}:0", net.server.addr);

    // TCP: one connection, a clean link, then 10% loss each way. (At 20% a
    // connect can need five SYN rounds, 1+2+4+8+16 s: too slow for a test.)
    let tcp = serve_on(&net.server, &["--model", "mio", "--addr", &bind]);
    let addr = tcp.ready().addr.expect("an address").to_string();
    let args = ["--target", addr.as_str(), "--timeout", "20s"];
    let clean = load_on(&client, &dir.path().join("clean.json"), &args);
    net.set_loss(10.0).expect("set the loss");
    let lossy = load_on(&client, &dir.path().join("lossy.json"), &args);
    stop(tcp);
    let (p99_clean, p99_lossy) = (u(&clean, "/latency_ns/p99"), u(&lossy, "/latency_ns/p99"));
    eprintln!("TCP RR p99: {p99_clean} ns clean, {p99_lossy} ns with 10% loss each way");
    assert_eq!(
        u(&lossy, "/errors/total"),
        0,
        "TCP loses nothing: it retransmits"
    );
    assert!(u(&lossy, "/requests") > 0);
    // A lost segment costs a retransmission timeout (200 ms minimum on Linux,
    // or a tail-loss probe of at least 10 ms): far above a clean round trip
    // even on a loaded machine, where the clean p99 itself can reach milliseconds.
    assert!(
        p99_lossy > 10_000_000 && p99_lossy > 4 * p99_clean,
        "retransmissions show in the tail: p99 {p99_lossy} ns vs {p99_clean} ns clean"
    );

    // UDP: 20% each way; what is lost is counted, and nothing else.
    net.set_loss(20.0).expect("set the loss");
    let udp = serve_on(&net.server, &["--model", "udp-iterative", "--addr", &bind]);
    let addr = udp.ready().addr.expect("an address").to_string();
    let v = load_on(
        &client,
        &dir.path().join("udp.json"),
        // 16 flows, so a second holds hundreds of datagrams despite the timeouts.
        &[
            "--target",
            &addr,
            "--mode",
            "udp",
            "--connections",
            "16",
            "--timeout",
            "100ms",
        ],
    );
    stop(udp);
    let (sent, answered, lost) = (
        u(&v, "/udp/sent"),
        u(&v, "/udp/answered"),
        u(&v, "/udp/lost"),
    );
    eprintln!("UDP with 20% loss each way: sent {sent}, answered {answered}, lost {lost}");
    assert!(lost > 0, "UDP counts the datagrams the link dropped");
    assert_eq!(sent, answered + lost, "every datagram is answered or lost");
    let share = lost as f64 / sent as f64;
    assert!(
        (0.15..0.6).contains(&share),
        "about 1 - 0.8² = 36% lost, not {:.1}%",
        share * 100.0
    );
}

#[test]
fn two_load_generators_merge_into_one_exact_distribution() {
    let _guard = serial();
    let Some(net) = network(&LinkOptions {
        clients: 2,
        ..LinkOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // One server, reachable from both links.
    let server = serve_on(&net.server, &["--model", "mio", "--addr", "0.0.0.0:0"]);
    let port = server.ready().addr.expect("an address").port();
    let jsons: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("client{i}.json")))
        .collect();
    let running: Vec<ChildGuard> = net
        .clients
        .iter()
        .zip(&jsons)
        .map(|(client, json)| {
            let target = format!("{}:{port}", client.peer);
            spawn_piped(&mut load_command(
                client,
                json,
                &["--target", &target, "--connections", "2"],
            ))
        })
        .collect();
    let results: Vec<serde_json::Value> = running
        .into_iter()
        .zip(&jsons)
        .map(|(child, json)| result_of(child.output_within(LOAD_TIMEOUT), json))
        .collect();
    stop(server);

    let merged_json = dir.path().join("merged.json");
    let out = spawn_piped(
        Command::new(exe())
            .arg("merge")
            .args(&jsons)
            .arg("--json")
            .arg(&merged_json),
    )
    .output_within(LOAD_TIMEOUT);
    let merged = result_of(out, &merged_json);

    // The reference: one histogram holding both sample sets.
    let mut both = loadgen::stats::new_histogram();
    for r in &results {
        assert_eq!(u(r, "/errors/total"), 0);
        let text = r["histogram_v2"].as_str().expect("a histogram");
        both.add(loadgen::stats::decode_v2(text).expect("it decodes"))
            .expect("histograms of one configuration add");
    }
    let want = loadgen::stats::percentiles(&both);
    let got: Percentiles =
        serde_json::from_value(merged["latency_ns"].clone()).expect("merged percentiles");
    assert_eq!(
        (got.count, got.min, got.p50, got.p90, got.p99, got.p999, got.p9999, got.max),
        (want.count, want.min, want.p50, want.p90, want.p99, want.p999, want.p9999, want.max),
        "merged percentiles are those of the combined distribution"
    );
    assert!((got.mean - want.mean).abs() <= 1e-6 * want.mean.max(1.0));
    let sum = |path: &str| results.iter().map(|r| u(r, path)).sum::<u64>();
    for path in [
        "/requests",
        "/latency_ns/count",
        "/bytes_sent",
        "/bytes_received",
    ] {
        assert_eq!(u(&merged, path), sum(path), "{path} adds up");
    }
    assert!(sum("/requests") > 0 && results.iter().all(|r| u(r, "/requests") > 0));
}

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

/// Our namespaces named after `pid`.
fn namespaces_of(pid: u32) -> Vec<String> {
    netns_list()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("sb-") && n.contains(&format!("-{pid}-")))
        .map(str::to_string)
        .collect()
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
