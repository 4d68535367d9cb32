//! Clients that misbehave: a frame cut off by a close, garbage, an oversized
//! frame, a connection left idle, a request that stalls halfway. Each model
//! must answer (or drop) that client, count the fault, and go on serving the
//! next client correctly.

mod common;

use std::io::{self, Read, Write};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{
    assert_ok_response, read_response, stream_models, synthetic_frame, synthetic_round_trip, Conn,
    Served,
};
use servers::wire::{ResponseHeader, Status, REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN};
use servers::{Endpoint, ErrorCounts};

/// The frame limit the servers run with here.
const MAX_FRAME: u32 = 4096;

/// Exactly one header's worth of something that is not a synthetic frame, so
/// the server has read all of it when it refuses it (no unread bytes, no reset).
const GARBAGE: &[u8; REQUEST_HEADER_LEN] = b"GET /index.html HTTP/1.0\r\n\r\n";

/// Reads the error response the server sends before closing, then the close.
fn expect_error_then_close(conn: &mut Conn, status: Status, mentions: &str) {
    let (header, body) = read_response(conn).expect("an error response");
    assert_eq!(header.status, status, "status of the error response");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(mentions),
        "error text {text:?} lacks {mentions:?}"
    );
    let rest = conn
        .read_until_closed()
        .expect("the server closes after an error");
    assert!(
        rest.is_empty(),
        "{} bytes after the error response",
        rest.len()
    );
}

fn survives_bad_frames(model: &str, transport: &str) {
    let max = MAX_FRAME.to_string();
    let server = Served::start(
        model,
        transport,
        &["--service", "synthetic", "--max-frame-bytes", &max],
    );
    let at = &server.endpoint;
    synthetic_round_trip(at, 1);

    // Half a frame, then the client goes away.
    {
        let mut conn = Conn::connect(at).unwrap();
        let frame = synthetic_frame(100, 10, 2);
        conn.write_all(&frame[..REQUEST_HEADER_LEN + 50]).unwrap();
    }
    synthetic_round_trip(at, 3);

    // Garbage: an error response, then the close.
    {
        let mut conn = Conn::connect(at).unwrap();
        conn.write_all(GARBAGE).unwrap();
        expect_error_then_close(&mut conn, Status::BadMagic, "bad magic");
    }
    synthetic_round_trip(at, 4);

    // Oversized: a payload over the limit is refused from its header alone.
    {
        let mut conn = Conn::connect(at).unwrap();
        let frame = synthetic_frame(MAX_FRAME + 1, 10, 5);
        conn.write_all(&frame[..REQUEST_HEADER_LEN]).unwrap();
        expect_error_then_close(&mut conn, Status::TooLarge, "exceeds the limit");
    }
    // ... and so is a request for a response over the limit.
    {
        let mut conn = Conn::connect(at).unwrap();
        conn.write_all(&synthetic_frame(0, 1 << 30, 6)).unwrap();
        expect_error_then_close(&mut conn, Status::TooLarge, "exceeds the limit");
    }

    // A client that sends two good frames in one write still gets both answers.
    {
        let mut conn = Conn::connect(at).unwrap();
        let mut two = synthetic_frame(7, MAX_FRAME, 7);
        two.extend(synthetic_frame(MAX_FRAME, 1, 8));
        conn.write_all(&two).unwrap();
        let (h, body) = read_response(&mut conn).unwrap();
        assert_ok_response(&h, &body, 7, MAX_FRAME);
        let (h, body) = read_response(&mut conn).unwrap();
        assert_ok_response(&h, &body, 8, 1);
    }
    synthetic_round_trip(at, 9);

    let summary = server.stop_clean();
    let expected = ErrorCounts {
        bad_frame: 1,
        oversized: 2,
        truncated: 1,
        total: 4,
        ..ErrorCounts::default()
    };
    assert_eq!(
        summary.errors, expected,
        "{model} over {transport}: {summary:?}"
    );
    assert_eq!(summary.connections, 9, "{model}: {summary:?}");
    assert_eq!(
        summary.requests, 6,
        "{model}: good frames answered: {summary:?}"
    );
}

