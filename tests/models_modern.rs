//! The deployed designs (`reuseport`, `reactor-pool`, `io-uring`, `tokio`,
//! `tokio-multi`): output owed to a half-closed client, and reactor-pool's
//! promise that a light request is not held up by blocking ones. The
//! conformance, bad-input and shutdown tests that iterate over `Model::ALL`
//! cover them too.

mod common;

use common::{random_bytes, Conn, Served};
use servers::ErrorCounts;

const MODELS: [&str; 5] = [
    "reuseport",
    "reactor-pool",
    "io-uring",
    "tokio",
    "tokio-multi",
];

fn runs(model: &str) -> bool {
    common::runs_here(model.parse().expect("a model name"))
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

/// A synthetic request that blocks in the server for `wait_us`.
fn blocking_frame(wait_us: u32, tag: u64) -> Vec<u8> {
    let mut v = Vec::new();
    servers::wire::RequestHeader {
        payload_len: 0,
        response_len: 8,
        cpu_us: 0,
        wait_us,
        tag,
    }
    .emit_frame(&mut v, 0x5A);
    v
}

/// Half-sync/half-async's promise: a light request is answered while two
/// requests that block are still with their workers. The heavy ones block
/// for 2 s (far longer than any scheduling delay), so the order of the
/// answers, not their timing, is what is checked: light first, heavy after.
/// (`mio` fails this: it sleeps through both heavy requests first.)
#[test]
fn reactor_pool_answers_a_light_request_while_two_block() {
    use std::io::{ErrorKind, Read, Write};
    const HEAVY_WAIT_US: u32 = 2_000_000;
    let server = Served::start("reactor-pool", "tcp", &["--service", "synthetic"]);
    let at = &server.endpoint;
    let mut heavy: Vec<Conn> = (0..2)
        .map(|i| {
            let mut conn = Conn::connect(at).expect("connect a heavy client");
            conn.write_all(&blocking_frame(HEAVY_WAIT_US, 10 + i))
                .expect("send a blocking request");
            conn
        })
        .collect();
    let mut light = Conn::connect(at).expect("connect the light client");
    light
        .write_all(&blocking_frame(0, 1))
        .expect("send the light request");
    let (h, body) = common::read_response(&mut light).expect("the light request is answered");
    common::assert_ok_response(&h, &body, 1, 8);
    // Both heavy requests are still being served: nothing to read yet.
    for conn in &mut heavy {
        conn.set_read_timeout(Some(std::time::Duration::from_millis(1)))
            .unwrap();
        let mut byte = [0u8; 1];
        match conn.read(&mut byte) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!("a blocking request was answered before the light one: {other:?}"),
        }
        conn.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    }
    for (i, conn) in heavy.iter_mut().enumerate() {
        let (h, body) = common::read_response(conn).expect("the blocking request is answered");
        common::assert_ok_response(&h, &body, 10 + i as u64, 8);
    }
    let summary = server.stop_clean();
    assert_eq!(summary.requests, 3, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}
