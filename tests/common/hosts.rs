//! The two-host lab's test helpers: the hosts (or a skip where this machine
//! cannot make them), `sockbench serve` and `sockbench load` run inside them
//! under kill-on-drop guards with deadlines, and `ip` to see what is left.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use servers::ServerProcess;
use sockbench::netns::{Host, LinkOptions, NetnsError, Network};

use super::ChildGuard;

pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Longest a one-second `sockbench load` may take, namespaces and all.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a quick `run --two-hosts` may take on a loaded machine.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// The smallest real run of the main job across hosts: fork-cost's mio
/// points in the quick profile (`--out DIR` follows).
pub const QUICK_MIO_FORK_COST: [&str; 6] = [
    "--profile",
    "quick",
    "--experiments",
    "fork-cost",
    "--models",
    "mio",
];

/// Load runs measure time and namespaces are set up with many commands: one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hosts, or `None` (with the reason printed) where this machine cannot make them.
pub fn network(options: &LinkOptions) -> Option<Network> {
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

pub fn have_nft() -> bool {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .iter()
        .any(|p| Path::new(p).exists())
}

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_sockbench")
}

/// `sockbench serve ARGS` on `host`, ready.
pub fn serve_on(host: &Host, args: &[&str]) -> ServerProcess {
    let mut command = host.command(exe());
    command.arg("serve").args(args);
    ServerProcess::spawn(command, READY_TIMEOUT).expect("the server starts on its host")
}

/// `sockbench load` on `host` for 1 s after 200 ms of warm-up; its JSON result.
pub fn load_command(host: &Host, json: &Path, args: &[&str]) -> Command {
    let mut command = host.command(exe());
    command
        .args(["load", "--duration", "1s", "--warmup", "200ms", "--json"])
        .arg(json)
        .args(args);
    command
}

pub fn result_of(out: Output, json: &Path) -> serde_json::Value {
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
pub fn spawn_piped(cmd: &mut Command) -> ChildGuard {
    ChildGuard::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

pub fn load_on(host: &Host, json: &Path, args: &[&str]) -> serde_json::Value {
    let out = spawn_piped(&mut load_command(host, json, args)).output_within(LOAD_TIMEOUT);
    result_of(out, json)
}

pub fn u(v: &serde_json::Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in the result"))
}

/// `ip`, wherever it is (root's PATH may or may not hold /usr/sbin).
pub fn ip() -> Command {
    let path = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ip");
    Command::new(path)
}

/// `ip netns list` (empty where there is no `ip`).
pub fn netns_list() -> String {
    ip().args(["netns", "list"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

pub fn thread_netns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .expect("the thread's namespace")
        .ino()
}

pub fn stop(server: ServerProcess) {
    let stopped = server.stop(STOP_GRACE).expect("the server stops");
    assert!(!stopped.killed, "ignored SIGTERM: {}", stopped.stderr);
}

/// Our namespaces named after `pid`.
pub fn namespaces_of(pid: u32) -> Vec<String> {
    netns_list()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("sb-") && n.contains(&format!("-{pid}-")))
        .map(str::to_string)
        .collect()
}
