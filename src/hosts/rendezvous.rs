//! How several load generators start together (`run --client-host`): the
//! lines a generator on a client host (`sockbench load --rendezvous-stdin`)
//! and the run's coordinator exchange, and the generator's end of them.
//!
//! The generator opens its idle connections (the active ones connect at the
//! start, in the warm-up, as in any run), then prints
//! [`Said::Ready`] with its clock's time. The coordinator asks the time a few
//! times ([`Asked::Time`], answered by [`Said::Time`]) to estimate the
//! generator's clock offset from the round trip, as NTP does; clocks need not
//! agree. It then sends [`Asked::Start`]: the shared start instant in the
//! generator's own clock. The generator sleeps until then, runs its warm-up
//! and window, and prints its report as one JSON line. If its stdin ends
//! (the run went away, the session dropped), it stops at once; it never waits
//! more than [`START_TIMEOUT`] for the start.

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde::{Deserialize, Serialize};

/// Longest a generator waits at the barrier for its start instant.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest start instant a generator accepts, from when it was told.
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// What a generator says on its stdout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Said {
    /// Set up, connections open: waiting for the start. Its clock's time.
    LoadReady { unix_ns: u64 },
    /// The answer to [`Asked::Time`]: its clock's time.
    Time { unix_ns: u64 },
}

/// What the coordinator asks a generator on its stdin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Asked {
    /// Say your clock's time.
    Time,
    /// Start at this instant of your clock.
    Start { unix_ns: u64 },
}

impl Said {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a plain enum encodes")
    }
}

impl Asked {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a plain enum encodes")
    }
}

/// This machine's clock, in nanoseconds since the epoch.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The generator's end: reads stdin on a thread of its own (its end sets
/// `stop`), and returns the engine's rendezvous, which says ready on stdout,
/// answers the time, and sleeps until the start instant.
pub fn generator_end(stop: Arc<AtomicBool>) -> loadgen::Rendezvous<'static> {
    let (tx, lines) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
        // The run's end of the session is gone: stop now, whatever the phase.
        stop.store(true, Ordering::SeqCst);
    });
    Box::new(move || meet(&lines))
}

fn say(said: Said) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", said.to_line())?;
    out.flush()
}

fn meet(lines: &Receiver<String>) -> io::Result<()> {
    say(Said::LoadReady {
        unix_ns: unix_now_ns(),
    })?;
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                return Err(io::Error::other(format!(
                    "no start instant within {START_TIMEOUT:?}"
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other(
                    "the run closed the session before the start",
                ))
            }
        };
        match serde_json::from_str::<Asked>(&line) {
            Ok(Asked::Time) => say(Said::Time {
                unix_ns: unix_now_ns(),
            })?,
            Ok(Asked::Start { unix_ns }) => {
                let wait = Duration::from_nanos(unix_ns.saturating_sub(unix_now_ns()));
                if wait > LONGEST_WAIT {
                    return Err(io::Error::other(format!(
                        "the start instant is {wait:?} away (more than {LONGEST_WAIT:?}): is this clock far off?"
                    )));
                }
                std::thread::sleep(wait);
                return Ok(());
            }
            Err(e) => {
                return Err(io::Error::other(format!(
                    "'{line}' is not a rendezvous command: {e}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_read_back_as_written() {
        for said in [Said::LoadReady { unix_ns: 7 }, Said::Time { unix_ns: 9 }] {
            assert_eq!(serde_json::from_str::<Said>(&said.to_line()).unwrap(), said);
        }
        assert_eq!(
            Asked::Start { unix_ns: 5 }.to_line(),
            r#"{"command":"start","unix_ns":5}"#
        );
        assert_eq!(Asked::Time.to_line(), r#"{"command":"time"}"#);
    }
}
