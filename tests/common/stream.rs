//! Client connections: one type over TCP and Unix-domain streams, echo
//! clients that compare every byte, and synthetic request/response helpers.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use servers::wire::{self, RequestHeader, ResponseHeader, Status, RESPONSE_HEADER_LEN};
use servers::Endpoint;

use super::IO_TIMEOUT;

// ---------------------------------------------------------------------------
// Stream connections
// ---------------------------------------------------------------------------

/// A client connection over TCP or a Unix-domain socket.
#[derive(Debug)]
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    /// Connects to a stream endpoint, with [`IO_TIMEOUT`] on reads and writes.
    pub fn connect(endpoint: &Endpoint) -> io::Result<Conn> {
        let conn = match endpoint {
            Endpoint::Inet(addr) => Conn::Tcp(TcpStream::connect(addr)?),
            Endpoint::Unix(path) => Conn::Unix(UnixStream::connect(path)?),
        };
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        match &conn {
            Conn::Tcp(s) => s.set_write_timeout(Some(IO_TIMEOUT))?,
            Conn::Unix(s) => s.set_write_timeout(Some(IO_TIMEOUT))?,
        }
        Ok(conn)
    }

    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }

    /// Half-closes: the server reads end-of-file, we can still read its answer.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_read_timeout(t),
            Conn::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// Reads until the server closes; a reset after some bytes also ends it.
    pub fn read_until_closed(&mut self) -> io::Result<Vec<u8>> {
        let mut got = Vec::new();
        let mut buf = [0u8; 16 << 10];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A close with unread data in the server's buffer arrives as a reset.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(got),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Echo
// ---------------------------------------------------------------------------

/// `len` random bytes.
pub fn random_bytes(rng: &mut fastrand::Rng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Splits `len` into irregular piece sizes (single bytes, primes, a few KiB),
/// so the server sees stream boundaries that are not message boundaries.
pub fn odd_pieces(rng: &mut fastrand::Rng, len: usize) -> Vec<usize> {
    const SIZES: [usize; 8] = [1, 3, 7, 13, 509, 1021, 4093, 9973];
    let mut pieces = Vec::new();
    let mut left = len;
    while left > 0 {
        let want = if rng.bool() {
            SIZES[rng.usize(..SIZES.len())]
        } else {
            rng.usize(1..=6000)
        };
        let n = want.min(left);
        pieces.push(n);
        left -= n;
    }
    pieces
}

/// Where two byte strings first differ, as a message; `None` if equal.
pub fn difference(sent: &[u8], got: &[u8]) -> Option<String> {
    if sent == got {
        return None;
    }
    let at = sent
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(sent.len().min(got.len()));
    Some(format!(
        "sent {} bytes, got {} back; first difference at byte {at}",
        sent.len(),
        got.len()
    ))
}

/// One echo client: connects, writes `payload` in odd-sized pieces from a
/// writer thread, half-closes, reads everything back on this thread until the
/// server closes, and compares every byte. The reader runs while the writer
/// writes, so a large echo cannot deadlock on full socket buffers.
pub fn echo_exchange(endpoint: &Endpoint, payload: &[u8], seed: u64) -> Result<(), String> {
    let mut conn = Conn::connect(endpoint).map_err(|e| format!("connect: {e}"))?;
    let mut writer = conn.try_clone().map_err(|e| format!("clone: {e}"))?;
    let pieces = odd_pieces(&mut fastrand::Rng::with_seed(seed), payload.len());
    let got = std::thread::scope(|scope| {
        let sent = scope.spawn(move || -> io::Result<()> {
            let mut at = 0;
            for n in pieces {
                writer.write_all(&payload[at..at + n])?;
                at += n;
            }
            writer.shutdown_write()
        });
        let got = conn.read_until_closed();
        let sent = sent.join().expect("writer thread");
        sent.map_err(|e| format!("write: {e}"))?;
        got.map_err(|e| format!("read: {e}"))
    })?;
    match difference(payload, &got) {
        None => Ok(()),
        Some(d) => Err(d),
    }
}

/// Runs `clients` echo clients at once, each with its own random payload
/// (1 byte, 64 KiB and random sizes in between), and fails with every error.
pub fn concurrent_echo(endpoint: &Endpoint, clients: usize, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let payloads: Vec<Vec<u8>> = (0..clients)
        .map(|i| {
            let len = match i {
                0 => 1,
                1 => 64 << 10,
                _ => rng.usize(1..=64 << 10),
            };
            random_bytes(&mut rng, len)
        })
        .collect();
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| scope.spawn(move || echo_exchange(endpoint, p, seed ^ i as u64)))
            .collect();
        handles
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| match h.join().expect("client thread") {
                Ok(()) => None,
                Err(e) => Some(format!("client {i} ({} bytes): {e}", payloads[i].len())),
            })
            .collect()
    });
    assert!(errors.is_empty(), "echo failures:\n{}", errors.join("\n"));
}

// ---------------------------------------------------------------------------
// Synthetic frames
// ---------------------------------------------------------------------------

/// A whole synthetic request (header and payload).
pub fn synthetic_frame(payload_len: u32, response_len: u32, tag: u64) -> Vec<u8> {
    let mut v = Vec::new();
    RequestHeader {
        payload_len,
        response_len,
        cpu_us: 0,
        wait_us: 0,
        tag,
    }
    .emit_frame(&mut v, 0x5A);
    v
}

/// Reads one response (header, then its body) from `conn`.
pub fn read_response(conn: &mut impl Read) -> io::Result<(ResponseHeader, Vec<u8>)> {
    let mut head = [0u8; RESPONSE_HEADER_LEN];
    conn.read_exact(&mut head)?;
    let header = ResponseHeader::parse(&head)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut body = vec![0u8; header.body_len as usize];
    conn.read_exact(&mut body)?;
    Ok((header, body))
}

/// Checks a successful response to the request tagged `tag` asking for `len` bytes.
pub fn assert_ok_response(header: &ResponseHeader, body: &[u8], tag: u64, len: u32) {
    assert_eq!(
        (header.status, header.body_len, header.tag),
        (Status::Ok, len, tag),
        "response header"
    );
    for (i, &b) in body.iter().enumerate() {
        assert_eq!(b, wire::body_byte(tag, i), "body byte {i} of tag {tag}");
    }
}

/// One good synthetic request on a fresh connection, checked byte for byte.
pub fn synthetic_round_trip(endpoint: &Endpoint, tag: u64) {
    let mut conn = Conn::connect(endpoint).expect("connect for a good request");
    let (payload, want) = (100 + (tag as u32 % 1000), 1 + (tag as u32 % 5000));
    conn.write_all(&synthetic_frame(payload, want, tag))
        .expect("send a good request");
    let (header, body) = read_response(&mut conn).expect("read the good response");
    assert_ok_response(&header, &body, tag, want);
}
