//! The engine: [`run`] validates a [`LoadPlan`], checks that the target
//! answers, splits the connections over a few threads (each a mio event loop
//! owning its connections, timers and histograms), starts them together, and
//! merges what they measured into a [`LoadReport`].
//!
//! | file | what lives there |
//! | --- | --- |
//! | `pacing.rs` | the run's clock, the recorded window, the open-loop schedule, timers |
//! | `net.rs` | TCP / Unix stream sockets, the non-blocking connect, error kinds |
//! | `source.rs` | loopback source addresses, so the generator's TIME_WAIT never caps its connect rate |
//! | `stream.rs` | one thread of `rr`, `crr`, `open` connections and idle ones |
//! | `stream/request.rs` | one request's life on a stream: connect, write, check, record |
//! | `udp.rs` | one thread of `udp` flows: sent, answered, lost, late, duplicates |
//! | `blocking.rs` | the fast path: one `rr` connection per thread, blocking calls |
//! | `validate.rs` | the plan checked, descriptors raised, the target probed |
//! | `gate.rs` | the start gate: every thread (and the hosts' rendezvous) starts at one instant |
//! | `finish.rs` | the threads' results merged into the report |
//! | `attack.rs` | the plan's attackers (slowloris, a connection flood) on a thread of their own |

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::plan::{LoadPlan, Mode, Target, Workload};
use crate::watch::{LocalWatch, ServerWatch};

use crate::report::{IoPath, LoadReport};
use crate::stats::{HistogramError, Merger, Recorder, ThreadTick, Tick, TickData};

mod attack;
mod blocking;
mod finish;
mod gate;
mod net;
mod pacing;
mod source;
mod stream;
mod udp;
mod validate;

pub(crate) use finish::{target_name, workload_name, Counters};
use gate::{Cancelled, StartGate};
use net::{StreamOptions, StreamTarget};
use pacing::{duration_ns, Clock, Schedule};
pub use validate::validate;
use validate::{ensure_descriptors, preflight};

/// Size of each thread's read and write buffers.
const IO_BUF: usize = 64 * 1024;

/// Why a load run could not start (a run that starts always ends in a report).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan cannot run as given; the message names the setting to change.
    #[error("{why}")]
    BadPlan { why: String },
    /// Nothing answers at the target: start the server first, or check the address.
    #[error("nothing answers at {target}: start the server first, or check the address")]
    Unreachable { target: String, source: io::Error },
    /// The engine could not create its sockets, poll sets, timers or threads;
    /// usually the descriptor limit (`ulimit -n`) or memory.
    #[error("load generator setup failed while {what}")]
    Setup {
        what: &'static str,
        source: io::Error,
    },
    /// The server's process could not be watched: check `--server-pid`.
    #[error("cannot watch server process {pid} (check --server-pid)")]
    Monitor { pid: u32, source: io::Error },
    /// The run's rendezvous with other load generators failed (one did not
    /// become ready in time, or went away); the message names which.
    #[error("the load generators could not start together")]
    Rendezvous { source: io::Error },
    /// The histograms could not be encoded (a bug: please report it).
    #[error(transparent)]
    Histogram(#[from] HistogramError),
}

/// Called once every thread of a run (and its attackers) has set up, idle
/// connections open (the active ones connect at the start, in the warm-up),
/// and before they start: the place where several load
/// generators meet (a barrier, then a shared start instant). It returns when
/// this run may start; an error cancels the run with
/// [`LoadError::Rendezvous`].
pub type Rendezvous<'a> = Box<dyn FnOnce() -> io::Result<()> + 'a>;

/// What every thread of a run reads.
pub(crate) struct Shared {
    pub mode: Mode,
    pub workload: Workload,
    pub options: StreamOptions,
    pub think_ns: u64,
    pub timeout_ns: u64,
    /// How often outstanding requests are checked against the timeout.
    pub sweep_ns: u64,
    pub warmup: Duration,
    pub duration: Duration,
    /// `open`: nanoseconds between two connections' first requests, and
    /// between two requests of one connection.
    pub open_spacing_ns: f64,
    pub open_interval_ns: f64,
    /// The share of synthetic requests that wait (see [`LoadPlan::wait_share`]).
    pub wait_share: Option<f64>,
    /// `crr`: requests on each connection before it is closed (1 or more).
    pub requests_per_connection: u64,
    /// Where the threads' recorders send each finished second, if the caller
    /// wants progress.
    pub progress: Option<mpsc::Sender<ThreadTick>>,
}