#[test]
fn every_stream_model_survives_bad_frames_over_every_transport() {
    common::check_each(&common::stream_pairs(), |&(model, transport), _| {
        survives_bad_frames(model, transport)
    });
}

/// Reads until the server closes the connection; returns how long that took.
fn closed_within(conn: &mut Conn, what: &str) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            // A signal reached this test process (a server child exiting);
            // the server has not closed yet.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => panic!("{what}: expected the server to close, got {other:?}"),
        }
    }
    started.elapsed()
}

fn closes_idle_connections(model: &str) {
    let server = Served::start(
        model,
        "tcp",
        &["--service", "synthetic", "--idle-timeout", "300ms"],
    );
    let at = &server.endpoint;

    // A client that connects and says nothing.
    let mut idle = Conn::connect(at).unwrap();
    let waited = closed_within(&mut idle, "idle client");
    assert!(
        waited >= Duration::from_millis(250),
        "closed after only {waited:?}"
    );

    // A client that stalls halfway through a header.
    let mut stalled = Conn::connect(at).unwrap();
    stalled.write_all(&synthetic_frame(0, 1, 1)[..10]).unwrap();
    closed_within(&mut stalled, "stalled client");

    // A slow client is not an idle one: a frame dripped in with pauses
    // shorter than the timeout (but longer in total) is answered.
    let mut slow = Conn::connect(at).unwrap();
    let frame = synthetic_frame(0, 64, 2);
    for chunk in frame.chunks(3) {
        slow.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }
    let (h, body) = read_response(&mut slow).expect("the slow client is answered");
    assert_ok_response(&h, &body, 2, 64);
    drop(slow);

    synthetic_round_trip(at, 3);
    let summary = server.stop_clean();
    assert_eq!(
        summary.errors,
        ErrorCounts {
            idle_timeout: 2,
            total: 2,
            ..ErrorCounts::default()
        },
        "{model}: {summary:?}"
    );
}

#[test]
fn every_stream_model_closes_idle_connections() {
    common::check_each(&stream_models(), |model, _| closes_idle_connections(model));
}

#[test]
fn udp_iterative_answers_bad_datagrams_and_goes_on() {
    let max = MAX_FRAME.to_string();
    let server = Served::start(
        "udp-iterative",
        "udp",
        &["--service", "synthetic", "--max-frame-bytes", &max],
    );
    let Endpoint::Inet(addr) = server.endpoint else {
        panic!("udp-iterative announced {:?}", server.endpoint)
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut ask = |datagram: &[u8]| -> (ResponseHeader, Vec<u8>) {
        socket.send_to(datagram, addr).unwrap();
        let (n, _) = socket.recv_from(&mut buf).expect("an answer");
        let h = ResponseHeader::parse(&buf[..n]).expect("a response header");
        assert_eq!(n, h.frame_len(), "one response per datagram");
        (h, buf[RESPONSE_HEADER_LEN..n].to_vec())
    };

    let (h, body) = ask(&synthetic_frame(10, 100, 1));
    assert_ok_response(&h, &body, 1, 100);
    assert_eq!(ask(GARBAGE).0.status, Status::BadMagic);
    assert_eq!(
        ask(&synthetic_frame(0, MAX_FRAME + 1, 2)).0.status,
        Status::TooLarge
    );
    let mut short = synthetic_frame(10, 1, 3);
    short.truncate(REQUEST_HEADER_LEN + 5);
    assert_eq!(ask(&short).0.status, Status::Truncated);
    let (h, body) = ask(&synthetic_frame(10, 100, 4));
    assert_ok_response(&h, &body, 4, 100);

    let summary = server.stop_clean();
    assert_eq!(
        summary.errors,
        ErrorCounts {
            bad_frame: 1,
            oversized: 1,
            truncated: 1,
            total: 3,
            ..ErrorCounts::default()
        },
        "{summary:?}"
    );
    assert_eq!(summary.requests, 2, "{summary:?}");
}
