//! The run's end of one session to a tethered server (`sockbench serve
//! --exit-on-stdin-close` on the server's host, reached over SSH or, for two
//! hosts on one machine, by entering the server namespace): its readiness
//! line, the probe's window over the session ([`RemoteWatch`]), a keep-alive
//! line every second, and the stop — `stop`, then the end of stdin, then, if
//! the session still hangs on, the session's process group killed.
//!
//! Dropping a [`RemoteServer`] ends the session, which ends the server: the
//! host side stops its model when its stdin ends, or when it has heard
//! nothing for [`SILENCE`] (a session whose network vanished).

use std::io::Write;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use servers::{Ready, Summary};

use super::protocol::{Command, Event};
use super::session::Session;

/// How long the host may be silent before the tether there gives up on us.
pub const SILENCE: Duration = Duration::from_secs(10);
/// How often we say we are still here.
const KEEPALIVE: Duration = Duration::from_secs(1);
/// How long the host may take to answer `watch` or `finish`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the session may take to close once the server has stopped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

type SharedStdin = Arc<Mutex<Option<ChildStdin>>>;

/// A model running on another host, tethered to this run by a session.
pub struct RemoteServer {
    child: Child,
    stdin: SharedStdin,
    lines: Receiver<String>,
    ready: Ready,
    stderr: Arc<Mutex<String>>,
    /// The host said the model exited by itself: its last words.
    exited: Option<String>,
    /// The session ended without a word from the host (ssh lost its network, say).
    session_ended: bool,
}

/// How a remote server ended.
pub struct RemoteStopped {
    pub summary: Option<Summary>,
    pub killed: bool,
}

impl RemoteServer {
    /// `sockbench serve SERVE_ARGS` on the host `session` reaches,
    /// tethered; waits up to `timeout` (on top of the session's own connect
    /// timeout) for its readiness line.
    pub fn start(
        session: &Session,
        serve_args: &[String],
        timeout: Duration,
    ) -> Result<RemoteServer, String> {
        let mut args = serve_args.to_vec();
        args.extend([
            "--exit-on-stdin-close".to_string(),
            "--exit-when-silent".to_string(),
            format!("{}s", SILENCE.as_secs()),
        ]);
        let mut child = session
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", session.program()))?;
        let stdin: SharedStdin = Arc::new(Mutex::new(child.stdin.take()));
        let (lines, stderr) = servers::read_output(&mut child);
        let keep = Arc::clone(&stdin);
        std::thread::spawn(move || keepalive(&keep));

        let mut server = RemoteServer {
            child,
            stdin,
            lines,
            ready: Ready {
                event: String::new(),
                model: String::new(),
                transport: String::new(),
                addr: None,
                path: None,
                pid: 0,
            },
            stderr,
            exited: None,
            session_ended: false,
        };
        let limit = timeout + session.connect_timeout();
        match server.lines.recv_timeout(limit) {
            Ok(line) => match serde_json::from_str::<Ready>(&line) {
                Ok(ready) if ready.event == "ready" => server.ready = ready,
                _ => {
                    return Err(format!(
                        "the host printed '{line}' instead of a readiness line"
                    ))
                }
            },
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "no readiness line within {limit:?}: {}",
                    server.last_words()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The session ended first: give stderr's reader a moment.
                let _ = super::session::wait_exit(&mut server.child, Duration::from_secs(1));
                return Err(server.last_words());
            }
        }
        Ok(server)
    }

    /// What the model announced: its model, address and pid on its host.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// Starts the probe there; the watch then answers the engine's calls.
    pub fn watch(
        &mut self,
        udp: bool,
        cpus: Option<Vec<usize>>,
        syscalls: bool,
    ) -> Result<Box<dyn loadgen::ServerWatch>, String> {
        send(
            &self.stdin,
            &Command::Watch {
                udp,
                cpus,
                syscalls,
            },
        );
        match self.answer()? {
            Event::Watching => Ok(Box::new(RemoteWatch {
                stdin: Arc::clone(&self.stdin),
                lines: self.lines.clone(),
            })),
            other => Err(format!("the host answered {other:?} to watch")),
        }
    }

    /// The next event, skipping the model's own lines (lab messages).
    fn answer(&mut self) -> Result<Event, String> {
        match next_event(&self.lines, ANSWER_TIMEOUT) {
            Ok(Event::Exited { status, stderr }) => {
                self.exited = Some(last_line(&stderr).unwrap_or(status));
                Err(format!("the server exited: {}", self.last_words()))
            }
            Ok(Event::Error { message }) => Err(message),
            Ok(event) => Ok(event),
            Err(why) => Err(format!("{why}: {}", self.last_words())),
        }
    }

    /// Whether the model still runs (and the session is up).
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        // An `exited` event may be waiting: look without taking other lines.
        while let Ok(line) = self.lines.try_recv() {
            if let Ok(Event::Exited { status, stderr }) = serde_json::from_str(&line) {
                self.exited = Some(last_line(&stderr).unwrap_or(status));
                return false;
            }
        }
        let running = matches!(self.child.try_wait(), Ok(None));
        self.session_ended = !running;
        running
    }

    /// The model's last words if it exited, else the session's stderr (in
    /// one line, saying so, if the session ended under the model).
    pub fn stderr_text(&self) -> String {
        let stderr = || {
            self.stderr
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        match &self.exited {
            Some(words) => words.clone(),
            None if self.session_ended => format!(
                "the session to the server's host ended: {}",
                last_line(&stderr()).unwrap_or_else(|| "no message".into())
            ),
            None => stderr(),
        }
    }

    fn last_words(&self) -> String {
        last_line(&self.stderr_text()).unwrap_or_else(|| "the session closed".to_string())
    }

    /// Stops the model (`stop`, then the end of stdin), waits up to `grace`
    /// for its summary, and closes the session.
    pub fn stop(mut self, grace: Duration) -> Result<RemoteStopped, String> {
        send(&self.stdin, &Command::Stop);
        self.close_stdin();
        let deadline = Instant::now() + grace + CLOSE_TIMEOUT;
        let mut summary = None;
        let mut stopped = None;
        while stopped.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            if let Ok(s) = serde_json::from_str::<Summary>(&line) {
                if s.event == "summary" {
                    summary = Some(s);
                    continue;
                }
            }
            match serde_json::from_str::<Event>(&line) {
                Ok(Event::Stopped { killed, .. }) => stopped = Some(killed),
                Ok(Event::Exited { status, stderr }) => {
                    self.exited = Some(last_line(&stderr).unwrap_or(status));
                    break;
                }
                _ => {}
            }
        }
        if !super::session::wait_exit(&mut self.child, CLOSE_TIMEOUT) {
            self.kill_session();
        }
        match (stopped, &self.exited) {
            (Some(killed), _) => Ok(RemoteStopped { summary, killed }),
            (None, Some(words)) => Err(format!("the server exited: {words}")),
            (None, None) => Err(format!(
                "the host did not confirm the stop: {}",
                self.last_words()
            )),
        }
    }

    fn close_stdin(&self) {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Kills the session's own process group (ssh and the `sh` that started
    /// it, or the tether entered into the namespace and its model), and reaps.
    fn kill_session(&mut self) {
        super::session::kill_group(&mut self.child);
    }
}

