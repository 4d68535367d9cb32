//! The start gate: every engine thread (and the attackers) opens its
//! connections, then waits here, and all start on one instant of the run's
//! clock; with other hosts, the coordinator meets them before it opens.

use std::io;
use std::sync::{Condvar, Mutex};

use super::pacing::Clock;

/// Starts every thread at the same instant, once all set up (idle connections open).
/// Unlike a `Barrier` it can be cancelled, so threads already waiting are
/// released when another thread could not be started.
pub(crate) struct StartGate {
    parties: usize,
    state: Mutex<GateState>,
    opened: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    start_ns: Option<u64>,
    cancelled: bool,
}

/// The gate was cancelled: the run will not start.
#[derive(Debug)]
pub(crate) struct Cancelled;

impl From<Cancelled> for io::Error {
    fn from(_: Cancelled) -> Self {
        io::Error::other("the run was cancelled before it started")
    }
}

impl StartGate {
    pub fn new(parties: usize) -> Self {
        StartGate {
            parties,
            state: Mutex::new(GateState::default()),
            opened: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for everyone; returns the common start on the run's clock, or
    /// [`Cancelled`] if the gate was cancelled before everyone arrived.
    pub fn wait_start(&self, clock: &Clock) -> Result<u64, Cancelled> {
        let mut state = self.lock();
        state.arrived += 1;
        if state.arrived == self.parties && !state.cancelled {
            state.start_ns = Some(clock.now_ns());
        }
        // Every arrival is news to [`StartGate::wait_others`].
        self.opened.notify_all();
        loop {
            if let Some(start_ns) = state.start_ns {
                return Ok(start_ns);
            }
            if state.cancelled {
                return Err(Cancelled);
            }
            state = self.opened.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits until everyone but the caller has arrived (the caller then
    /// arrives with [`StartGate::wait_start`]).
    pub fn wait_others(&self) {
        let mut state = self.lock();
        while state.arrived + 1 < self.parties && !state.cancelled {
            state = self.opened.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Releases everyone waiting (and everyone who comes later) with [`Cancelled`].
    pub fn cancel(&self) {
        let mut state = self.lock();
        if state.start_ns.is_none() {
            state.cancelled = true;
            self.opened.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn start_gate_opens_for_everyone_at_one_instant() {
        let clock = Clock::new(Instant::now());
        let gate = StartGate::new(3);
        let starts: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| s.spawn(|| gate.wait_start(&clock).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(starts.iter().all(|&s| s == starts[0]));
    }

    #[test]
    fn a_cancelled_start_gate_releases_the_waiting_threads() {
        let clock = Clock::new(Instant::now());
        let gate = StartGate::new(3);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| gate.wait_start(&clock));
            std::thread::sleep(Duration::from_millis(20));
            gate.cancel();
            assert!(waiting.join().unwrap().is_err());
        });
        assert!(gate.wait_start(&clock).is_err(), "later arrivals too");
    }
}
