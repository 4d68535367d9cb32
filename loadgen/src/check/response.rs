//! Responses checked, every byte: the incremental check of a stream response
//! (no copy of the request, a few dozen bytes per connection) and the check
//! of one received datagram, for echo and synthetic alike.

use servers::wire::{self, ResponseHeader, Status};

use super::{key_seq, key_uid, mix, request_key, response_len, seeded_byte, SEQ_MASK, UDP_SEQ_LEN};
use crate::plan::Workload;
use crate::stats::ErrorKind;

/// Where a stream response stands after some bytes arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Correct so far; more bytes are due.
    More,
    /// Complete and correct.
    Done,
    /// Wrong: the request failed with this kind (no latency sample).
    Fault(ErrorKind),
}

/// The incremental check of one stream response.
#[derive(Debug, Clone)]
pub struct StreamCheck {
    seed: u64,
    key: u64,
    got: usize,
    expect: usize,
    header: [u8; wire::RESPONSE_HEADER_LEN],
}

impl StreamCheck {
    pub fn new() -> Self {
        StreamCheck {
            seed: 0,
            key: 0,
            got: 0,
            expect: 0,
            header: [0; wire::RESPONSE_HEADER_LEN],
        }
    }

    /// Expects the response to the request with `key`.
    pub fn begin(&mut self, workload: &Workload, key: u64) {
        self.key = key;
        self.seed = mix(key);
        self.got = 0;
        self.expect = response_len(workload);
    }

    /// Response bytes received so far.
    #[cfg(test)]
    fn received(&self) -> usize {
        self.got
    }

    /// Checks the next bytes of the response.
    pub fn feed(&mut self, workload: &Workload, data: &[u8]) -> Progress {
        if data.len() > self.expect - self.got {
            // More bytes than the response has: the server is out of step.
            return Progress::Fault(ErrorKind::Mismatch);
        }
        match *workload {
            Workload::Echo { .. } => {
                let seed = self.seed;
                let base = self.got;
                if data
                    .iter()
                    .enumerate()
                    .any(|(j, &b)| b != seeded_byte(seed, base + j))
                {
                    return Progress::Fault(ErrorKind::Mismatch);
                }
                self.got += data.len();
            }
            Workload::Synthetic { response_len, .. } => {
                let mut data = data;
                if self.got < wire::RESPONSE_HEADER_LEN {
                    let take = data.len().min(wire::RESPONSE_HEADER_LEN - self.got);
                    self.header[self.got..self.got + take].copy_from_slice(&data[..take]);
                    self.got += take;
                    data = &data[take..];
                    if self.got == wire::RESPONSE_HEADER_LEN {
                        if let Some(kind) = self.check_header(response_len) {
                            return Progress::Fault(kind);
                        }
                    }
                }
                let base = self.got - wire::RESPONSE_HEADER_LEN.min(self.got);
                if data
                    .iter()
                    .enumerate()
                    .any(|(j, &b)| b != wire::body_byte(self.key, base + j))
                {
                    return Progress::Fault(ErrorKind::Mismatch);
                }
                self.got += data.len();
            }
        }
        if self.got == self.expect {
            Progress::Done
        } else {
            Progress::More
        }
    }

    fn check_header(&self, response_len: u32) -> Option<ErrorKind> {
        match ResponseHeader::parse(&self.header) {
            Err(_) => Some(ErrorKind::Mismatch),
            Ok(h) if h.status != Status::Ok => Some(ErrorKind::ServerError),
            Ok(h) if h.tag != self.key || h.body_len != response_len => Some(ErrorKind::Mismatch),
            Ok(_) => None,
        }
    }
}

impl Default for StreamCheck {
    fn default() -> Self {
        Self::new()
    }
}

/// What one received datagram says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A correct answer to request `seq`.
    Ok { seq: u64 },
    /// A wrong answer; `seq` names the request when the datagram says which.
    Fault { seq: Option<u64>, kind: ErrorKind },
}

