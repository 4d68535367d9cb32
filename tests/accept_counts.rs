//! The server's own accept counts, seen from outside: every connection a
//! pool takes is counted for exactly one of its workers (prefork processes,
//! thread-pool threads, reuseport loops), the list is no longer than the
//! pool, and a model without named workers lists none. The accept-scaling
//! experiment reads its balance from these counts.

mod common;

use common::{echo_exchange, Served};

/// Connections each case makes, one after another.
const CONNECTIONS: u64 = 24;
const WORKERS: usize = 3;

fn serve_and_count(model: &str, transport: &str, workers: usize) -> servers::Summary {
    let workers = workers.to_string();
    let server = Served::start(model, transport, &["--workers", &workers]);
    for seed in 0..CONNECTIONS {
        echo_exchange(&server.endpoint, b"counted", seed)
            .unwrap_or_else(|e| panic!("{model} over {transport}, connection {seed}: {e}"));
    }
    server.stop_clean()
}

#[test]
fn every_connection_counts_for_exactly_one_worker_of_the_pool() {
    for (model, transport) in [
        ("prefork", "tcp"),
        ("thread-pool", "tcp"),
        ("reuseport", "tcp"),
        // Over Unix the loops share one listener.
        ("reuseport", "unix"),
    ] {
        let summary = serve_and_count(model, transport, WORKERS);
        assert_eq!(summary.connections, CONNECTIONS, "{model}/{transport}");
        assert!(
            summary.per_worker.len() <= WORKERS,
            "{model}/{transport}: {:?} lists more workers than {WORKERS}",
            summary.per_worker
        );
        assert_eq!(
            summary.per_worker.iter().sum::<u64>(),
            CONNECTIONS,
            "{model}/{transport}: {:?}",
            summary.per_worker
        );
    }
}

#[test]
fn a_model_without_named_workers_lists_none_and_finds_no_empty_backlog_alone() {
    let summary = serve_and_count("mio", "tcp", 0);
    assert_eq!(summary.connections, CONNECTIONS);
    assert!(summary.per_worker.is_empty(), "{:?}", summary.per_worker);
    // One loop alone on its listener is woken only when someone connects.
    assert_eq!(summary.empty_accepts, 0);
}
