//! Binding, shared by every model: the listening socket (with an
//! exact `listen()` backlog, set through socket2), the Unix socket file's life
//! cycle, and one [`Stream`] type over TCP and Unix-domain connections.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};

use crate::config::{Endpoint, Transport};

/// Why a server could not start listening. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another process is listening on that address.
    #[error("failed to bind {addr}: address in use; stop the other server or choose another port")]
    AddrInUse { addr: SocketAddr },
    /// Ports below 1024 need privileges.
    #[error("failed to bind {addr}: permission denied; choose a port above 1023")]
    PermissionDenied { addr: SocketAddr },
    /// A live server answers on that socket file.
    #[error("failed to bind {path}: a server is already listening there; stop it or choose another path")]
    SocketInUse { path: PathBuf },
    /// The path exists and is not a socket; we will not delete someone's file.
    #[error("failed to bind {path}: the path exists and is not a socket; remove it or choose another path")]
    NotASocket { path: PathBuf },
    /// The transport does not go with the endpoint (say, UDP on a Unix path).
    #[error("transport {transport} cannot listen on {endpoint}")]
    Mismatch {
        transport: Transport,
        endpoint: String,
    },
    /// Any other failure of socket(), bind() or listen().
    #[error("failed to {what} {target}: {source}")]
    Io {
        what: &'static str,
        target: String,
        source: io::Error,
    },
}

/// A bound socket, ready for a model to serve.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
    Udp(UdpSocket),
}

/// Removes the Unix socket file when the server (not a forked child: children
/// leave with `_exit` and run no destructors) is done with it.
#[derive(Debug)]
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds `endpoint` for `transport`; returns the socket, the real endpoint
/// (port 0 resolved), and for Unix sockets the guard that removes the file.
pub fn bind(
    transport: Transport,
    endpoint: &Endpoint,
    backlog: i32,
) -> Result<(Listener, Endpoint, Option<SocketFile>), BindError> {
    bind_with(transport, endpoint, backlog, PortSharing::Exclusive)
}

/// Whether other sockets may listen on the same TCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSharing {
    /// The usual: one listener per port.
    Exclusive,
    /// `SO_REUSEPORT`: more listeners of this user may bind the same port
    /// (see [`listen_reuseport`]), and the kernel spreads connections over them.
    ReusePort,
}

/// [`bind`], with `SO_REUSEPORT` set on a TCP listener when `sharing` asks.
pub fn bind_with(
    transport: Transport,
    endpoint: &Endpoint,
    backlog: i32,
    sharing: PortSharing,
) -> Result<(Listener, Endpoint, Option<SocketFile>), BindError> {
    match (transport, endpoint) {
        (Transport::Tcp, Endpoint::Inet(addr)) => {
            let listener = bind_inet(*addr, Type::STREAM, Some(backlog), sharing)?;
            let listener: TcpListener = listener.into();
            let real = local_inet(listener.local_addr(), addr)?;
            Ok((Listener::Tcp(listener), Endpoint::Inet(real), None))
        }
        (Transport::Udp, Endpoint::Inet(addr)) => {
            let socket: UdpSocket =
                bind_inet(*addr, Type::DGRAM, None, PortSharing::Exclusive)?.into();
            let real = local_inet(socket.local_addr(), addr)?;
            Ok((Listener::Udp(socket), Endpoint::Inet(real), None))
        }
        (Transport::Unix, Endpoint::Unix(path)) => {
            let listener = bind_unix(path, backlog)?;
            Ok((
                Listener::Unix(listener),
                endpoint.clone(),
                Some(SocketFile(path.clone())),
            ))
        }
        _ => Err(BindError::Mismatch {
            transport,
            endpoint: endpoint.to_string(),
        }),
    }
}

fn io_err(what: &'static str, target: impl ToString) -> impl FnOnce(io::Error) -> BindError {
    let target = target.to_string();
    move |source| BindError::Io {
        what,
        target,
        source,
    }
}

