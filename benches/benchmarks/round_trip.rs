//! `round_trip`: the core models' request/response cost, the server a
//! separate process on 127.0.0.1 (`sockbench run` measures every model).
//!
//! - `rr/<model>`: one persistent connection, 64 bytes out, 64 bytes back
//!   (netperf TCP_RR; UDP RR for `udp-iterative`).
//! - `crr/<model>`: connect, 64 bytes out, 64 back, close (netperf TCP_CRR),
//!   which adds the connection's setup and teardown — and for `fork` a process.

use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion};

use crate::support::{self, Server, UdpClient};

/// The core connection-oriented models and the deployed designs beside them
/// (`io-uring` only where the kernel lets it run); select, poll, prefork and
/// thread-per-conn are measured by `sockbench run` (claims 1 and C10K).
const TCP_MODELS: [&str; 9] = [
    "tcp-iterative",
    "fork",
    "thread-pool",
    "mio",
    "reuseport",
    "reactor-pool",
    "io-uring",
    "tokio",
    "tokio-multi",
];

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);

    for model in TCP_MODELS {
        if model == "io-uring" && !servers::io_uring_available() {
            eprintln!("note: round_trip skips io-uring: io_uring is not available here");
            continue;
        }
        let mut server = Server::loopback(model);

        let mut conn = None;
        group.bench_function(BenchmarkId::new("rr", model), |b| {
            let addr = server.addr();
            let conn = conn.get_or_insert_with(|| support::tcp_connect(addr));
            b.iter_custom(|iters| {
                support::time_iters(iters, || support::stream_round_trip(conn, "tcp rr"))
            });
        });
        // Close it before CRR: tcp-iterative serves one connection at a time.
        drop(conn);

        group.bench_function(BenchmarkId::new("crr", model), |b| {
            let addr = server.addr();
            b.iter_custom(|iters| support::time_iters(iters, || support::tcp_crr(addr)));
        });

        server.stop();
    }

    let model = "udp-iterative";
    let mut server = Server::loopback(model);
    let mut client = None;
    group.bench_function(BenchmarkId::new("rr", model), |b| {
        let addr = server.addr();
        let client = client.get_or_insert_with(|| UdpClient::connect(addr));
        b.iter_custom(|iters| support::time_iters(iters, || client.round_trip()));
    });
    if let Some(client) = client.filter(|c| c.resent > 0) {
        eprintln!(
            "note: round_trip/rr/{model} resent {} lost datagrams",
            client.resent
        );
    }
    server.stop();

    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = round_trip
}
