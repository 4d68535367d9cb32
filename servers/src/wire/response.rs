//! The response header (byte ranges, parse, emit) and the responses a
//! server sends: a successful one with its checkable body, or an error that
//! explains itself.

use super::{be_u32, be_u64, FrameError, Status, RESPONSE_HEADER_LEN, RESPONSE_MAGIC};

/// Where each field sits in a response header.
mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const STATUS: usize = 4;
    pub const RESERVED: Range<usize> = 5..8;
    pub const BODY_LEN: Range<usize> = 8..12;
    pub const TAG: Range<usize> = 12..20;
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
        if buf[field::MAGIC] != RESPONSE_MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(&buf[field::MAGIC]);
            return Err(ResponseError::BadMagic { found });
        }
        Ok(ResponseHeader {
            status: Status::from(buf[field::STATUS]),
            body_len: be_u32(buf, field::BODY_LEN),
            tag: be_u64(buf, field::TAG),
        })
    }

    /// Writes the header into the first [`RESPONSE_HEADER_LEN`] bytes of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`RESPONSE_HEADER_LEN`] (a caller bug, not input).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::MAGIC].copy_from_slice(&RESPONSE_MAGIC);
        buf[field::STATUS] = self.status as u8;
        buf[field::RESERVED].fill(0);
        buf[field::BODY_LEN].copy_from_slice(&self.body_len.to_be_bytes());
        buf[field::TAG].copy_from_slice(&self.tag.to_be_bytes());
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
