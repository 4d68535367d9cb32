//! Test servers for the load generator: well-behaved ones (the project's own
//! models, in process) and deliberately misbehaving ones that drop, corrupt,
//! truncate, delay, reset or stall, and count what they did, so a test can
//! compare the engine's counts with the truth.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loadgen::{LoadPlan, Mode, Target, Workload};
use servers::wire::{self, RequestHeader, REQUEST_HEADER_LEN};
use servers::{Endpoint, Model, ServerConfig, ServiceKind, StopSignal, Transport};

/// Load runs measure time: one at a time per test binary (the machine is small).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A short plan: no warm-up unless asked, so every request issued is recorded.
pub fn plan(target: Target, mode: Mode) -> LoadPlan {
    let mut p = LoadPlan::new(target, mode);
    p.warmup = Duration::ZERO;
    p.duration = Duration::from_secs(1);
    p.threads = 2;
    p
}

/// One of the project's models, served on a thread of this process.
pub struct InProcess {
    pub endpoint: Endpoint,
    stop: StopSignal,
    handle: Option<JoinHandle<()>>,
}

impl InProcess {
    pub fn start(
        model: Model,
        transport: Transport,
        service: ServiceKind,
        path: Option<PathBuf>,
    ) -> Self {
        let mut config = ServerConfig::new(model);
        config.transport = transport;
        config.service = service;
        if let Some(p) = path {
            config.endpoint = Endpoint::Unix(p);
        }
        let stop = StopSignal::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let server_stop = stop.clone();
        let handle = std::thread::spawn(move || {
            servers::serve(&config, server_stop, |ready| {
                tx.send(ready.endpoint().unwrap()).unwrap();
            })
            .unwrap();
        });
        let endpoint = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        InProcess {
            endpoint,
            stop,
            handle: Some(handle),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match &self.endpoint {
            Endpoint::Inet(a) => *a,
            Endpoint::Unix(_) => panic!("not an Internet endpoint"),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What a misbehaving stream server does to the requests it picks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answers correctly.
    None,
    /// Flips one byte of the answer.
    Corrupt,
    /// Sends half the answer, then closes.
    Truncate,
    /// Closes with a RST instead of answering.
    Reset,
    /// Never answers (the connection stays open).
    Drop,
    /// Answers correctly after this long.
    Delay(Duration),
    /// Answers with one byte too many.
    Extra,
    /// Synthetic only: an error status, then closes (as the real servers do).
    ServerError,
    /// Synthetic only: answers with another request's tag.
    WrongTag,
    /// The server dies here, as a killed one would: this request goes
    /// unanswered, the listener closes (later connects are refused) and every
    /// connection closes at its next request.
    Die,
}

/// Counts of what a test server saw and did.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub faults: AtomicU64,
    pub connections: AtomicU64,
}

/// A thread-per-connection server, echo or synthetic, that applies `fault`
/// to every `every`-th request it reads (counted over all connections).
pub struct FaultyServer {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl FaultyServer {
    pub fn start(workload: Workload, fault: Fault, every: u64) -> Self {
        Self::start_with(workload, move |n| {
            if every > 0 && n % every == every - 1 {
                fault
            } else {
                Fault::None
            }
        })
    }

    /// `decide(n)` says what to do with the n-th request (from 0).
    pub fn start_with(
        workload: Workload,
        decide: impl Fn(u64) -> Fault + Send + Sync + 'static,
    ) -> Self {
        let listener = listen_big("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let decide = Arc::new(decide);
        let (c, s) = (Arc::clone(&counts), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                c.connections.fetch_add(1, Ordering::SeqCst);
                let (c, decide, s) = (Arc::clone(&c), Arc::clone(&decide), Arc::clone(&s));
                std::thread::Builder::new()
                    .stack_size(128 << 10)
                    .spawn(move || serve_conn(stream, addr, workload, &c, &*decide, &s))
                    .unwrap();
            }
        });
        FaultyServer { addr, counts, stop }
    }

    pub fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::SeqCst)
    }

