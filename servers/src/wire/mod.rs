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
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the lengths and magics both sides share, big-endian field readers |
//! | `refusal.rs` | [`FrameError`] (why a request was refused) and the [`Status`] byte that says so |
//! | `request.rs` | [`RequestHeader`]: byte ranges, check-then-parse against [`FrameLimits`], emit |
//! | `response.rs` | [`ResponseHeader`]: byte ranges, parse, emit; the checkable body; ok and error responses |

mod refusal;
mod request;
mod response;

use std::ops::Range;

pub use self::refusal::{FrameError, Status};
pub use self::request::{FrameLimits, RequestHeader};
pub use self::response::{
    body_byte, emit_error_response, emit_ok_response, ResponseError, ResponseHeader,
};

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

/// Reads the big-endian `u32` at `range`; the caller has checked the length.
fn be_u32(buf: &[u8], range: Range<usize>) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[range]);
    u32::from_be_bytes(b)
}

/// Reads the big-endian `u64` at `range`; the caller has checked the length.
fn be_u64(buf: &[u8], range: Range<usize>) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[range]);
    u64::from_be_bytes(b)
}
