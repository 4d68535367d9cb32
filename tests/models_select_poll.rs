//! What sets `select` and `poll` apart from each other and from `mio`: the
//! FD_SETSIZE ceiling of `select` (refused, counted, never overrun), `poll`
//! going past it, `--max-connections`, and level-triggered loops that sleep,
//! rather than spin, while a client is slow to read its output.

mod common;

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use common::{random_bytes, Conn, Served, SETTLE_TIMEOUT};
use servers::ErrorCounts;

/// More connections than an `fd_set` can hold (FD_SETSIZE is 1024).
const PAST_FD_SETSIZE: usize = 1100;

/// What became of one connection.
enum Fate {
    /// Its echo came back.
    Served(Conn),
    /// The server closed it at once (end of file or a reset).
    Refused,
}

/// Connects, sends a short line, and waits for its echo or for the close.
fn connect_and_ping(server: &Served, i: usize) -> Fate {
    let mut conn = Conn::connect(&server.endpoint).unwrap_or_else(|e| panic!("connect {i}: {e}"));
    let msg = format!("ping {i:05}");
    // A refused connection may already be closed when this write lands.
    if conn.write_all(msg.as_bytes()).is_err() {
        return Fate::Refused;
    }
    let mut got = vec![0u8; msg.len()];
    match conn.read_exact(&mut got) {
        Ok(()) => {
            assert_eq!(got, msg.as_bytes(), "connection {i}: echo");
            Fate::Served(conn)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ) =>
        {
            Fate::Refused
        }
        Err(e) => panic!("connection {i}: neither echoed nor closed: {e}"),
    }
}

/// A larger echo on a connection that is already open.
fn echo_again(conn: &mut Conn, seed: u64) {
    let payload = random_bytes(&mut fastrand::Rng::with_seed(seed), 10_000);
    conn.write_all(&payload)
        .expect("write to a served connection");
    let mut got = vec![0u8; payload.len()];
    conn.read_exact(&mut got)
        .expect("read from a served connection");
    assert!(got == payload, "echo differs");
}

/// Opens `n` connections one after another (each pinged before the next), so
/// the server's descriptors are handed out in order.
fn open_many(server: &Served, n: usize) -> (Vec<Conn>, Vec<usize>) {
    let mut served = Vec::new();
    let mut refused = Vec::new();
    for i in 0..n {
        match connect_and_ping(server, i) {
            Fate::Served(conn) => served.push(conn),
            Fate::Refused => refused.push(i),
        }
    }
    (served, refused)
}

#[test]
fn select_refuses_connections_past_fd_setsize_and_keeps_serving() {
    let limit = servers::raise_fd_limit().expect("raise this test's descriptor limit");
    assert!(
        limit as usize > PAST_FD_SETSIZE + 100,
        "the hard descriptor limit ({limit}) is too low for this test"
    );
    let server = Served::start("select", "tcp", &[]);
    let (mut served, refused) = open_many(&server, PAST_FD_SETSIZE);

    // The server's own descriptors (stdio, listener, stop waker) come first,
    // so a little under 1024 connections fit, and once the table is full
    // every later one is refused: the served ones are a prefix.
    assert!(
        (1000..1024).contains(&served.len()),
        "{} served, {} refused",
        served.len(),
        refused.len()
    );
    assert_eq!(
        refused,
        (served.len()..PAST_FD_SETSIZE).collect::<Vec<_>>(),
        "refused connections"
    );
    // The first and the last connection that fit are still served correctly.
    echo_again(&mut served[0], 1);
    let last = served.len() - 1;
    echo_again(&mut served[last], 2);

    // Room again: once some clients leave, newcomers are served. The server
    // notices the departures asynchronously, so a newcomer may still be
    // refused in between; every refusal is counted.
    let mut refused_later = 0;
    served.truncate(served.len() - 10);
    let mut newcomer = loop {
        match connect_and_ping(&server, PAST_FD_SETSIZE + refused_later) {
            Fate::Served(conn) => break conn,
            Fate::Refused => refused_later += 1,
        }
        assert!(refused_later < 1000, "no room after clients left");
        std::thread::sleep(Duration::from_millis(5));
    };
    echo_again(&mut newcomer, 3);
    echo_again(&mut served[0], 4);
    let still_open = served.len() as u64;
    drop(served);
    drop(newcomer);

    let summary = server.stop_clean();
    let refused_total = (refused.len() + refused_later) as u64;
    assert_eq!(
        summary.errors,
        ErrorCounts {
            refused: refused_total,
            total: refused_total,
            ..ErrorCounts::default()
        },
        "{summary:?}"
    );
    assert_eq!(summary.connections, still_open + 10 + 1, "{summary:?}");
}

