//! The two preallocation-or-not designs seen from outside: `prefork`'s worker
//! processes (exactly N, a killed one replaced, all gone after SIGTERM) and
//! `thread-per-conn`'s threads (one per connection, never more than the cap,
//! the clients beyond it waiting in the backlog until a connection closes).
//!
//! Process and thread counts come from `/proc`; this test process makes
//! itself a child subreaper, so a worker the server failed to reap shows up
//! as our child instead of vanishing into init.

mod common;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    become_subreaper, child_pids, children_of, concurrent_echo, echo_exchange, left_with_us,
    wait_for, wait_for_count, zombie_children, Conn, Served, IO_TIMEOUT, SETTLE_TIMEOUT,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use servers::ErrorCounts;

/// The server's children (live or zombie), by pid.
/// Threads of process `pid` (the `Threads:` line of `/proc/PID/status`); 0 once it is gone.
fn threads_of(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// prefork
// ---------------------------------------------------------------------------

#[test]
fn prefork_keeps_exactly_n_workers_and_replaces_a_killed_one() {
    const WORKERS: usize = 3;
    become_subreaper();
    let server = Served::start("prefork", "tcp", &["--workers", &WORKERS.to_string()]);
    let pid = server.pid();
    wait_for_count(
        "the workers forked at start",
        SETTLE_TIMEOUT,
        WORKERS,
        || children_of(pid).len(),
    );
    echo_exchange(&server.endpoint, b"served by a preforked worker", 1).unwrap();
    // Serving forks nothing: the same workers serve every connection.
    let before = child_pids(pid);
    concurrent_echo(&server.endpoint, 10, 2);
    let mut after = child_pids(pid);
    after.sort_unstable();
    let mut sorted = before.clone();
    sorted.sort_unstable();
    assert_eq!(after, sorted, "the same {WORKERS} workers, no new process");

    // A worker dies (killed, as a crash would): the parent forks a new one.
    let victim = before[0];
    kill(Pid::from_raw(victim), Signal::SIGKILL).expect("kill a worker");
    wait_for(
        "the killed worker to be reaped and replaced",
        SETTLE_TIMEOUT,
        || {
            let now = children_of(pid);
            now.len() == WORKERS
                && now.iter().all(|s| s.state != 'Z')
                && now.iter().all(|s| s.pid != victim)
        },
    );
    concurrent_echo(&server.endpoint, 10, 3);

    let children = child_pids(pid);
    let summary = server.stop_clean();
    let left = left_with_us(&children);
    assert!(left.is_empty(), "workers the server did not reap: {left:?}");
    assert_eq!(summary.workers_replaced, 1, "{summary:?}");
    assert_eq!(summary.connections, 21, "{summary:?}");
    assert_eq!(summary.bytes_in, summary.bytes_out, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

/// SIGTERM while workers hold open connections: they finish, close their
/// clients and exit, the parent reaps them all and exits 0 by itself.
#[test]
fn prefork_stop_ends_busy_workers_and_leaves_no_child() {
    become_subreaper();
    let server = Served::start("prefork", "unix", &["--workers", "4"]);
    let pid = server.pid();
    wait_for_count("4 workers", SETTLE_TIMEOUT, 4, || children_of(pid).len());
    let mut open: Vec<Conn> = (0..2)
        .map(|_| Conn::connect(&server.endpoint).unwrap())
        .collect();
    for conn in &mut open {
        conn.write_all(b"x").unwrap();
        let mut back = [0u8; 1];
        conn.read_exact(&mut back).unwrap();
    }
    let children = child_pids(pid);
    assert_eq!(zombie_children(pid), 0);
    let summary = server.stop_clean();
    assert!(
        left_with_us(&children).is_empty(),
        "workers left behind: {:?}",
        left_with_us(&children)
    );
    assert_eq!(summary.connections, 2, "{summary:?}");
    assert_eq!(summary.workers_replaced, 0, "{summary:?}");
    for conn in &mut open {
        conn.read_until_closed()
            .expect("a connection whose worker was stopped is closed");
    }
}

// ---------------------------------------------------------------------------
// thread-per-conn
// ---------------------------------------------------------------------------

/// Reads whatever has arrived on `conn` within `wait` into `got`; true once
/// `want` bytes are there.
fn echoed(conn: &mut Conn, got: &mut Vec<u8>, want: usize, wait: Duration) -> bool {
    conn.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    while got.len() < want {
        match conn.read(&mut buf) {
            Ok(0) => panic!("the server closed a waiting client"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Nothing yet: this client is not being served (yet).
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    true
}

/// Samples a process's thread count every millisecond, from its own thread,
/// until stopped (or dropped by a failing test).
struct ThreadPeak {
    peak: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl ThreadPeak {
    fn watch(pid: i32) -> ThreadPeak {
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (p, d) = (Arc::clone(&peak), Arc::clone(&done));
        let sampler = std::thread::spawn(move || {
            while !d.load(Ordering::Relaxed) {
                p.fetch_max(threads_of(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        ThreadPeak {
            peak,
            done,
            sampler: Some(sampler),
        }
    }

    /// The most threads seen.
    fn stop(mut self) -> usize {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            t.join().expect("the sampler thread");
        }
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for ThreadPeak {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn thread_per_conn_serves_at_most_max_threads_and_queues_the_rest() {
    const CAP: usize = 4;
    const CLIENTS: usize = 8;
    // The main thread, plus a connection thread that has given its slot back
    // and is still exiting when the next one starts (one close at a time below).
    const MAIN_AND_SLACK: usize = 2;
    let server = Served::start(
        "thread-per-conn",
        "tcp",
        &["--max-threads", &CAP.to_string()],
    );
    let pid = server.pid();
    assert_eq!(
        threads_of(pid),
        1,
        "only the accepting thread before any client"
    );
    let peak = ThreadPeak::watch(pid);

    let messages: Vec<Vec<u8>> = (0..CLIENTS)
        .map(|i| format!("client {i} says hello").into_bytes())
        .collect();
    let mut conns: Vec<Option<Conn>> = Vec::new();
    for msg in &messages {
        let mut conn = Conn::connect(&server.endpoint).expect("connect (the backlog takes it)");
        conn.write_all(msg).unwrap();
        conns.push(Some(conn));
    }
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); CLIENTS];
    let mut served = vec![false; CLIENTS];
    // Polls every waiting client briefly; the first one answered, if any.
    let mut serve_next = |conns: &mut [Option<Conn>], served: &mut [bool]| -> Option<usize> {
        let i = (0..CLIENTS).find(|&i| {
            !served[i]
                && echoed(
                    conns[i].as_mut().unwrap(),
                    &mut got[i],
                    messages[i].len(),
                    Duration::from_millis(10),
                )
        })?;
        served[i] = true;
        Some(i)
    };

    // CAP clients get their echo; the rest wait in the backlog.
    let deadline = Instant::now() + IO_TIMEOUT;
    while served.iter().filter(|&&s| s).count() < CAP {
        assert!(
            Instant::now() < deadline,
            "fewer than {CAP} clients were served"
        );
        serve_next(&mut conns, &mut served);
    }
    wait_for_count(
        "one thread per served connection",
        SETTLE_TIMEOUT,
        CAP + 1,
        || threads_of(pid),
    );
    for i in (0..CLIENTS).filter(|&i| !served[i]) {
        let conn = conns[i].as_mut().unwrap();
        let mut early = Vec::new();
        assert!(
            !echoed(conn, &mut early, 1, Duration::from_millis(300)),
            "client {i} was served while {CAP} connections were open"
        );
    }

    // Each close frees a thread for a waiting client.
    let first_served: Vec<usize> = (0..CLIENTS).filter(|&i| served[i]).collect();
    for (round, &closing) in first_served.iter().enumerate() {
        conns[closing] = None;
        let deadline = Instant::now() + IO_TIMEOUT;
        while serve_next(&mut conns, &mut served).is_none() {
            assert!(
                Instant::now() < deadline,
                "no waiting client served after close {round}"
            );
        }
    }
    assert!(
        served.iter().all(|&s| s),
        "every client is served in the end"
    );
    for i in 0..CLIENTS {
        assert_eq!(got[i], messages[i], "client {i}'s echo");
    }
    let peak = peak.stop();

    // The last CAP clients are still connected: SIGTERM ends and joins their threads.
    let summary = server.stop_clean();
    for conn in conns.iter_mut().flatten() {
        conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        conn.read_until_closed()
            .expect("a connection open at shutdown is closed");
    }
    assert_eq!(summary.connections, CLIENTS as u64, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
    assert!(
        peak <= CAP + MAIN_AND_SLACK,
        "the server ran {peak} threads with --max-threads {CAP}"
    );
}
