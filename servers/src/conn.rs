//! One connection served with blocking calls: the body of `tcp-iterative`,
//! of each `fork` child and of each `thread-pool` worker.

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::context::Context;
use crate::net::{timed_out, Stream};
use crate::service::Session;
use crate::stats::{ConnStats, Fault};
use crate::stop::TICK;

/// Bytes one `read()` may return; also the echo's largest single write.
pub const READ_CHUNK: usize = 64 << 10;

/// Serves `stream` until the peer closes, an error, the idle timeout, or a
/// stop. Adds the connection's tally and faults to the shared counters. A
/// panic ends this connection only (counted as an I/O fault), never the
/// worker, thread or child serving it.
pub fn serve_blocking(stream: Stream, ctx: &Context) {
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(stream, ctx)));
    if served.is_err() {
        ctx.counters.fault(Fault::Io);
    }
}

fn serve(mut stream: Stream, ctx: &Context) {
    let limits = &ctx.config.limits;
    // The read timeout is the stop-check tick; idleness is counted in ticks.
    // A write that cannot finish within the idle timeout means a client that
    // does not read: it is dropped rather than allowed to hold us forever.
    let setup = stream
        .set_read_timeout(Some(TICK.min(limits.idle_timeout)))
        .and_then(|_| stream.set_write_timeout(Some(limits.idle_timeout)));
    if setup.is_err() {
        ctx.counters.fault(Fault::Io);
        return;
    }
    let mut session = Session::new(ctx.config.service, limits.frame);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut out = Vec::with_capacity(READ_CHUNK);
    let mut stats = ConnStats::default();
    let mut idle = Duration::ZERO;
    let fault = loop {
        if ctx.stop.is_set() {
            break fault_at_stop(&mut stream, &mut buf, &mut session);
        }
        let n = match stream.read(&mut buf) {
            // The peer closed its side: fine between requests, not inside one.
            Ok(0) => break session.finish().err().map(|e| e.fault()),
            Ok(n) => n,
            // The tick expired with nothing to read: look at the clock and the stop flag.
            Err(e) if timed_out(&e) => {
                idle += TICK;
                if idle >= limits.idle_timeout {
                    break Some(Fault::IdleTimeout);
                }
                continue;
            }
            // A signal handler ran during the read (a stop, say); the loop top checks the flag.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Reset, broken pipe and friends: this client is gone.
            Err(_) => break Some(Fault::Io),
        };
        idle = Duration::ZERO;
        stats.bytes_in += n as u64;
        let served = session.feed(&buf[..n], &mut out);
        // write_all loops over partial writes and retries EINTR for us.
        let written = stream.write_all(&out);
        if written.is_ok() {
            stats.bytes_out += out.len() as u64;
        }
        out.clear();
        match (served, written) {
            (Ok(k), Ok(())) => stats.requests += k,
            (Err(e), _) => break Some(e.fault()),
            (Ok(_), Err(e)) if timed_out(&e) => break Some(Fault::IdleTimeout),
            (Ok(_), Err(_)) => break Some(Fault::Io),
        }
    };
    if let Some(fault) = fault {
        ctx.counters.fault(fault);
    }
    ctx.counters.add(&stats);
}

/// A stop ends the connection, but what its peer already did still counts the
/// same as in a running server: a peer that left mid-request is a truncation
/// (a stop can reach a handler before it has read the close that is already
/// queued). Reads only what has already arrived, a bounded number of times;
/// answers are not sent, since the server is going away.
fn fault_at_stop(stream: &mut Stream, buf: &mut [u8], session: &mut Session) -> Option<Fault> {
    /// Enough for a few frames already queued; a peer still sending is cut by the stop.
    const READS: usize = 16;
    if stream
        .set_read_timeout(Some(Duration::from_millis(1)))
        .is_err()
    {
        return None;
    }
    let mut discarded = Vec::new();
    for _ in 0..READS {
        match stream.read(buf) {
            // The peer's close was already queued: judge the request it left behind.
            Ok(0) => return session.finish().err().map(|e| e.fault()),
            Ok(n) => {
                if let Err(e) = session.feed(&buf[..n], &mut discarded) {
                    return Some(e.fault());
                }
                discarded.clear();
            }
            // Nothing more has arrived (or the peer reset): the stop, not the peer, ends it.
            Err(_) => return None,
        }
    }
    None
}
