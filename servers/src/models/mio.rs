//! `mio` — Comer & Stevens' *single-process concurrent* server.
//!
//! One thread, one epoll instance (through mio), non-blocking sockets. Each
//! connection is a small state record (its socket, its service session, its
//! unsent output); the loop sleeps in `epoll_wait` until some socket is ready
//! and serves whatever it can without blocking. No process or thread per
//! client, so thousands of idle or slow clients cost a few kilobytes each.
//! It breaks on CPU-heavy or blocking requests: while one is served, every
//! other connection waits (head-of-line blocking), and it uses one core.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use ::mio::event::Event;
use ::mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use ::mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::conn::READ_CHUNK;
use crate::model::{Context, ServeError, Server};
use crate::net::Listener;
use crate::service::Session;
use crate::stats::{ConnStats, Fault};

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
/// Connection tokens are slab keys shifted past the fixed tokens.
const FIRST_CONNECTION: usize = 2;
/// How often idle connections are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One thread, one event loop.
pub struct MioServer;

enum Acceptor {
    Tcp(TcpListener),
    Unix(UnixListener),
}

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Acceptor {
    fn accept(&self) -> io::Result<Socket> {
        match self {
            Acceptor::Tcp(l) => {
                let (s, _) = l.accept()?;
                s.set_nodelay(true)?;
                Ok(Socket::Tcp(s))
            }
            Acceptor::Unix(l) => Ok(Socket::Unix(l.accept()?.0)),
        }
    }
}

impl Socket {
    fn source(&mut self) -> &mut dyn ::mio::event::Source {
        match self {
            Socket::Tcp(s) => s,
            Socket::Unix(s) => s,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
        }
    }
}

struct Connection {
    socket: Socket,
    session: Session,
    /// Response bytes not yet written; `out[written..]` is pending.
    out: Vec<u8>,
    written: usize,
    /// Whether we asked for WRITABLE events (only while output is pending).
    wants_write: bool,
    last_active: Instant,
    stats: ConnStats,
}

/// How a connection's turn ended.
enum Turn {
    Open,
    /// Close it, counting the fault if there is one.
    Close(Option<Fault>),
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

impl Connection {
    fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes pending output until done or the socket is full.
    fn flush(&mut self) -> Result<(), Fault> {
        while self.written < self.out.len() {
            match self.socket.write(&self.out[self.written..]) {
                // A zero-length write on a non-empty buffer: the peer cannot take more.
                Ok(0) => return Err(Fault::Io),
                Ok(n) => {
                    self.written += n;
                    self.stats.bytes_out += n as u64;
                }
                // The send buffer is full; WRITABLE tells us when to go on.
                Err(e) if would_block(&e) => return Ok(()),
                // A signal arrived mid-write; try again.
                Err(e) if interrupted(&e) => {}
                Err(_) => return Err(Fault::Io),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }

    /// Serves whatever the socket has, within the output limit.
    fn turn(&mut self, scratch: &mut [u8], max_pending: usize) -> Turn {
        if let Err(f) = self.flush() {
            return Turn::Close(Some(f));
        }
        // Edge-triggered: read until WouldBlock, or we would miss data. The
        // exception is back-pressure: with too much unsent output we stop
        // reading, and the WRITABLE event that drains it brings us back here.
        while self.pending() <= max_pending {
            let n = match self.socket.read(scratch) {
                // The peer closed its side; a half-read frame is its fault.
                // A half-closed peer may still be reading: output it is owed
                // stays open for WRITABLE, which brings us back here (and this
                // read returns 0 again) until it is all sent.
                Ok(0) => {
                    let fault = self.session.finish().err().map(|e| e.fault());
                    return match self.flush() {
                        Ok(()) if fault.is_none() && self.pending() > 0 => Turn::Open,
                        Ok(()) => Turn::Close(fault),
                        Err(f) => Turn::Close(fault.or(Some(f))),
                    };
                }
                Ok(n) => n,
                // Drained: wait for the next READABLE edge.
                Err(e) if would_block(&e) => return Turn::Open,
                // A signal arrived mid-read; try again.
                Err(e) if interrupted(&e) => continue,
                Err(_) => return Turn::Close(Some(Fault::Io)),
            };
            self.stats.bytes_in += n as u64;
            match self.session.feed(&scratch[..n], &mut self.out) {
                Ok(k) => self.stats.requests += k,
                Err(e) => {
                    // Send the error reply if the socket takes it now; then close.
                    let _ = self.flush();
                    return Turn::Close(Some(e.fault()));
                }
            }
            if let Err(f) = self.flush() {
                return Turn::Close(Some(f));
            }
        }
        Turn::Open
    }
}

struct EventLoop<'a> {
    poll: Poll,
    acceptor: Acceptor,
    connections: Slab<Connection>,
    scratch: Vec<u8>,
    ctx: &'a Context<'a>,
    /// Set when accept() ran out of descriptors: the backlog will not raise a
    /// new edge by itself, so we retry on a short timeout.
    retry_accept: bool,
    accepting: bool,
}

impl Server for MioServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let setup = ServeError::setup;
        let mut acceptor = match listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)
                    .map_err(setup("make the listener non-blocking"))?;
                Acceptor::Tcp(TcpListener::from_std(l))
            }
            Listener::Unix(l) => {
                l.set_nonblocking(true)
                    .map_err(setup("make the listener non-blocking"))?;
                Acceptor::Unix(UnixListener::from_std(l))
            }
            Listener::Udp(_) => {
                return Err(ServeError::Setup {
                    what: "serve streams",
                    source: io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "mio needs a stream listener",
                    ),
                })
            }
        };
        let poll = Poll::new().map_err(setup("create the epoll instance"))?;
        let registry = poll.registry();
        match &mut acceptor {
            Acceptor::Tcp(l) => registry.register(l, LISTENER, Interest::READABLE),
            Acceptor::Unix(l) => registry.register(l, LISTENER, Interest::READABLE),
        }
        .map_err(setup("register the listener"))?;
        let mut waker =
            UnixStream::from_std(ctx.stop.waker().map_err(setup("get the stop waker"))?);
        registry
            .register(&mut waker, STOP, Interest::READABLE)
            .map_err(setup("register the stop waker"))?;

        let mut event_loop = EventLoop {
            poll,
            acceptor,
            connections: Slab::new(),
            scratch: vec![0u8; READ_CHUNK],
            ctx,
            retry_accept: false,
            accepting: true,
        };
        event_loop.run()
    }
}

