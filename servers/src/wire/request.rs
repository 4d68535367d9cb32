//! The request header: its byte ranges, check-then-parse against the
//! server's [`FrameLimits`], and emit (the load generator's side).

use super::{be_u32, be_u64, FrameError, REQUEST_HEADER_LEN, REQUEST_MAGIC};

/// Where each field sits in a request header.
mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..8;
    pub const RESPONSE_LEN: Range<usize> = 8..12;
    pub const CPU_US: Range<usize> = 12..16;
    pub const WAIT_US: Range<usize> = 16..20;
    pub const TAG: Range<usize> = 20..28;
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

/// A synthetic request: what the client sends before its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub payload_len: u32,
    pub response_len: u32,
    pub cpu_us: u32,
    pub wait_us: u32,
    pub tag: u64,
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
        if buf[field::MAGIC] != REQUEST_MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(&buf[field::MAGIC]);
            return Err(FrameError::BadMagic { found });
        }
        Ok(())
    }

    /// Parses the header at the start of `buf`, refusing anything over `limits`.
    pub fn parse(buf: &[u8], limits: &FrameLimits) -> Result<Self, FrameError> {
        Self::check(buf)?;
        let header = RequestHeader {
            payload_len: be_u32(buf, field::PAYLOAD_LEN),
            response_len: be_u32(buf, field::RESPONSE_LEN),
            cpu_us: be_u32(buf, field::CPU_US),
            wait_us: be_u32(buf, field::WAIT_US),
            tag: be_u64(buf, field::TAG),
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
        buf[field::MAGIC].copy_from_slice(&REQUEST_MAGIC);
        buf[field::PAYLOAD_LEN].copy_from_slice(&self.payload_len.to_be_bytes());
        buf[field::RESPONSE_LEN].copy_from_slice(&self.response_len.to_be_bytes());
        buf[field::CPU_US].copy_from_slice(&self.cpu_us.to_be_bytes());
        buf[field::WAIT_US].copy_from_slice(&self.wait_us.to_be_bytes());
        buf[field::TAG].copy_from_slice(&self.tag.to_be_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Status;

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
}
