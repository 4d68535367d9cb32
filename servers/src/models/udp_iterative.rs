//! `udp-iterative` — Comer & Stevens' *iterative, connectionless* server.
//!
//! One process, one socket, one loop: `recv_from` a request, serve it,
//! `send_to` the answer. No connection to set up or tear down and no per-client
//! state, so each request costs two system calls; but requests are served one
//! at a time, and when they arrive faster than that the kernel's receive buffer
//! fills and datagrams are dropped without anyone being told.

use std::io;

use crate::context::{Context, ServeError, Server};
use crate::net::Listener;
use crate::service::answer_datagram;
use crate::stats::{ConnStats, Fault};
use crate::wire::MAX_DATAGRAM;

/// `recv_from` → serve → `send_to`, forever.
pub struct UdpIterativeServer;

impl Server for UdpIterativeServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        let Listener::Udp(socket) = &listener else {
            return Err(ServeError::Setup {
                what: "serve datagrams",
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "udp-iterative needs a UDP socket",
                ),
            });
        };
        crate::accept::blocking_listener(&listener)?;
        let config = ctx.config;
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let mut out = Vec::with_capacity(MAX_DATAGRAM);
        let mut stats = ConnStats::default();
        while !ctx.stop.is_set() {
            let (n, peer) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                // The tick expired: look at the stop flag.
                Err(e) if crate::net::timed_out(&e) => continue,
                // A signal handler ran; the loop condition checks for a stop.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    ctx.counters.fault(Fault::Io);
                    continue;
                }
            };
            stats.bytes_in += n as u64;
            out.clear();
            match answer_datagram(config.service, &config.limits.frame, &buf[..n], &mut out) {
                Ok(()) => stats.requests += 1,
                Err(e) => ctx.counters.fault(e.fault()),
            }
            if out.is_empty() {
                continue;
            }
            match socket.send_to(&out, peer) {
                Ok(sent) => stats.bytes_out += sent as u64,
                // A full send buffer or a vanished peer: the datagram is lost, as UDP allows.
                Err(_) => ctx.counters.fault(Fault::Io),
            }
        }
        ctx.counters.add(&stats);
        Ok(())
    }
}
