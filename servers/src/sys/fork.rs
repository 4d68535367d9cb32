//! `fork()` for a process that is guaranteed single-threaded.

use std::io;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{ForkResult, Pid};

/// Which side of a fork we are on.
pub enum Forked {
    /// The new process: serve, then call [`exit_child`].
    Child,
    /// The old process, with the child's pid.
    Parent(Pid),
}

/// Counts this process's threads from `/proc/self/status`.
fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

/// Fails unless this process has exactly one thread, the precondition of [`fork`].
pub fn ensure_single_threaded() -> io::Result<()> {
    match thread_count()? {
        1 => Ok(()),
        n => Err(io::Error::other(format!(
            "a forking model (fork, prefork) must run as its own single-threaded process, \
             but this one has {n} threads; start it with `sockbench serve --model fork` (or prefork)"
        ))),
    }
}

/// Forks.
///
/// # Precondition: single-threaded
///
/// The calling process must have exactly one thread: a child forked from a
/// multi-threaded process holds copies of locks (the allocator's, stdio's)
/// that other threads may have held at the instant of the fork, and may
/// deadlock on them. Call [`ensure_single_threaded`] once before the first
/// fork and start no thread afterwards; debug builds check it on every fork.
///
/// In the child, SIGCHLD goes back to its default (the child reaps nothing);
/// SIGINT and SIGTERM keep the stop-flag handler, so a child told to stop
/// finishes its current request, adds its tally to the shared counters and
/// exits within one tick. The child also asks to be killed if the parent
/// dies, so a crashed or killed server never leaves its children behind.
pub fn fork() -> io::Result<Forked> {
    debug_assert!(
        matches!(thread_count(), Ok(1)),
        "fork() called from a multi-threaded process: {:?} threads",
        thread_count()
    );
    let parent = nix::unistd::getpid();
    // SAFETY: fork() is sound when the caller is single-threaded, which the
    // fork and prefork models check with ensure_single_threaded() before
    // their first fork and never break afterwards (they spawn no threads). The child
    // then only runs ordinary Rust code on its own copy of the address space.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        ForkResult::Child => {
            // SAFETY: installing SIG_DFL runs no handler code of ours, so it
            // cannot break any async-signal-safety rule.
            let _ = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) };
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            // The parent may have died between fork() and prctl(): then no
            // death signal will come, and we have been re-parented already.
            if nix::unistd::getppid() != parent {
                exit_child(1);
            }
            Ok(Forked::Child)
        }
    }
}

/// Ends a forked child without running the parent's exit handlers or
/// destructors twice.
pub fn exit_child(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: _exit() only ends the process; it touches no Rust state, and
    // skipping atexit handlers is the point (they belong to the parent).
    unsafe { nix::libc::_exit(code) }
}

/// One `fork()` whose child exits at once, reaped by the caller: the cost the
/// `fork` model pays per connection, for benchmarks. Unlike [`fork`] this is
/// sound from a multi-threaded process, because the child calls nothing but
/// `_exit(2)`, which is async-signal-safe.
pub fn fork_and_reap() -> io::Result<()> {
    use nix::errno::Errno;
    use nix::sys::wait::{waitpid, WaitStatus};
    // SAFETY: the child runs only _exit(2) (async-signal-safe, no Rust code,
    // no atexit handlers, no stdio flush), so the locks other threads held at
    // the fork cannot matter to it.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        // SAFETY: as above, _exit() touches no Rust state.
        ForkResult::Child => unsafe { nix::libc::_exit(0) },
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => return Ok(()),
                Ok(status) => {
                    return Err(io::Error::other(format!(
                        "the forked child {child} ended unexpectedly: {status:?}"
                    )))
                }
                // A signal interrupted the wait; the child is still ours to reap.
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        },
    }
}
