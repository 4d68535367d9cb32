//! Accepting, the same way in every model: the one `accept4()` that every
//! connection comes through (TCP_NODELAY set there), what each accept error
//! means and how it is counted, the `--stop-after` quota, and the blocking
//! models' accept loop. The event loops' non-blocking intake (`evented`) uses
//! the same pieces, so one event reads the same in every model's summary.

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::SockFlag;
use socket2::SockRef;

use crate::context::{Context, ServeError};
use crate::net::{timed_out, Listener, Stream};
use crate::stats::{Counters, Fault};
use crate::stop::TICK;

/// Pause after `accept()` or `fork()` fails for lack of a resource (out of
/// file descriptors, processes, memory), so a server under a connection flood
/// backs off instead of spinning, and retries once something is freed.
pub(crate) const RESOURCE_BACKOFF: Duration = Duration::from_millis(10);

/// How an accepted socket starts life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Blocking calls with timeouts (the blocking models).
    Blocking,
    /// Non-blocking from birth (the event loops): `accept4(SOCK_NONBLOCK)`
    /// is one system call instead of accept + fcntl.
    NonBlocking,
}

/// Accepts one connection on a stream listener, with TCP_NODELAY set (every
/// model answers small requests at once; Nagle would add 40 ms to each).
/// A blocking listener with its tick set ([`Listener::set_tick`]) returns a
/// timeout error when nobody arrived within the tick.
pub(crate) fn accept(listener: &Listener, mode: Mode) -> io::Result<Stream> {
    let mut flags = SockFlag::SOCK_CLOEXEC;
    if mode == Mode::NonBlocking {
        flags |= SockFlag::SOCK_NONBLOCK;
    }
    match listener {
        Listener::Tcp(l) => {
            let (socket, _) = SockRef::from(l).accept4(flags.bits())?;
            let stream = TcpStream::from(socket);
            stream.set_nodelay(true)?;
            Ok(Stream::Tcp(stream))
        }
        Listener::Unix(l) => {
            let (socket, _) = SockRef::from(l).accept4(flags.bits())?;
            Ok(Stream::Unix(UnixStream::from(socket)))
        }
        Listener::Udp(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "accept() on a datagram socket",
        )),
    }
}

/// What a failed `accept()` means for the loop that called it. Every model
/// reaches this through [`accept_failed`], which counts it, so the same event
/// is the same count in every model's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// Nobody is waiting (a blocking listener's tick expired, or a
    /// non-blocking backlog is empty). Not a fault.
    Empty,
    /// A signal handler ran (SIGCHLD without restart, or a stop): try again.
    /// Not a fault.
    Interrupted,
    /// This one connection failed before we got it (the client gave up, or a
    /// network error accept(2) says to retry): counted as an I/O fault; the
    /// next accept may succeed.
    Lost,
    /// Out of descriptors, memory or buffers: counted as a resource fault;
    /// back off ([`RESOURCE_BACKOFF`]) and retry once something is freed.
    Exhausted,
    /// Anything else: counted as an I/O fault.
    Failed,
}

/// Classifies an `accept()` error and counts it in `counters`.
pub(crate) fn accept_failed(e: &io::Error, counters: &Counters) -> AcceptFailure {
    let failure = classify(e);
    match failure {
        AcceptFailure::Empty | AcceptFailure::Interrupted => {}
        AcceptFailure::Lost | AcceptFailure::Failed => counters.fault(Fault::Io),
        AcceptFailure::Exhausted => counters.fault(Fault::Resource),
    }
    failure
}

fn classify(e: &io::Error) -> AcceptFailure {
    if timed_out(e) {
        return AcceptFailure::Empty;
    }
    if e.kind() == io::ErrorKind::Interrupted {
        return AcceptFailure::Interrupted;
    }
    if e.kind() == io::ErrorKind::ConnectionAborted {
        return AcceptFailure::Lost;
    }
    match e.raw_os_error().map(Errno::from_raw) {
        // accept(2): "Linux accept() passes already-pending network errors on
        // the new socket as an error code ... treat them like EAGAIN by retrying".
        Some(
            Errno::EPROTO
            | Errno::ENETDOWN
            | Errno::ENOPROTOOPT
            | Errno::EHOSTDOWN
            | Errno::ENONET
            | Errno::EHOSTUNREACH
            | Errno::EOPNOTSUPP
            | Errno::ENETUNREACH
            // A firewall rule refused this connection.
            | Errno::EPERM,
        ) => AcceptFailure::Lost,
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM) => {
            AcceptFailure::Exhausted
        }
        _ => AcceptFailure::Failed,
    }
}

