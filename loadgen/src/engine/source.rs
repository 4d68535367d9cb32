//! Source addresses for connections to a server on IPv4 loopback, so the
//! load generator's own closed connections never limit how fast it can open
//! new ones.
//!
//! The side that closes first keeps the connection in TIME_WAIT for 60 s,
//! and in connection-per-request modes that is the load generator. A
//! TIME_WAIT port can be reused for the same (source, destination) pair only
//! after `net.ipv4.tcp_tw_reuse_delay` (1 s), and Linux looks for a free
//! port among the even half of the ephemeral range first: above about
//! 14,000 connections a second to one server address, every connect() scans
//! the whole half before it finds one (milliseconds of system time each),
//! and the generator, not the server, sets the rate. Whether it does also
//! depended on what ran in the minute before: once the kernel's TIME_WAIT
//! table is full (`tcp_max_tw_buckets`), closed connections skip TIME_WAIT
//! and the wall disappears. Spreading the connections over [`SOURCES`]
//! loopback source addresses (the whole of 127.0.0.0/8 is local) gives each
//! address its own port range, with the port still chosen at connect()
//! (`IP_BIND_ADDRESS_NO_PORT`), so the wall lies far past any rate here.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::socket::{setsockopt, sockopt::IpBindAddressNoPort};
use socket2::Socket;

/// Loopback source addresses the connections rotate over: 127.0.0.1 and
/// the next ones up.
pub(crate) const SOURCES: u32 = 64;

/// The next source address of the whole process (threads share the count).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether connections to `target` rotate their source address: IPv4
/// loopback only (a remote target's source is the route's).
pub(crate) fn rotates(target: SocketAddr) -> bool {
    matches!(target, SocketAddr::V4(v4) if v4.ip().is_loopback())
}

/// The `n`-th source address of the rotation.
fn source(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 1)) + n % SOURCES)
}

/// Binds `socket` (not yet connected) to the next loopback source address,
/// leaving the port to connect(). Best effort: a kernel without
/// `IP_BIND_ADDRESS_NO_PORT` or an address it refuses leaves the socket as
/// it was, and the connect picks its source as before.
pub(crate) fn bind_next(socket: &Socket) {
    bind_to(socket, source(NEXT.fetch_add(1, Ordering::Relaxed)));
}

fn bind_to(socket: &Socket, addr: Ipv4Addr) {
    if setsockopt(socket, IpBindAddressNoPort, &true).is_ok() {
        // Best effort: an unbound socket still connects from 127.0.0.1.
        let _ = socket.bind(&SocketAddr::V4(SocketAddrV4::new(addr, 0)).into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rotation_stays_in_loopback_and_wraps() {
        assert_eq!(source(0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source(SOURCES - 1), Ipv4Addr::new(127, 0, 0, 64));
        assert_eq!(source(SOURCES), source(0));
        assert!((0..SOURCES).all(|n| source(n).is_loopback()));
    }

    #[test]
    fn only_ipv4_loopback_targets_rotate() {
        assert!(rotates("127.0.0.1:7".parse().unwrap()));
        assert!(!rotates("[::1]:7".parse().unwrap()));
        assert!(!rotates("10.0.0.2:7".parse().unwrap()));
    }

    #[test]
    fn a_connection_leaves_from_its_source_and_gets_its_port_at_connect() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap();
        for n in [0, 5, SOURCES - 1] {
            let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            bind_to(&socket, source(n));
            // IP_BIND_ADDRESS_NO_PORT: bound to the address, the port still 0.
            let bound = socket.local_addr().unwrap().as_socket().unwrap();
            assert_eq!((bound.ip(), bound.port()), (source(n).into(), 0));
            socket.connect(&target.into()).unwrap();
            let (_accepted, peer) = listener.accept().unwrap();
            assert_eq!(peer.ip(), std::net::IpAddr::from(source(n)));
            assert_ne!(peer.port(), 0);
        }
    }
}
