//! The services every model offers, written once as byte-in, byte-out state
//! machines so blocking and event-driven models share them exactly.
//!
//! A [`Session`] is one connection's service state. Feed it whatever a read
//! returned (stream boundaries are not message boundaries) and it appends the
//! response bytes to an output buffer. Datagram models call [`answer_datagram`].

use std::io::Write;
use std::time::Duration;

use crate::config::ServiceKind;
use crate::stats::Fault;
use crate::wire::{self, FrameError, FrameLimits, RequestHeader, REQUEST_HEADER_LEN};

/// The lab server's answer on a stream socket.
pub const LAB_STREAM_REPLY: &[u8] = b"I got your message";
/// The lab server's answer on a datagram socket.
pub const LAB_DATAGRAM_REPLY: &[u8] = b"Got your message\n";
/// The lab's buffer: a message is at most this many bytes.
pub const LAB_MESSAGE_MAX: usize = 255;

/// Why a session must end early. The response explaining it (if the
/// service has one) is already in the output buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// A synthetic frame was refused.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The peer closed in the middle of a synthetic frame.
    #[error("connection closed {missing} bytes before the end of a frame")]
    Truncated { missing: usize },
}

impl ServiceError {
    /// Which counter this error bumps.
    pub fn fault(&self) -> Fault {
        match self {
            ServiceError::Frame(e) if e.is_oversized() => Fault::Oversized,
            ServiceError::Frame(FrameError::Truncated { .. })
            | ServiceError::Frame(FrameError::DatagramLength { .. })
            | ServiceError::Truncated { .. } => Fault::Truncated,
            ServiceError::Frame(_) => Fault::BadFrame,
        }
    }
}

/// Where a synthetic session is within the current frame.
#[derive(Debug, Clone, Copy)]
enum FrameState {
    /// Collecting header bytes.
    Header {
        buf: [u8; REQUEST_HEADER_LEN],
        have: usize,
    },
    /// Skipping the payload; its content does not matter, only its length.
    Payload {
        header: RequestHeader,
        remaining: u32,
    },
}

const NEW_FRAME: FrameState = FrameState::Header {
    buf: [0; REQUEST_HEADER_LEN],
    have: 0,
};

/// One connection's service state.
#[derive(Debug, Clone)]
pub struct Session {
    kind: ServiceKind,
    limits: FrameLimits,
    frame: FrameState,
}

impl Session {
    pub fn new(kind: ServiceKind, limits: FrameLimits) -> Self {
        Session {
            kind,
            limits,
            frame: NEW_FRAME,
        }
    }

    /// Serves the bytes of one read, appending the response to `out`.
    ///
    /// Returns how many requests were answered. On error, `out` holds the
    /// error response (if any) and the caller should send it and close.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<u64, ServiceError> {
        match self.kind {
            ServiceKind::Echo => {
                out.extend_from_slice(input);
                Ok(1)
            }
            ServiceKind::Lab => Ok(lab_messages(input, |_| {
                out.extend_from_slice(LAB_STREAM_REPLY)
            })),
            ServiceKind::Synthetic => self.feed_synthetic(input, out),
        }
    }

    /// Called when the peer closes its side: a half-read frame is an error.
    pub fn finish(&self) -> Result<(), ServiceError> {
        match self.frame {
            FrameState::Header { have: 0, .. } => Ok(()),
            FrameState::Header { have, .. } => Err(ServiceError::Truncated {
                missing: REQUEST_HEADER_LEN - have,
            }),
            FrameState::Payload { remaining, .. } => Err(ServiceError::Truncated {
                missing: remaining as usize,
            }),
        }
    }

    /// Whether feeding `input` would serve a synthetic request that burns
    /// CPU or waits: the one kind of work an event loop must not do itself.
    /// Echo and lab answers (a copy) and no-work frames never do. Malformed
    /// input answers `false`: its error reply is a copy too.
    pub fn asks_for_work(&self, input: &[u8]) -> bool {
        if self.kind != ServiceKind::Synthetic {
            return false;
        }
        let mut ahead = self.clone();
        let mut work = false;
        let _ = ahead.walk_frames(input, |h| work |= h.cpu_us > 0 || h.wait_us > 0);
        work
    }

    fn feed_synthetic(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<u64, ServiceError> {
        match self.walk_frames(input, |h| serve_frame(h, out)) {
            Ok(n) => Ok(n),
            Err(e) => {
                wire::emit_error_response(out, 0, &e);
                Err(e.into())
            }
        }
    }

    /// Follows `input` through the frames it completes, calling `on_frame`
    /// with each complete frame's header in order; stops at a header the
    /// limits refuse.
    fn walk_frames(
        &mut self,
        mut input: &[u8],
        mut on_frame: impl FnMut(&RequestHeader),
    ) -> Result<u64, FrameError> {
        let mut answered = 0;
        while !input.is_empty() {
            match &mut self.frame {
                FrameState::Header { buf, have } => {
                    let take = (REQUEST_HEADER_LEN - *have).min(input.len());
                    buf[*have..*have + take].copy_from_slice(&input[..take]);
                    *have += take;
                    input = &input[take..];
                    if *have < REQUEST_HEADER_LEN {
                        // A header split across reads; wait for the rest.
                        continue;
                    }
                    let header = RequestHeader::parse(buf, &self.limits)?;
                    self.frame = FrameState::Payload {
                        header,
                        remaining: header.payload_len,
                    };
                }
                FrameState::Payload { remaining, .. } => {
                    let take = (*remaining as usize).min(input.len());
                    *remaining -= take as u32;
                    input = &input[take..];
                }
            }
            if let FrameState::Payload {
                header,
                remaining: 0,
            } = self.frame
            {
                on_frame(&header);
                answered += 1;
                self.frame = NEW_FRAME;
            }
        }
        Ok(answered)
    }
}