fn local_inet(result: io::Result<SocketAddr>, asked: &SocketAddr) -> Result<SocketAddr, BindError> {
    result.map_err(io_err("read the address of", asked))
}

/// One more TCP listener on `addr` (a real port, not 0), beside one bound
/// with [`PortSharing::ReusePort`].
pub fn listen_reuseport(addr: SocketAddr, backlog: i32) -> Result<TcpListener, BindError> {
    Ok(bind_inet(addr, Type::STREAM, Some(backlog), PortSharing::ReusePort)?.into())
}

fn bind_inet(
    addr: SocketAddr,
    ty: Type,
    backlog: Option<i32>,
    sharing: PortSharing,
) -> Result<Socket, BindError> {
    let socket = Socket::new(Domain::for_address(addr), ty, None)
        .map_err(io_err("create a socket for", addr))?;
    if sharing == PortSharing::ReusePort {
        socket
            .set_reuse_port(true)
            .map_err(io_err("set SO_REUSEPORT on", addr))?;
    }
    if let SocketAddr::V6(v6) = addr {
        if v6.ip().is_unspecified() {
            // `[::]` means every address, IPv4 too (as INADDR_ANY plus IPv6),
            // whatever the net.ipv6.bindv6only sysctl says.
            socket
                .set_only_v6(false)
                .map_err(io_err("clear IPV6_V6ONLY on", addr))?;
        }
    }
    if backlog.is_some() {
        // Lets a restarted server bind while old connections sit in TIME_WAIT;
        // Linux still refuses it while another socket listens on the port.
        socket
            .set_reuse_address(true)
            .map_err(io_err("set SO_REUSEADDR on", addr))?;
    }
    socket
        .bind(&addr.into())
        .map_err(|source| match source.kind() {
            io::ErrorKind::AddrInUse => BindError::AddrInUse { addr },
            io::ErrorKind::PermissionDenied => BindError::PermissionDenied { addr },
            _ => BindError::Io {
                what: "bind",
                target: addr.to_string(),
                source,
            },
        })?;
    if let Some(backlog) = backlog {
        socket.listen(backlog).map_err(io_err("listen on", addr))?;
    }
    Ok(socket)
}

fn bind_unix(path: &Path, backlog: i32) -> Result<UnixListener, BindError> {
    let shown = path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // A socket file: live if someone accepts on it, stale otherwise.
            match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(BindError::SocketInUse {
                        path: path.to_path_buf(),
                    })
                }
                // Nobody accepts there: a server died without removing it.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(io_err("remove the stale socket", &shown))?
                }
                // Anything else (permissions, say) is no proof that it is stale.
                Err(e) => return Err(io_err("check whether a server listens on", &shown)(e)),
            }
        }
        Ok(_) => {
            return Err(BindError::NotASocket {
                path: path.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspect", &shown)(e)),
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(io_err("create a socket for", &shown))?;
    let addr = socket2::SockAddr::unix(path).map_err(io_err("make an address of", &shown))?;
    socket.bind(&addr).map_err(io_err("bind", &shown))?;
    socket
        .listen(backlog)
        .map_err(io_err("listen on", &shown))?;
    Ok(socket.into())
}

/// Whether a blocking call gave up because its socket timeout expired
/// (Linux says EAGAIN, which std calls `WouldBlock`; others say `TimedOut`).
pub(crate) fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One accepted connection, TCP or Unix domain (accepted in `accept`).
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Listener {
    /// Makes blocking `accept()` (and `recv_from`) return `WouldBlock` after
    /// `tick`, so the caller can look at its stop flag.
    pub fn set_tick(&self, tick: Duration) -> io::Result<()> {
        SockRef::from(self).set_read_timeout(Some(tick))
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
            Listener::Udp(s) => s.as_fd(),
        }
    }
}

impl Stream {
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        SockRef::from(self).set_read_timeout(t)
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        SockRef::from(self).set_write_timeout(t)
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
