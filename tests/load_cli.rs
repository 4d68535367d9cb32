//! `sockbench load` as a user runs it, against the project's server models
//! started as separate processes (and a counting echo server for Ctrl-C).

use std::time::{Duration, Instant};

use common::load::*;

mod common;

#[test]
fn crr_against_the_fork_and_mio_servers_has_no_errors() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    for model in ["fork", "mio"] {
        let server = serve(&["--model", model]);
        let addr = addr_of(&server);
        let (stdout, v) = load_json(
            dir.path(),
            "crr.json",
            &["--target", &addr, "--mode", "crr", "--connections", "4"],
        );
        assert_eq!(u(&v, "/errors/total"), 0, "{model}: {stdout}");
        assert!(u(&v, "/requests") > 50, "{model}: {stdout}");
        assert_eq!(
            u(&v, "/connect_latency_ns/count"),
            u(&v, "/requests"),
            "{model}"
        );
        assert!(stdout.contains("Connect latency"), "{stdout}");
        let stopped = server.stop(Duration::from_secs(5)).unwrap();
        assert!(
            stopped.status.success() || stopped.killed,
            "{model} stopped"
        );
    }
}

#[test]
fn rr_with_the_server_pid_reports_the_server_cost() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let (addr, pid) = (addr_of(&server), server.pid().to_string());
    let (stdout, v) = load_json(
        dir.path(),
        "rr.json",
        &[
            "--target",
            &addr,
            "--connections",
            "8",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(u(&v, "/errors/total"), 0, "{stdout}");
    assert_eq!(u(&v, "/server/pid"), server.pid() as u64);
    let demand = v
        .pointer("/server/cpu_us_per_req")
        .and_then(|x| x.as_f64())
        .unwrap();
    assert!(demand > 0.0, "service demand {demand}");
    assert!(stdout.contains(&format!("Server pid {pid}")), "{stdout}");
    assert!(stdout.contains("us CPU/request"), "{stdout}");
}

#[test]
fn udp_against_udp_iterative_accounts_for_every_datagram() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "udp-iterative"]);
    let addr = addr_of(&server);
    let (stdout, v) = load_json(
        dir.path(),
        "udp.json",
        &[
            "--target",
            &addr,
            "--mode",
            "udp",
            "--connections",
            "4",
            "--timeout",
            "100ms",
        ],
    );
    let (sent, answered, lost) = (
        u(&v, "/udp/sent"),
        u(&v, "/udp/answered"),
        u(&v, "/udp/lost"),
    );
    assert!(sent > 100, "{stdout}");
    assert_eq!(sent, answered + lost, "{stdout}");
    for field in [
        "late",
        "duplicates",
        "kernel_rcvbuf_errors",
        "kernel_in_errors",
    ] {
        u(&v, &format!("/udp/{field}"));
    }
    assert!(stdout.contains("UDP: sent"), "{stdout}");
}

#[test]
fn ten_thousand_connections_from_one_process() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let started = Instant::now();
    let (stdout, v) = load_json(
        dir.path(),
        "c10k.json",
        &[
            "--target",
            &addr,
            "--connections",
            "10",
            "--idle",
            "9990",
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(u(&v, "/errors/total"), 0, "{stdout}");
    assert_eq!(u(&v, "/plan/idle_connections"), 9990);
    assert!(u(&v, "/requests") > 100, "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// An echo server on its own threads that counts the bytes it has read, so
/// a test can tell how far a closed-loop load has got without guessing with
/// a sleep. Its threads end when the load closes its connections.
fn counting_echo_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Ok(0) or an error: the load closed this connection.
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    counter.fetch_add(n, Ordering::Relaxed);
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, received)
}

#[test]
fn ctrl_c_writes_partial_results() {
    const MESSAGE: usize = 64;
    const ANSWERED: usize = 10;
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let (addr, received) = counting_echo_server();
    let json = dir.path().join("partial.json");
    let mut child = common::ChildGuard::spawn(
        sockbench()
            .args(["load", "--target", &addr.to_string(), "--mode", "rr"])
            .args(["--connections", "1", "--size", &MESSAGE.to_string()])
            .args(["--duration", "30s", "--warmup", "0s"])
            .arg("--json")
            .arg(&json)
            .stdout(std::process::Stdio::piped()),
    );
    // One connection, closed loop: once the server has read request k+1 the
    // load has had answer k, so it has measured requests to report.
    common::wait_for(
        "the load's first answered requests",
        Duration::from_secs(20),
        || received.load(std::sync::atomic::Ordering::Relaxed) > ANSWERED * MESSAGE,
    );
    child.signal(nix::sys::signal::Signal::SIGINT);
    let started = Instant::now();
    let status = child
        .wait_timeout(Duration::from_secs(5))
        .expect("the load stops within 5 s of SIGINT");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(
        &mut child.child().stdout.take().expect("piped stdout"),
        &mut stdout,
    )
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["partial"], true);
    assert!(u(&v, "/requests") > 0, "{v}");
    assert!(stdout.contains("PARTIAL"), "{stdout}");
}