impl Shared {
    /// What request `key` asks of the server (its wait drawn from `wait_share`).
    pub fn request_workload(&self, key: u64) -> Workload {
        crate::check::request_workload(&self.workload, self.wait_share, key)
    }

    /// The open-loop schedule of connection `uid`, spread evenly among the others.
    pub fn schedule(&self, uid: u64, start_ns: u64) -> Schedule {
        Schedule {
            first_ns: start_ns.saturating_add((uid as f64 * self.open_spacing_ns) as u64),
            interval_ns: self.open_interval_ns,
        }
    }
}

/// When a thread stops issuing requests: the caller's flag (Ctrl-C) or the
/// run's own abort (another thread failed to set up). Only the caller's flag
/// marks a report partial; the abort is never written to the caller's flag.
/// Threads also say here when they stopped issuing, so the coordinator can
/// close the server's window with the recorded one, before the drain.
#[derive(Clone, Copy)]
pub(crate) struct Stop<'a> {
    user: &'a AtomicBool,
    abort: &'a AtomicBool,
    issuing_done: &'a AtomicUsize,
}

impl Stop<'_> {
    pub fn is_set(&self) -> bool {
        self.user.load(Ordering::Relaxed) || self.abort.load(Ordering::Relaxed)
    }

    /// Stops the other threads of this run (not the caller's other runs).
    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }

    /// This thread issues no more requests (called once per thread, before its drain).
    pub fn done_issuing(&self) {
        self.issuing_done.fetch_add(1, Ordering::SeqCst);
    }
}

/// What one thread measured.
pub(crate) struct WorkerResult {
    pub rec: Recorder,
    pub ticks: Vec<TickData>,
    /// When the thread stopped issuing requests.
    pub end_ns: u64,
}

/// Runs `plan` until its bounds (or until `stop` is set, e.g. by Ctrl-C: the
/// report is then marked partial) and returns what it measured.
pub fn run(plan: &LoadPlan, stop: &AtomicBool) -> Result<LoadReport, LoadError> {
    run_with_progress(plan, stop, None)
}

/// [`run`], also sending each second of the recorded window to `progress` as
/// it ends (merged over the threads; a second no request completed in is
/// skipped). The sender is dropped when the run returns.
pub fn run_with_progress(
    plan: &LoadPlan,
    stop: &AtomicBool,
    progress: Option<mpsc::Sender<Tick>>,
) -> Result<LoadReport, LoadError> {
    run_watched(plan, stop, progress, None)
}

/// [`run_with_progress`], with the server's cost measured by `watch` (a
/// server on another host, say) instead of a probe of `plan.server_pid` here.
pub fn run_watched(
    plan: &LoadPlan,
    stop: &AtomicBool,
    progress: Option<mpsc::Sender<Tick>>,
    watch: Option<Box<dyn ServerWatch>>,
) -> Result<LoadReport, LoadError> {
    run_together(plan, stop, progress, watch, None)
}

