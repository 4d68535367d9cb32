//! Processes seen from outside: `/proc` children and zombies, the child
//! subreaper, a kill-on-drop guard for raw children, and the lab programs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{lab_client_command, lab_server_command, IO_TIMEOUT, READY_TIMEOUT};

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

/// One line of `/proc/PID/stat`, the fields the tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
}

/// Reads `/proc/PID/stat` with the probe's parser; `None` if the process is gone.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let stat = probe::read_stat(u32::try_from(pid).ok()?)?;
    Some(ProcStat {
        pid,
        state: char::from(stat.state),
        ppid: i32::try_from(stat.ppid).ok()?,
    })
}

/// Every process whose parent is `ppid`, zombies included.
pub fn children_of(ppid: i32) -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .filter(|s| s.ppid == ppid)
        .collect()
}

/// The pids of every child of `ppid`, zombies included.
pub fn child_pids(ppid: i32) -> Vec<i32> {
    children_of(ppid).iter().map(|s| s.pid).collect()
}

/// How many children of `ppid` are zombies (dead, not yet reaped).
pub fn zombie_children(ppid: i32) -> usize {
    children_of(ppid).iter().filter(|s| s.state == 'Z').count()
}

/// Makes this test process the reaper of orphaned descendants, so a server's
/// child it failed to reap shows up as our child instead of vanishing into init.
pub fn become_subreaper() {
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
}

/// Those of `pids` that still exist (alive or zombie) as children of this test.
pub fn left_with_us(pids: &[i32]) -> Vec<ProcStat> {
    let me = std::process::id() as i32;
    pids.iter()
        .filter_map(|&p| proc_stat(p))
        .filter(|s| s.ppid == me)
        .collect()
}

// ---------------------------------------------------------------------------
// Raw child processes (the lab programs)
// ---------------------------------------------------------------------------

/// A child process killed and reaped (by its pid) when dropped.
pub struct ChildGuard(Child);

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(cmd.spawn().expect("start a child process"))
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid()), sig).expect("signal the child");
    }

    /// Waits up to `timeout` for the child to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Reads the child's piped stdout and stderr (if piped) while waiting up to
    /// `timeout` for it to exit; fails the test (and kills the child) if it
    /// runs longer.
    pub fn output_within(mut self, timeout: Duration) -> std::process::Output {
        let stdout = self.0.stdout.take().map(read_all_in_background);
        let stderr = self.0.stderr.take().map(read_all_in_background);
        let status = self
            .wait_timeout(timeout)
            .unwrap_or_else(|| panic!("pid {} did not finish within {timeout:?}", self.pid()));
        let joined = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| h.join().expect("pipe reader"))
                .unwrap_or_default()
        };
        std::process::Output {
            status,
            stdout: joined(stdout),
            stderr: joined(stderr),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Sends each line a pipe yields into a channel, from its own thread; the
/// channel disconnects when the pipe closes.
pub fn line_channel(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The lab's `server`, started with piped output; ready once its stderr says
/// where it listens.
pub struct LabServer {
    pub child: ChildGuard,
    pub stdout: Receiver<String>,
    pub stderr: Receiver<String>,
    /// What followed "listening on " (an address or a socket path).
    pub listening_on: String,
}

impl LabServer {
    pub fn start(args: &[&str]) -> LabServer {
        let mut child = ChildGuard::spawn(
            lab_server_command()
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let stdout = line_channel(child.child().stdout.take().expect("piped stdout"));
        let stderr = line_channel(child.child().stderr.take().expect("piped stderr"));
        let line = stderr
            .recv_timeout(READY_TIMEOUT)
            .unwrap_or_else(|_| panic!("server {args:?} printed no readiness line"));
        let listening_on = line
            .split_once(" listening on ")
            .and_then(|(_, rest)| rest.rsplit_once(" ("))
            .map(|(at, _)| at.to_string())
            .unwrap_or_else(|| panic!("unexpected first stderr line: {line:?}"));
        LabServer {
            child,
            stdout,
            stderr,
            listening_on,
        }
    }

    /// Where a client on this host reaches the server: its address, with
    /// "every address" (`[::]`, `0.0.0.0`) read as loopback.
    pub fn addr(&self) -> SocketAddr {
        let mut addr: SocketAddr = self.listening_on.parse().expect("an address");
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        addr
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// The next line on stdout, waiting up to [`IO_TIMEOUT`].
    pub fn stdout_line(&self) -> Option<String> {
        self.stdout.recv_timeout(IO_TIMEOUT).ok()
    }
}

/// Runs `cmd` to its end with `stdin` as its input, and returns its output;
/// fails (and kills it) if it runs longer than [`IO_TIMEOUT`].
pub fn output_within(cmd: &mut Command, stdin: &[u8]) -> std::process::Output {
    let mut child = ChildGuard::spawn(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut input = child.child().stdin.take().expect("piped stdin");
    // A program that exits without reading its input closes the pipe early.
    let _ = input.write_all(stdin);
    drop(input);
    child.output_within(IO_TIMEOUT)
}

/// Runs the lab `client` with `args`, feeding `stdin`; returns its output.
pub fn run_lab_client(args: &[&str], stdin: &[u8]) -> std::process::Output {
    output_within(lab_client_command().args(args), stdin)
}

/// Reads a pipe to its end on its own thread.
fn read_all_in_background(
    mut pipe: impl Read + Send + 'static,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = pipe.read_to_end(&mut v);
        v
    })
}
