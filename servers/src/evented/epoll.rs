//! The pieces of an edge-triggered epoll loop (through mio) that `mio`,
//! `reuseport` and `reactor-pool` share: the fixed registrations, a
//! connection's registration and its writability interest, one wait.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use ::mio::net::UnixStream;
use ::mio::unix::SourceFd;
use ::mio::{Events, Interest, Poll, Registry, Token};

use super::{interrupted, Acceptor};
use crate::context::{Context, ServeError};
use crate::net::Stream;
use crate::stats::Fault;

/// Registers the listener under `listener` and the stop waker under `stop`;
/// returns the waker's socket, which must live as long as the loop.
pub(crate) fn register_fixed(
    poll: &Poll,
    acceptor: &Acceptor,
    listener: Token,
    stop: Token,
    ctx: &Context,
) -> Result<UnixStream, ServeError> {
    let setup = ServeError::setup;
    let registry = poll.registry();
    registry
        .register(
            &mut SourceFd(&acceptor.as_fd().as_raw_fd()),
            listener,
            Interest::READABLE,
        )
        .map_err(setup("register the listener"))?;
    let mut waker = UnixStream::from_std(ctx.stop.waker().map_err(setup("get the stop waker"))?);
    registry
        .register(&mut waker, stop, Interest::READABLE)
        .map_err(setup("register the stop waker"))?;
    Ok(waker)
}

/// Edge-triggered readability for as long as the connection lives (a
/// closed socket leaves epoll's interest list by itself).
pub(crate) fn register_connection(
    registry: &Registry,
    stream: &Stream,
    token: Token,
) -> Result<(), Fault> {
    registry
        .register(
            &mut SourceFd(&stream.as_fd().as_raw_fd()),
            token,
            Interest::READABLE,
        )
        .map_err(|_| Fault::Resource)
}

/// Asks for writability too while output waits, readability alone otherwise.
pub(crate) fn watch_writes(
    registry: &Registry,
    stream: &Stream,
    token: Token,
    wants_write: bool,
) -> io::Result<()> {
    let interest = if wants_write {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    registry.reregister(&mut SourceFd(&stream.as_fd().as_raw_fd()), token, interest)
}

/// Waits for events (a signal is not an error: the caller's loop looks at
/// its stop flag and waits again).
pub(crate) fn wait(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
) -> Result<(), ServeError> {
    match poll.poll(events, timeout) {
        Ok(()) => Ok(()),
        Err(e) if interrupted(&e) => {
            events.clear();
            Ok(())
        }
        Err(e) => Err(ServeError::setup("wait for events")(e)),
    }
}
