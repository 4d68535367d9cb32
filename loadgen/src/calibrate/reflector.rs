//! The trivial reflector the calibration measures against: a blocking echo
//! server on 127.0.0.1:0, one thread per connection, `read` then `write_all`.
//!
//! Blocking rather than busy-polling: a busy-poll reflector would spin a whole
//! core, and on the small machines this suite runs on that core is one the
//! load generator needs, so the floor would measure the contention, not the
//! generator. A blocking reflector pays one wake-up per request, the same as
//! every blocking model the suite measures, and costs nothing while idle. It
//! can be pinned to the servers' CPUs, so the generator keeps its own.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Each connection thread's stack: the loop needs one small buffer.
const STACK: usize = 128 << 10;
const BUF: usize = 16 << 10;

/// What [`Reflector`] says about itself in a calibration.
pub const DESCRIPTION: &str =
    "blocking TCP echo on 127.0.0.1, one thread per connection (read, write_all), TCP_NODELAY";

/// Each connection's socket (to shut it down at the end) and thread.
type Connections = Arc<Mutex<Vec<(TcpStream, JoinHandle<()>)>>>;

/// A running reflector; dropping it stops it and joins every thread.
pub struct Reflector {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    conns: Connections,
}

impl Reflector {
    /// Listens on 127.0.0.1:0; its threads run on `cpus` when given.
    pub fn start(cpus: Option<&[usize]>) -> io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Connections = Arc::default();
        let (ready_tx, ready_rx) = mpsc::channel();
        let cpus = cpus.map(<[usize]>::to_vec);
        let (s, c) = (Arc::clone(&stop), Arc::clone(&conns));
        let accept = std::thread::Builder::new()
            .name("reflector".into())
            .spawn(move || {
                // Threads inherit the mask of the thread that creates them.
                let pinned = cpus.as_deref().map_or(Ok(()), pin_this_thread);
                let failed = pinned.is_err();
                let _ = ready_tx.send(pinned);
                if !failed {
                    accept_loop(&listener, &s, &c);
                }
            })?;
        let mut reflector = Reflector {
            addr,
            stop,
            accept: Some(accept),
            conns,
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(reflector),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                reflector.accept.take().map(JoinHandle::join);
                Err(io::Error::other(
                    "the reflector's thread ended before it listened",
                ))
            }
        }
    }
}

fn pin_this_thread(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(io::Error::from)?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(io::Error::from)
}

fn accept_loop(
    listener: &TcpListener,
    stop: &AtomicBool,
    conns: &Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // A failed accept (a connection reset in the backlog) concerns that
        // connection only: the client counts it; go on.
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let spawned = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || reflect(stream));
        if let Ok(thread) = spawned {
            conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((handle, thread));
        }
    }
}

/// Echoes until the client closes (or the reflector shuts the socket down).
fn reflect(mut stream: TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        match stream.read(&mut buf) {
            // The client closed: this connection is over.
            Ok(0) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            // A signal arrived mid-call: read again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap_or_else(|e| e.into_inner()));
        for (stream, thread) in conns {
            // Unblocks a reader whose client is still connected.
            let _ = stream.shutdown(Shutdown::Both);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_echoes_and_stops_with_a_client_still_connected() {
        let r = Reflector::start(None).unwrap();
        let mut c = TcpStream::connect(r.addr).unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
        drop(r);
        // The reflector shut the connection down on its way out.
        assert_eq!(c.read(&mut back).unwrap(), 0);
    }
}