impl EventLoop<'_> {
    fn run(&mut self) -> Result<(), ServeError> {
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = Instant::now() + SWEEP_EVERY;
        while !self.ctx.stop.is_set() {
            if super::quota_reached(self.ctx) && self.connections.is_empty() {
                // `--stop-after`: every connection we took has been served.
                break;
            }
            let timeout = if self.retry_accept {
                Some(super::RESOURCE_BACKOFF)
            } else if self.connections.is_empty() {
                // Nothing can go idle: sleep until something happens.
                None
            } else {
                Some(next_sweep.saturating_duration_since(Instant::now()))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                // A signal arrived; the loop condition checks for a stop.
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    return Err(ServeError::Setup {
                        what: "wait for events",
                        source: e,
                    })
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    // The stop flag is already set; the loop condition ends us.
                    STOP => {}
                    token => self.serve_event(token, event),
                }
            }
            if self.retry_accept {
                self.accept_all();
            }
            if Instant::now() >= next_sweep {
                self.close_idle();
                next_sweep = Instant::now() + SWEEP_EVERY;
            }
        }
        for conn in self.connections.drain() {
            self.ctx.counters.add(&conn.stats);
        }
        Ok(())
    }

    fn accept_all(&mut self) {
        self.retry_accept = false;
        while self.accepting {
            if super::quota_reached(self.ctx) {
                self.accepting = false;
                break;
            }
            let mut socket = match self.acceptor.accept() {
                Ok(s) => s,
                // The backlog is empty.
                Err(e) if would_block(&e) => break,
                // A signal arrived mid-accept; try again.
                Err(e) if interrupted(&e) => continue,
                // The client gave up before we accepted; take the next one.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if super::is_resource_exhaustion(&e) => {
                    self.ctx.counters.fault(Fault::Resource);
                    self.retry_accept = true;
                    break;
                }
                Err(_) => {
                    self.ctx.counters.fault(Fault::Io);
                    break;
                }
            };
            if self.connections.len() >= self.ctx.config.limits.max_connections {
                // Over the limit: closing at once is the clearest refusal.
                self.ctx.counters.fault(Fault::Refused);
                continue;
            }
            let entry = self.connections.vacant_entry();
            let token = Token(entry.key() + FIRST_CONNECTION);
            if self
                .poll
                .registry()
                .register(socket.source(), token, Interest::READABLE)
                .is_err()
            {
                self.ctx.counters.fault(Fault::Resource);
                continue;
            }
            self.ctx.counters.connection();
            entry.insert(Connection {
                socket,
                session: Session::new(self.ctx.config.service, self.ctx.config.limits.frame),
                out: Vec::new(),
                written: 0,
                wants_write: false,
                last_active: Instant::now(),
                stats: ConnStats::default(),
            });
        }
    }

    fn serve_event(&mut self, token: Token, event: &Event) {
        let key = token.0 - FIRST_CONNECTION;
        let Some(conn) = self.connections.get_mut(key) else {
            // Closed earlier in this batch of events.
            return;
        };
        if !(event.is_readable()
            || event.is_writable()
            || event.is_error()
            || event.is_read_closed())
        {
            return;
        }
        conn.last_active = Instant::now();
        let turn = conn.turn(&mut self.scratch, self.ctx.config.limits.max_pending_output);
        match turn {
            Turn::Open => {
                let wants_write = conn.pending() > 0;
                if wants_write != conn.wants_write {
                    let interest = if wants_write {
                        Interest::READABLE | Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    if self
                        .poll
                        .registry()
                        .reregister(conn.socket.source(), token, interest)
                        .is_err()
                    {
                        self.close(key, Some(Fault::Io));
                        return;
                    }
                    conn.wants_write = wants_write;
                }
            }
            Turn::Close(fault) => self.close(key, fault),
        }
    }

    fn close(&mut self, key: usize, fault: Option<Fault>) {
        // Dropping the socket closes it, and closing the last descriptor of a
        // socket removes it from the epoll set: no EPOLL_CTL_DEL needed.
        let conn = self.connections.remove(key);
        if let Some(f) = fault {
            self.ctx.counters.fault(f);
        }
        self.ctx.counters.add(&conn.stats);
    }

    fn close_idle(&mut self) {
        let idle = self.ctx.config.limits.idle_timeout;
        let stale: Vec<usize> = self
            .connections
            .iter()
            .filter(|(_, c)| c.last_active.elapsed() >= idle)
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            self.close(key, Some(Fault::IdleTimeout));
        }
    }
}
