//! Output owed to a non-blocking peer, and writing it until the socket is
//! full: shared by every event loop's connections (`evented::connection`,
//! `reactor-pool`'s).

use std::io::Write;

use crate::net::Stream;
use crate::stats::{ConnStats, Fault};

use super::{interrupted, would_block};

/// Output owed to the peer: `buf[sent..]` is unsent.
///
/// Sent bytes are dropped lazily: only once they are more than half of the
/// buffer ([`Outbox::compact`]), so a slow reader costs at most one copy of
/// each byte, not one memmove of everything pending (up to the back-pressure
/// limit) per `EAGAIN`. The buffer stays bounded: after a compaction attempt
/// it holds at most twice the unsent bytes, which back-pressure caps.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    buf: Vec<u8>,
    sent: usize,
}

impl Outbox {
    pub(crate) fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    fn unsent(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Where the service appends its responses.
    pub(crate) fn queue(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Records `n` more bytes written; an emptied buffer starts over (free).
    fn sent(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        }
    }

    /// Drops the sent prefix if it is more than half of the buffer.
    fn compact(&mut self) {
        if self.sent > self.buf.len() / 2 {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Writes pending output to `stream` until done or the socket is full,
    /// counting the bytes in `stats`.
    pub(crate) fn flush(
        &mut self,
        stream: &mut Stream,
        stats: &mut ConnStats,
    ) -> Result<(), Fault> {
        while self.pending() > 0 {
            match stream.write(self.unsent()) {
                // A zero-length write on a non-empty buffer: the peer cannot take more.
                Ok(0) => return Err(Fault::Io),
                Ok(n) => {
                    self.sent(n);
                    stats.bytes_out += n as u64;
                }
                // The send buffer is full; writability tells us when to go on.
                Err(e) if would_block(&e) => {
                    self.compact();
                    return Ok(());
                }
                // A signal arrived mid-write; try again.
                Err(e) if interrupted(&e) => {}
                Err(_) => return Err(Fault::Io),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Outbox;

    fn outbox(bytes: usize, sent: usize) -> Outbox {
        let mut out = Outbox::default();
        out.queue().extend((0..bytes).map(|i| i as u8));
        out.sent(sent);
        out
    }

    #[test]
    fn a_small_sent_prefix_is_not_moved() {
        let mut out = outbox(100, 40);
        out.compact();
        assert_eq!((out.buf.len(), out.sent, out.pending()), (100, 40, 60));
        assert_eq!(out.unsent()[0], 40);
    }

    #[test]
    fn a_sent_majority_is_dropped() {
        let mut out = outbox(100, 60);
        out.compact();
        assert_eq!((out.buf.len(), out.sent, out.pending()), (40, 0, 40));
        assert_eq!(out.unsent()[0], 60);
    }

    #[test]
    fn everything_sent_empties_the_buffer_at_once() {
        let out = outbox(100, 100);
        assert_eq!((out.buf.len(), out.sent), (0, 0));
    }

    /// A client that reads exactly as fast as it sends, 50 bytes behind:
    /// the buffer never holds more than twice what is unsent (plus one
    /// append), however long it goes on.
    #[test]
    fn a_slow_reader_keeps_the_buffer_bounded() {
        let mut out = outbox(50, 0);
        for _ in 0..10_000 {
            out.queue().extend_from_slice(&[7u8; 10]);
            out.sent(10);
            out.compact();
            assert_eq!(out.pending(), 50);
            assert!(out.buf.len() <= 2 * 50 + 10, "{}", out.buf.len());
        }
    }
}
