//! Helpers for running `sockbench load` as a user does: a `serve` to aim at,
//! the load run under a kill-on-drop guard with a deadline, its JSON read back.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use servers::ServerProcess;

use super::ChildGuard;

/// Longest a short `sockbench load` may take, start-up and all.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Load runs measure time: one at a time (the machine is small).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn sockbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockbench"))
}

pub fn serve(args: &[&str]) -> ServerProcess {
    let mut command = sockbench();
    command.arg("serve").args(args);
    ServerProcess::spawn(command, Duration::from_secs(20)).expect("server starts")
}

pub fn addr_of(server: &ServerProcess) -> String {
    server
        .ready()
        .addr
        .expect("an Internet address")
        .to_string()
}

pub fn load(args: &[&str]) -> Output {
    let mut cmd = sockbench();
    cmd.arg("load").args(args);
    ChildGuard::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .output_within(LOAD_TIMEOUT)
}

/// A short run (1 s after 250 ms of warm-up) writing JSON; returns stdout and the JSON.
pub fn load_json(dir: &Path, name: &str, args: &[&str]) -> (String, serde_json::Value) {
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

pub fn u(v: &serde_json::Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// The run failed with one line on stderr that holds `hint`.
pub fn assert_one_line_error(out: &Output, hint: &str) {
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
