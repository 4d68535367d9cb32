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

/// The seed of the per-request draw of [`waits`] (any constant: repeatability is the point).
const WAIT_SEED: u64 = 0x3a17_5eed_f1a5_4000;

/// Whether the request with `key` is one of the `share` (0–1) that wait:
/// a draw from the key, so each request's fate is fixed by its connection and
/// sequence number, and the same plan waits on the same requests every run.
#[inline]
pub fn waits(key: u64, share: f64) -> bool {
    // The top 53 bits as a uniform draw in [0, 1).
    let draw = (mix(key ^ WAIT_SEED) >> 11) as f64 / (1u64 << 53) as f64;
    draw < share
}

/// The workload request `key` carries: `workload` itself, or with no wait if
/// `wait_share` says this request is one of those that do not wait. The
/// response a request must get does not depend on its wait, so the check
/// stays exact whichever way the draw falls.
#[inline]
pub fn request_workload(workload: &Workload, wait_share: Option<f64>, key: u64) -> Workload {
    match (*workload, wait_share) {
        (
            Workload::Synthetic {
                payload_len,
                response_len,
                cpu_us,
                ..
            },
            Some(share),
        ) if !waits(key, share) => Workload::Synthetic {
            payload_len,
            response_len,
            cpu_us,
            wait_us: 0,
        },
        (w, _) => w,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const WAITING: Workload = Workload::Synthetic {
        payload_len: 16,
        response_len: 32,
        cpu_us: 0,
        wait_us: 2_000,
    };

    fn wait_of(w: Workload) -> u32 {
        match w {
            Workload::Synthetic { wait_us, .. } => wait_us,
            Workload::Echo { .. } => unreachable!("a synthetic workload stays synthetic"),
        }
    }

    #[test]
    fn the_share_of_waiting_requests_is_drawn_per_key_and_repeatable() {
        let keys: Vec<u64> = (0..4)
            .flat_map(|uid| (1..=5_000).map(move |seq| request_key(uid, seq)))
            .collect();
        for share in [0.0, 0.1, 0.5, 1.0] {
            let waiting = keys
                .iter()
                .filter(|k| wait_of(request_workload(&WAITING, Some(share), **k)) > 0)
                .count() as f64
                / keys.len() as f64;
            assert!((waiting - share).abs() < 0.02, "{share}: {waiting}");
        }
        // The same key draws the same way every time.
        let first: Vec<bool> = keys.iter().map(|k| waits(*k, 0.3)).collect();
        let again: Vec<bool> = keys.iter().map(|k| waits(*k, 0.3)).collect();
        assert_eq!(first, again);
        // No share: every request waits; what the answer must be never changes.
        assert_eq!(request_workload(&WAITING, None, keys[0]), WAITING);
        let quick = request_workload(&WAITING, Some(0.0), keys[0]);
        assert_eq!(response_len(&quick), response_len(&WAITING));
        assert_eq!(request_len(&quick), request_len(&WAITING));
    }
}
