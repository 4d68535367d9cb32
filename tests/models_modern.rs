//! The deployed designs (`reuseport`, `reactor-pool`, `io-uring`, `tokio`,
//! `tokio-multi`): echo correctness over TCP and Unix with 50 clients at
//! once, and output owed to a half-closed client. The conformance, bad-input
//! and shutdown tests that iterate over `Model::ALL` cover them too.

mod common;

use common::{concurrent_echo, random_bytes, Conn, Served};
use servers::ErrorCounts;

const MODELS: [&str; 5] = [
    "reuseport",
    "reactor-pool",
    "io-uring",
    "tokio",
    "tokio-multi",
];
const CLIENTS: usize = 50;

/// Whether this machine runs io_uring (seccomp or an old kernel may forbid it).
fn runs(model: &str) -> bool {
    if model == "io-uring" && !servers::io_uring_available() {
        eprintln!("skipping io-uring: io_uring is not available on this machine");
        return false;
    }
    true
}

#[test]
fn modern_models_echo_50_clients_over_tcp_and_unix() {
    for (i, model) in MODELS.into_iter().enumerate() {
        if !runs(model) {
            continue;
        }
        for (j, transport) in ["tcp", "unix"].into_iter().enumerate() {
            let server = Served::start(model, transport, &[]);
            concurrent_echo(&server.endpoint, CLIENTS, 100 + (2 * i + j) as u64);
            let summary = server.stop_clean();
            assert_eq!(
                summary.connections, CLIENTS as u64,
                "{model}/{transport}: {summary:?}"
            );
            assert_eq!(
                summary.bytes_in, summary.bytes_out,
                "{model}/{transport}: {summary:?}"
            );
            assert_eq!(
                summary.errors,
                ErrorCounts::default(),
                "{model}/{transport}: {summary:?}"
            );
        }
    }
}

/// A client writes 3 MiB, half-closes, and reads. The event loops that
/// buffer output (`reuseport`, `reactor-pool`, `io-uring`) are sent the whole
/// batch before the client reads a byte: one that stopped reading while its
/// answer is unread would deadlock with it. The tokio models answer each read
/// before the next, as blocking code does, so their client reads while it
/// writes; the answer must still arrive in full after the half-close.
#[test]
fn modern_models_finish_output_to_a_half_closed_client() {
    const LEN: usize = 3 << 20;
    for model in MODELS {
        if !runs(model) {
            continue;
        }
        let buffers_output = !model.starts_with("tokio");
        for transport in ["tcp", "unix"] {
            let server = Served::start(model, transport, &[]);
            let payload = random_bytes(&mut fastrand::Rng::with_seed(11), LEN);
            let mut conn = Conn::connect(&server.endpoint).unwrap();
            if buffers_output {
                std::io::Write::write_all(&mut conn, &payload)
                    .and_then(|()| conn.shutdown_write())
                    .expect("the event loop reads a 3 MiB batch while its reply is unread");
            }
            let writer = (!buffers_output).then(|| {
                let mut w = conn.try_clone().unwrap();
                let payload = payload.clone();
                std::thread::spawn(move || {
                    std::io::Write::write_all(&mut w, &payload).and_then(|()| w.shutdown_write())
                })
            });
            let got = conn.read_until_closed().expect("read the echo");
            if let Some(writer) = writer {
                writer
                    .join()
                    .unwrap()
                    .expect("write the batch and half-close");
            }
            if let Some(d) = common::difference(&payload, &got) {
                panic!("{model} over {transport}: {d}");
            }
            let summary = server.stop_clean();
            assert_eq!(summary.bytes_out, LEN as u64, "{model}: {summary:?}");
            assert_eq!(
                summary.errors,
                ErrorCounts::default(),
                "{model}: {summary:?}"
            );
        }
    }
}
