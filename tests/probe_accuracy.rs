//! The probe checked against figures it does not compute itself: a fork
//! server whose children burn a known amount of CPU (the synthetic service
//! burns by its own thread CPU clock) under every reaping policy, and the
//! memory of a fork server holding 200 idle connections against a PSS sum
//! this test reads from smaps_rollup itself at the same moment.
//!
//! Servers are `sockbench serve` children, killed by their guards.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::Served;
use loadgen::{LoadPlan, Mode, Target, Workload};
use servers::Endpoint;

/// CPU each request burns in the server's child, and how many requests.
const BURN_US: u32 = 4_000;
const REQUESTS: u64 = 30;

fn target(served: &Served) -> Target {
    match &served.endpoint {
        Endpoint::Inet(addr) => Target::Tcp(*addr),
        Endpoint::Unix(_) => unreachable!("these tests serve TCP"),
    }
}

/// Whether this process may make cgroups (the exact source needs them).
fn can_make_cgroups() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to our effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root && std::path::Path::new("/sys/fs/cgroup").exists()
}

fn children_burn_cpu_that_the_probe_sees(reap: &str) {
    let served = Served::start("fork", "tcp", &["--service", "synthetic", "--reap", reap]);
    let mut plan = LoadPlan::new(target(&served), Mode::Crr);
    plan.workload = Workload::Synthetic {
        payload_len: 16,
        response_len: 16,
        cpu_us: BURN_US,
        wait_us: 0,
    };
    plan.warmup = Duration::ZERO;
    plan.duration = Duration::from_secs(30);
    plan.max_requests = Some(REQUESTS);
    plan.server_pid = Some(served.pid() as u32);
    let report = loadgen::run(&plan, &AtomicBool::new(false)).expect("the load runs");
    let server = report.server.expect("a server cost");
    assert_eq!(report.errors.total, 0, "{:?}", report.errors);
    let burned_ns = report.requests * u64::from(BURN_US) * 1000;
    if can_make_cgroups() {
        assert_eq!(server.cpu_source, "cgroup-cpuacct", "{server:?}");
        assert!(server.cpu_exact, "{server:?}");
    }
    eprintln!(
        "--reap {reap}: {} requests burned {:.1} ms; probe {:.1} ms ({})",
        report.requests,
        burned_ns as f64 / 1e6,
        server.cpu_ns as f64 / 1e6,
        server.cpu_source
    );
    if server.cpu_exact {
        // Every child's burn, reaped by a handler, once, by the kernel or by
        // nobody; what is above it is fork, exit and the sockets (a few ms per
        // child on a busy machine, never 10).
        assert!(
            server.cpu_ns >= burned_ns,
            "--reap {reap}: {} ns seen, {burned_ns} ns burned: {server:?}",
            server.cpu_ns
        );
        assert!(
            server.cpu_ns <= burned_ns + report.requests * 10_000_000,
            "--reap {reap}: {} ns seen, {burned_ns} ns burned",
            server.cpu_ns
        );
    }
    drop(served);
}

#[test]
fn children_reaped_by_a_handler_are_counted() {
    children_burn_cpu_that_the_probe_sees("handler");
}

#[test]
fn children_reaped_once_are_counted() {
    children_burn_cpu_that_the_probe_sees("once");
}

#[test]
fn children_reaped_by_the_kernel_are_counted() {
    children_burn_cpu_that_the_probe_sees("ignore");
}

#[test]
fn children_never_reaped_are_counted() {
    children_burn_cpu_that_the_probe_sees("none");
}

/// Σ PSS and Σ RSS (kB) over `root` and its descendants, read here from
/// smaps_rollup with a parser of this test's own.
fn independent_memory(root: u32) -> (u64, u64) {
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let pid = tree[i];
        for stat in probe::stat::all_processes().unwrap() {
            if stat.ppid == pid && !tree.contains(&stat.pid) {
                tree.push(stat.pid);
            }
        }
        i += 1;
    }
    let (mut pss, mut rss) = (0, 0);
    for pid in tree {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue; // a zombie, or gone
        };
        for line in text.lines() {
            let kb = || {
                line.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            };
            if line.starts_with("Pss:") {
                pss += kb();
            } else if line.starts_with("Rss:") {
                rss += kb();
            }
        }
    }
    (pss, rss)
}

