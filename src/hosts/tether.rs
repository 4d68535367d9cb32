//! The server host's side of a remote run (`run --server-host` over SSH, or
//! `run --two-hosts` in the server namespace): `sockbench serve
//! --exit-on-stdin-close`. It runs the model as its own child (a forking
//! model must be a single-threaded process, and this one reads its stdin on
//! a thread), relays the model's readiness line, probes the model's tree when
//! asked (the same probe a local run uses, here, where the server runs), and
//! stops the model when its stdin ends: the session closed, the run
//! died, or the run said `stop`.
//!
//! Nothing outlives it: the model asks the kernel for SIGTERM when this
//! process dies (`serve --die-with-parent`), and the model's forked children
//! ask for SIGKILL when the model dies; a silent session (the network gone,
//! the session never closed) ends it too with `--exit-when-silent`.
//! The lines it speaks are in `protocol.rs`.

use std::io::BufRead;
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use loadgen::{LocalWatch, ServerWatch};
use servers::ServerProcess;

use super::protocol::{Command as Asked, Event};

/// How long the model may take to print its readiness line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the model may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the model's liveness (and the session's silence) is looked at.
const TICK: Duration = Duration::from_millis(100);

/// The `serve` flags that belong to the tether, not to the model it runs.
pub const OWN_FLAGS: [&str; 2] = ["--exit-on-stdin-close", "--exit-when-silent"];

/// `serve_args` without the tether's own flags (and `--exit-when-silent`'s value).
pub fn model_args(serve_args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in serve_args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg == OWN_FLAGS[0] || arg.starts_with(&format!("{}=", OWN_FLAGS[1])) {
            continue;
        }
        if arg == OWN_FLAGS[1] {
            skip_value = true;
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// Runs the model given by `model_args` (the `serve` arguments after
/// `serve`) until stdin ends, a `stop` arrives, the model exits, or no line
/// came for `silence`.
pub fn run(model_args: &[String], silence: Option<Duration>) -> Result<()> {
    let exe = std::env::current_exe().context("failed to find the sockbench binary")?;
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .args(model_args)
        .arg("--die-with-parent")
        .arg(std::process::id().to_string());
    let mut server =
        ServerProcess::spawn(command, START_TIMEOUT).context("the model did not start")?;
    emit(&server.ready().to_line());

    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
        // Dropping the sender tells the main loop that stdin has ended.
    });

    let mut watch: Option<Box<LocalWatch>> = None;
    let mut heard = Instant::now();
    loop {
        match lines.recv_timeout(TICK) {
            Ok(line) => {
                heard = Instant::now();
                match serde_json::from_str::<Asked>(&line) {
                    Ok(Asked::Stop) => break,
                    Ok(asked) => obey(asked, server.pid(), &mut watch),
                    Err(e) => say(Event::Error {
                        message: format!("not a command ({e}): {line}"),
                    }),
                }
            }
            // Stdin ended: the session is gone, or the run closed it.
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if !server.is_running() {
                    let stderr = server.stderr_text();
                    let status = server
                        .stop(STOP_GRACE)
                        .map(|s| s.status.to_string())
                        .unwrap_or_else(|e| e.to_string());
                    say(Event::Exited { status, stderr });
                    return Ok(());
                }
                if silence.is_some_and(|s| heard.elapsed() > s) {
                    eprintln!(
                        "sockbench serve: no line on stdin for {:?}: the session is gone; stopping",
                        silence.unwrap_or_default()
                    );
                    break;
                }
            }
        }
    }
    drop(watch);
    let stopped = server
        .stop(STOP_GRACE)
        .context("failed to stop the model")?;
    for line in &stopped.other_lines {
        emit(line);
    }
    if let Some(summary) = &stopped.summary {
        emit(&serde_json::to_string(summary).context("failed to encode the summary")?);
    }
    say(Event::Stopped {
        killed: stopped.killed,
        stderr: stopped.stderr,
    });
    Ok(())
}

/// Carries out one command about the window.
fn obey(asked: Asked, pid: u32, watch: &mut Option<Box<LocalWatch>>) {
    match asked {
        Asked::Watch {
            udp,
            cpus,
            syscalls,
        } => match LocalWatch::start(pid, cpus, udp, syscalls) {
            Ok(w) => {
                *watch = Some(Box::new(w));
                say(Event::Watching);
            }
            Err(e) => say(Event::Error {
                message: format!("{:#}", anyhow::Error::from(e)),
            }),
        },
        Asked::MarkStart => {
            if let Some(w) = watch {
                w.mark_recording_start();
            }
        }
        Asked::MarkEnd => {
            if let Some(w) = watch {
                w.mark_recording_end();
            }
        }
        Asked::Finish { requests } => match watch.take() {
            Some(w) => say(Event::Window {
                side: Box::new(w.finish(requests)),
            }),
            None => say(Event::Error {
                message: "finish without watch: nothing was probed".into(),
            }),
        },
        Asked::Ping | Asked::Stop => {}
    }
}

fn say(event: Event) {
    emit(&event.to_line());
}

/// One line on stdout (line-buffered: it leaves at once). A closed session
/// makes the write fail; the end of stdin follows and stops the model.
fn emit(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tethers_flags_are_not_passed_to_the_model() {
        let args: Vec<String> = [
            "--model",
            "fork",
            "--exit-on-stdin-close",
            "--exit-when-silent",
            "10s",
            "--addr",
            "10.0.0.1:0",
            "--exit-when-silent=5s",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            model_args(&args),
            ["--model", "fork", "--addr", "10.0.0.1:0"].map(String::from)
        );
    }
}
