//! Shutdown: SIGINT and SIGTERM set a flag and wake whoever is waiting.
//!
//! Blocking models check [`StopSignal::is_set`] between requests and whenever a
//! socket timeout (the [`TICK`]) expires, so a blocked `accept()` or `read()`
//! notices a stop within one tick without costing a system call per request.
//! Event-loop models register [`StopSignal::waker`] in their poll set and are
//! woken at once.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a blocked call waits before it looks at the stop flag again.
pub const TICK: Duration = Duration::from_millis(100);

/// The server's "please stop" flag, set by a signal or by [`StopSignal::trigger`].
#[derive(Clone)]
pub struct StopSignal {
    flag: Arc<AtomicBool>,
    /// The write end of a socket pair the signal handler also writes to.
    wake_tx: Arc<UnixStream>,
    wake_rx: Arc<UnixStream>,
}

impl StopSignal {
    /// A stop signal that only [`StopSignal::trigger`] sets.
    pub fn new() -> io::Result<Self> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(StopSignal {
            flag: Arc::new(AtomicBool::new(false)),
            wake_tx: Arc::new(tx),
            wake_rx: Arc::new(rx),
        })
    }

    /// A stop signal that SIGINT and SIGTERM also set.
    pub fn install() -> io::Result<Self> {
        let stop = StopSignal::new()?;
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop.flag))?;
            signal_hook::low_level::pipe::register(sig, stop.wake_tx.try_clone()?)?;
        }
        Ok(stop)
    }

    /// Whether a stop was asked for.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Asks for a stop (from another thread, a test or a bench).
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        // A full socket buffer already holds a wake-up; nothing more to do.
        let _ = (&*self.wake_tx).write(&[1]);
    }

    /// A non-blocking socket that becomes readable when a stop is asked for,
    /// for event loops to register.
    pub fn waker(&self) -> io::Result<UnixStream> {
        self.wake_rx.try_clone()
    }
}
