//! Echo correctness for every model over every transport it serves, with real
//! sockets and the model running as its own process (`sockbench serve`).
//!
//! Payloads run from 1 byte to 64 KiB, go out in odd-sized pieces (stream
//! boundaries are not message boundaries), and every byte that comes back is
//! compared. The concurrent models get 50 clients at once.

mod common;

use std::io::{self, Read, Write};
use std::net::UdpSocket;
use std::time::Duration;

use common::{concurrent_echo, echo_exchange, random_bytes, Conn, Served, SETTLE_TIMEOUT};
use servers::{Endpoint, ErrorCounts};

/// Clients served at once by the concurrent models.
const CLIENTS: usize = 50;

/// Runs [`CLIENTS`] echo clients at once and checks the server's tally.
fn echo_concurrently(model: &str, transport: &str, seed: u64) {
    let server = Served::start(model, transport, &[]);
    concurrent_echo(&server.endpoint, CLIENTS, seed);
    let summary = server.stop_clean();
    let at = format!("{model} over {transport}");
    assert_eq!(summary.connections, CLIENTS as u64, "{at}: {summary:?}");
    assert_eq!(summary.bytes_in, summary.bytes_out, "{at}: {summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{at}: {summary:?}");
}

/// 50 clients at once against every stream model over TCP and Unix sockets;
/// the iterative ones queue them in the backlog and serve them in turn.
#[test]
fn every_stream_model_echoes_50_clients_over_every_transport() {
    common::check_each(&common::stream_pairs(), |&(model, transport), seed| {
        echo_concurrently(model, transport, seed)
    });
}

