//! A safe face on io_uring for the `io-uring` model: operations that take
//! ownership of their buffers and give them back with their completion.
//!
//! The `io-uring` crate's `push` is `unsafe` because a queued entry points at
//! memory the kernel will read or write later, after the call returns; if
//! that memory were freed or reused meanwhile, the kernel would corrupt it.
//! Here every buffer an operation uses is moved into the ring's table
//! ([`Ring::recv`], [`Ring::send`]) and only moved out when the kernel says
//! the operation is over (its completion, without the "more" flag), so no
//! caller can touch it in between. Buffers still lent when the ring is
//! dropped are leaked, not freed: the kernel may still be writing them.
//!
//! Descriptors are borrowed, not owned: the caller must keep a socket open
//! while operations on it are in flight (closing it early cannot corrupt
//! memory, but the operation could act on whatever file reuses the number).

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use slab::Slab;

/// Whether io_uring can be set up here (kernel support, `io_uring_disabled`,
/// seccomp).
pub fn io_uring_available() -> bool {
    IoUring::new(2).is_ok()
}

/// What an operation was, so its completion can be turned into a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accept,
    Recv,
    Send,
    Poll,
    Cancel,
}

/// An operation in flight: the caller's token, what it is, what it holds.
struct InFlight {
    token: u64,
    kind: Kind,
    /// The buffer the kernel reads (send) or writes (recv).
    buf: Option<Vec<u8>>,
}

/// One finished (or, for multishot accept, one more) operation.
#[derive(Debug)]
pub struct Completion {
    /// What the caller passed when it queued the operation.
    pub token: u64,
    /// Bytes moved (recv, send), or the error.
    pub result: io::Result<usize>,
    /// The buffer, handed back (recv: filled up to `result`'s length).
    pub buf: Option<Vec<u8>>,
    /// An accepted connection (multishot accept).
    pub accepted: Option<OwnedFd>,
    /// The operation goes on and will complete again (multishot).
    pub more: bool,
}

/// An io_uring instance and the buffers lent to its operations.
pub struct Ring {
    ring: IoUring,
    in_flight: Slab<InFlight>,
    /// Completion entries copied out of the queue, reused every turn so
    /// reaping allocates nothing.
    reaped: Vec<cqueue::Entry>,
}

impl Ring {
    /// A ring with room for `entries` queued operations, used by one thread.
    pub fn new(entries: u32) -> io::Result<Ring> {
        // One thread submits and reaps, so the kernel may run completion
        // work only when we wait (DEFER_TASKRUN, 6.1+) instead of
        // interrupting us with it; older kernels refuse the flags, and get a
        // plain ring.
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        Ok(Ring {
            ring,
            in_flight: Slab::new(),
            reaped: Vec::with_capacity(entries as usize),
        })
    }

    /// Accepts connections on `listener` until it fails or is cancelled; each
    /// one completes with `token` and [`Completion::accepted`].
    pub fn accept_multi(&mut self, listener: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd())).build();
        self.queue(entry, token, Kind::Accept, None)
    }

    /// Receives into `buf` (its whole length) from `fd`.
    pub fn recv(&mut self, fd: BorrowedFd<'_>, mut buf: Vec<u8>, token: u64) -> io::Result<()> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let entry = opcode::Recv::new(types::Fd(fd.as_raw_fd()), buf.as_mut_ptr(), len).build();
        self.queue(entry, token, Kind::Recv, Some(buf))
    }

    /// Sends `buf[from..]` on `fd`; a partial send completes with fewer bytes.
    pub fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        buf: Vec<u8>,
        from: usize,
        token: u64,
    ) -> io::Result<()> {
        let rest = &buf[from.min(buf.len())..];
        let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(types::Fd(fd.as_raw_fd()), rest.as_ptr(), len)
            // A peer that is gone must give EPIPE, not a SIGPIPE.
            .flags(nix::libc::MSG_NOSIGNAL)
            .build();
        self.queue(entry, token, Kind::Send, Some(buf))
    }

    /// Completes once `fd` is readable.
    pub fn poll_readable(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let entry =
            opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), nix::libc::POLLIN as u32).build();
        self.queue(entry, token, Kind::Poll, None)
    }

    /// Cancels every operation on `fd`; they complete with `ECANCELED` (or
    /// normally, if they were already done). The cancel itself completes
    /// with `token`.
    pub fn cancel_fd(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let builder = types::CancelBuilder::fd(types::Fd(fd.as_raw_fd())).all();
        let entry = opcode::AsyncCancel2::new(builder).build();
        self.queue(entry, token, Kind::Cancel, None)
    }

    fn queue(
        &mut self,
        entry: squeue::Entry,
        token: u64,
        kind: Kind,
        buf: Option<Vec<u8>>,
    ) -> io::Result<()> {
        let slot = self.in_flight.vacant_entry();
        let entry = entry.user_data(slot.key() as u64);
        // SAFETY: the memory `entry` points at (if any) is the heap block of
        // `buf`, which moves into `self.in_flight` here (moving a Vec does not
        // move its heap block) and leaves it only in `complete`, once the
        // kernel reports the operation finished, or never (leaked by `Drop`).
        // Descriptors are plain numbers to the kernel: no memory at stake.
        let pushed = unsafe { self.ring.submission().push(&entry) };
        if pushed.is_err() {
            // The submission queue is full: hand it to the kernel, then retry.
            self.ring.submit()?;
            // SAFETY: as above.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("the io_uring submission queue stays full"))?;
        }
        slot.insert(InFlight { token, kind, buf });
        Ok(())
    }

    /// Submits what is queued and waits for at least one completion, or for
    /// `timeout` (`None`: no limit). A timeout or a signal is not an error.
    pub fn submit_and_wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let result = match timeout {
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            // The wait timed out (ETIME) or a signal arrived (EINTR): the
            // caller looks at its clock and its stop flag.
            Err(e) if e.raw_os_error() == Some(nix::libc::ETIME) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            // Completions are waiting to be reaped: reaping makes room.
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Moves every completion the kernel has posted into `out`.
    pub fn completions(&mut self, out: &mut Vec<Completion>) {
        // Copied out first: completing an entry needs `self` while the
        // queue's iterator borrows the ring.
        let mut reaped = std::mem::take(&mut self.reaped);
        reaped.extend(self.ring.completion());
        for entry in reaped.drain(..) {
            if let Some(c) = self.complete(&entry) {
                out.push(c);
            }
        }
        self.reaped = reaped;
    }

    fn complete(&mut self, entry: &cqueue::Entry) -> Option<Completion> {
        let key = usize::try_from(entry.user_data()).ok()?;
        let more = cqueue::more(entry.flags());
        let res = entry.result();
        let (token, kind, buf) = if more {
            let op = self.in_flight.get(key)?;
            (op.token, op.kind, None)
        } else {
            let op = self.in_flight.try_remove(key)?;
            (op.token, op.kind, op.buf)
        };
        let result = if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as usize)
        };
        let accepted = match (&result, kind) {
            (Ok(fd), Kind::Accept) => {
                // SAFETY: a successful accept completion carries a new
                // descriptor the kernel just opened for us; nothing else owns it.
                Some(unsafe { OwnedFd::from_raw_fd(*fd as i32) })
            }
            _ => None,
        };
        Some(Completion {
            token,
            result,
            buf,
            accepted,
            more,
        })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Operations still in flight may be writing their buffers until the
        // ring is torn down: leak those buffers rather than free them.
        let lent = std::mem::take(&mut self.in_flight);
        let _ = ManuallyDrop::new(lent);
    }
}
