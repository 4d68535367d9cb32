//! The socket lab's two programs, kept to the handout's behaviour: `server`
//! (fork per connection, or `--once`, `--udp`, `--unix`) and `client`.
//! The `server` and `client` binaries only parse arguments and call these.

use std::io::{self, BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use servers::{
    Endpoint, Model, ReapPolicy, ServeError, ServerConfig, ServiceKind, StopSignal, Transport,
};

/// The lab buffer: the client reads and sends at most this many bytes.
const LAB_BUFFER: usize = servers::service::LAB_MESSAGE_MAX;
/// How long the datagram client waits for its answer.
const UDP_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Which of the lab's servers to run.
#[derive(Debug, Clone)]
pub struct LabServer {
    /// Port (TCP/UDP) — `None` with a Unix path.
    pub port: Option<u16>,
    /// Address to bind; `None` is every address, IPv4 and IPv6, as the
    /// handout's INADDR_ANY (so a client on another host reaches it).
    pub bind: Option<IpAddr>,
    pub unix: Option<PathBuf>,
    pub udp: bool,
    /// Serve one connection, then exit (the lab's first sample server).
    pub once: bool,
    pub reap: ReapPolicy,
    pub backlog: i32,
}

/// Why a lab program failed; the text is what the lab prints.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("ERROR, no port provided")]
    NoPort,
    #[error("ERROR, no such host")]
    NoSuchHost,
    #[error("ERROR connecting: {0}")]
    Connect(io::Error),
    #[error("ERROR writing to socket: {0}")]
    Write(io::Error),
    #[error("ERROR reading from socket: {0}")]
    Read(io::Error),
    #[error("ERROR, no message entered")]
    NoMessage,
    #[error("ERROR, no answer within {0:?}: datagrams can be lost; try again")]
    NoReply(Duration),
    #[error("ERROR, {0}")]
    Serve(#[from] ServeError),
    #[error("ERROR, {0}")]
    Setup(io::Error),
}

/// Every address of this host: `[::]`, which on Linux takes IPv4 too
/// (`servers::net` turns IPV6_V6ONLY off for it), or `0.0.0.0` — the
/// handout's INADDR_ANY — where the kernel has no IPv6.
fn any_address() -> IpAddr {
    match UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)) {
        Ok(_) => Ipv6Addr::UNSPECIFIED.into(),
        Err(_) => Ipv4Addr::UNSPECIFIED.into(),
    }
}

impl LabServer {
    fn to_config(&self) -> Result<ServerConfig, LabError> {
        let bind = self.bind.unwrap_or_else(any_address);
        let (model, transport, endpoint) = match (&self.unix, self.port) {
            (Some(path), _) => (
                if self.once {
                    Model::TcpIterative
                } else {
                    Model::Fork
                },
                Transport::Unix,
                Endpoint::Unix(path.clone()),
            ),
            (None, None) => return Err(LabError::NoPort),
            (None, Some(port)) if self.udp => (
                Model::UdpIterative,
                Transport::Udp,
                Endpoint::Inet(SocketAddr::new(bind, port)),
            ),
            (None, Some(port)) => (
                if self.once {
                    Model::TcpIterative
                } else {
                    Model::Fork
                },
                Transport::Tcp,
                Endpoint::Inet(SocketAddr::new(bind, port)),
            ),
        };
        let mut config = ServerConfig::new(model);
        config.transport = transport;
        config.endpoint = endpoint;
        config.service = ServiceKind::Lab;
        config.reap = self.reap;
        config.backlog = self.backlog;
        config.stop_after = self.once.then_some(1);
        Ok(config)
    }

    /// Serves until Ctrl-C (or one connection with `once`). Says where it
    /// listens on stderr, so stdout carries only the lab's own lines.
    pub fn run(&self) -> Result<(), LabError> {
        let config = self.to_config()?;
        let stop = StopSignal::install().map_err(LabError::Setup)?;
        let summary = servers::serve(&config, stop, |ready| {
            let at = ready.endpoint().map_or_else(String::new, |e| e.to_string());
            let how = if self.once {
                "one connection"
            } else {
                "Ctrl-C to stop"
            };
            eprintln!("server: {} listening on {at} ({how})", config.transport);
        })?;
        eprintln!(
            "server: stopped after {} connections, {} messages",
            summary.connections, summary.requests
        );
        Ok(())
    }
}

/// Where the lab client connects.
#[derive(Debug, Clone)]
pub enum LabTarget {
    Tcp { host: String, port: u16 },
    Udp { host: String, port: u16 },
    Unix(PathBuf),
}