#[test]
fn pss_matches_an_independent_sum_at_the_same_moment() {
    const IDLE: usize = 200;
    let served = Served::start("fork", "tcp", &["--max-children", "512"]);
    let pid = served.pid() as u32;
    // Hold 200 connections open from here, so the tree stays while we compare.
    let addr = match &served.endpoint {
        Endpoint::Inet(a) => *a,
        Endpoint::Unix(_) => unreachable!(),
    };
    let conns: Vec<_> = (0..IDLE)
        .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
        .collect();
    common::wait_for("200 children", Duration::from_secs(20), || {
        probe::tree_snapshot(pid).is_ok_and(|s| s.processes > IDLE as u64)
    });
    let monitor = probe::ServerMonitor::start(pid, None, Duration::from_millis(50)).unwrap();
    monitor.mark_recording_start();
    let (before_pss, before_rss) = independent_memory(pid);
    monitor.mark_recording_end();
    let cost = monitor.finish(0);
    let (after_pss, after_rss) = independent_memory(pid);
    let (pss, rss) = ((before_pss + after_pss) / 2, (before_rss + after_rss) / 2);
    let within =
        |ours: u64, theirs: u64| (ours as f64 - theirs as f64).abs() <= 0.15 * theirs as f64;
    assert!(
        within(cost.peak_pss_kb, pss),
        "probe {} kB, smaps_rollup {pss} kB",
        cost.peak_pss_kb
    );
    assert!(
        within(cost.peak_rss_kb, rss),
        "probe {} kB, smaps_rollup {rss} kB",
        cost.peak_rss_kb
    );
    // Each child is a copy of the parent sharing its pages: summed RSS counts
    // them once per child, PSS once.
    assert!(rss > 3 * pss, "rss {rss} pss {pss}");
    if can_make_cgroups() {
        // 400 established sockets (ours are in no group of the server's) with
        // empty buffers: a small figure, but a figure.
        assert!(cost.socket_mem_kb.is_some(), "{cost:?}");
        // 200 children's kernel stacks and page tables, 200 socket objects.
        assert!(
            cost.kernel_mem_kb.is_some_and(|kb| kb > 200 * 16),
            "{cost:?}"
        );
    }
    eprintln!(
        "fork, {IDLE} idle: PSS {} kB (independent {pss}), RSS {} kB (independent {rss}), socket memory {:?} kB, kernel memory {:?} kB",
        cost.peak_pss_kb, cost.peak_rss_kb, cost.socket_mem_kb, cost.kernel_mem_kb
    );
    drop(conns);
    drop(served);
}

#[test]
fn a_killed_server_leaves_no_cgroup_behind() {
    if !can_make_cgroups() {
        return; // no group is made, so none can be left
    }
    let served = Served::start("fork", "tcp", &[]);
    let pid = served.pid() as u32;
    let addr = match &served.endpoint {
        Endpoint::Inet(a) => *a,
        Endpoint::Unix(_) => unreachable!(),
    };
    let conns: Vec<_> = (0..5)
        .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
        .collect();
    common::wait_for("5 children", Duration::from_secs(10), || {
        probe::tree_snapshot(pid).is_ok_and(|s| s.processes > 5)
    });
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cgroup
        .lines()
        .find_map(|l| {
            l.strip_prefix("2:cpuacct:")
                .or_else(|| l.split_once(":cpuacct:").map(|x| x.1))
        })
        .map(str::to_string);
    let dir = std::path::Path::new("/sys/fs/cgroup/cpuacct").join(
        path.expect("the server is in a cpuacct group")
            .trim_start_matches('/'),
    );
    assert!(
        dir.ends_with(format!("sockbench/{pid}")),
        "{}",
        dir.display()
    );
    assert!(dir.exists(), "{}", dir.display());
    // SIGKILL (the guard's drop): the server cannot clean up; its starter does.
    drop(served);
    assert!(!dir.exists(), "{} left behind", dir.display());
    drop(conns);
}
