//! `transports`: TCP vs UDP vs Unix-domain request/response, side by side,
//! 64-byte echo on a persistent connection (or one connected UDP socket).
//!
//! TCP and Unix run against the same design, `mio`; UDP needs a connectionless
//! model, so it runs against `udp-iterative` (also one thread, one loop).

use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion};

use crate::support::{self, Server, UdpClient};

fn transports(c: &mut Criterion) {
    let mut group = c.benchmark_group("transports");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);

    let mut server = Server::loopback("mio");
    let mut conn = None;
    group.bench_function(BenchmarkId::new("rr", "tcp"), |b| {
        let addr = server.addr();
        let conn = conn.get_or_insert_with(|| support::tcp_connect(addr));
        b.iter_custom(|iters| {
            support::time_iters(iters, || support::stream_round_trip(conn, "tcp rr"))
        });
    });
    drop(conn);
    server.stop();

    let mut server = Server::loopback("udp-iterative");
    let mut client = None;
    group.bench_function(BenchmarkId::new("rr", "udp"), |b| {
        let addr = server.addr();
        let client = client.get_or_insert_with(|| UdpClient::connect(addr));
        b.iter_custom(|iters| support::time_iters(iters, || client.round_trip()));
    });
    if let Some(client) = client.filter(|c| c.resent > 0) {
        eprintln!(
            "note: transports/rr/udp resent {} lost datagrams",
            client.resent
        );
    }
    server.stop();

    let dir = tempfile::tempdir().expect("creating a temporary directory failed");
    let mut server = Server::unix("mio", dir.path().join("mio.sock"));
    let mut conn = None;
    group.bench_function(BenchmarkId::new("rr", "unix"), |b| {
        let path = server.path();
        let conn = conn.get_or_insert_with(|| {
            std::os::unix::net::UnixStream::connect(&path).unwrap_or_else(|e| {
                panic!("connecting to the server at {} failed: {e}", path.display())
            })
        });
        b.iter_custom(|iters| {
            support::time_iters(iters, || support::stream_round_trip(conn, "unix rr"))
        });
    });
    drop(conn);
    server.stop();

    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = transports
}
