//! The server tree's system calls over the window, counted by `perf stat` on
//! the `raw_syscalls:sys_enter` tracepoint, when perf is installed and
//! permitted (root, or `kernel.perf_event_paranoid` ≤ 1 for another user's
//! process) and the caller asks for it.
//!
//! It is opt-in because counting is not free: an enabled syscall tracepoint
//! sends every system call of the traced threads through the kernel's slow
//! entry path, measured here at about 0.3 µs per call (mio's echo went from
//! about 5.0 to 6.2 µs of server CPU per request at 3 calls a request), and a
//! model that makes more calls pays more, so its CPU figure is biased against it.
//!
//! perf attaches to every thread the server has when it starts (`-p`), and
//! its counters are inherited by threads and children created later. It
//! starts with its counters disabled (`-D -1`) and is switched on and off
//! through a control FIFO (`--control`) at the window's edges, each command
//! acknowledged, so the count covers the same interval as the CPU figure.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, Pid};

/// The tracepoint counted: one event per system call entered.
const EVENT: &str = "raw_syscalls:sys_enter";
/// How long perf may take to start and attach (it reads kernel symbols and
/// tracepoint formats first; seconds on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long perf may take to switch its counters on or off.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A running `perf stat` counting one process tree's system calls.
pub(crate) struct SyscallCounter {
    perf: Child,
    ctl: File,
    ack: File,
    dir: PathBuf,
}

impl SyscallCounter {
    /// Starts perf on `pid`'s threads with its counters off, and waits until
    /// it has attached. The error says why counting is unavailable.
    pub(crate) fn start(pid: u32) -> Result<SyscallCounter, String> {
        let dir = std::env::temp_dir().join(format!("sockbench-perf-{}-{pid}", std::process::id()));
        // A directory left by a crashed run of ours with the same pids is stale.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let cleanup = |e: String| {
            let _ = fs::remove_dir_all(&dir);
            e
        };
        let (ctl, ack) = fifos(&dir).map_err(cleanup)?;
        let perf = Command::new("perf")
            .args(["stat", "-x", ",", "-e", EVENT, "-D", "-1", "--control"])
            .arg(format!(
                "fifo:{},{}",
                dir.join("ctl").display(),
                dir.join("ack").display()
            ))
            .arg("-p")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| cleanup(format!("perf not runnable ({e}): install linux-perf")))?;
        let mut counter = SyscallCounter {
            perf,
            ctl,
            ack,
            dir,
        };
        // Counters start off; a `disable` answered means perf has attached.
        counter.command("disable", START_TIMEOUT)?;
        Ok(counter)
    }

    /// Switches counting on (the window begins).
    pub(crate) fn enable(&mut self) -> Result<(), String> {
        self.command("enable", COMMAND_TIMEOUT)
    }

    /// Switches counting off (the window ends).
    pub(crate) fn disable(&mut self) -> Result<(), String> {
        self.command("disable", COMMAND_TIMEOUT)
    }

    /// Stops perf and returns the count of the enabled interval(s).
    pub(crate) fn finish(mut self) -> Result<u64, String> {
        // perf prints its counts when interrupted; it is our own child.
        let _ = kill(Pid::from_raw(self.perf.id() as i32), Signal::SIGINT);
        let mut err = String::new();
        if let Some(mut stderr) = self.perf.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        let _ = self.perf.wait();
        parse_count(&err)
    }

    /// Sends one control command and waits for perf's `ack`.
    fn command(&mut self, what: &str, timeout: Duration) -> Result<(), String> {
        self.ctl
            .write_all(format!("{what}\n").as_bytes())
            .map_err(|e| format!("perf control FIFO: {e}"))?;
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            if got.windows(4).any(|w| w == b"ack\n") {
                return Ok(());
            }
            if let Ok(Some(status)) = self.perf.try_wait() {
                return Err(format!("perf exited ({status}): {}", self.stderr_tail()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("perf did not answer `{what}` within {timeout:?}"));
            }
            // Wake at least every 100 ms to notice perf dying without an answer.
            let wait = PollTimeout::try_from(left.min(Duration::from_millis(100)))
                .unwrap_or(PollTimeout::ZERO);
            let mut fds = [PollFd::new(self.ack.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, wait) {
                Ok(0) => continue,
                Ok(_) => {}
                // A signal arrived while waiting: look again.
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("poll on perf's ack FIFO: {e}")),
            }
            let mut buf = [0u8; 64];
            match self.ack.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                // Readiness was spurious (the FIFO is non-blocking): poll again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("perf's ack FIFO: {e}")),
            }
        }
    }

    /// The last line perf wrote, once it has exited (its reason for failing).
    fn stderr_tail(&mut self) -> String {
        let mut err = String::new();
        if let Some(mut stderr) = self.perf.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        err.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .to_string()
    }
}

impl Drop for SyscallCounter {
    fn drop(&mut self) {
        // finish() has already reaped perf; otherwise stop our own child now.
        if let Ok(None) = self.perf.try_wait() {
            let _ = self.perf.kill();
            let _ = self.perf.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Makes the control and ack FIFOs and opens both read-write, so neither
/// open blocks waiting for perf to open the other end.
fn fifos(dir: &std::path::Path) -> Result<(File, File), String> {
    let open = |name: &str| -> Result<File, String> {
        let path = dir.join(name);
        mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| format!("cannot make FIFO {}: {e}", path.display()))?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| format!("cannot open FIFO {}: {e}", path.display()))
    };
    Ok((open("ctl")?, open("ack")?))
}

/// The count from perf's CSV output (`count,unit,event,...`), or why there is none.
fn parse_count(out: &str) -> Result<u64, String> {
    let line = out
        .lines()
        .find(|l| l.split(',').nth(2).is_some_and(|e| e.starts_with(EVENT)))
        .ok_or_else(|| {
            let last = out.lines().rev().find(|l| !l.trim().is_empty());
            format!(
                "perf printed no count ({})",
                last.unwrap_or("no output").trim()
            )
        })?;
    let field = line.split(',').next().unwrap_or("").trim();
    field
        .parse()
        .map_err(|_| format!("perf could not count {EVENT}: {field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_read_from_perfs_csv_line() {
        let out = "Events disabled\nEvents enabled\nEvents disabled\n\
                   84403,,raw_syscalls:sys_enter,2038768343,100.00,,\n";
        assert_eq!(parse_count(out), Ok(84403));
    }

    #[test]
    fn an_uncounted_event_says_why() {
        let out = "<not supported>,,raw_syscalls:sys_enter,0,100.00,,\n";
        assert!(parse_count(out).unwrap_err().contains("not supported"));
        let out = "Error:\nNo permission to enable raw_syscalls:sys_enter event.\n";
        assert!(parse_count(out)
            .unwrap_err()
            .contains("No permission to enable"));
    }
}
