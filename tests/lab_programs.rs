//! The socket lab's `server` and `client`, run as a student would type them:
//! the handout's messages, exit codes and shutdown, checked from outside.
//!
//! Servers are started on port 0 and the real port is read from their
//! readiness line on stderr. This test process is a child subreaper, so any
//! child a server leaves unreaped is seen here.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use common::{
    become_subreaper, children_of, left_with_us, output_within, run_lab_client, wait_for_count,
    LabServer, IO_TIMEOUT, SETTLE_TIMEOUT,
};
use nix::sys::signal::Signal;

const MESSAGE: &[u8] = b"hello world\n";
const STREAM_ANSWER: &str = "Please enter the message: I got your message\n";
const DATAGRAM_ANSWER: &str = "Please enter the message: Got your message\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the client with `args` and checks it printed exactly `answer`.
fn client_says(args: &[&str], answer: &str) {
    let out = run_lab_client(args, MESSAGE);
    assert!(
        out.status.success(),
        "client {args:?}: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), answer, "client {args:?}");
}

/// Sends SIGINT (Ctrl-C) and checks a clean exit with every child reaped.
fn interrupt_and_check(mut server: LabServer) -> Vec<String> {
    let children: Vec<i32> = children_of(server.pid()).iter().map(|s| s.pid).collect();
    server.child.signal(Signal::SIGINT);
    let status = server
        .child
        .wait_timeout(SETTLE_TIMEOUT)
        .expect("the server stops on SIGINT");
    assert!(status.success(), "exit status after SIGINT: {status}");
    let left = left_with_us(&children);
    assert!(
        left.is_empty(),
        "children the server did not reap: {left:?}"
    );
    server.stderr.iter().collect()
}

#[test]
fn server_without_a_port_says_so() {
    let out = output_within(&mut common::lab_server_command(), b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "ERROR, no port provided\n");
    assert!(out.stdout.is_empty());
}

#[test]
fn client_with_an_unknown_host_says_so() {
    let out = run_lab_client(&["nosuchhost.invalid", "51717"], MESSAGE);
    assert!(!out.status.success());
    assert_eq!(text(&out.stderr).trim_end(), "ERROR, no such host");
    assert!(out.stdout.is_empty(), "no prompt before the host resolves");
}

#[test]
fn server_on_a_port_in_use_says_so() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let out = output_within(common::lab_server_command().arg(&port), b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in use") && stderr.contains(&port),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn tcp_server_and_client_round_trip() {
    become_subreaper();
    let server = LabServer::start(&["0"]);
    let port = server.port().to_string();
    for _ in 0..3 {
        client_says(&["localhost", &port], STREAM_ANSWER);
        assert_eq!(
            server.stdout_line().as_deref(),
            Some("Here is the message: hello world")
        );
    }
    // Each client's child has exited and been reaped: no zombies pile up.
    wait_for_count(
        "the lab server's children to be reaped",
        SETTLE_TIMEOUT,
        0,
        || children_of(server.pid()).len(),
    );

    // A client still connected at Ctrl-C: its child is stopped and reaped too.
    let mut open = TcpStream::connect(server.addr()).unwrap();
    open.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    open.write_all(b"still here\n").unwrap();
    let mut reply = [0u8; 18];
    open.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"I got your message");
    assert_eq!(children_of(server.pid()).len(), 1);

    let stderr = interrupt_and_check(server);
    // Only connections: a child stopped mid-connection dies before adding
    // its message to the tally.
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("server: stopped after 4 connections, ")),
        "{stderr:?}"
    );
    let mut rest = Vec::new();
    let _ = open.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn once_server_exits_after_one_connection() {
    let mut server = LabServer::start(&["--once", "0"]);
    let port = server.port().to_string();
    client_says(&["localhost", &port], STREAM_ANSWER);
    assert_eq!(
        server.stdout_line().as_deref(),
        Some("Here is the message: hello world")
    );
    let status = server
        .child
        .wait_timeout(SETTLE_TIMEOUT)
        .expect("--once exits by itself after one connection");
    assert!(status.success(), "{status}");
}

