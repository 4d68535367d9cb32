//! The zombie problem, measured from `/proc`: the `fork` model after 200
//! connections, many closing at the same moment, under each `--reap` policy;
//! and `prefork`, whose workers outlive their connections and are reaped at
//! shutdown.
//!
//! This test process makes itself a child subreaper, so a child the server
//! failed to reap before exiting is re-parented to us (and seen) instead of
//! quietly vanishing into init.

mod common;

use std::io::{Read, Write};

use common::{
    become_subreaper, child_pids, children_of, left_with_us, wait_for_count, zombie_children, Conn,
    Served, SETTLE_TIMEOUT,
};
use servers::ErrorCounts;

/// Connections opened together, then closed together.
const AT_ONCE: usize = 50;
/// Rounds of [`AT_ONCE`]: 200 connections in all.
const ROUNDS: usize = 4;
const CONNECTIONS: u64 = (AT_ONCE * ROUNDS) as u64;

/// Opens [`AT_ONCE`] connections, waits until each has a child serving it
/// (one byte echoed), then closes them all at the same moment; [`ROUNDS`] times.
/// Those children then exit together, so SIGCHLDs arrive while others are pending.
fn churn(server: &Served) {
    for round in 0..ROUNDS {
        let mut conns: Vec<Conn> = (0..AT_ONCE)
            .map(|i| {
                Conn::connect(&server.endpoint)
                    .unwrap_or_else(|e| panic!("round {round}, connection {i}: {e}"))
            })
            .collect();
        for (i, conn) in conns.iter_mut().enumerate() {
            let byte = [i as u8];
            conn.write_all(&byte).unwrap();
            let mut back = [0u8; 1];
            conn.read_exact(&mut back)
                .unwrap_or_else(|e| panic!("round {round}, connection {i}: {e}"));
            assert_eq!(back, byte);
        }
        drop(conns);
    }
}

/// The server's children (live or zombie), by pid.
/// Stops the server and checks that it exited 0 having reaped every child.
fn stop_and_check_no_child_left(server: Served) -> servers::Summary {
    let children = child_pids(server.pid());
    let summary = server.stop_clean();
    let left = left_with_us(&children);
    assert!(
        left.is_empty(),
        "children the server did not reap: {left:?}"
    );
    summary
}

fn reaps_every_child(policy: &str) {
    become_subreaper();
    let server = Served::start("fork", "tcp", &["--reap", policy]);
    let pid = server.pid();
    churn(&server);
    // Reaping is asynchronous: the children are exiting as we look.
    wait_for_count(
        &format!("--reap {policy}: every child gone (none alive, none a zombie)"),
        SETTLE_TIMEOUT,
        0,
        || children_of(pid).len(),
    );
    assert_eq!(zombie_children(pid), 0);
    let summary = stop_and_check_no_child_left(server);
    assert_eq!(summary.connections, CONNECTIONS, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

#[test]
fn reap_handler_leaves_no_zombies() {
    reaps_every_child("handler");
}

#[test]
fn reap_ignore_leaves_no_zombies() {
    reaps_every_child("ignore");
}

#[test]
fn reap_none_piles_up_zombies_until_shutdown_reaps_them() {
    become_subreaper();
    let server = Served::start("fork", "tcp", &["--reap", "none"]);
    let pid = server.pid();
    churn(&server);
    // Nobody reaps while serving: every finished child stays a zombie.
    wait_for_count(
        "--reap none: one zombie per finished connection",
        SETTLE_TIMEOUT,
        CONNECTIONS as usize,
        || zombie_children(pid),
    );
    // Shutdown also has live children to end: clients still connected.
    let mut open: Vec<Conn> = (0..5)
        .map(|_| Conn::connect(&server.endpoint).unwrap())
        .collect();
    for conn in &mut open {
        conn.write_all(b"x").unwrap();
        let mut back = [0u8; 1];
        conn.read_exact(&mut back).unwrap();
    }
    assert_eq!(children_of(pid).len(), CONNECTIONS as usize + open.len());

    let summary = stop_and_check_no_child_left(server);
    assert_eq!(summary.connections, CONNECTIONS + open.len() as u64);
    for conn in &mut open {
        conn.read_until_closed()
            .expect("a connection whose child was stopped is closed");
    }
}

#[test]
fn reap_once_survives_children_exiting_together() {
    // One waitpid per SIGCHLD leaks zombies when signals merge; how many is
    // up to the scheduler, so only survival and the final reaping are checked.
    become_subreaper();
    let server = Served::start("fork", "tcp", &["--reap", "once"]);
    churn(&server);
    let summary = stop_and_check_no_child_left(server);
    assert_eq!(summary.connections, CONNECTIONS, "{summary:?}");
}

#[test]
fn prefork_workers_outlive_the_churn_and_are_reaped_on_shutdown() {
    // More workers than connections at once, so every round is served together.
    const WORKERS: usize = AT_ONCE + 14;
    become_subreaper();
    let server = Served::start("prefork", "tcp", &["--workers", &WORKERS.to_string()]);
    let pid = server.pid();
    wait_for_count("the preforked workers", SETTLE_TIMEOUT, WORKERS, || {
        children_of(pid).len()
    });
    let workers = child_pids(pid);
    churn(&server);
    // Connections end, workers do not: the same processes, none a zombie.
    let mut now = child_pids(pid);
    now.sort_unstable();
    let mut before = workers.clone();
    before.sort_unstable();
    assert_eq!(
        now, before,
        "the workers serving the churn are the ones forked at start"
    );
    assert_eq!(zombie_children(pid), 0);
    let summary = stop_and_check_no_child_left(server);
    assert_eq!(summary.connections, CONNECTIONS, "{summary:?}");
    assert_eq!(summary.workers_replaced, 0, "{summary:?}");
    assert_eq!(summary.errors, ErrorCounts::default(), "{summary:?}");
}

#[test]
fn a_child_killed_mid_connection_gives_its_place_back() {
    become_subreaper();
    let server = Served::start("fork", "tcp", &["--max-children", "1"]);
    let pid = server.pid();
    // One client holds the only child; kill that child as a crash would.
    let _held = Conn::connect(&server.endpoint).expect("connect");
    wait_for_count("the one child", SETTLE_TIMEOUT, 1, || {
        children_of(pid).iter().filter(|c| c.state != 'Z').count()
    });
    let child = child_pids(pid)[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the child");
    // The dead child never freed its slot; the parent must notice, or the
    // cap of one would stay used up and this client would wait for ever.
    common::echo_exchange(&server.endpoint, b"still served", 1).expect("served after the crash");
    stop_and_check_no_child_left(server);
}
