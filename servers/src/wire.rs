//! The synthetic service's frame: one definition, parsed by the servers and
//! built by the load generator.
//!
//! Check-then-parse (as smoltcp's `wire` does): [`RequestHeader::parse`] first
//! checks the length and the magic, then the limits, and only then reads the
//! fields, so no accessor can panic on a short or hostile buffer.
//!
//! ```text
//! request  (28 bytes, big-endian)          response (20 bytes, big-endian)
//!  0..4   magic "SBQ1"                       0..4   magic "SBP1"
//!  4..8   payload_len   (bytes that follow)  4      status (0 = ok, see Status)
//!  8..12  response_len  (body bytes wanted)  5..8   reserved, zero
//! 12..16  cpu_us        (CPU time to burn)   8..12  body_len
//! 16..20  wait_us       (blocking wait)     12..20  tag (copied from the request)
//! 20..28  tag           (client's id)
//! ```
//!
//! The response body is [`body_byte`]`(tag, i)` for `i in 0..body_len`, so a
//! client can check every byte and notice a response meant for another request.
//! An error response carries a UTF-8 explanation as its body.

use std::ops::Range;

/// Magic that opens every request.
pub const REQUEST_MAGIC: [u8; 4] = *b"SBQ1";
/// Magic that opens every response.
pub const RESPONSE_MAGIC: [u8; 4] = *b"SBP1";
/// Length of a request header in bytes.
pub const REQUEST_HEADER_LEN: usize = 28;
/// Length of a response header in bytes.
pub const RESPONSE_HEADER_LEN: usize = 20;
/// Largest UDP payload on IPv4; a datagram frame must fit in one.
pub const MAX_DATAGRAM: usize = 65_507;

mod request {
    use super::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..8;
    pub const RESPONSE_LEN: Range<usize> = 8..12;
    pub const CPU_US: Range<usize> = 12..16;
    pub const WAIT_US: Range<usize> = 16..20;
    pub const TAG: Range<usize> = 20..28;
}

mod response {
    use super::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const STATUS: usize = 4;
    pub const RESERVED: Range<usize> = 5..8;
    pub const BODY_LEN: Range<usize> = 8..12;
    pub const TAG: Range<usize> = 12..20;
}

/// What a server will accept in one frame. A request over any limit is refused
/// with an error response and the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest payload a request may carry.
    pub max_payload: u32,
    /// Largest response body a request may ask for.
    pub max_response: u32,
    /// Most CPU time one request may ask the server to burn.
    pub max_cpu_us: u32,
    /// Longest blocking wait one request may ask for.
    pub max_wait_us: u32,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_payload: 1 << 20,
            max_response: 1 << 20,
            max_cpu_us: 1_000_000,
            max_wait_us: 10_000_000,
        }
    }
}

/// Why a request frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than a header; read more before parsing.
    #[error("frame truncated: {have} of {need} bytes")]
    Truncated { have: usize, need: usize },
    /// The first four bytes are not the magic: not a synthetic client, or out of step.
    #[error("bad magic {found:02x?}: expected \"SBQ1\"")]
    BadMagic { found: [u8; 4] },
    /// The payload is larger than the server's `max_payload`.
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    PayloadTooLarge { len: u32, max: u32 },
    /// The requested response is larger than the server's `max_response`.
    #[error("response of {len} bytes exceeds the limit of {max} bytes")]
    ResponseTooLarge { len: u32, max: u32 },
    /// The request asks for more CPU or waiting time than the server allows.
    #[error("request asks for {cpu_us} us of CPU and {wait_us} us of waiting, over the limits")]
    TooSlow { cpu_us: u32, wait_us: u32 },
    /// A datagram whose length disagrees with its header.
    #[error("datagram of {len} bytes does not match its header ({expected} bytes)")]
    DatagramLength { len: usize, expected: usize },
}

impl FrameError {
    /// The status byte sent back for this error.
    pub fn status(&self) -> Status {
        match self {
            FrameError::Truncated { .. } | FrameError::DatagramLength { .. } => Status::Truncated,
            FrameError::BadMagic { .. } => Status::BadMagic,
            FrameError::PayloadTooLarge { .. } | FrameError::ResponseTooLarge { .. } => {
                Status::TooLarge
            }
            FrameError::TooSlow { .. } => Status::TooSlow,
        }
    }

    /// Whether the frame broke a size limit (as opposed to being malformed).
    pub fn is_oversized(&self) -> bool {
        matches!(
            self,
            FrameError::PayloadTooLarge { .. } | FrameError::ResponseTooLarge { .. }
        )
    }
}

/// The status byte of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Ok = 0,
    BadMagic = 1,
    TooLarge = 2,
    TooSlow = 3,
    Truncated = 4,
    /// A status byte this version does not know.
    Unknown = 255,
}

impl From<u8> for Status {
    fn from(b: u8) -> Self {
        match b {
            0 => Status::Ok,
            1 => Status::BadMagic,
            2 => Status::TooLarge,
            3 => Status::TooSlow,
            4 => Status::Truncated,
            _ => Status::Unknown,
        }
    }
}

