//! Sockets for the engine: one stream type over TCP and Unix domain, the
//! non-blocking connect, and how an `io::Error` becomes an error kind.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;

use mio::event::Source;
use mio::net::{TcpStream, UdpSocket, UnixStream};
use mio::{Interest, Registry, Token};
use nix::errno::Errno;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::stats::ErrorKind;

/// The socket would block: wait for the next readiness event.
#[inline]
pub(crate) fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call: simply make it again.
#[inline]
pub(crate) fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

/// Why a connect() failed, as an error kind.
pub(crate) fn connect_error_kind(e: &io::Error) -> ErrorKind {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ECONNREFUSED) => ErrorKind::ConnectRefused,
        // A Unix-domain listener with a full backlog refuses with EAGAIN.
        Some(Errno::EAGAIN) => ErrorKind::ConnectRefused,
        Some(Errno::ETIMEDOUT) => ErrorKind::ConnectTimeout,
        Some(Errno::EADDRNOTAVAIL) => ErrorKind::PortsExhausted,
        _ => ErrorKind::ConnectOther,
    }
}

/// Why a read or write on a connected socket failed, as an error kind.
pub(crate) fn io_error_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
        _ => ErrorKind::Io,
    }
}

/// Where stream connections go, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct StreamTarget {
    addr: SockAddr,
    tcp: bool,
    /// Spread the connections over loopback source addresses (`source.rs`).
    rotate_source: bool,
}

impl StreamTarget {
    pub fn tcp(addr: SocketAddr) -> Self {
        StreamTarget {
            addr: SockAddr::from(addr),
            tcp: true,
            rotate_source: super::source::rotates(addr),
        }
    }

    pub fn unix(path: &Path) -> io::Result<Self> {
        Ok(StreamTarget {
            addr: SockAddr::unix(path)?,
            tcp: false,
            rotate_source: false,
        })
    }
}

impl StreamTarget {
    /// A blocking connection (the few-connection fast path): connected within
    /// `timeout`, reads and writes returning `WouldBlock` after `slice` so the
    /// caller can look at its clock and stop flag.
    pub fn connect_blocking(
        &self,
        timeout: std::time::Duration,
        slice: std::time::Duration,
    ) -> io::Result<Socket> {
        let socket = if self.tcp {
            let domain = Domain::for_address(self.addr.as_socket().expect("tcp"));
            let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
            // Requests are written whole; never let Nagle hold a tail back.
            socket.set_tcp_nodelay(true)?;
            socket
        } else {
            Socket::new(Domain::UNIX, Type::STREAM, None)?
        };
        socket.connect_timeout(&self.addr, timeout)?;
        socket.set_read_timeout(Some(slice))?;
        socket.set_write_timeout(Some(slice))?;
        Ok(socket)
    }
}

/// Options applied to every new stream socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamOptions {
    /// Close with SO_LINGER 0 (RST, no TIME_WAIT here).
    pub linger_zero: bool,
}

/// A connected (or connecting) stream socket, TCP or Unix domain.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Starts a non-blocking connect; completion shows as a writable event.
    /// An `Err` here is a synchronous failure (e.g. EADDRNOTAVAIL, no socket file).
    pub fn connect(target: &StreamTarget, options: StreamOptions) -> io::Result<Stream> {
        let (domain, protocol) = if target.tcp {
            (
                Domain::for_address(target.addr.as_socket().expect("tcp")),
                Some(Protocol::TCP),
            )
        } else {
            (Domain::UNIX, None)
        };
        let socket = Socket::new(domain, Type::STREAM.nonblocking(), protocol)?;
        if target.tcp {
            // Requests are written whole; never let Nagle hold a tail back.
            socket.set_tcp_nodelay(true)?;
            if options.linger_zero {
                socket.set_linger(Some(std::time::Duration::ZERO))?;
            }
            if target.rotate_source {
                super::source::bind_next(&socket);
            }
        }
        match socket.connect(&target.addr) {
            Ok(()) => {}
            // The handshake goes on in the kernel; a writable event says how it ended.
            Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
            Err(e) => return Err(e),
        }
        let fd = OwnedFd::from(socket);
        Ok(if target.tcp {
            Stream::Tcp(TcpStream::from_std(std::net::TcpStream::from(fd)))
        } else {
            Stream::Unix(UnixStream::from_std(std::os::unix::net::UnixStream::from(
                fd,
            )))
        })
    }

    /// After a writable event on a connecting socket: `Ok(true)` when it is
    /// connected, `Ok(false)` when the event was early, `Err` when it failed.
    pub fn finish_connect(&self) -> io::Result<bool> {
        let pending = match self {
            Stream::Tcp(s) => s.take_error()?,
            Stream::Unix(s) => s.take_error()?,
        };
        if let Some(e) = pending {
            return Err(e);
        }
        let peer = match self {
            Stream::Tcp(s) => s.peer_addr().map(drop),
            Stream::Unix(s) => s.peer_addr().map(drop),
        };
        match peer {
            Ok(()) => Ok(true),
            // Not connected yet: the handshake is still going on.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    #[inline]
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    #[inline]
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

/// A non-blocking UDP socket connected to `target` (so ICMP errors come back to it).
pub(crate) fn udp_flow(target: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    Ok(socket)
}