/// [`run_watched`], meeting other load generators first: `rendezvous` is
/// called once this run is set up and holds its start until it returns.
pub fn run_together(
    plan: &LoadPlan,
    stop: &AtomicBool,
    progress: Option<mpsc::Sender<Tick>>,
    watch: Option<Box<dyn ServerWatch>>,
    rendezvous: Option<Rendezvous<'_>>,
) -> Result<LoadReport, LoadError> {
    validate(plan)?;
    ensure_descriptors(plan)?;
    preflight(plan)?;

    let threads = thread_count(plan);
    let io_path = blocking::fits(plan, threads);
    let mut shared = shared(plan);
    let mut merger = progress.map(|out| {
        let (tx, rx) = mpsc::channel();
        shared.progress = Some(tx);
        Merger::new(rx, out, threads, duration_ns(plan.duration))
    });
    let clock = Clock::new(Instant::now());
    let attacker = attack::Attacker::of(plan);
    let attack_done = AtomicBool::new(false);
    let gate = StartGate::new(threads + 1 + usize::from(attacker.is_some()));
    let finished = AtomicUsize::new(0);
    let udp = matches!(plan.target, Target::Udp(_));
    let monitor: Option<Box<dyn ServerWatch>> = match (watch, plan.server_pid) {
        (Some(w), _) => Some(w),
        (None, Some(pid)) => Some(Box::new(LocalWatch::start(
            pid,
            plan.server_cpus.clone(),
            udp,
            plan.count_syscalls,
        )?)),
        (None, None) => None,
    };
    let before = finish::Counters::read(plan);
    let abort = AtomicBool::new(false);
    let issuing_done = AtomicUsize::new(0);
    let halt = Stop {
        user: stop,
        abort: &abort,
        issuing_done: &issuing_done,
    };

    let (results, recording, attack_counts) = std::thread::scope(|scope| {
        // The attackers open their connections first, then wait at the gate
        // with everyone else; they stop once the measured threads are done.
        let attacking = attacker.map(|a| {
            let (gate, clock, done) = (&gate, clock, &attack_done);
            scope.spawn(move || {
                a.run(
                    || {
                        let _ = gate.wait_start(&clock);
                    },
                    done,
                )
            })
        });
        let stop_attack = || {
            attack_done.store(true, Ordering::SeqCst);
            attacking.map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        };
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let (shared, gate, finished) = (&shared, &gate, &finished);
            let handle = std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn_scoped(scope, move || {
                    let result = worker(plan, shared, clock, gate, halt, t, threads, io_path);
                    finished.fetch_add(1, Ordering::SeqCst);
                    result
                });
            match handle {
                Ok(h) => handles.push(h),
                Err(source) => {
                    // The threads already started wait at the gate (or are still
                    // opening idle connections): stop and release them; they
                    // return at once and their results are dropped.
                    halt.abort();
                    gate.cancel();
                    return (
                        Err(LoadError::Setup {
                            what: "starting threads",
                            source,
                        }),
                        None,
                        stop_attack(),
                    );
                }
            }
        }
        if let Some(meet) = rendezvous {
            gate.wait_others();
            // A thread that failed to set up has aborted the run: no meeting then.
            let met = if abort.load(Ordering::SeqCst) {
                Ok(())
            } else {
                meet()
            };
            if let Err(source) = met {
                halt.abort();
                gate.cancel();
                for h in handles {
                    let _ = h
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                }
                return (Err(LoadError::Rendezvous { source }), None, stop_attack());
            }
        }
        // Only this thread cancels the gate, and not after coming here.
        let start_ns = gate
            .wait_start(&clock)
            .unwrap_or_else(|Cancelled| clock.now_ns());
        let record_start_ns = start_ns.saturating_add(duration_ns(plan.warmup));
        let all_finished = || finished.load(Ordering::SeqCst) == threads;
        let recording = wait_until(&clock, record_start_ns, halt, all_finished, |_| {});
        if let Some(m) = &monitor {
            m.mark_recording_start();
        }
        // The recorded window ends when the threads stop issuing (its planned
        // end, the request budget, Ctrl-C), not when they have drained what is
        // outstanding: the server's and the machine's CPU are read then, so
        // the per-request figures cover the interval the requests are counted in.
        let record_end_ns = record_start_ns.saturating_add(duration_ns(plan.duration));
        let all_done_issuing = || issuing_done.load(Ordering::SeqCst) == threads || all_finished();
        let ended = wait_until(&clock, record_end_ns, halt, all_done_issuing, |now| {
            if let Some(m) = merger.as_mut() {
                m.pump(Some(now.saturating_sub(record_start_ns)));
            }
        });
        if let Some(m) = &monitor {
            m.mark_recording_end();
        }
        let results: Result<Vec<WorkerResult>, LoadError> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        (
            results,
            Some((record_start_ns, recording, ended)),
            stop_attack(),
        )
    });
    if let Some(m) = merger {
        m.flush();
    }
    let results = results?;
    let (record_start_ns, recording, ended) = recording.expect("set when the threads ran");
    let after = finish::Counters::read(plan);
    let mut report = finish::report(finish::Parts {
        plan,
        results,
        threads,
        record_start_ns,
        recording,
        before,
        after,
        watch: monitor,
        ended,
        partial: stop.load(Ordering::SeqCst),
        io_path,
    })?;
    report.attack = attack_counts;
    Ok(report)
}