/// A synthetic request: what the client sends before its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub payload_len: u32,
    pub response_len: u32,
    pub cpu_us: u32,
    pub wait_us: u32,
    pub tag: u64,
}

fn be_u32(buf: &[u8], range: Range<usize>) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[range]);
    u32::from_be_bytes(b)
}

fn be_u64(buf: &[u8], range: Range<usize>) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[range]);
    u64::from_be_bytes(b)
}

impl RequestHeader {
    /// Checks that `buf` starts with a whole header carrying the magic.
    pub fn check(buf: &[u8]) -> Result<(), FrameError> {
        if buf.len() < REQUEST_HEADER_LEN {
            return Err(FrameError::Truncated {
                have: buf.len(),
                need: REQUEST_HEADER_LEN,
            });
        }
        if buf[request::MAGIC] != REQUEST_MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(&buf[request::MAGIC]);
            return Err(FrameError::BadMagic { found });
        }
        Ok(())
    }

    /// Parses the header at the start of `buf`, refusing anything over `limits`.
    pub fn parse(buf: &[u8], limits: &FrameLimits) -> Result<Self, FrameError> {
        Self::check(buf)?;
        let header = RequestHeader {
            payload_len: be_u32(buf, request::PAYLOAD_LEN),
            response_len: be_u32(buf, request::RESPONSE_LEN),
            cpu_us: be_u32(buf, request::CPU_US),
            wait_us: be_u32(buf, request::WAIT_US),
            tag: be_u64(buf, request::TAG),
        };
        if header.payload_len > limits.max_payload {
            return Err(FrameError::PayloadTooLarge {
                len: header.payload_len,
                max: limits.max_payload,
            });
        }
        if header.response_len > limits.max_response {
            return Err(FrameError::ResponseTooLarge {
                len: header.response_len,
                max: limits.max_response,
            });
        }
        if header.cpu_us > limits.max_cpu_us || header.wait_us > limits.max_wait_us {
            return Err(FrameError::TooSlow {
                cpu_us: header.cpu_us,
                wait_us: header.wait_us,
            });
        }
        Ok(header)
    }

    /// Writes the header into the first [`REQUEST_HEADER_LEN`] bytes of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`REQUEST_HEADER_LEN`] (a caller bug, not input).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[request::MAGIC].copy_from_slice(&REQUEST_MAGIC);
        buf[request::PAYLOAD_LEN].copy_from_slice(&self.payload_len.to_be_bytes());
        buf[request::RESPONSE_LEN].copy_from_slice(&self.response_len.to_be_bytes());
        buf[request::CPU_US].copy_from_slice(&self.cpu_us.to_be_bytes());
        buf[request::WAIT_US].copy_from_slice(&self.wait_us.to_be_bytes());
        buf[request::TAG].copy_from_slice(&self.tag.to_be_bytes());
    }

    /// The whole request on the wire: header and payload.
    pub fn frame_len(&self) -> usize {
        REQUEST_HEADER_LEN + self.payload_len as usize
    }

    /// Appends the whole request (header, then a payload of `payload_byte`s) to `out`.
    pub fn emit_frame(&self, out: &mut Vec<u8>, payload_byte: u8) {
        let start = out.len();
        out.resize(start + REQUEST_HEADER_LEN, 0);
        self.emit(&mut out[start..]);
        out.resize(start + self.frame_len(), payload_byte);
    }
}

/// A synthetic response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub status: Status,
    pub body_len: u32,
    pub tag: u64,
}

/// Why a response could not be parsed (the load generator's side).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Fewer bytes than a header; read more before parsing.
    #[error("response truncated: {have} of {need} bytes")]
    Truncated { have: usize, need: usize },
    /// The first four bytes are not the response magic.
    #[error("bad response magic {found:02x?}: expected \"SBP1\"")]
    BadMagic { found: [u8; 4] },
}

impl ResponseHeader {
    /// Parses the response header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, ResponseError> {
        if buf.len() < RESPONSE_HEADER_LEN {
            return Err(ResponseError::Truncated {
                have: buf.len(),
                need: RESPONSE_HEADER_LEN,
            });
        }
        if buf[response::MAGIC] != RESPONSE_MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(&buf[response::MAGIC]);
            return Err(ResponseError::BadMagic { found });
        }
        Ok(ResponseHeader {
            status: Status::from(buf[response::STATUS]),
            body_len: be_u32(buf, response::BODY_LEN),
            tag: be_u64(buf, response::TAG),
        })
    }

    /// Writes the header into the first [`RESPONSE_HEADER_LEN`] bytes of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`RESPONSE_HEADER_LEN`] (a caller bug, not input).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[response::MAGIC].copy_from_slice(&RESPONSE_MAGIC);
        buf[response::STATUS] = self.status as u8;
        buf[response::RESERVED].fill(0);
        buf[response::BODY_LEN].copy_from_slice(&self.body_len.to_be_bytes());
        buf[response::TAG].copy_from_slice(&self.tag.to_be_bytes());
    }

    /// The whole response on the wire: header and body.
    pub fn frame_len(&self) -> usize {
        RESPONSE_HEADER_LEN + self.body_len as usize
    }
}

