//! How the fork model collects dead children: the four policies of
//! `ReapPolicy`, and the final reaping at shutdown.

use std::io;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{
    kill, sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::config::ReapPolicy;

/// Reaps one child if one is dead; true if it did.
fn reap_one() -> bool {
    match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) | Err(_) => false,
        Ok(_) => true,
    }
}

extern "C" fn reap_until_none(_: nix::libc::c_int) {
    // waitpid may change errno; the code we interrupted may be about to read it.
    let saved = Errno::last_raw();
    // Signals do not queue: this one SIGCHLD may stand for several children.
    while reap_one() {}
    Errno::set_raw(saved);
}

extern "C" fn reap_just_one(_: nix::libc::c_int) {
    let saved = Errno::last_raw();
    // The lab's SunOS snippet: one wait3(WNOHANG) per signal, whatever it stands for.
    reap_one();
    Errno::set_raw(saved);
}

/// Installs the SIGCHLD disposition for `policy`.
pub fn install_reaper(policy: ReapPolicy) -> io::Result<()> {
    let handler = match policy {
        ReapPolicy::Handler => SigHandler::Handler(reap_until_none),
        ReapPolicy::Once => SigHandler::Handler(reap_just_one),
        ReapPolicy::Ignore => SigHandler::SigIgn,
        ReapPolicy::None => SigHandler::SigDfl,
    };
    // SA_RESTART: a child's death must not make accept() fail. SA_NOCLDSTOP:
    // stopped children are not dead ones.
    let action = SigAction::new(
        handler,
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handlers only call waitpid (async-signal-safe), touch a
    // save/restore errno; SIG_IGN and SIG_DFL run no code.
    unsafe { sigaction(Signal::SIGCHLD, &action) }.map_err(io::Error::from)?;
    Ok(())
}

/// How long shutdown waits for children after SIGTERM before SIGKILL.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Stops the policy from reaping, so every pid we still hold stays ours (a pid
/// is not reused until it is reaped) and `reap_all` can collect the rest.
pub fn stop_reaping(policy: ReapPolicy) -> io::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(io::Error::from)?;
    if policy == ReapPolicy::Ignore {
        // Children that die from now on become zombies we can wait for.
        install_reaper(ReapPolicy::None)?;
    }
    Ok(())
}

/// Sends SIGTERM to `live` children, then waits for every child (zombies
/// included) until none is left, SIGKILLing stragglers after `grace`.
/// Returns how many were reaped here.
pub fn reap_all(live: &[Pid], grace: Duration) -> u64 {
    for &pid in live {
        let _ = kill(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    let mut reaped = 0;
    let mut killed = false;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if !killed && Instant::now() >= deadline {
                    for &pid in live {
                        let _ = kill(pid, Signal::SIGKILL);
                    }
                    killed = true;
                }
                // Nothing dead yet; children are finishing their last writes.
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(_) => reaped += 1,
            // ECHILD: no children left at all.
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    reaped
}
