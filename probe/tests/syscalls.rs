//! The probe's system-call count against a process that makes a known number
//! of system calls inside the window and none of note outside it.
//!
//! The child is killed by a guard even when an assertion fails; it is told
//! when to start through its stdin and says when it is done on its stdout,
//! so the window's edges are readiness signals, not sleeps.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use probe::ServerMonitor;

/// `getppid()` calls the child makes inside the window.
const CALLS: u64 = 50_000;
/// Calls the child may make besides them inside the window (reading "go",
/// writing "done", the interpreter's own), and the probe's sampling thread's
/// (it runs in this process, not the child's, so none are expected).
const SLACK: u64 = 2_000;

/// A child killed and reaped on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A python child that says "ready" once started, waits for a line, makes
/// `CALLS` getppid() calls, says "done", then waits for its stdin to close.
/// Returns once it is ready, so its start-up is outside any window.
fn caller() -> (Guard, BufReader<ChildStdout>) {
    let script = format!(
        "import os, sys\n\
         print('ready', flush=True)\n\
         sys.stdin.readline()\n\
         for _ in range({CALLS}): os.getppid()\n\
         print('done', flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let child = Guard(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    (child, out)
}

fn perf_installed() -> bool {
    Command::new("perf")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_calls_made_inside_the_window_are_counted() {
    let (mut child, mut out) = caller();
    let pid = child.0.id();
    let mut monitor = ServerMonitor::start(pid, None, Duration::from_millis(100)).unwrap();
    monitor.count_syscalls();
    monitor.mark_recording_start();
    let stdin = child.0.stdin.as_mut().unwrap();
    stdin.write_all(b"go\n").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "done");
    monitor.mark_recording_end();
    let cost = monitor.finish(CALLS);
    if !perf_installed() {
        let note = cost.syscalls_note.expect("a reason when perf is missing");
        assert!(note.starts_with("perf not runnable"), "{note}");
        return;
    }
    let n = cost
        .syscalls
        .unwrap_or_else(|| panic!("not counted: {:?}", cost.syscalls_note));
    assert!(
        (CALLS..CALLS + SLACK).contains(&n),
        "{n} system calls counted for {CALLS} getppid() calls"
    );
    let per = cost.syscalls_per_req.unwrap();
    assert!(
        (1.0..1.0 + SLACK as f64 / CALLS as f64).contains(&per),
        "{per}"
    );
    drop(child);
}

#[test]
fn nothing_is_counted_unless_asked_for() {
    let (child, _out) = caller();
    let monitor = ServerMonitor::start(child.0.id(), None, Duration::from_millis(100)).unwrap();
    monitor.mark_recording_start();
    monitor.mark_recording_end();
    let cost = monitor.finish(1);
    assert_eq!(cost.syscalls, None);
    assert!(cost.syscalls_note.unwrap().starts_with("not asked"));
}