#[test]
fn udp_server_and_client_round_trip() {
    let server = LabServer::start(&["--udp", "0"]);
    let port = server.port().to_string();
    client_says(&["--udp", "localhost", &port], DATAGRAM_ANSWER);
    assert_eq!(
        server.stdout_line().as_deref(),
        Some("Here is the message: hello world")
    );
    interrupt_and_check(server);
}

#[test]
fn unix_server_and_client_round_trip() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.sock");
    let path_arg = path.to_str().unwrap();
    let server = LabServer::start(&["--unix", path_arg]);
    assert_eq!(server.listening_on, path_arg);
    client_says(&["--unix", path_arg], STREAM_ANSWER);
    assert_eq!(
        server.stdout_line().as_deref(),
        Some("Here is the message: hello world")
    );
    interrupt_and_check(server);
    assert!(!path.exists(), "the socket file is removed on exit");
}

#[test]
fn client_reports_a_server_that_is_not_there() {
    let (_held, refusing) = common::refusing_addr();
    let port = refusing.port().to_string();
    let out = run_lab_client(&["localhost", &port], MESSAGE);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).starts_with("ERROR connecting"),
        "{}",
        text(&out.stderr)
    );
}

/// Whether this host has IPv6 on loopback (some containers do not).
fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Runs the client against `host` and says whether it got the lab's answer.
fn client_reaches(host: &str, port: &str) -> Result<(), String> {
    let out = run_lab_client(&[host, port], MESSAGE);
    if out.status.success() && text(&out.stdout) == STREAM_ANSWER {
        Ok(())
    } else {
        Err(text(&out.stderr))
    }
}

/// As the handout's server binds INADDR_ANY, `server PORT` answers on every
/// address of the host: not only 127.0.0.1 but 127.0.0.2 (a server bound to
/// 127.0.0.1 refuses it) and, over IPv6, ::1.
#[test]
fn server_listens_on_every_address_by_default() {
    become_subreaper();
    let server = LabServer::start(&["0"]);
    let port = server.port().to_string();
    let mut hosts = vec!["127.0.0.1", "127.0.0.2", "localhost"];
    if has_ipv6_loopback() {
        hosts.push("::1");
    } else {
        eprintln!("no IPv6 on loopback here: ::1 not tried");
    }
    for host in hosts {
        client_reaches(host, &port).unwrap_or_else(|e| panic!("client {host} {port}: {e}"));
        assert_eq!(
            server.stdout_line().as_deref(),
            Some("Here is the message: hello world"),
            "{host}"
        );
    }
    interrupt_and_check(server);
}

/// `--bind 127.0.0.1` restricts the server to that address: ::1 and
/// 127.0.0.2 are refused, 127.0.0.1 answers.
#[test]
fn bind_restricts_the_server_to_one_address() {
    become_subreaper();
    let server = LabServer::start(&["--bind", "127.0.0.1", "0"]);
    assert!(
        server.listening_on.starts_with("127.0.0.1:"),
        "{}",
        server.listening_on
    );
    let port = server.port().to_string();
    client_reaches("127.0.0.1", &port).unwrap();
    let mut refused = vec!["127.0.0.2"];
    if has_ipv6_loopback() {
        refused.push("::1");
    }
    for host in refused {
        let err = client_reaches(host, &port).expect_err(host);
        assert!(err.starts_with("ERROR connecting"), "{host}: {err}");
    }
    interrupt_and_check(server);
}

/// The client takes an IPv6 address, and a server bound to ::1 only.
#[test]
fn client_reaches_an_ipv6_only_server() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: no IPv6 on loopback here");
        return;
    }
    become_subreaper();
    let server = LabServer::start(&["--bind", "::1", "0"]);
    let port = server.port().to_string();
    client_reaches("::1", &port).unwrap();
    let err = client_reaches("127.0.0.1", &port).expect_err("IPv4 is not served");
    assert!(err.starts_with("ERROR connecting"), "{err}");
    interrupt_and_check(server);
}
