//! Where a server binds, and how it refuses to: the Unix socket file's life
//! cycle (a stale file is replaced, a live one or a regular file is refused,
//! the file goes when the server stops) and a TCP or UDP port already taken.

mod common;

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Output;

use common::{echo_exchange, output_within, serve_command, spawn_serve, stream_models};
use servers::Endpoint;

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// A failed start's stderr as text, after checking it exited 1 with one line.
fn one_line_failure(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{what}: one line on stderr: {stderr:?}"
    );
    assert!(out.stdout.is_empty(), "{what}: nothing on stdout");
    stderr
}

#[test]
fn stale_socket_file_is_replaced_and_removed_on_shutdown() {
    for model in stream_models() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.sock");
        // A server that died without cleaning up leaves its socket file behind.
        drop(UnixListener::bind(&path).unwrap());
        assert!(is_socket(&path), "the stale file exists");

        let server = spawn_serve(model, "unix", Some(&path), &[])
            .unwrap_or_else(|e| panic!("{model} refused a stale socket file: {e}"));
        let endpoint = Endpoint::Unix(path.clone());
        for i in 0..3 {
            echo_exchange(&endpoint, b"over the replaced socket", i)
                .unwrap_or_else(|e| panic!("{model}: {e}"));
        }
        // Children and workers that finished must not have taken the file with them.
        assert!(
            is_socket(&path),
            "{model}: the socket file outlives its connections"
        );
        echo_exchange(&endpoint, b"still there", 9).unwrap();

        let stopped = server.stop(common::STOP_GRACE).unwrap();
        assert!(stopped.status.success(), "{model}: {}", stopped.stderr);
        assert!(
            !path.exists(),
            "{model}: the socket file is removed on shutdown"
        );
    }
}

#[test]
fn live_socket_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.sock");
    let live = spawn_serve("mio", "unix", Some(&path), &[]).expect("the first server starts");

    for model in [
        "fork",
        "thread-pool",
        "select",
        "poll",
        "prefork",
        "thread-per-conn",
    ] {
        let out = output_within(&mut serve_command(model, "unix", Some(&path), &[]), b"");
        let stderr = one_line_failure(&out, model);
        assert!(
            stderr.contains(&path.display().to_string()) && stderr.contains("already listening"),
            "{model}: {stderr}"
        );
    }
    // The refused servers left the live one and its file alone.
    assert!(is_socket(&path));
    echo_exchange(&Endpoint::Unix(path.clone()), b"still served", 1).unwrap();
    let stopped = live.stop(common::STOP_GRACE).unwrap();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(!path.exists());
}

#[test]
fn regular_file_at_the_socket_path_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"precious")
        .unwrap();
    let out = output_within(&mut serve_command("mio", "unix", Some(&path), &[]), b"");
    let stderr = one_line_failure(&out, "regular file");
    assert!(
        stderr.contains(&path.display().to_string()) && stderr.contains("not a socket"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn tcp_port_in_use_is_refused_in_one_line() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    for model in stream_models() {
        let out = output_within(&mut sockbench_serve_at(model, "tcp", &addr), b"");
        let stderr = one_line_failure(&out, model);
        assert!(
            stderr.contains("address in use") && stderr.contains(&addr),
            "{model}: {stderr}"
        );
    }
}

#[test]
fn udp_port_in_use_is_refused_in_one_line() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let out = output_within(&mut sockbench_serve_at("udp-iterative", "udp", &addr), b"");
    let stderr = one_line_failure(&out, "udp-iterative");
    assert!(stderr.contains("address in use"), "{stderr}");
}

/// `sockbench serve --model MODEL --transport T --addr ADDR`.
fn sockbench_serve_at(model: &str, transport: &str, addr: &str) -> std::process::Command {
    let mut cmd = common::sockbench();
    cmd.args([
        "serve",
        "--model",
        model,
        "--transport",
        transport,
        "--addr",
        addr,
    ]);
    cmd
}
