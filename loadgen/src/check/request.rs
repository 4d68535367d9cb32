//! Requests built: the bytes of a stream request from any offset (so a
//! partial write resumes without a copy of the request) and whole datagrams.
//! Echo payloads follow the key's pattern; synthetic requests carry the key as tag.

use servers::wire::{self, RequestHeader};

use super::{key_seq, mix, request_len, seeded_byte, UDP_SEQ_LEN};
use crate::plan::Workload;

/// The byte synthetic payloads are filled with (the server ignores it).
const PAYLOAD_BYTE: u8 = 0x5a;

fn synthetic_header(workload: &Workload, key: u64) -> [u8; wire::REQUEST_HEADER_LEN] {
    let mut header = [0u8; wire::REQUEST_HEADER_LEN];
    if let Workload::Synthetic {
        payload_len,
        response_len,
        cpu_us,
        wait_us,
    } = *workload
    {
        RequestHeader {
            payload_len,
            response_len,
            cpu_us,
            wait_us,
            tag: key,
        }
        .emit(&mut header);
    }
    header
}

/// Writes bytes `offset..offset + out.len()` of the stream request with `key`
/// into `out`, and returns how many it wrote (fewer at the end of the request).
pub fn fill_request(workload: &Workload, key: u64, offset: usize, out: &mut [u8]) -> usize {
    let n = request_len(workload).saturating_sub(offset).min(out.len());
    let out = &mut out[..n];
    match workload {
        Workload::Echo { .. } => {
            let seed = mix(key);
            for (j, b) in out.iter_mut().enumerate() {
                *b = seeded_byte(seed, offset + j);
            }
        }
        Workload::Synthetic { .. } => {
            let header = synthetic_header(workload, key);
            for (j, b) in out.iter_mut().enumerate() {
                *b = header.get(offset + j).copied().unwrap_or(PAYLOAD_BYTE);
            }
        }
    }
    n
}

/// Builds the whole datagram of request `key` into `out` (cleared first).
pub fn build_datagram(workload: &Workload, key: u64, out: &mut Vec<u8>) {
    out.clear();
    match *workload {
        Workload::Echo { size } => {
            out.extend_from_slice(&key_seq(key).to_be_bytes());
            let seed = mix(key);
            out.extend((UDP_SEQ_LEN..size).map(|i| seeded_byte(seed, i)));
            out.truncate(size);
        }
        Workload::Synthetic { .. } => {
            let header = synthetic_header(workload, key);
            out.extend_from_slice(&header);
            out.resize(request_len(workload), PAYLOAD_BYTE);
        }
    }
}