/// The iterative server: clients one after another, then a few queued at once
/// (each waits its turn in the backlog, none is lost).
fn tcp_iterative_echoes(transport: &str, seed: u64) {
    let server = Served::start("tcp-iterative", transport, &[]);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sizes = vec![1, 2, 64 << 10];
    sizes.extend((0..12).map(|_| rng.usize(1..=64 << 10)));
    for (i, &len) in sizes.iter().enumerate() {
        let payload = random_bytes(&mut rng, len);
        if let Err(e) = echo_exchange(&server.endpoint, &payload, seed + i as u64) {
            panic!("sequential client {i} ({len} bytes): {e}");
        }
    }
    concurrent_echo(&server.endpoint, 8, seed);
    let summary = server.stop_clean();
    assert_eq!(summary.connections, sizes.len() as u64 + 8, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

#[test]
fn tcp_iterative_echoes_over_tcp() {
    tcp_iterative_echoes("tcp", 7);
}

#[test]
fn tcp_iterative_echoes_over_unix() {
    tcp_iterative_echoes("unix", 8);
}

/// Writes `msg` and reads exactly its echo.
fn echo_line(conn: &mut Conn, msg: &[u8]) -> io::Result<Vec<u8>> {
    conn.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    conn.read_exact(&mut got)?;
    Ok(got)
}

/// A second client connected while the first is served gets its answer only
/// after the first closes.
fn tcp_iterative_serves_one_client_at_a_time(transport: &str) {
    let server = Served::start("tcp-iterative", transport, &[]);
    let mut first = Conn::connect(&server.endpoint).expect("connect the first client");
    assert_eq!(echo_line(&mut first, b"first").unwrap(), b"first");

    // The second connection completes in the backlog, but nobody serves it yet.
    let mut second = Conn::connect(&server.endpoint).expect("connect the second client");
    second
        .write_all(b"second")
        .expect("the second client writes");
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    match second.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the second client was answered while the first was open: {other:?}"),
    }
    // The first is still being served.
    assert_eq!(echo_line(&mut first, b"again").unwrap(), b"again");

    drop(first);
    second.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    let mut got = [0u8; 6];
    second
        .read_exact(&mut got)
        .expect("the second client is served once the first closes");
    assert_eq!(&got, b"second");
    drop(second);

    let summary = server.stop_clean();
    assert_eq!(summary.connections, 2, "{summary:?}");
}

#[test]
fn tcp_iterative_serves_one_client_at_a_time_over_tcp() {
    tcp_iterative_serves_one_client_at_a_time("tcp");
}

#[test]
fn tcp_iterative_serves_one_client_at_a_time_over_unix() {
    tcp_iterative_serves_one_client_at_a_time("unix");
}

#[test]
fn udp_iterative_answers_every_datagram() {
    const DATAGRAMS: usize = 200;
    const LARGEST: usize = servers::wire::MAX_DATAGRAM;
    let server = Served::start("udp-iterative", "udp", &[]);
    let Endpoint::Inet(addr) = server.endpoint else {
        panic!("udp-iterative announced {:?}", server.endpoint)
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the client socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut buf = vec![0u8; LARGEST + 1];
    let mut total = 0u64;
    for i in 0..DATAGRAMS {
        let len = match i {
            0 => 1,
            1 => LARGEST,
            _ => rng.usize(1..=LARGEST),
        };
        let payload = random_bytes(&mut rng, len);
        socket.send_to(&payload, addr).expect("send a datagram");
        let (n, from) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("datagram {i} ({len} bytes) was not answered: {e}"));
        assert_eq!(from, addr, "answer from the server's address");
        if let Some(d) = common::difference(&payload, &buf[..n]) {
            panic!("datagram {i}: {d}");
        }
        total += len as u64;
    }
    let summary = server.stop_clean();
    assert_eq!(summary.requests, DATAGRAMS as u64, "{summary:?}");
    assert_eq!(
        (summary.bytes_in, summary.bytes_out),
        (total, total),
        "{summary:?}"
    );
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

/// `--stop-after 2`: both clients are served in full, then the server exits by itself.
fn stops_after_serving(model: &str, transport: &str) {
    let server = Served::start(model, transport, &["--stop-after", "2"]);
    let mut rng = fastrand::Rng::with_seed(10);
    for i in 0..2 {
        let payload = random_bytes(&mut rng, 64 << 10);
        if let Err(e) = echo_exchange(&server.endpoint, &payload, i) {
            panic!("{model} over {transport}: client {i} of 2: {e}");
        }
    }
    let mut process = server.process;
    common::wait_for(
        &format!("{model} to exit after its two connections"),
        SETTLE_TIMEOUT,
        || !process.is_running(),
    );
    let stopped = process.stop(common::STOP_GRACE).unwrap();
    assert!(stopped.status.success(), "{model}: {}", stopped.stderr);
    let summary = stopped.summary.expect("a summary line");
    assert_eq!(summary.connections, 2, "{model}: {summary:?}");
    assert_eq!(
        summary.errors,
        ErrorCounts::default(),
        "{model}: {summary:?}"
    );
}

#[test]
fn every_stream_model_stops_after_serving_its_quota() {
    common::check_each(&common::stream_pairs(), |&(model, transport), _| {
        stops_after_serving(model, transport)
    });
}

/// A client may write a whole batch, half-close, and only then read: the event
/// loop buffers the output (up to its 4 MiB back-pressure limit) and must send
/// all of it before closing, even though the client's side is already closed.
fn finishes_output_to_a_half_closed_client(model: &str, transport: &str) {
    const LEN: usize = 3 << 20;
    let server = Served::start(model, transport, &[]);
    let payload = random_bytes(&mut fastrand::Rng::with_seed(11), LEN);
    let mut conn = Conn::connect(&server.endpoint).unwrap();
    // The server reads everything while the client reads nothing yet.
    conn.write_all(&payload)
        .and_then(|()| conn.shutdown_write())
        .expect("the event loop reads a 3 MiB batch while its reply is unread");
    let got = conn.read_until_closed().expect("read the echo");
    if let Some(d) = common::difference(&payload, &got) {
        panic!("{model} over {transport}: {d}");
    }
    let summary = server.stop_clean();
    assert_eq!(summary.bytes_out, LEN as u64, "{model}: {summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

/// Only the event loops buffer output in user space; a blocking model writes
/// as it reads, so a client that reads nothing stalls it by design.
#[test]
fn event_loops_finish_output_to_a_half_closed_client() {
    let pairs: Vec<_> = common::stream_pairs()
        .into_iter()
        .filter(|(m, _)| ["mio", "select", "poll"].contains(m))
        .collect();
    assert_eq!(pairs.len(), 6, "{pairs:?}");
    common::check_each(&pairs, |&(model, transport), _| {
        finishes_output_to_a_half_closed_client(model, transport)
    });
}

/// Clients that send their requests and half-close at once, then read: the
/// requests and the close reach the server together. An event loop that
/// stops reading after a short read must still see that close, answer
/// everything and close the connection itself (not at the idle timeout: the
/// client's read would time out first, and the tally would count it).
fn answers_clients_that_half_close_with_their_requests(model: &str, transport: &str, seed: u64) {
    const CLIENTS: usize = 24;
    let server = Served::start(model, transport, &[]);
    let mut rng = fastrand::Rng::with_seed(seed);
    let payloads: Vec<Vec<u8>> = (0..CLIENTS)
        .map(|i| {
            let len = match i {
                // One request of one byte, and more than one read's worth
                // (a full read, then a short one with the close behind it).
                0 => 1,
                1 => 80 << 10,
                // Several 64-byte requests pipelined in one write.
                _ => 64 * rng.usize(1..=16),
            };
            random_bytes(&mut rng, len)
        })
        .collect();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = payloads
            .iter()
            .map(|payload| {
                let endpoint = &server.endpoint;
                scope.spawn(move || -> io::Result<Vec<u8>> {
                    let mut conn = Conn::connect(endpoint)?;
                    conn.write_all(payload)?;
                    conn.shutdown_write()?;
                    conn.read_until_closed()
                })
            })
            .collect();
        clients
            .into_iter()
            .zip(&payloads)
            .enumerate()
            .filter_map(|(i, (client, payload))| {
                match client.join().expect("client thread") {
                    Ok(got) => common::difference(payload, &got),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(format!(
                        "neither answered in full nor closed within {:?}",
                        common::IO_TIMEOUT
                    )),
                    Err(e) => Some(e.to_string()),
                }
                .map(|e| format!("client {i} ({} bytes): {e}", payload.len()))
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{model} over {transport}:\n{}",
        failures.join("\n")
    );
    let summary = server.stop_clean();
    let total: usize = payloads.iter().map(Vec::len).sum();
    let at = format!("{model} over {transport}");
    assert_eq!(summary.connections, CLIENTS as u64, "{at}: {summary:?}");
    assert_eq!(summary.bytes_out, total as u64, "{at}: {summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{at}: {summary:?}");
}

#[test]
fn every_stream_model_answers_clients_that_half_close_with_their_requests() {
    common::check_each(&common::stream_pairs(), |&(model, transport), seed| {
        answers_clients_that_half_close_with_their_requests(model, transport, seed)
    });
}
