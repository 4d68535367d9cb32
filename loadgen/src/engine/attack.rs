//! The attackers a plan may run beside its measured clients, on one thread
//! of their own with plain sockets (they measure nothing, so they need no
//! event loop): slowloris connections that trickle a request one byte at a
//! time and never finish it, or a flood of connections opened and reset at
//! once. Both end when the run does, at the latest at the plan's own end
//! (warm-up plus window plus a grace), and their counts go into the report.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::net::{interrupted, would_block};
use crate::check::{fill_request, request_len};
use crate::plan::{Attack, LoadPlan, Target};
use crate::report::AttackCounts;

/// How long one attacker's connect may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the slowloris loop looks at its clock and the stop flag.
const SLICE: Duration = Duration::from_millis(20);
/// How long past the plan's end an attacker may still run (the drain).
const GRACE: Duration = Duration::from_secs(2);
/// The key slow requests are built with (any: nobody checks an answer).
const SLOW_KEY: u64 = 0x5105_1015;

/// One attacker connection, TCP or Unix domain.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn open(target: &Target) -> io::Result<Conn> {
        match target {
            Target::Tcp(addr) => {
                let s = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
                s.set_nodelay(true)?;
                Ok(Conn::Tcp(s))
            }
            Target::Unix(path) => Ok(Conn::Unix(UnixStream::connect(path)?)),
            Target::Udp(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "attackers need a stream target",
            )),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_nonblocking(true),
            Conn::Unix(s) => s.set_nonblocking(true),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    /// Closes with a reset on TCP (SO_LINGER 0: no TIME_WAIT on our side,
    /// so a flood never runs out of ports); a Unix socket just closes.
    fn reset(self) {
        if let Conn::Tcp(s) = &self {
            // Best effort: without it the close is an orderly FIN instead.
            let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
    }
}

/// One slow connection and how far into its request it is.
struct Slow {
    conn: Conn,
    sent: usize,
}

/// Whether the server has closed `slow` (read end of file or a reset);
/// anything it sent is discarded.
fn closed_by_server(slow: &mut Slow) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match slow.conn.read(&mut buf) {
            // End of file: the server closed it.
            Ok(0) => return true,
            // An answer (an echo of the bytes, an error frame): discard it.
            Ok(_) => continue,
            // Nothing to read: still open.
            Err(e) if would_block(&e) => return false,
            Err(e) if interrupted(&e) => continue,
            // Reset or any other failure: gone.
            Err(_) => return true,
        }
    }
}

/// The attacker side of a run; `until` is the plan's end plus a grace.
pub(crate) struct Attacker {
    attack: Attack,
    target: Target,
    workload: crate::plan::Workload,
    until: Instant,
}

impl Attacker {
    /// The plan's attacker, if it has one.
    pub fn of(plan: &LoadPlan) -> Option<Attacker> {
        plan.attack.map(|attack| Attacker {
            attack,
            target: plan.target.clone(),
            workload: plan.workload,
            until: Instant::now() + plan.warmup + plan.duration + GRACE,
        })
    }

    /// Opens what must be open before the run starts (slow connections),
    /// then calls `ready` and attacks until `done` is set or time is up.
    pub fn run(self, ready: impl FnOnce(), done: &AtomicBool) -> AttackCounts {
        let mut counts = AttackCounts::default();
        match self.attack {
            Attack::Slowloris {
                connections,
                interval_ms,
            } => {
                let mut slow = Vec::with_capacity(connections);
                for _ in 0..connections {
                    match Conn::open(&self.target).and_then(|c| c.set_nonblocking().map(|()| c)) {
                        Ok(conn) => slow.push(Slow { conn, sent: 0 }),
                        Err(_) => counts.failed += 1,
                    }
                }
                counts.opened = slow.len() as u64;
                ready();
                self.trickle(slow, Duration::from_millis(interval_ms), done, &mut counts);
            }
            Attack::Flood { rate_cps } => {
                ready();
                self.flood(rate_cps, done, &mut counts);
            }
        }
        counts
    }

    fn over(&self, done: &AtomicBool) -> bool {
        done.load(Ordering::Relaxed) || Instant::now() >= self.until
    }

    /// One byte of the request per connection every `interval`, never the
    /// last one, until the end.
    fn trickle(
        &self,
        mut slow: Vec<Slow>,
        interval: Duration,
        done: &AtomicBool,
        counts: &mut AttackCounts,
    ) {
        // The last byte is never sent, so no request ever completes.
        let most = request_len(&self.workload).saturating_sub(1);
        let mut next = Instant::now();
        while !self.over(done) {
            if Instant::now() >= next {
                next += interval;
                slow.retain_mut(|s| {
                    if closed_by_server(s) {
                        counts.closed_by_server += 1;
                        return false;
                    }
                    if s.sent >= most {
                        return true;
                    }
                    let mut byte = [0u8; 1];
                    fill_request(&self.workload, SLOW_KEY, s.sent, &mut byte);
                    match s.conn.write(&byte) {
                        Ok(n) => {
                            s.sent += n;
                            counts.bytes_sent += n as u64;
                            true
                        }
                        // The send buffer is full (the server never reads): keep holding.
                        Err(e) if would_block(&e) || interrupted(&e) => true,
                        Err(_) => {
                            counts.closed_by_server += 1;
                            false
                        }
                    }
                });
            }
            std::thread::sleep(SLICE.min(next.saturating_duration_since(Instant::now())));
        }
        counts.held_at_end = slow.len() as u64;
    }

    /// `rate_cps` connections a second, each reset as soon as it is open.
    fn flood(&self, rate_cps: f64, done: &AtomicBool, counts: &mut AttackCounts) {
        let spacing = Duration::from_secs_f64(1.0 / rate_cps.max(1e-3));
        let start = Instant::now();
        let mut n: u32 = 0;
        while !self.over(done) {
            let due = start + spacing * n;
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(SLICE));
                continue;
            }
            if now - due > Duration::from_secs(1) {
                // Stalled (connects waiting on a full backlog): no burst to catch up.
                n = ((now - start).as_secs_f64() / spacing.as_secs_f64()) as u32;
            }
            n = n.saturating_add(1);
            match Conn::open(&self.target) {
                Ok(conn) => {
                    counts.opened += 1;
                    conn.reset();
                }
                Err(_) => counts.failed += 1,
            }
        }
    }
}
