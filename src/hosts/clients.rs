//! More load than one machine can make (`run --client-host`): for one
//! measurement, a `sockbench load --rendezvous-stdin` on every client host
//! over SSH beside this machine's own generator, all started together, and
//! their reports collected for the exact merge (`loadgen::merge`).
//!
//! Starting together: every generator sets up (its idle connections open;
//! the active ones connect in the warm-up) and says it is ready; this
//! machine's engine holds its own start in its rendezvous ([`Generators::rendezvous`]) until all are, estimates each
//! host's clock offset from a few round trips (NTP's estimate: the host's
//! time minus the midpoint of ours), picks a start instant T a margin ahead,
//! and tells each host T in its own clock. Every generator then sleeps until
//! T, warms up and records for the same window, so the windows coincide.
//!
//! Nothing stays behind on a client host: its generator stops when its
//! stdin ends, which dropping a [`Generators`] does (and ssh does when the
//! session drops); the ssh process group is killed if it lingers.

use std::io::{self, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use loadgen::{LoadPlan, LoadReport, Mode};

use super::rendezvous::{unix_now_ns, Asked, Said};
use super::ssh::{SshHost, CONNECT_TIMEOUT};

/// How long a client host's generator may take to be ready (connections
/// open), on top of ssh's connect timeout.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a host may take to answer the time.
const TIME_TIMEOUT: Duration = Duration::from_secs(5);
/// Round trips per host for its clock offset (the shortest one counts).
const TIME_SAMPLES: usize = 3;
/// The start instant is this far ahead, plus twice the slowest round trip.
const START_MARGIN: Duration = Duration::from_millis(200);
/// How long a host may take to send its report once this machine's window
/// is over (its drain, its JSON over the session), beyond the request timeout.
const REPORT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a session may take to end once its stdin is closed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The plan of generator `index` of `count` (0 is this machine's): the
/// point's connections each, its open-loop rate and request budget split.
pub fn share_of(plan: &LoadPlan, index: usize, count: usize) -> LoadPlan {
    let mut mine = plan.clone();
    let n = count.max(1) as u64;
    if let Mode::Open { rate_rps } = plan.mode {
        mine.mode = Mode::Open {
            rate_rps: rate_rps / n as f64,
        };
    }
    mine.max_requests = plan
        .max_requests
        .map(|total| total / n + u64::from((index as u64) < total % n));
    if index > 0 {
        // The server is watched from here, the attackers and pinning are this
        // machine's: a client host only adds well-behaved load.
        mine.attack = None;
        mine.server_pid = None;
        mine.server_cpus = None;
        mine.count_syscalls = false;
        mine.threads = 0;
    }
    mine
}

/// One client host's generator for one measurement.
struct Generator {
    host: SshHost,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

/// The client hosts' generators of one measurement.
pub struct Generators {
    list: Vec<Generator>,
}

impl Generators {
    /// Starts `sockbench load` with each host's share of `plan` (generator
    /// `i + 1` of `hosts.len() + 1`); they set up while this machine does.
    pub fn start(hosts: &[SshHost], plan: &LoadPlan) -> Result<Generators, String> {
        let count = hosts.len() + 1;
        let mut list = Vec::with_capacity(hosts.len());
        for (i, host) in hosts.iter().enumerate() {
            let mut words = host.sockbench(&["load", "--quiet", "--rendezvous-stdin"]);
            words.extend(super::load_args::load_args(&share_of(plan, i + 1, count)));
            let mut child = host
                .command(&words)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| {
                    format!(
                        "client host {}: cannot run `{}`: {e}",
                        host.host(),
                        host.ssh_command
                    )
                })?;
            let stdin = child.stdin.take();
            let (lines, stderr) = servers::read_output(&mut child);
            list.push(Generator {
                host: host.clone(),
                child,
                stdin,
                lines,
                stderr,
            });
        }
        Ok(Generators { list })
    }

    /// The engine's rendezvous for this machine's generator: it returns at
    /// the shared start instant, once every client host has been told it.
    pub fn rendezvous(&mut self) -> loadgen::Rendezvous<'_> {
        Box::new(move || self.meet())
    }

    fn meet(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + CONNECT_TIMEOUT + READY_TIMEOUT;
        for g in &mut self.list {
            g.ready_by(deadline)?;
        }
        let mut offsets = Vec::with_capacity(self.list.len());
        let mut slowest = Duration::ZERO;
        for g in &mut self.list {
            let (offset_ns, round_trip) = g.clock_offset()?;
            slowest = slowest.max(round_trip);
            offsets.push(offset_ns);
        }
        let margin = START_MARGIN + 2 * slowest;
        let start_ns = unix_now_ns() + margin.as_nanos() as u64;
        for (g, offset_ns) in self.list.iter_mut().zip(offsets) {
            let theirs = (start_ns as i128 + offset_ns).max(0) as u64;
            g.send(Asked::Start { unix_ns: theirs })?;
        }
        std::thread::sleep(Duration::from_nanos(start_ns.saturating_sub(unix_now_ns())));
        Ok(())
    }

    /// Stops every host's generator now (the run was interrupted): the end
    /// of its stdin ends its run early, and it still sends its report.
    pub fn interrupt(&mut self) {
        for g in &mut self.list {
            g.stdin.take();
        }
    }

    /// Each host's report, as (host, report), once this machine's run is
    /// over; `request_timeout`: the plan's, which bounds their drain.
    pub fn reports(
        mut self,
        request_timeout: Duration,
    ) -> Result<Vec<(String, LoadReport)>, String> {
        let deadline = Instant::now() + request_timeout + REPORT_TIMEOUT;
        let mut reports = Vec::with_capacity(self.list.len());
        for g in &mut self.list {
            let report = g.report_by(deadline)?;
            reports.push((g.host.destination.clone(), report));
        }
        Ok(reports)
    }
}

impl Generator {
    fn fail(&self, what: &str) -> io::Error {
        io::Error::other(format!(
            "client host {}: {what}: {}",
            self.host.host(),
            self.last_words()
        ))
    }

    fn last_words(&self) -> String {
        let text = self
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        text.lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map_or_else(|| "no message".to_string(), str::to_string)
    }

    fn send(&mut self, asked: Asked) -> io::Result<()> {
        let sent = match self.stdin.as_mut() {
            Some(pipe) => writeln!(pipe, "{}", asked.to_line()).and_then(|()| pipe.flush()),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        };
        sent.map_err(|e| self.fail(&format!("the session closed ({e})")))
    }

    /// The next line that is one of the rendezvous lines, by `deadline`.
    fn said_by(&self, deadline: Instant, waiting_for: &str) -> io::Result<Said> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(said) = serde_json::from_str::<Said>(&line) {
                        return Ok(said);
                    }
                    // Not ours (a shell's greeting, say): not an answer.
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.fail(&format!("no {waiting_for} in time")))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Its stderr's reader may still be catching up.
                    std::thread::sleep(Duration::from_millis(100));
                    return Err(self.fail(&format!("the session ended before its {waiting_for}")));
                }
            }
        }
    }

    fn ready_by(&self, deadline: Instant) -> io::Result<()> {
        match self.said_by(deadline, "readiness line")? {
            Said::LoadReady { .. } => Ok(()),
            other => Err(self.fail(&format!("said {other:?} instead of ready"))),
        }
    }

    /// Its clock minus ours in ns, from the shortest of a few round trips,
    /// and that round trip.
    fn clock_offset(&mut self) -> io::Result<(i128, Duration)> {
        let mut best: Option<(i128, u64)> = None;
        for _ in 0..TIME_SAMPLES {
            let sent_ns = unix_now_ns();
            self.send(Asked::Time)?;
            let Said::Time { unix_ns } =
                self.said_by(Instant::now() + TIME_TIMEOUT, "answer to the time")?
            else {
                return Err(self.fail("answered the time with another line"));
            };
            let back_ns = unix_now_ns();
            let round_trip = back_ns.saturating_sub(sent_ns);
            let offset = unix_ns as i128 - (sent_ns as i128 + back_ns as i128) / 2;
            if best.is_none_or(|(_, rt)| round_trip < rt) {
                best = Some((offset, round_trip));
            }
        }
        let (offset, round_trip) = best.expect("at least one sample");
        Ok((offset, Duration::from_nanos(round_trip)))
    }

    fn report_by(&mut self, deadline: Instant) -> Result<LoadReport, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(report) = serde_json::from_str::<LoadReport>(&line) {
                        return Ok(report);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.fail("no report in time").to_string())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = super::session::wait_exit(&mut self.child, Duration::from_secs(1));
                    return Err(self
                        .fail("its load generator ended without a report")
                        .to_string());
                }
            }
        }
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        // The end of stdin stops the generator there; the session then ends.
        self.stdin.take();
        if !super::session::wait_exit(&mut self.child, CLOSE_TIMEOUT) {
            super::session::kill_group(&mut self.child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadgen::Target;

    #[test]
    fn connections_are_per_generator_and_a_rate_or_budget_is_split() {
        let mut plan = LoadPlan::new(
            Target::Tcp("10.0.0.1:7".parse().unwrap()),
            Mode::Open { rate_rps: 3000.0 },
        );
        plan.connections = 8;
        plan.max_requests = Some(10);
        plan.server_pid = Some(42);
        let shares: Vec<LoadPlan> = (0..3).map(|i| share_of(&plan, i, 3)).collect();
        assert!(shares.iter().all(|s| s.connections == 8));
        assert!(shares
            .iter()
            .all(|s| s.mode == Mode::Open { rate_rps: 1000.0 }));
        let budgets: Vec<u64> = shares.iter().map(|s| s.max_requests.unwrap()).collect();
        assert_eq!(budgets, [4, 3, 3]);
        assert_eq!(shares[0].server_pid, Some(42), "the server is watched here");
        assert_eq!(shares[1].server_pid, None);
    }
}
