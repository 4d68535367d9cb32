//! How a supervising parent (`prefork`) learns that a child died: SIGCHLD is
//! kept blocked and collected with `sigtimedwait`, so the parent sleeps until
//! a child dies, a stop signal's handler runs, or a tick passes — no SIGCHLD
//! handler, no polling loop, and no window in which a death goes unnoticed.

use std::io;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::config::ReapPolicy;

/// SIGCHLD held blocked in this (single-threaded) process while it lives;
/// unblocked again on drop.
///
/// Create it before the first `fork()`: a child that dies before the parent
/// first waits then leaves its SIGCHLD pending instead of lost. Children
/// inherit the blocked mask, which is harmless for a process that neither
/// forks nor waits.
pub struct ChildWatch {
    sigchld: SigSet,
}

impl ChildWatch {
    /// Blocks SIGCHLD, with its disposition set to the default (an inherited
    /// SIG_IGN would make the kernel reap children behind our back, so no
    /// death could ever be reported).
    pub fn new() -> io::Result<Self> {
        super::install_reaper(ReapPolicy::None)?;
        let mut sigchld = SigSet::empty();
        sigchld.add(Signal::SIGCHLD);
        sigchld.thread_block().map_err(io::Error::from)?;
        Ok(ChildWatch { sigchld })
    }

    /// Reaps one dead child, waiting up to `timeout` for one to die.
    ///
    /// `None` when the time ran out or a signal handler ran (a stop signal,
    /// say): the caller looks at its flags and calls again. A child that was
    /// stopped or continued is not reported.
    pub fn reap(&self, timeout: Duration) -> io::Result<Option<WaitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    return Ok(Some(status))
                }
                // Nobody dead yet (or stopped/continued, which is not death): wait below.
                Ok(_) => {}
                // No children at all (every fork failed): the wait below is a plain sleep.
                Err(Errno::ECHILD) => {}
                // A handler ran; the caller's stop flag may have changed.
                Err(Errno::EINTR) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let ts = libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            };
            // SAFETY: the set and the timespec are valid for reads for the
            // duration of the call, and a null siginfo pointer is allowed.
            // sigtimedwait only dequeues a pending SIGCHLD (blocked since
            // `new`); it runs no code of ours.
            let got =
                unsafe { libc::sigtimedwait(self.sigchld.as_ref(), std::ptr::null_mut(), &ts) };
            if got < 0 {
                return match Errno::last() {
                    // The time ran out with no child dead.
                    Errno::EAGAIN => Ok(None),
                    // A stop signal's handler ran (sigtimedwait is never restarted).
                    Errno::EINTR => Ok(None),
                    e => Err(e.into()),
                };
            }
            // A SIGCHLD: signals do not queue, so it may stand for several
            // deaths, or for one already reaped above. waitpid tells.
        }
    }
}

impl Drop for ChildWatch {
    fn drop(&mut self) {
        // A SIGCHLD still pending is delivered with its default action: ignored.
        let _ = self.sigchld.thread_unblock();
    }
}