/// Byte `i` of the body of a successful response to the request tagged `tag`.
#[inline]
pub fn body_byte(tag: u64, i: usize) -> u8 {
    (tag.wrapping_add(i as u64) % BODY_PERIOD as u64) as u8
}

/// Appends a successful response (header and the checkable body) to `out`.
pub fn emit_ok_response(out: &mut Vec<u8>, tag: u64, body_len: u32) {
    let header = ResponseHeader {
        status: Status::Ok,
        body_len,
        tag,
    };
    let start = out.len();
    out.resize(start + RESPONSE_HEADER_LEN, 0);
    header.emit(&mut out[start..]);
    // The body repeats every 251 bytes: copy one period at a time instead of
    // computing a modulo per byte (bodies reach a mebibyte).
    let period: [u8; BODY_PERIOD] = std::array::from_fn(|i| body_byte(tag, i));
    let mut left = body_len as usize;
    while left > 0 {
        let n = left.min(BODY_PERIOD);
        out.extend_from_slice(&period[..n]);
        left -= n;
    }
}

/// The body pattern's period (a prime, so it drifts against any power-of-two framing).
const BODY_PERIOD: usize = 251;

/// Appends an error response whose body explains `error` to `out`.
pub fn emit_error_response(out: &mut Vec<u8>, tag: u64, error: &FrameError) {
    let text = error.to_string();
    let header = ResponseHeader {
        status: error.status(),
        body_len: text.len() as u32,
        tag,
    };
    let start = out.len();
    out.resize(start + RESPONSE_HEADER_LEN, 0);
    header.emit(&mut out[start..]);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXED_REQUEST: [u8; 28] = [
        b'S', b'B', b'Q', b'1', // magic
        0, 0, 0, 64, // payload_len
        0, 0, 1, 0, // response_len
        0, 0, 0, 10, // cpu_us
        0, 0, 0, 0, // wait_us
        0, 0, 0, 0, 0, 0, 0, 7, // tag
    ];

    #[test]
    fn parses_fixed_bytes() {
        let h = RequestHeader::parse(&FIXED_REQUEST, &FrameLimits::default()).unwrap();
        assert_eq!(
            h,
            RequestHeader {
                payload_len: 64,
                response_len: 256,
                cpu_us: 10,
                wait_us: 0,
                tag: 7
            }
        );
        assert_eq!(h.frame_len(), 92);
    }

    #[test]
    fn emit_round_trips_to_fixed_bytes() {
        let h = RequestHeader::parse(&FIXED_REQUEST, &FrameLimits::default()).unwrap();
        let mut buf = [0u8; REQUEST_HEADER_LEN];
        h.emit(&mut buf);
        assert_eq!(buf, FIXED_REQUEST);
    }

    #[test]
    fn every_short_prefix_is_truncated_not_a_panic() {
        for n in 0..REQUEST_HEADER_LEN {
            assert_eq!(
                RequestHeader::parse(&FIXED_REQUEST[..n], &FrameLimits::default()),
                Err(FrameError::Truncated {
                    have: n,
                    need: REQUEST_HEADER_LEN
                })
            );
        }
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut buf = FIXED_REQUEST;
        buf[0] = b'X';
        assert!(matches!(
            RequestHeader::parse(&buf, &FrameLimits::default()),
            Err(FrameError::BadMagic { .. })
        ));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = FrameLimits {
            max_payload: 63,
            ..FrameLimits::default()
        };
        let err = RequestHeader::parse(&FIXED_REQUEST, &limits).unwrap_err();
        assert!(err.is_oversized());
        assert_eq!(err.status(), Status::TooLarge);
        let limits = FrameLimits {
            max_cpu_us: 9,
            ..FrameLimits::default()
        };
        assert!(matches!(
            RequestHeader::parse(&FIXED_REQUEST, &limits),
            Err(FrameError::TooSlow { .. })
        ));
    }

    #[test]
    fn response_round_trips_and_body_is_checkable() {
        let mut out = Vec::new();
        emit_ok_response(&mut out, 9, 300);
        let h = ResponseHeader::parse(&out).unwrap();
        assert_eq!(h.status, Status::Ok);
        assert_eq!(h.body_len, 300);
        assert_eq!(h.tag, 9);
        assert_eq!(out.len(), h.frame_len());
        for (i, b) in out[RESPONSE_HEADER_LEN..].iter().enumerate() {
            assert_eq!(*b, body_byte(9, i));
        }
        assert_eq!(&out[..4], b"SBP1");
        assert_eq!(&out[8..12], &[0, 0, 1, 44]);
    }

    #[test]
    fn error_response_explains_itself() {
        let mut out = Vec::new();
        let err = FrameError::BadMagic { found: *b"GET " };
        emit_error_response(&mut out, 0, &err);
        let h = ResponseHeader::parse(&out).unwrap();
        assert_eq!(h.status, Status::BadMagic);
        let text = std::str::from_utf8(&out[RESPONSE_HEADER_LEN..]).unwrap();
        assert!(text.contains("bad magic"), "{text}");
    }
}