/// Looks `host` up (a name, an IPv4 or an IPv6 address): its addresses,
/// IPv4 first (as the handout's `gethostbyname()` would find), then IPv6.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, LabError> {
    let mut addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| LabError::NoSuchHost)?
        .collect();
    // Stable: within a family, the resolver's order stands.
    addrs.sort_by_key(|a| a.is_ipv6());
    if addrs.is_empty() {
        return Err(LabError::NoSuchHost);
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that accepts (a name may list an
/// address the server does not listen on, say IPv4 for a server bound to
/// `::1`); the last refusal if none does.
fn connect_first(addrs: &[SocketAddr]) -> Result<TcpStream, LabError> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(LabError::Connect(last))
}

/// Prompts on `output`, reads one line from `input`, sends it, and prints the reply.
pub fn run_client(
    target: &LabTarget,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), LabError> {
    // Resolve and connect before prompting, as the lab's client does.
    enum Conn {
        Stream(Box<dyn ReadWrite>),
        Datagram(UdpSocket, SocketAddr),
    }
    let conn = match target {
        LabTarget::Tcp { host, port } => {
            let stream = connect_first(&resolve(host, *port)?)?;
            Conn::Stream(Box::new(stream))
        }
        LabTarget::Unix(path) => Conn::Stream(Box::new(
            UnixStream::connect(path).map_err(LabError::Connect)?,
        )),
        LabTarget::Udp { host, port } => {
            // A datagram cannot tell whether anyone listens: the first address.
            let addr = resolve(host, *port)?[0];
            let local: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = UdpSocket::bind(local).map_err(LabError::Connect)?;
            socket
                .set_read_timeout(Some(UDP_REPLY_TIMEOUT))
                .map_err(LabError::Connect)?;
            Conn::Datagram(socket, addr)
        }
    };

    write!(output, "Please enter the message: ").map_err(LabError::Write)?;
    output.flush().map_err(LabError::Write)?;
    let mut line = Vec::new();
    input
        .take(LAB_BUFFER as u64)
        .read_until(b'\n', &mut line)
        .map_err(LabError::Read)?;
    if line.is_empty() {
        return Err(LabError::NoMessage);
    }

    let mut reply = [0u8; LAB_BUFFER];
    let n = match conn {
        Conn::Stream(mut s) => {
            s.write_all(&line).map_err(LabError::Write)?;
            s.read(&mut reply).map_err(LabError::Read)?
        }
        Conn::Datagram(socket, addr) => {
            socket.send_to(&line, addr).map_err(LabError::Write)?;
            match socket.recv_from(&mut reply) {
                Ok((n, _)) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(LabError::NoReply(UDP_REPLY_TIMEOUT))
                }
                Err(e) => return Err(LabError::Read(e)),
            }
        }
    };
    let text = String::from_utf8_lossy(&reply[..n]);
    writeln!(output, "{}", text.trim_end_matches('\n')).map_err(LabError::Write)?;
    Ok(())
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn names_resolve_ipv4_first_then_ipv6() {
        let addrs = resolve("::1", 7).unwrap();
        assert_eq!(addrs, vec![SocketAddr::from((Ipv6Addr::LOCALHOST, 7))]);
        let addrs = resolve("127.0.0.1", 7).unwrap();
        assert_eq!(addrs, vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 7))]);
        assert!(matches!(
            resolve("nosuchhost.invalid", 7),
            Err(LabError::NoSuchHost)
        ));
    }

    /// A name that lists an address nobody listens on, then one a server
    /// does: the client goes on to the second, as a student's client must
    /// when `localhost` is both 127.0.0.1 and ::1.
    #[test]
    fn the_client_tries_each_address_in_turn() {
        let (_held, held) = socket_bound_not_listening();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addrs = [held, listener.local_addr().unwrap()];
        let stream = connect_first(&addrs).expect("the second address accepts");
        assert_eq!(stream.peer_addr().unwrap(), addrs[1]);
        let err = connect_first(&addrs[..1]).unwrap_err();
        assert!(
            matches!(err, LabError::Connect(ref e) if e.kind() == io::ErrorKind::ConnectionRefused),
            "{err}"
        );
    }

    /// A TCP socket bound to a loopback port but not listening: connecting
    /// to it is refused, and the port stays taken while it lives.
    fn socket_bound_not_listening() -> (socket2::Socket, SocketAddr) {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        (socket, addr)
    }
}