    pub fn faults(&self) -> u64 {
        self.counts.faults.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// A listener with a backlog deep enough for hundreds of connects at once.
fn listen_big(addr: SocketAddr) -> TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(4096).unwrap();
    socket.into()
}

fn serve_conn(
    mut s: TcpStream,
    listening: SocketAddr,
    workload: Workload,
    counts: &Counts,
    decide: &dyn Fn(u64) -> Fault,
    dead: &AtomicBool,
) {
    s.set_nodelay(true).unwrap();
    let mut req = Vec::new();
    loop {
        // Read one whole request.
        let tag = match workload {
            Workload::Echo { size } => {
                req.resize(size, 0);
                if s.read_exact(&mut req).is_err() {
                    return;
                }
                0
            }
            Workload::Synthetic { .. } => {
                req.resize(REQUEST_HEADER_LEN, 0);
                if s.read_exact(&mut req).is_err() {
                    return;
                }
                let h = RequestHeader::parse(&req, &wire::FrameLimits::default()).unwrap();
                let mut payload = vec![0u8; h.payload_len as usize];
                if s.read_exact(&mut payload).is_err() {
                    return;
                }
                h.tag
            }
        };
        if dead.load(Ordering::SeqCst) {
            return;
        }
        let n = counts.requests.fetch_add(1, Ordering::SeqCst);
        let fault = decide(n);
        if fault != Fault::None {
            counts.faults.fetch_add(1, Ordering::SeqCst);
        }
        let mut answer = match workload {
            Workload::Echo { .. } => req.clone(),
            Workload::Synthetic { response_len, .. } => {
                let mut out = Vec::new();
                match fault {
                    Fault::WrongTag => wire::emit_ok_response(&mut out, tag ^ 1, response_len),
                    Fault::ServerError => wire::emit_error_response(
                        &mut out,
                        tag,
                        &wire::FrameError::TooSlow {
                            cpu_us: 0,
                            wait_us: 0,
                        },
                    ),
                    _ => wire::emit_ok_response(&mut out, tag, response_len),
                }
                out
            }
        };
        match fault {
            Fault::None | Fault::WrongTag => {}
            Fault::Corrupt => {
                let last = answer.len() - 1;
                answer[last] ^= 0x40;
            }
            Fault::Truncate => {
                let half = answer.len() / 2;
                let _ = s.write_all(&answer[..half]);
                return;
            }
            Fault::Reset => {
                let sock = socket2::SockRef::from(&s);
                let _ = sock.set_linger(Some(Duration::ZERO));
                return;
            }
            Fault::Drop => continue,
            Fault::Die => {
                dead.store(true, Ordering::SeqCst);
                // Wake the accept loop so it sees the flag and closes the listener.
                let _ = TcpStream::connect(listening);
                return;
            }
            Fault::Delay(d) => std::thread::sleep(d),
            Fault::Extra => answer.push(0),
            Fault::ServerError => {
                let _ = s.write_all(&answer);
                return;
            }
        }
        if s.write_all(&answer).is_err() {
            return;
        }
    }
}

/// An echo server that stalls once, for `stall`, on the first request it reads
/// after `after` from its start (coordinated omission's classic setting).
pub fn stalling_server(after: Duration, stall: Duration) -> FaultyServer {
    let start = Instant::now();
    let stalled = AtomicBool::new(false);
    FaultyServer::start_with(Workload::Echo { size: 64 }, move |_| {
        if start.elapsed() >= after && !stalled.swap(true, Ordering::SeqCst) {
            Fault::Delay(stall)
        } else {
            Fault::None
        }
    })
}

/// What a misbehaving UDP echo server does to one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpFault {
    Answer,
    Drop,
    Duplicate,
    /// Answer after this long (later than the client's timeout).
    Late(Duration),
}

#[derive(Debug, Default)]
pub struct UdpCounts {
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
    pub late: AtomicU64,
}

/// A one-thread UDP echo server applying `decide(seq)` (the sequence number
/// in the first 8 bytes of the datagram) to each datagram.
pub struct FaultyUdp {
    pub addr: SocketAddr,
    pub counts: Arc<UdpCounts>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FaultyUdp {
    pub fn start(decide: impl Fn(u64) -> UdpFault + Send + 'static) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let counts = Arc::new(UdpCounts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (Arc::clone(&counts), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut held: Vec<(Instant, Vec<u8>, SocketAddr)> = Vec::new();
            while !s.load(Ordering::SeqCst) {
                let now = Instant::now();
                held.retain(|(at, data, peer)| {
                    if *at <= now {
                        let _ = socket.send_to(data, peer);
                        false
                    } else {
                        true
                    }
                });
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                c.received.fetch_add(1, Ordering::SeqCst);
                let seq = u64::from_be_bytes(buf[..8].try_into().unwrap());
                match decide(seq) {
                    UdpFault::Answer => {
                        let _ = socket.send_to(&buf[..n], peer);
                    }
                    UdpFault::Drop => {
                        c.dropped.fetch_add(1, Ordering::SeqCst);
                    }
                    UdpFault::Duplicate => {
                        c.duplicated.fetch_add(1, Ordering::SeqCst);
                        let _ = socket.send_to(&buf[..n], peer);
                        let _ = socket.send_to(&buf[..n], peer);
                    }
                    UdpFault::Late(d) => {
                        c.late.fetch_add(1, Ordering::SeqCst);
                        held.push((now + d, buf[..n].to_vec(), peer));
                    }
                }
            }
        });
        FaultyUdp {
            addr,
            counts,
            stop,
            handle: Some(handle),
        }
    }

    pub fn get(&self, f: impl Fn(&UdpCounts) -> &AtomicU64) -> u64 {
        f(&self.counts).load(Ordering::SeqCst)
    }
}

impl Drop for FaultyUdp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