/// Whether the server has served the connections it was asked to (`--once`).
pub(crate) fn quota_reached(ctx: &Context) -> bool {
    ctx.config
        .stop_after
        .is_some_and(|n| ctx.counters.connections() >= n)
}

/// Sets the stop-check tick on a blocking listener.
pub(crate) fn blocking_listener(listener: &Listener) -> Result<(), ServeError> {
    listener
        .set_tick(TICK)
        .map_err(ServeError::setup("set the accept timeout"))
}

/// Blocks until a connection arrives (returned) or the server should stop
/// (`None`). The listener must have its tick set ([`blocking_listener`]).
pub(crate) fn next_connection(listener: &Listener, ctx: &Context) -> Option<Stream> {
    loop {
        if ctx.stop.is_set() || quota_reached(ctx) {
            return None;
        }
        let e = match accept(listener, Mode::Blocking) {
            Ok(stream) => return Some(stream),
            Err(e) => e,
        };
        match accept_failed(&e, ctx.counters) {
            // Look at the stop flag and the quota again, then accept the next.
            AcceptFailure::Empty
            | AcceptFailure::Interrupted
            | AcceptFailure::Lost
            | AcceptFailure::Failed => {}
            AcceptFailure::Exhausted => std::thread::sleep(RESOURCE_BACKOFF),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e as i32)
    }

    /// Feeds one error through the shared path; returns what it meant and
    /// the summary's error counts afterwards.
    fn counted(e: io::Error) -> (AcceptFailure, crate::ErrorCounts) {
        let counters = Counters::default();
        let failure = accept_failed(&e, &counters);
        (failure, counters.snapshot().errors)
    }

    #[test]
    fn nobody_waiting_and_signals_are_not_faults() {
        for e in [errno(Errno::EAGAIN), errno(Errno::EINTR)] {
            let (failure, errors) = counted(e);
            assert!(matches!(
                failure,
                AcceptFailure::Empty | AcceptFailure::Interrupted
            ));
            assert_eq!(errors.total, 0, "{failure:?}");
        }
        assert_eq!(counted(errno(Errno::EAGAIN)).0, AcceptFailure::Empty);
        assert_eq!(counted(errno(Errno::EINTR)).0, AcceptFailure::Interrupted);
    }

    #[test]
    fn a_connection_lost_before_accept_is_one_io_fault() {
        for e in [
            Errno::ECONNABORTED,
            Errno::EPROTO,
            Errno::EPERM,
            Errno::ENETUNREACH,
        ] {
            let (failure, errors) = counted(errno(e));
            assert_eq!(failure, AcceptFailure::Lost, "{e}");
            assert_eq!((errors.io, errors.total), (1, 1), "{e}");
        }
    }

    #[test]
    fn running_out_of_descriptors_is_one_resource_fault() {
        for e in [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM] {
            let (failure, errors) = counted(errno(e));
            assert_eq!(failure, AcceptFailure::Exhausted, "{e}");
            assert_eq!((errors.resource, errors.total), (1, 1), "{e}");
        }
    }

    #[test]
    fn anything_else_is_one_io_fault() {
        let (failure, errors) = counted(errno(Errno::EBADF));
        assert_eq!(failure, AcceptFailure::Failed);
        assert_eq!((errors.io, errors.total), (1, 1));
    }

    #[test]
    fn accept_sets_nodelay_and_the_requested_mode() {
        let (listener, endpoint, _) = crate::net::bind(
            crate::Transport::Tcp,
            &crate::Endpoint::Inet("127.0.0.1:0".parse().unwrap()),
            8,
        )
        .unwrap();
        let addr = match endpoint {
            crate::Endpoint::Inet(a) => a,
            other => panic!("{other}"),
        };
        for mode in [Mode::Blocking, Mode::NonBlocking] {
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let stream = accept(&listener, mode).unwrap();
            let Stream::Tcp(s) = &stream else {
                panic!("a TCP listener gave {stream:?}")
            };
            assert!(s.nodelay().unwrap(), "{mode:?}");
            let flags = nix::fcntl::fcntl(s, nix::fcntl::FcntlArg::F_GETFL).unwrap();
            let nonblocking = nix::fcntl::OFlag::from_bits_truncate(flags)
                .contains(nix::fcntl::OFlag::O_NONBLOCK);
            assert_eq!(nonblocking, mode == Mode::NonBlocking);
        }
    }
}
