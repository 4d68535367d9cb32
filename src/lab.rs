//! The socket lab's two programs, kept to the handout's behaviour: `server`
//! (fork per connection, or `--once`, `--udp`, `--unix`) and `client`.
//! The `server` and `client` binaries only parse arguments and call these.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
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
    /// Address to bind; the lab's INADDR_ANY is `0.0.0.0`.
    pub bind: std::net::IpAddr,
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

impl LabServer {
    fn to_config(&self) -> Result<ServerConfig, LabError> {
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
                Endpoint::Inet(SocketAddr::new(self.bind, port)),
            ),
            (None, Some(port)) => (
                if self.once {
                    Model::TcpIterative
                } else {
                    Model::Fork
                },
                Transport::Tcp,
                Endpoint::Inet(SocketAddr::new(self.bind, port)),
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

/// Looks `host` up as the lab's `gethostbyname()` does: its IPv4 address if it
/// has one (the lab servers bind IPv4; `localhost` usually lists `::1` first),
/// else the first address.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, LabError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| LabError::NoSuchHost)?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or(LabError::NoSuchHost)
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
            let addr = resolve(host, *port)?;
            let stream = TcpStream::connect(addr).map_err(LabError::Connect)?;
            Conn::Stream(Box::new(stream))
        }
        LabTarget::Unix(path) => Conn::Stream(Box::new(
            UnixStream::connect(path).map_err(LabError::Connect)?,
        )),
        LabTarget::Udp { host, port } => {
            let addr = resolve(host, *port)?;
            let local: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
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
