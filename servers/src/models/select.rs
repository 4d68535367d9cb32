//! `select` — Comer & Stevens' *single-process concurrent* server as the
//! textbook and the lab handout write it: with the literal `select(2)`.
//!
//! One thread, non-blocking sockets, level-triggered. Every iteration builds
//! two descriptor bitmaps from scratch (read: the listener, the stop waker and
//! every connection that may read; write: every connection with output
//! pending), hands them to `select`, and serves whatever comes back ready;
//! anything left unread is simply reported again. The connection state and
//! the loop are the ones `poll` runs (`evented`); only this call differs. It
//! breaks in two places. Each call costs time in proportion to the highest
//! descriptor, in the kernel and in the loop, however few sockets are
//! active. And an `fd_set` is a fixed bitmap of FD_SETSIZE (1024) bits:
//! setting a bit for a larger descriptor writes past it, the classic memory
//! corruption. So a connection whose descriptor would not fit is closed the
//! moment it is accepted and counted as refused: about 1,020 clients at once,
//! whatever the file-descriptor limit. And, as with any single loop, a
//! CPU-heavy request makes every other client wait, on one core.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::context::{Context, ServeError, Server};
use crate::evented::level::{self, Ready, Wait, Watch};
use crate::net::Listener;

/// One thread, one `select(2)` loop.
pub struct SelectServer;

impl Server for SelectServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        level::run(listener, ctx, Select)
    }
}

/// The readiness call: `select(2)` over two freshly built `fd_set`s.
struct Select;

/// Whether `fd` has a bit in an `fd_set`.
fn fits(fd: BorrowedFd<'_>) -> bool {
    usize::try_from(fd.as_raw_fd()).is_ok_and(|fd| fd < FD_SETSIZE)
}

/// `d` as a `timeval`, rounded up to the microsecond so a wait never ends
/// just before the deadline it was meant to reach.
fn timeval(d: Duration) -> TimeVal {
    let micros = d.as_nanos().div_ceil(1_000);
    TimeVal::microseconds(i64::try_from(micros).unwrap_or(i64::MAX))
}

impl Wait for Select {
    fn admit(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        if fits(fd) {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "descriptor {} is at or past FD_SETSIZE ({FD_SETSIZE}); select(2) cannot watch it",
                fd.as_raw_fd()
            )))
        }
    }

    fn wait(
        &mut self,
        watch: &Watch<'_, '_>,
        timeout: Option<Duration>,
        ready: &mut Ready,
    ) -> io::Result<()> {
        // Every descriptor here was admitted, so each has its bit: FdSet's
        // own range check (a panic) can never fire.
        let mut read = FdSet::new();
        let mut write = FdSet::new();
        read.insert(watch.waker);
        let mut highest = watch.waker.as_raw_fd();
        if let Some(listener) = watch.listener {
            read.insert(listener);
            highest = highest.max(listener.as_raw_fd());
        }
        for (_, fd, interest) in watch.connections() {
            if interest.read {
                read.insert(fd);
            }
            if interest.write {
                write.insert(fd);
            }
            highest = highest.max(fd.as_raw_fd());
        }
        let mut tv = timeout.map(timeval);
        select(
            highest + 1,
            &mut read,
            &mut write,
            None::<&mut FdSet>,
            tv.as_mut(),
        )?;
        ready.listener = watch.listener.is_some_and(|l| read.contains(l));
        ready.conns.extend(
            watch
                .connections()
                .filter(|&(_, fd, _)| read.contains(fd) || write.contains(fd))
                .map(|(key, _, _)| key),
        );
        Ok(())
    }
}
