//! Requests and the check of their responses: every response byte is compared
//! with the byte that must be there.
//!
//! Each request carries a key made of its connection's id and its sequence
//! number, so a stale answer (to an earlier request) or a misrouted one (meant
//! for another connection) differs from the expected bytes:
//! - **echo**: byte `i` of the payload is `pattern_byte(key, i)`; the same bytes must
//!   come back. Over UDP the first 8 bytes carry the sequence number (big-endian).
//! - **synthetic**: the request header's tag is the key; the response must have
//!   the magic, status Ok, the same tag, exactly the requested body length, and
//!   a body of [`servers::wire::body_byte`]`(tag, i)`.
//!
//! The stream checker is incremental: it holds no copy of the request, so ten
//! thousand connections cost a few dozen bytes each.

//!
//! | file | what lives there |
//! | --- | --- |
//! | `request.rs` | requests built: stream bytes from any offset, whole datagrams |
//! | `response.rs` | responses checked: the incremental stream check, one datagram's check |

use servers::wire;

use crate::plan::Workload;

mod request;
mod response;

pub use request::{build_datagram, fill_request};
pub use response::{check_datagram, Answer, Progress, StreamCheck};

/// Bits of a key that hold the sequence number; the connection id sits above.
pub const SEQ_BITS: u32 = 40;
pub(crate) const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// Bytes of a UDP echo payload that carry the sequence number.
pub const UDP_SEQ_LEN: usize = 8;

/// The key (echo pattern seed, synthetic tag) of request `seq` on connection `uid`.
#[inline]
pub fn request_key(uid: u64, seq: u64) -> u64 {
    (uid << SEQ_BITS) | (seq & SEQ_MASK)
}

/// The sequence number inside a key.
#[inline]
pub fn key_seq(key: u64) -> u64 {
    key & SEQ_MASK
}

/// The connection id inside a key.
#[inline]
pub fn key_uid(key: u64) -> u64 {
    key >> SEQ_BITS
}

/// SplitMix64's finaliser: spreads a key over all 64 bits.
#[inline]
pub(crate) fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce5_e9b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Byte `i` of an echo payload whose mixed seed is `seed`.
#[inline]
pub(crate) fn seeded_byte(seed: u64, i: usize) -> u8 {
    (seed >> ((i & 7) * 8)) as u8 ^ (i >> 3) as u8
}

/// Byte `i` of the echo payload of the request with `key` (the engine
/// generates the payload a buffer at a time with the seed mixed once).
#[cfg(test)]
pub(crate) fn pattern_byte(key: u64, i: usize) -> u8 {
    seeded_byte(mix(key), i)
}

/// Length of one request on the wire.
pub fn request_len(workload: &Workload) -> usize {
    match *workload {
        Workload::Echo { size } => size,
        Workload::Synthetic { payload_len, .. } => wire::REQUEST_HEADER_LEN + payload_len as usize,
    }
}

/// Length of one complete, correct response.
pub fn response_len(workload: &Workload) -> usize {
    match *workload {
        Workload::Echo { size } => size,
        Workload::Synthetic { response_len, .. } => {
            wire::RESPONSE_HEADER_LEN + response_len as usize
        }
    }
}
