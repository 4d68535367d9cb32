//! A server model running as a child process: started, told apart by its
//! readiness line, stopped with SIGTERM, and never left behind.
//!
//! The harness, the tests and the benches all start servers this way, because
//! a model that forks must be the only thread of its own process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::stats::Summary;
use crate::status::Ready;

/// Why a server process could not be started or stopped cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be executed; check the path to the binary.
    #[error("failed to start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// The server exited before it was ready; its stderr says why.
    #[error("server exited before it was ready ({status}): {stderr}")]
    ExitedEarly { status: ExitStatus, stderr: String },
    /// No readiness line arrived in time; the server may be hung.
    #[error("server printed no readiness line within {timeout:?}: {stderr}")]
    NotReady { timeout: Duration, stderr: String },
    /// The first line on stdout was not a readiness line.
    #[error("server printed '{line}' instead of a readiness line")]
    BadReadyLine { line: String },
    /// Waiting for or signalling the process failed.
    #[error("failed to control server process {pid}: {source}")]
    Control { pid: u32, source: std::io::Error },
}

/// How a stopped server ended.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub status: ExitStatus,
    /// The summary line, if the server printed one.
    pub summary: Option<Summary>,
    /// Whether it ignored SIGTERM and had to be killed.
    pub killed: bool,
    /// Everything else it printed on stdout (the lab's messages).
    pub other_lines: Vec<String>,
    pub stderr: String,
}

/// A running server process; killed and reaped on drop if not stopped.
pub struct ServerProcess {
    child: Child,
    ready: Ready,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

const STDERR_KEEP: usize = 8 << 10;
/// How long a killed server's children may take to leave its cgroup.
const CGROUP_GRACE: Duration = Duration::from_millis(500);

impl ServerProcess {
    /// Starts `command` and waits up to `timeout` for its readiness line.
    pub fn spawn(mut command: Command, timeout: Duration) -> Result<Self, ProcessError> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ProcessError::Spawn { program, source })?;
        let (lines, stderr) = read_output(&mut child);

        let deadline = Instant::now() + timeout;
        let stderr_now =
            |stderr: &Arc<Mutex<String>>| stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let ready = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left.min(Duration::from_millis(50))) {
                Ok(line) => match serde_json::from_str::<Ready>(&line) {
                    Ok(ready) if ready.event == "ready" => break ready,
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(ProcessError::BadReadyLine { line });
                    }
                },
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {
                    if let Ok(Some(status)) = child.try_wait() {
                        // Give the stderr reader a moment to catch the last words.
                        std::thread::sleep(Duration::from_millis(20));
                        return Err(ProcessError::ExitedEarly {
                            status,
                            stderr: stderr_now(&stderr),
                        });
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ProcessError::NotReady {
                        timeout,
                        stderr: stderr_now(&stderr),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let pid = child.id();
                    let status = child
                        .wait()
                        .map_err(|source| ProcessError::Control { pid, source })?;
                    std::thread::sleep(Duration::from_millis(20));
                    return Err(ProcessError::ExitedEarly {
                        status,
                        stderr: stderr_now(&stderr),
                    });
                }
            }
        };
        Ok(ServerProcess {
            child,
            ready,
            lines,
            stderr,
        })
    }

    /// What the server announced: its model, address and pid.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The tail of what the server wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends SIGTERM, waits up to `grace` for a clean exit, then SIGKILLs.
    pub fn stop(mut self, grace: Duration) -> Result<Stopped, ProcessError> {
        let pid = self.pid();
        let mut killed = false;
        if self.try_status()?.is_none() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while self.try_status()?.is_none() {
                if Instant::now() >= deadline {
                    let _ = self.child.kill();
                    killed = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let status = self.wait_status()?;
        // A server that was killed could not remove its own cgroup.
        probe::remove_leftover(pid, CGROUP_GRACE);
        // The stdout reader ends when the pipe closes; collect what it read.
        let mut summary = None;
        let mut other_lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            match serde_json::from_str::<Summary>(&line) {
                Ok(s) if s.event == "summary" => summary = Some(s),
                _ => other_lines.push(line),
            }
        }
        Ok(Stopped {
            status,
            summary,
            killed,
            other_lines,
            stderr: self.stderr_text(),
        })
    }

    fn try_status(&mut self) -> Result<Option<ExitStatus>, ProcessError> {
        let pid = self.pid();
        self.child
            .try_wait()
            .map_err(|source| ProcessError::Control { pid, source })
    }

    fn wait_status(&mut self) -> Result<ExitStatus, ProcessError> {
        let pid = self.pid();
        self.child
            .wait()
            .map_err(|source| ProcessError::Control { pid, source })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            probe::remove_leftover(self.child.id(), CGROUP_GRACE);
        }
    }
}

/// Reads a spawned server's piped stdout and stderr on threads of their own,
/// so a chatty server never blocks on a full pipe and a silent one never
/// blocks us: stdout arrives line by line on the channel, and the last
/// [`STDERR_KEEP`] bytes of stderr stay in the string.
pub fn read_output(child: &mut Child) -> (Receiver<String>, Arc<Mutex<String>>) {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let (tx, lines) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            if s.len() > STDERR_KEEP {
                let cut = s.len() - STDERR_KEEP;
                let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                s.drain(..cut);
            }
        }
    });
    (lines, stderr)
}