/// Checks a datagram received on flow `uid` (every byte).
pub fn check_datagram(workload: &Workload, uid: u64, data: &[u8]) -> Answer {
    match *workload {
        Workload::Echo { size } => {
            if data.len() < UDP_SEQ_LEN {
                return Answer::Fault {
                    seq: None,
                    kind: ErrorKind::Mismatch,
                };
            }
            let mut seq_bytes = [0u8; UDP_SEQ_LEN];
            seq_bytes.copy_from_slice(&data[..UDP_SEQ_LEN]);
            let seq = u64::from_be_bytes(seq_bytes);
            let seed = mix(request_key(uid, seq));
            let body_ok = data
                .iter()
                .enumerate()
                .skip(UDP_SEQ_LEN)
                .all(|(i, &b)| b == seeded_byte(seed, i));
            if data.len() == size && body_ok && seq <= SEQ_MASK {
                Answer::Ok { seq }
            } else {
                Answer::Fault {
                    seq: Some(seq),
                    kind: ErrorKind::Mismatch,
                }
            }
        }
        Workload::Synthetic { response_len, .. } => {
            let Ok(h) = ResponseHeader::parse(data) else {
                return Answer::Fault {
                    seq: None,
                    kind: ErrorKind::Mismatch,
                };
            };
            let seq = (key_uid(h.tag) == uid).then(|| key_seq(h.tag));
            if h.status != Status::Ok {
                return Answer::Fault {
                    seq,
                    kind: ErrorKind::ServerError,
                };
            }
            let body = &data[wire::RESPONSE_HEADER_LEN..];
            let body_ok = body
                .iter()
                .enumerate()
                .all(|(i, &b)| b == wire::body_byte(h.tag, i));
            match seq {
                Some(seq)
                    if h.body_len == response_len
                        && body.len() == response_len as usize
                        && body_ok =>
                {
                    Answer::Ok { seq }
                }
                _ => Answer::Fault {
                    seq,
                    kind: ErrorKind::Mismatch,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{build_datagram, fill_request, pattern_byte, request_len};
    use servers::wire::RequestHeader;

    const ECHO: Workload = Workload::Echo { size: 100 };
    const SYN: Workload = Workload::Synthetic {
        payload_len: 10,
        response_len: 300,
        cpu_us: 0,
        wait_us: 0,
    };

    fn whole_request(w: &Workload, key: u64) -> Vec<u8> {
        let mut out = vec![0u8; request_len(w)];
        assert_eq!(fill_request(w, key, 0, &mut out), out.len());
        out
    }

    #[test]
    fn echo_response_checks_in_pieces_and_catches_stale_bytes() {
        let key = request_key(3, 7);
        let req = whole_request(&ECHO, key);
        assert!(req
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern_byte(key, i)));
        // Filling from an offset gives the same bytes.
        let mut tail = [0u8; 30];
        assert_eq!(fill_request(&ECHO, key, 80, &mut tail), 20);
        assert_eq!(&tail[..20], &req[80..]);

        let mut c = StreamCheck::new();
        c.begin(&ECHO, key);
        assert_eq!(c.feed(&ECHO, &req[..33]), Progress::More);
        assert_eq!(c.feed(&ECHO, &req[33..]), Progress::Done);

        let stale = whole_request(&ECHO, request_key(3, 6));
        c.begin(&ECHO, key);
        assert_eq!(c.feed(&ECHO, &stale), Progress::Fault(ErrorKind::Mismatch));
        let other_conn = whole_request(&ECHO, request_key(4, 7));
        c.begin(&ECHO, key);
        assert_eq!(
            c.feed(&ECHO, &other_conn),
            Progress::Fault(ErrorKind::Mismatch)
        );

        let mut long = req.clone();
        long.push(0);
        c.begin(&ECHO, key);
        assert_eq!(c.feed(&ECHO, &long), Progress::Fault(ErrorKind::Mismatch));
    }

    #[test]
    fn synthetic_request_parses_and_response_checks() {
        let key = request_key(1, 2);
        let req = whole_request(&SYN, key);
        let h = RequestHeader::parse(&req, &wire::FrameLimits::default()).unwrap();
        assert_eq!((h.tag, h.payload_len, h.response_len), (key, 10, 300));
        assert_eq!(req.len(), h.frame_len());

        let mut resp = Vec::new();
        wire::emit_ok_response(&mut resp, key, 300);
        let mut c = StreamCheck::new();
        c.begin(&SYN, key);
        for chunk in resp.chunks(7) {
            let p = c.feed(&SYN, chunk);
            assert_ne!(p, Progress::Fault(ErrorKind::Mismatch));
        }
        assert_eq!(c.received(), resp.len());

        let mut wrong_tag = Vec::new();
        wire::emit_ok_response(&mut wrong_tag, key + 1, 300);
        c.begin(&SYN, key);
        assert_eq!(
            c.feed(&SYN, &wrong_tag),
            Progress::Fault(ErrorKind::Mismatch)
        );

        let mut err = Vec::new();
        wire::emit_error_response(&mut err, key, &wire::FrameError::BadMagic { found: [0; 4] });
        c.begin(&SYN, key);
        assert_eq!(
            c.feed(&SYN, &err[..20]),
            Progress::Fault(ErrorKind::ServerError)
        );

        let mut corrupt = resp.clone();
        corrupt[200] ^= 1;
        c.begin(&SYN, key);
        assert_eq!(c.feed(&SYN, &corrupt), Progress::Fault(ErrorKind::Mismatch));
    }

    #[test]
    fn datagrams_carry_their_sequence_number() {
        let w = Workload::Echo { size: 64 };
        let mut d = Vec::new();
        build_datagram(&w, request_key(9, 41), &mut d);
        assert_eq!(d.len(), 64);
        assert_eq!(&d[..8], &41u64.to_be_bytes());
        assert_eq!(check_datagram(&w, 9, &d), Answer::Ok { seq: 41 });
        // Another flow's datagram, a corrupt byte, a short one: all wrong.
        assert!(matches!(
            check_datagram(&w, 8, &d),
            Answer::Fault { seq: Some(41), .. }
        ));
        d[30] ^= 0xff;
        assert!(matches!(check_datagram(&w, 9, &d), Answer::Fault { .. }));
        assert!(matches!(
            check_datagram(&w, 9, &d[..4]),
            Answer::Fault { seq: None, .. }
        ));

        let s = Workload::Synthetic {
            payload_len: 0,
            response_len: 50,
            cpu_us: 0,
            wait_us: 0,
        };
        build_datagram(&s, request_key(2, 5), &mut d);
        assert_eq!(d.len(), wire::REQUEST_HEADER_LEN);
        let mut resp = Vec::new();
        wire::emit_ok_response(&mut resp, request_key(2, 5), 50);
        assert_eq!(check_datagram(&s, 2, &resp), Answer::Ok { seq: 5 });
        resp.pop();
        assert!(matches!(
            check_datagram(&s, 2, &resp),
            Answer::Fault { seq: Some(5), .. }
        ));
    }
}
