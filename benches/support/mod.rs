//! What the groups share: a server model run as its own process (started on
//! first use, stopped with SIGTERM after its benchmarks), and blocking clients
//! that do one 64-byte echo round trip each.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use servers::{Ready, ServerProcess};

/// Bytes in every request, and so in every echoed response.
pub const MESSAGE_LEN: usize = 64;

/// The request every client sends: 64 distinct bytes, so a short or shifted
/// echo cannot pass the check.
pub const REQUEST: [u8; MESSAGE_LEN] = {
    let mut bytes = [0u8; MESSAGE_LEN];
    let mut i = 0;
    while i < MESSAGE_LEN {
        bytes[i] = b'0' + i as u8;
        i += 1;
    }
    bytes
};

/// The `sockbench` binary cargo built for this bench run.
const SOCKBENCH: &str = env!("CARGO_BIN_EXE_sockbench");
/// How long a server may take to print its readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// A UDP request unanswered this long is taken as lost and sent again.
const UDP_RESEND_AFTER: Duration = Duration::from_millis(200);

/// The font criterion's charts are drawn with: the one the project embeds.
const CHART_FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));

/// The criterion configuration every group uses (its own timings are set per
/// group). The root crate turns on plotters' `ab_glyph` text, and cargo unifies
/// features, so criterion's plotters finds only fonts registered by hand: without
/// this, drawing the first chart panics with `FontUnavailable`.
pub fn criterion() -> Criterion {
    if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, CHART_FONT)
        .is_err()
    {
        eprintln!("warning: the embedded chart font did not load; charts are off");
        return Criterion::default().without_plots();
    }
    Criterion::default()
}

/// Where a server listens.
enum Bind {
    /// 127.0.0.1, port 0: the readiness line tells the real port.
    Loopback,
    /// A Unix socket file (in a temporary directory the caller owns).
    Unix(PathBuf),
}

/// `sockbench serve --model M`, started the first time a benchmark needs it,
/// so a filtered run starts only the servers it measures. Killed on drop.
pub struct Server {
    model: &'static str,
    bind: Bind,
    process: Option<ServerProcess>,
}

impl Server {
    /// A server on 127.0.0.1 port 0; the transport is the model's default
    /// (UDP for `udp-iterative`, TCP for the others).
    pub fn loopback(model: &'static str) -> Self {
        Server {
            model,
            bind: Bind::Loopback,
            process: None,
        }
    }

    /// A Unix-domain stream server on the socket file `path`.
    pub fn unix(model: &'static str, path: PathBuf) -> Self {
        Server {
            model,
            bind: Bind::Unix(path),
            process: None,
        }
    }

    /// The readiness line, starting the server if it is not running yet.
    pub fn ready(&mut self) -> &Ready {
        let (model, bind) = (self.model, &self.bind);
        self.process
            .get_or_insert_with(|| start(model, bind))
            .ready()
    }

    /// The address a TCP or UDP server announced.
    pub fn addr(&mut self) -> SocketAddr {
        let model = self.model;
        self.ready()
            .addr
            .unwrap_or_else(|| panic!("the {model} server announced no address"))
    }

    /// The socket file a Unix-domain server announced.
    pub fn path(&mut self) -> PathBuf {
        let model = self.model;
        self.ready()
            .path
            .clone()
            .unwrap_or_else(|| panic!("the {model} server announced no socket file"))
    }

    /// Sends SIGTERM and reaps the server (if it was started), warning on
    /// stderr about anything but a clean exit with no faults counted.
    pub fn stop(mut self) {
        let Some(process) = self.process.take() else {
            return;
        };
        let (model, pid) = (self.model, process.pid());
        match process.stop(STOP_GRACE) {
            Err(e) => eprintln!("warning: stopping the {model} server (pid {pid}): {e}"),
            Ok(stopped) if stopped.killed => {
                eprintln!("warning: the {model} server (pid {pid}) ignored SIGTERM and was killed")
            }
            Ok(stopped) if !stopped.status.success() => eprintln!(
                "warning: the {model} server (pid {pid}) exited with {}: {}",
                stopped.status,
                stopped.stderr.trim()
            ),
            Ok(stopped) => match stopped.summary {
                Some(summary) if summary.errors.total > 0 => eprintln!(
                    "warning: the {model} server counted faults: {:?}",
                    summary.errors
                ),
                Some(_) => {}
                None => eprintln!("warning: the {model} server printed no summary line"),
            },
        }
    }
}