impl Drop for RemoteServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The end of stdin stops the model there; the session then ends.
            self.close_stdin();
            if !super::session::wait_exit(&mut self.child, Duration::from_secs(2)) {
                self.kill_session();
            }
        }
    }
}

/// The probe on the server's host, asked over the session.
struct RemoteWatch {
    stdin: SharedStdin,
    lines: Receiver<String>,
}

impl loadgen::ServerWatch for RemoteWatch {
    fn mark_recording_start(&self) {
        send(&self.stdin, &Command::MarkStart);
    }

    fn mark_recording_end(&self) {
        send(&self.stdin, &Command::MarkEnd);
    }

    fn finish(self: Box<Self>, requests: u64) -> loadgen::ServerSide {
        send(&self.stdin, &Command::Finish { requests });
        match next_event(&self.lines, ANSWER_TIMEOUT) {
            Ok(Event::Window { side }) => *side,
            Ok(other) => {
                eprintln!(
                    "warning: the server host answered {other:?} instead of the window's figures"
                );
                loadgen::ServerSide::default()
            }
            Err(why) => {
                eprintln!("warning: no server-side figures from the host: {why}");
                loadgen::ServerSide::default()
            }
        }
    }
}

/// Writes one command line; a closed session is noticed by the reader.
fn send(stdin: &SharedStdin, command: &Command) {
    let mut guard = stdin.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pipe) = guard.as_mut() {
        let _ = writeln!(pipe, "{}", command.to_line()).and_then(|()| pipe.flush());
    }
}

/// The next line that is one of our events, within `limit`.
fn next_event(lines: &Receiver<String>, limit: Duration) -> Result<Event, String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Ok(event) = serde_json::from_str::<Event>(&line) {
                    return Ok(event);
                }
                // The model's own line (a lab message): not an answer.
            }
            Err(RecvTimeoutError::Timeout) => return Err(format!("no answer within {limit:?}")),
            Err(RecvTimeoutError::Disconnected) => return Err("the session closed".into()),
        }
    }
}

/// A ping every second until stdin is closed.
fn keepalive(stdin: &SharedStdin) {
    loop {
        std::thread::sleep(KEEPALIVE);
        if stdin.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            return;
        }
        send(stdin, &Command::Ping);
    }
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}
