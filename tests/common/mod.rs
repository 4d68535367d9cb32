//! Helpers shared by the integration tests: start a model as its own process
//! (on port 0, or on a socket file in a temporary directory) and read its real
//! address back, connect to it, run echo and synthetic exchanges, drive the lab
//! programs, and read `/proc` for a process's children and zombies.
//!
//! Every process a test starts is killed and reaped when its guard drops, so a
//! failing assertion never leaves a server behind.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | timeouts, the binaries, polling with a deadline, [`Served`] (`sockbench serve`) |
//! | `stream.rs` | [`Conn`] (TCP or Unix), echo clients, synthetic frames |
//! | `charts.rs` | chart tests: output folder, SVG/PNG checks, sample series |
//! | `hosts.rs` | the two-host lab: namespaces, `serve`/`load` inside them, `ip` |
//! | `sshd.rs` | a server host over OpenSSH: namespaces, per-test keys, sshd in the server one |
//! | `load.rs` | `sockbench load` runs with a deadline, their JSON |
//! | `procs.rs` | `/proc` children and zombies, the subreaper, [`ChildGuard`], the lab programs |
#![allow(dead_code, unused_imports)] // each test binary uses its own subset

pub mod charts;
pub mod hosts;
pub mod load;
mod procs;
pub mod sshd;
mod stream;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use servers::{Endpoint, ServerProcess, Stopped, Summary};

pub use procs::*;
pub use stream::*;

/// How long a server may take to print its readiness line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Longest a single read may block before a test calls the server hung.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// How long asynchronous things (reaping, exits) may take to happen.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Every connection-oriented model, from `Model::ALL`, so a new model is tested without touching the tests.
pub fn stream_models() -> Vec<&'static str> {
    servers::Model::ALL
        .iter()
        .filter(|m| m.supports(servers::Transport::Tcp) && runs_here(**m))
        .map(|m| m.name())
        .collect()
}

/// Whether `model` can run on this machine: `io-uring` needs a kernel (and a
/// seccomp policy) that lets it set up io_uring; skipped, with a note, if not.
pub fn runs_here(model: servers::Model) -> bool {
    if model == servers::Model::IoUring && !servers::io_uring_available() {
        eprintln!("note: skipping io-uring: io_uring cannot be set up on this machine");
        return false;
    }
    true
}

/// Every connection-oriented model over every stream transport it serves
/// (`tcp`, `unix`), from `Model::ALL` and `Model::supports`, so the next
/// model or transport is covered without editing a list.
pub fn stream_pairs() -> Vec<(&'static str, &'static str)> {
    use servers::{Model, Transport};
    Model::ALL
        .iter()
        .filter(|&&m| runs_here(m))
        .flat_map(|&m| {
            Transport::ALL
                .into_iter()
                .filter(move |&t| t != Transport::Udp && m.supports(t))
                .map(move |t| (m.name(), t.name()))
        })
        .collect()
}

/// Runs `check` on every case (with its index, for seeds), going on past a
/// failure, then fails naming every case that failed. Each failure's own
/// message is printed as it happens.
pub fn check_each<T: std::fmt::Debug>(cases: &[T], check: impl Fn(&T, u64)) {
    assert!(!cases.is_empty(), "nothing to check");
    let failed: Vec<String> = cases
        .iter()
        .enumerate()
        .filter(|&(i, case)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case, i as u64)))
                .is_err()
        })
        .map(|(_, case)| format!("{case:?}"))
        .collect();
    assert!(failed.is_empty(), "failed: {}", failed.join(", "));
}

/// The `sockbench` binary.
pub fn sockbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockbench"))
}

/// A loopback address where a TCP connection is refused, held for as long as
/// the returned socket lives: bound (so nothing else can take the port) but
/// never listening. A port bound and then closed could be taken by anything.
pub fn refusing_addr() -> (socket2::Socket, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("create a TCP socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind a loopback port");
    let addr = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("the bound address");
    (socket, addr)
}

/// The lab's `server` binary.
pub fn lab_server_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

/// The lab's `client` binary.
pub fn lab_client_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_client"))
}

/// Polls `cond` until it holds, failing the test with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `count` until it returns `want`, failing with the last count seen
/// after `timeout`.
pub fn wait_for_count(
    what: &str,
    timeout: Duration,
    want: usize,
    mut count: impl FnMut() -> usize,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = count();
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}: {seen}, not {want}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------
// Servers started with `sockbench serve`
// ---------------------------------------------------------------------------

/// A model started with `sockbench serve`; killed and reaped on drop.
pub struct Served {
    /// Dropped first: the process dies before its socket file's directory goes.
    pub process: ServerProcess,
    pub endpoint: Endpoint,
    dir: Option<tempfile::TempDir>,
}

impl Served {
    /// Starts `model` over `transport` (`tcp`, `udp` or `unix`) on port 0 or on
    /// a fresh socket file, with `extra` flags.
    pub fn start(model: &str, transport: &str, extra: &[&str]) -> Served {
        let dir = (transport == "unix").then(|| tempfile::tempdir().expect("create a temp dir"));
        let path = dir.as_ref().map(|d| d.path().join("server.sock"));
        let process = spawn_serve(model, transport, path.as_deref(), extra)
            .unwrap_or_else(|e| panic!("{model} over {transport} did not start: {e}"));
        let endpoint = process
            .ready()
            .endpoint()
            .expect("the readiness line names an endpoint");
        Served {
            process,
            endpoint,
            dir,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        self.process.pid() as i32
    }

    /// Stops with SIGTERM and returns how it ended.
    pub fn stop(self) -> Stopped {
        let Served { process, dir, .. } = self;
        let stopped = process.stop(STOP_GRACE).expect("stop the server");
        drop(dir);
        stopped
    }

    /// Stops with SIGTERM, checks it exited 0 on its own, and returns its summary.
    pub fn stop_clean(self) -> Summary {
        let stopped = self.stop();
        assert!(!stopped.killed, "ignored SIGTERM: {}", stopped.stderr);
        assert!(
            stopped.status.success(),
            "exited with {}: {}",
            stopped.status,
            stopped.stderr
        );
        stopped.summary.expect("a summary line on stdout")
    }
}

/// `sockbench serve --model MODEL --transport T (--path P | --addr 127.0.0.1:0) EXTRA…`
/// run as a [`ServerProcess`].
pub fn spawn_serve(
    model: &str,
    transport: &str,
    path: Option<&Path>,
    extra: &[&str],
) -> Result<ServerProcess, servers::ProcessError> {
    ServerProcess::spawn(serve_command(model, transport, path, extra), READY_TIMEOUT)
}

/// The command line of [`spawn_serve`], for tests that expect it to fail.
pub fn serve_command(model: &str, transport: &str, path: Option<&Path>, extra: &[&str]) -> Command {
    let mut cmd = sockbench();
    cmd.args(["serve", "--model", model, "--transport", transport]);
    match path {
        Some(p) => cmd.arg("--path").arg(p),
        None => cmd.args(["--addr", "127.0.0.1:0"]),
    };
    cmd.args(extra);
    cmd
}