/// Answers one datagram, appending the reply to `out`.
///
/// A datagram is a whole request: a synthetic frame must fill it exactly and
/// its response must fit in one datagram.
pub fn answer_datagram(
    kind: ServiceKind,
    limits: &FrameLimits,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ServiceError> {
    match kind {
        ServiceKind::Echo => out.extend_from_slice(input),
        ServiceKind::Lab => {
            // One datagram is one message, however long.
            print_lab_message(input);
            out.extend_from_slice(LAB_DATAGRAM_REPLY);
        }
        ServiceKind::Synthetic => {
            let datagram_limits = FrameLimits {
                max_response: limits
                    .max_response
                    .min((wire::MAX_DATAGRAM - wire::RESPONSE_HEADER_LEN) as u32),
                ..*limits
            };
            let header = match RequestHeader::parse(input, &datagram_limits) {
                Ok(h) => h,
                Err(e) => {
                    wire::emit_error_response(out, 0, &e);
                    return Err(e.into());
                }
            };
            if header.frame_len() != input.len() {
                let e = FrameError::DatagramLength {
                    len: input.len(),
                    expected: header.frame_len(),
                };
                wire::emit_error_response(out, header.tag, &e);
                return Err(e.into());
            }
            serve_frame(&header, out);
        }
    }
    Ok(())
}

/// Does what the frame asks (burn CPU, wait) and appends its response.
fn serve_frame(header: &RequestHeader, out: &mut Vec<u8>) {
    if header.cpu_us > 0 {
        burn_cpu(Duration::from_micros(header.cpu_us.into()));
    }
    if header.wait_us > 0 {
        // A blocking call, as the lab's dostuff() would make: in the event-loop
        // models this stalls every connection, which is the point of measuring it.
        std::thread::sleep(Duration::from_micros(header.wait_us.into()));
    }
    wire::emit_ok_response(out, header.tag, header.response_len);
}

/// Spins until this thread has used `amount` of CPU time (not wall time, so a
/// preempted server still does the work it was asked for).
fn burn_cpu(amount: Duration) {
    use nix::time::{clock_gettime, ClockId};
    let now = || {
        clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
            .map(Duration::from)
            .unwrap_or_default()
    };
    let end = now() + amount;
    while now() < end {
        std::hint::spin_loop();
    }
}

/// Splits one read into lab messages (lines, or the read's tail, at most
/// [`LAB_MESSAGE_MAX`] bytes each, as the lab's single 255-byte read does),
/// prints each and calls `reply` once per message. Returns the count.
fn lab_messages(input: &[u8], mut reply: impl FnMut(&[u8])) -> u64 {
    let mut count = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .take(LAB_MESSAGE_MAX)
            .position(|&b| b == b'\n')
            .map_or(rest.len().min(LAB_MESSAGE_MAX), |i| i + 1);
        let (message, tail) = rest.split_at(end);
        print_lab_message(message);
        reply(message);
        count += 1;
        rest = tail;
    }
    count
}