#[test]
fn poll_serves_past_fd_setsize() {
    let limit = servers::raise_fd_limit().expect("raise this test's descriptor limit");
    assert!(
        limit as usize > PAST_FD_SETSIZE + 100,
        "the hard descriptor limit ({limit}) is too low for this test"
    );
    let server = Served::start("poll", "tcp", &[]);
    let (mut served, refused) = open_many(&server, PAST_FD_SETSIZE);
    assert!(refused.is_empty(), "poll refused {refused:?}");
    echo_again(&mut served[0], 1);
    echo_again(&mut served[PAST_FD_SETSIZE - 1], 2);
    drop(served);
    let summary = server.stop_clean();
    assert_eq!(summary.connections, PAST_FD_SETSIZE as u64, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

/// `--max-connections 5`: the sixth concurrent client is closed at once and
/// counted; once one leaves, a newcomer is served.
fn refuses_beyond_max_connections(model: &str) {
    let server = Served::start(model, "tcp", &["--max-connections", "5"]);
    let (mut served, refused) = open_many(&server, 7);
    assert_eq!((served.len(), refused.clone()), (5, vec![5, 6]), "{model}");
    served.pop();
    let mut refused_later = 0;
    let mut newcomer = loop {
        match connect_and_ping(&server, 7 + refused_later) {
            Fate::Served(conn) => break conn,
            Fate::Refused => refused_later += 1,
        }
        assert!(refused_later < 1000, "{model}: no room after a client left");
        std::thread::sleep(Duration::from_millis(5));
    };
    echo_again(&mut newcomer, 1);
    drop((served, newcomer));
    let summary = server.stop_clean();
    let refused_total = 2 + refused_later as u64;
    assert_eq!(
        summary.errors.refused, refused_total,
        "{model}: {summary:?}"
    );
    assert_eq!(summary.errors.total, refused_total, "{model}: {summary:?}");
    assert_eq!(summary.connections, 6, "{model}: {summary:?}");
}

#[test]
fn select_refuses_beyond_max_connections() {
    refuses_beyond_max_connections("select");
}

#[test]
fn poll_refuses_beyond_max_connections() {
    refuses_beyond_max_connections("poll");
}

/// CPU a process has used (all its threads, live and exited): its CPU clock,
/// as the probe reads it.
fn cpu_time(pid: i32) -> Duration {
    let snap = probe::tree_snapshot(pid as u32).expect("the server is alive");
    Duration::from_secs_f64(snap.cpu_s)
}

/// Waits until `pid` has used no CPU time for [`QUIET`] (its loop asleep in
/// its wait, with nothing it will serve), failing after [`SETTLE_TIMEOUT`].
fn wait_until_quiet(pid: i32, model: &str) {
    /// Ten of the kernel's 10 ms CPU-time ticks.
    const QUIET: Duration = Duration::from_millis(100);
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut last = cpu_time(pid);
    let mut since = Instant::now();
    while since.elapsed() < QUIET {
        assert!(
            Instant::now() < deadline,
            "{model} never stopped using CPU while its client did not read"
        );
        std::thread::sleep(Duration::from_millis(10));
        let now = cpu_time(pid);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
}

/// A client that sends `len` bytes and half-closes, but reads nothing for a
/// while. With 3 MiB the server reads it all and holds the reply (end of file
/// stays readable, the socket unwritable); with 8 MiB it also stops reading
/// at its 4 MiB output limit (back-pressure) with input still waiting. Either
/// way a level-triggered loop must sleep through the pause, not spin on what
/// it will not read; then the whole reply arrives.
fn sleeps_while_a_client_is_slow_to_read(model: &str, len: usize) {
    const PAUSE: Duration = Duration::from_millis(600);
    // Unix-domain sockets buffer a few hundred KiB (loopback TCP, many MiB),
    // so the server surely holds the output itself.
    let server = Served::start(model, "unix", &[]);
    let payload = random_bytes(&mut fastrand::Rng::with_seed(len as u64), len);
    let mut conn = Conn::connect(&server.endpoint).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let got = std::thread::scope(|scope| {
        let sent = scope.spawn(|| {
            writer
                .write_all(&payload)
                .and_then(|()| writer.shutdown_write())
        });
        // The server reads what it will and fills the socket buffers, then
        // its loop goes to sleep; one that spins never gets there.
        wait_until_quiet(server.pid(), model);
        let before = cpu_time(server.pid());
        std::thread::sleep(PAUSE);
        let spent = cpu_time(server.pid()) - before;
        assert!(
            spent < PAUSE / 4,
            "{model} used {spent:?} of CPU in {PAUSE:?} while its client did not read"
        );
        let got = conn.read_until_closed().expect("read the echo");
        sent.join().unwrap().expect("write the batch");
        got
    });
    if let Some(d) = common::difference(&payload, &got) {
        panic!("{model}: {d}");
    }
    let summary = server.stop_clean();
    assert_eq!(summary.bytes_out, len as u64, "{model}: {summary:?}");
    assert_eq!(
        summary.errors,
        ErrorCounts::default(),
        "{model}: {summary:?}"
    );
}

#[test]
fn event_loops_sleep_while_a_half_closed_client_is_slow_to_read() {
    for model in ["select", "poll", "mio"] {
        sleeps_while_a_client_is_slow_to_read(model, 3 << 20);
    }
}

#[test]
fn event_loops_sleep_under_back_pressure() {
    for model in ["select", "poll", "mio"] {
        sleeps_while_a_client_is_slow_to_read(model, 8 << 20);
    }
}