fn start(model: &str, bind: &Bind) -> ServerProcess {
    let mut command = Command::new(SOCKBENCH);
    command.args(["serve", "--model", model]);
    match bind {
        Bind::Loopback => command.args(["--addr", "127.0.0.1:0"]),
        Bind::Unix(path) => command.arg("--path").arg(path),
    };
    ServerProcess::spawn(command, READY_TIMEOUT)
        .unwrap_or_else(|e| panic!("could not start `{SOCKBENCH} serve --model {model}`: {e}"))
}

/// Runs `one` `iters` times and returns the time they took together, for
/// `Bencher::iter_custom`: the clock starts after any setup and stops before
/// any teardown.
pub fn time_iters(iters: u64, mut one: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        one();
    }
    start.elapsed()
}

/// Writes [`REQUEST`] and reads its echo back in full on an open stream
/// (TCP or Unix); panics, naming `what`, if the echo differs or the stream fails.
pub fn stream_round_trip<S: Read + Write>(stream: &mut S, what: &str) {
    let mut reply = [0u8; MESSAGE_LEN];
    // write_all and read_exact loop over partial writes and reads and retry
    // on Interrupted; a blocking socket never returns WouldBlock.
    if let Err(e) = stream.write_all(&REQUEST) {
        panic!("{what}: sending the request failed: {e}");
    }
    if let Err(e) = stream.read_exact(&mut reply) {
        panic!("{what}: reading the echo failed: {e}");
    }
    assert_eq!(reply, REQUEST, "{what}: the echo differs from the request");
}

/// A TCP connection to `addr` with Nagle off (each request goes out at once).
pub fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr)
        .unwrap_or_else(|e| panic!("connecting to the server at {addr} failed: {e}"));
    stream
        .set_nodelay(true)
        .unwrap_or_else(|e| panic!("setting TCP_NODELAY on {addr} failed: {e}"));
    stream
}

/// One TCP_CRR transaction: connect, write 64 bytes, read 64 back, close.
pub fn tcp_crr(addr: SocketAddr) {
    let mut stream = tcp_connect(addr);
    stream_round_trip(&mut stream, "crr");
    // Dropping the stream closes it: the client closes first, as netperf's
    // TCP_CRR does, so the TIME_WAIT state is ours (reused on loopback).
}

/// A connected UDP socket doing request/response with resend on loss.
pub struct UdpClient {
    socket: UdpSocket,
    /// Requests sent again because no answer came in [`UDP_RESEND_AFTER`].
    pub resent: u64,
}

impl UdpClient {
    pub fn connect(addr: SocketAddr) -> Self {
        let fail = |what: &str, e: io::Error| -> ! { panic!("UDP client for {addr}: {what}: {e}") };
        let socket = UdpSocket::bind(("127.0.0.1", 0)).unwrap_or_else(|e| fail("bind", e));
        socket.connect(addr).unwrap_or_else(|e| fail("connect", e));
        socket
            .set_read_timeout(Some(UDP_RESEND_AFTER))
            .unwrap_or_else(|e| fail("set the read timeout", e));
        UdpClient { socket, resent: 0 }
    }

    /// Sends [`REQUEST`] and waits for its echo, sending again after a loss.
    pub fn round_trip(&mut self) {
        let mut reply = [0u8; MESSAGE_LEN + 1];
        loop {
            match self.socket.send(&REQUEST) {
                Ok(_) => {}
                // A signal arrived before the datagram left: send it again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("udp rr: sending the request failed: {e}"),
            }
            loop {
                match self.socket.recv(&mut reply) {
                    Ok(n) if reply[..n] == REQUEST => return,
                    // A late duplicate of an earlier answer would match, so
                    // anything else is not an echo of ours: keep waiting.
                    Ok(_) => continue,
                    // A signal interrupted the wait; the answer may still come.
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // The read timeout expired: take the request as lost.
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::TimedOut =>
                    {
                        self.resent += 1;
                        break;
                    }
                    Err(e) => panic!("udp rr: reading the echo failed: {e}"),
                }
            }
        }
    }
}