fn print_lab_message(message: &[u8]) {
    let text = String::from_utf8_lossy(message);
    let text = text.trim_end_matches(['\n', '\r']);
    let mut stdout = std::io::stdout().lock();
    // Nobody to report a closed stdout to; the client still gets its answer.
    let _ = writeln!(stdout, "Here is the message: {text}");
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ResponseHeader, Status, RESPONSE_HEADER_LEN};

    fn frame(payload_len: u32, response_len: u32, tag: u64) -> Vec<u8> {
        let mut v = Vec::new();
        RequestHeader {
            payload_len,
            response_len,
            cpu_us: 0,
            wait_us: 0,
            tag,
        }
        .emit_frame(&mut v, 0xAB);
        v
    }

    fn waiting_frame(payload_len: u32, wait_us: u32) -> Vec<u8> {
        let mut v = Vec::new();
        RequestHeader {
            payload_len,
            response_len: 8,
            cpu_us: 0,
            wait_us,
            tag: 9,
        }
        .emit_frame(&mut v, 0xAB);
        v
    }

    #[test]
    fn only_a_read_that_completes_a_working_frame_asks_for_work() {
        let limits = FrameLimits::default();
        assert!(!Session::new(ServiceKind::Echo, limits).asks_for_work(b"hello"));
        let mut s = Session::new(ServiceKind::Synthetic, limits);
        assert!(!s.asks_for_work(&frame(10, 5, 1)));
        let blocking = waiting_frame(4, 2_000);
        assert!(s.asks_for_work(&blocking));
        // Split: the header alone completes nothing; the read that ends the
        // payload is the one that would wait.
        let (head, tail) = blocking.split_at(REQUEST_HEADER_LEN + 1);
        assert!(!s.asks_for_work(head));
        let mut out = Vec::new();
        assert_eq!(s.feed(head, &mut out).unwrap(), 0);
        assert!(s.asks_for_work(tail));
        // Asking changes nothing: the frame is still owed its answer.
        assert_eq!(s.feed(tail, &mut out).unwrap(), 1);
        // A cheap frame after a working one in the same read: still work.
        let mut both = frame(0, 3, 2);
        both.extend(waiting_frame(0, 1));
        assert!(s.asks_for_work(&both));
        assert!(!s.asks_for_work(b"XXXXnot a frame at all, just bytes"));
    }

    #[test]
    fn echo_returns_every_byte() {
        let mut s = Session::new(ServiceKind::Echo, FrameLimits::default());
        let mut out = Vec::new();
        s.feed(b"hello", &mut out).unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn synthetic_frames_split_at_every_byte_still_answer() {
        let mut input = frame(10, 5, 1);
        input.extend(frame(0, 3, 2));
        let mut s = Session::new(ServiceKind::Synthetic, FrameLimits::default());
        let mut out = Vec::new();
        let mut answered = 0;
        for b in &input {
            answered += s.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(answered, 2);
        s.finish().unwrap();
        let first = ResponseHeader::parse(&out).unwrap();
        assert_eq!(
            (first.status, first.body_len, first.tag),
            (Status::Ok, 5, 1)
        );
        let second = ResponseHeader::parse(&out[first.frame_len()..]).unwrap();
        assert_eq!((second.body_len, second.tag), (3, 2));
        assert_eq!(out.len(), first.frame_len() + second.frame_len());
    }

    #[test]
    fn garbage_gets_an_error_reply_and_ends_the_session() {
        let mut s = Session::new(ServiceKind::Synthetic, FrameLimits::default());
        let mut out = Vec::new();
        let err = s.feed(&[b'x'; 40], &mut out).unwrap_err();
        assert_eq!(err.fault(), Fault::BadFrame);
        let h = ResponseHeader::parse(&out).unwrap();
        assert_eq!(h.status, Status::BadMagic);
        assert_eq!(out.len(), RESPONSE_HEADER_LEN + h.body_len as usize);
    }

    #[test]
    fn oversized_frame_is_refused_before_its_payload_arrives() {
        let limits = FrameLimits {
            max_payload: 100,
            ..FrameLimits::default()
        };
        let mut s = Session::new(ServiceKind::Synthetic, limits);
        let mut out = Vec::new();
        let err = s
            .feed(&frame(1000, 1, 0)[..REQUEST_HEADER_LEN], &mut out)
            .unwrap_err();
        assert_eq!(err.fault(), Fault::Oversized);
    }

    #[test]
    fn closing_mid_frame_is_truncation() {
        let mut s = Session::new(ServiceKind::Synthetic, FrameLimits::default());
        let mut out = Vec::new();
        s.feed(&frame(10, 1, 0)[..30], &mut out).unwrap();
        assert_eq!(s.finish(), Err(ServiceError::Truncated { missing: 8 }));
    }

    #[test]
    fn lab_splits_lines_and_long_reads_like_the_lab_buffer() {
        let mut n = 0;
        assert_eq!(lab_messages(b"one\ntwo\n", |_| n += 1), 2);
        assert_eq!(lab_messages(&[b'a'; 600], |_| ()), 3);
        assert_eq!(n, 2);
    }

    #[test]
    fn synthetic_datagram_must_be_exact() {
        let mut out = Vec::new();
        let mut d = frame(4, 8, 3);
        answer_datagram(
            ServiceKind::Synthetic,
            &FrameLimits::default(),
            &d,
            &mut out,
        )
        .unwrap();
        assert_eq!(ResponseHeader::parse(&out).unwrap().tag, 3);
        d.push(0);
        out.clear();
        let err = answer_datagram(
            ServiceKind::Synthetic,
            &FrameLimits::default(),
            &d,
            &mut out,
        );
        assert!(err.is_err());
    }
}