/// Sleeps until `until_ns` (the end of the warm-up, or of the recorded
/// window), or an early end: Ctrl-C, or `done` (every thread past that point).
/// Returns the wall time and the CPU times at that moment.
fn wait_until(
    clock: &Clock,
    until_ns: u64,
    stop: Stop<'_>,
    done: impl Fn() -> bool,
    mut meanwhile: impl FnMut(u64),
) -> finish::Recording {
    loop {
        let now = clock.now_ns();
        meanwhile(now);
        if now >= until_ns || stop.is_set() || done() {
            break;
        }
        let left = Duration::from_nanos(until_ns - now);
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
    finish::Recording {
        wall: SystemTime::now(),
        cpu: probe::self_cpu(),
        machine_busy_ns: probe::machine_busy_ns(),
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    plan: &LoadPlan,
    shared: &Shared,
    clock: Clock,
    gate: &StartGate,
    stop: Stop<'_>,
    t: usize,
    threads: usize,
    io_path: IoPath,
) -> Result<WorkerResult, LoadError> {
    let mine = |n: usize, offset: usize| -> Vec<u64> {
        (0..n)
            .filter(|j| j % threads == t)
            .map(|j| (offset + j) as u64)
            .collect()
    };
    let active = mine(plan.connections, 0);
    let idle = mine(plan.idle_connections, plan.connections);
    let budget = plan.max_requests.map(|n| {
        let t = t as u64;
        let threads = threads as u64;
        n / threads + u64::from(t < n % threads)
    });
    let setup = |source| LoadError::Setup {
        what: "creating sockets, poll sets and timers",
        source,
    };
    let result = match &plan.target {
        Target::Udp(addr) => match udp::UdpWorker::new(shared, clock, *addr, &active, budget) {
            Ok(w) => w.run(gate, stop),
            Err(e) => {
                // Stop the others before they start, so the error comes back at once.
                stop.abort();
                let _ = gate.wait_start(&clock);
                Err(e)
            }
        },
        target => {
            let stream_target = match target {
                Target::Tcp(addr) => Ok(StreamTarget::tcp(*addr)),
                Target::Unix(path) => StreamTarget::unix(path),
                Target::Udp(_) => unreachable!("handled above"),
            };
            let blocking = io_path == IoPath::Blocking && active.len() == 1 && idle.is_empty();
            if let (true, Ok(st)) = (blocking, &stream_target) {
                let w = blocking::BlockingWorker::new(shared, st.clone(), clock, active[0], budget);
                return w.run(gate, stop).map_err(setup);
            }
            match stream_target
                .and_then(|st| stream::StreamWorker::new(shared, st, clock, &active, &idle, budget))
            {
                Ok(w) => w.run(gate, stop),
                Err(e) => {
                    stop.abort();
                    let _ = gate.wait_start(&clock);
                    Err(e)
                }
            }
        }
    };
    result.map_err(setup)
}

fn thread_count(plan: &LoadPlan) -> usize {
    let wanted = if plan.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        plan.threads
    };
    wanted.clamp(1, plan.connections.max(1))
}

fn shared(plan: &LoadPlan) -> Shared {
    let timeout_ns = duration_ns(plan.request_timeout);
    let (spacing, interval) = match plan.mode {
        Mode::Open { rate_rps } => (1e9 / rate_rps, 1e9 * plan.connections as f64 / rate_rps),
        _ => (0.0, 0.0),
    };
    Shared {
        mode: plan.mode,
        workload: plan.workload,
        options: StreamOptions {
            linger_zero: plan.linger_zero,
        },
        think_ns: duration_ns(plan.think_time),
        timeout_ns,
        sweep_ns: (timeout_ns / 16).clamp(1_000_000, 10_000_000),
        warmup: plan.warmup,
        duration: plan.duration,
        open_spacing_ns: spacing,
        open_interval_ns: interval,
        wait_share: plan.wait_share,
        requests_per_connection: plan.requests_per_connection.unwrap_or(1).max(1),
        progress: None,
    }
}
