//! `poll` — Comer & Stevens' *single-process concurrent* server with
//! `poll(2)`, the call that replaced `select` (and that epoll, the `mio`
//! model, replaced in turn).
//!
//! One thread, non-blocking sockets, level-triggered: the same loop and
//! connection state as `select` (`evented`), but each iteration hands the
//! kernel an array of `pollfd` records (descriptor, events wanted) instead
//! of two bitmaps, so there is no FD_SETSIZE: any descriptor the process may
//! open can be watched, up to `--max-connections` (beyond it, a connection
//! is closed at once and counted as refused). Where it breaks: the array is
//! rebuilt, copied into the kernel, scanned there and scanned again here on
//! every call, so each wake-up costs time in proportion to all connections,
//! not to the few that are active (epoll keeps the list in the kernel); and,
//! as with any single loop, a CPU-heavy request makes every other client
//! wait, on one core.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::context::{Context, ServeError, Server};
use crate::evented::level::{self, Ready, Wait, Watch};
use crate::net::Listener;

/// One thread, one `poll(2)` loop.
pub struct PollServer;

impl Server for PollServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        level::run(listener, ctx, Poll)
    }
}

/// The readiness call: `poll(2)` over a freshly built `pollfd` array.
struct Poll;

/// `d` in whole milliseconds, rounded up so a wait never ends just before
/// the deadline it was meant to reach; `None` waits forever.
fn poll_timeout(d: Option<Duration>) -> PollTimeout {
    match d {
        None => PollTimeout::NONE,
        Some(d) => {
            let millis = d.as_nanos().div_ceil(1_000_000);
            PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
        }
    }
}

impl Wait for Poll {
    /// Any descriptor: a `pollfd` holds a full `int`.
    fn admit(&self, _fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(())
    }

    fn wait(
        &mut self,
        watch: &Watch<'_, '_>,
        timeout: Option<Duration>,
        ready: &mut Ready,
    ) -> io::Result<()> {
        let mut fds = Vec::with_capacity(watch.connection_count() + 2);
        fds.push(PollFd::new(watch.waker, PollFlags::POLLIN));
        if let Some(listener) = watch.listener {
            fds.push(PollFd::new(listener, PollFlags::POLLIN));
        }
        let first_connection = fds.len();
        for (_, fd, interest) in watch.connections() {
            let mut events = PollFlags::empty();
            events.set(PollFlags::POLLIN, interest.read);
            events.set(PollFlags::POLLOUT, interest.write);
            fds.push(PollFd::new(fd, events));
        }
        poll(&mut fds, poll_timeout(timeout))?;
        // Flags nix does not know (`None`) still mean something happened:
        // serving the connection lets its read or write say what.
        let happened = |p: &PollFd<'_>| p.any().unwrap_or(true);
        ready.listener = watch.listener.is_some() && happened(&fds[1]);
        // POLLERR and POLLHUP come unasked; they too get the connection served.
        ready.conns.extend(
            watch
                .connections()
                .zip(&fds[first_connection..])
                .filter(|(_, p)| happened(p))
                .map(|((key, _, _), _)| key),
        );
        Ok(())
    }
}
