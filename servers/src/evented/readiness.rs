//! What an event loop knows about a connection's receive queue between its
//! readiness reports, so it reads only when a read can return something.
//!
//! A read that returns fewer bytes than the buffer holds has emptied the
//! socket's receive queue (Linux's TCP and Unix-domain stream reads copy
//! until the buffer is full or nothing is queued). Reading again would only
//! return `EAGAIN`: one wasted system call per request, a third of an echo's.
//! Skipping it is safe under edge-triggered epoll because every byte that
//! arrives later raises a new edge, and so does the peer's FIN. The one
//! thing a short read does not show is a FIN that came with the data before
//! the wait returned: that edge is already spent on the report we are
//! serving. The report carries it, though (`EPOLLRDHUP`, mio's
//! `is_read_closed()`), so once a report says the peer closed, the
//! connection reads on past short reads until it sees the end of the stream.
//! Under level-triggered `select` and `poll` a short read is always safe to
//! stop at: whatever is left, bytes or EOF, is reported again at the next wait.
//! This is what tokio does (its readiness is cleared by a short read). Two
//! things end a read early with bytes still queued: TCP urgent data (the read
//! stops at the mark) and a Unix-domain message that carries descriptors. A
//! peer that sends either stalls only its own connection, until it sends more
//! or the idle timeout closes it; no client of an echo or lab service does.

use ::mio::event::Event;

/// What one readiness report says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    /// Bytes, the end of the stream or an error may be read.
    pub(crate) readable: bool,
    /// The peer has closed its side (or the connection hung up): the end
    /// of the stream is queued behind whatever bytes are.
    pub(crate) read_closed: bool,
}

impl Report {
    /// What a level-triggered loop's ready connection gets: try a read; a
    /// short one ends the turn (the next wait reports anything left).
    pub(crate) const LEVEL: Report = Report {
        readable: true,
        read_closed: false,
    };

    /// No new report: a turn the loop gives for another reason (a worker's
    /// answer came back) reads only if the last reads left bytes behind.
    pub(crate) const NOTHING: Report = Report {
        readable: false,
        read_closed: false,
    };

    /// An edge-triggered epoll report.
    pub(crate) fn of(event: &Event) -> Report {
        Report {
            readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            read_closed: event.is_read_closed(),
        }
    }
}

/// A connection's receive side as its reads have left it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Readiness {
    /// A read may return something: set by a report, cleared by a read that
    /// shows the queue empty. Starts clear: registering a socket that already
    /// holds bytes raises a report at once.
    readable: bool,
    /// A report said the peer closed: read until the end of the stream,
    /// whatever a short read says. Never cleared.
    read_closed: bool,
}

impl Readiness {
    /// Takes in a readiness report.
    pub(crate) fn note(&mut self, report: Report) {
        self.readable |= report.readable;
        self.read_closed |= report.read_closed;
    }

    /// Whether a read may return something now.
    pub(crate) fn readable(&self) -> bool {
        self.readable
    }

    /// A read returned `n` bytes into a buffer of `capacity`: whether the
    /// queue may hold more (a full read, or a short one with the end of the
    /// stream still to read). Clears readability when it cannot.
    pub(crate) fn after_read(&mut self, n: usize, capacity: usize) -> bool {
        if n < capacity && !self.read_closed {
            self.readable = false;
        }
        self.readable
    }

    /// A read returned `EAGAIN`: nothing until the next report.
    pub(crate) fn drained(&mut self) {
        self.readable = false;
    }
}

#[cfg(test)]
mod tests {
    use super::{Readiness, Report};

    const READABLE: Report = Report {
        readable: true,
        read_closed: false,
    };
    const CLOSED: Report = Report {
        readable: true,
        read_closed: true,
    };

    #[test]
    fn nothing_is_read_before_a_report() {
        assert!(!Readiness::default().readable());
    }

    #[test]
    fn a_short_read_ends_reading_until_the_next_report() {
        let mut r = Readiness::default();
        r.note(READABLE);
        assert!(!r.after_read(64, 1024));
        assert!(!r.readable());
        r.note(READABLE);
        assert!(r.readable());
    }

    #[test]
    fn a_full_read_reads_on() {
        let mut r = Readiness::default();
        r.note(READABLE);
        assert!(r.after_read(1024, 1024));
        r.drained();
        assert!(!r.readable());
    }

    /// The FIN came with the request: the short read must not hide it.
    #[test]
    fn a_closed_peer_is_read_to_the_end_past_short_reads() {
        let mut r = Readiness::default();
        r.note(CLOSED);
        assert!(r.after_read(64, 1024));
        assert!(r.after_read(0, 1024));
        // A later report without the bit does not forget it.
        r.note(READABLE);
        assert!(r.after_read(10, 1024));
    }

    /// A writability-only report (output waiting) does not make a read worth it.
    #[test]
    fn a_writable_report_leaves_a_drained_socket_unread() {
        let mut r = Readiness::default();
        r.note(READABLE);
        r.after_read(10, 1024);
        r.note(Report::NOTHING);
        assert!(!r.readable());
    }
}
