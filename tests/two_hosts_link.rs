//! The two-host lab on one machine: servers in one network namespace, load
//! generators in others, over veth links, with and without loss, and the
//! results of two load generators merged.
//!
//! Every test skips with a message where namespaces cannot be made (not
//! root, no `ip`) and, for loss, where `nft` is missing (scripts/install-deps.sh).

mod common;

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::hosts::*;
use common::ChildGuard;
use loadgen::report::Percentiles;
use loadgen::{LoadPlan, Mode, Target};
use sockbench::netns::LinkOptions;

#[test]
fn the_link_carries_tcp_and_udp_without_errors() {
    let _guard = serial();
    let Some(net) = network(&LinkOptions::default()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = &net.clients[0];
    let bind = format!("{}:0", net.server.addr);

    let tcp = serve_on(&net.server, &["--model", "mio", "--addr", &bind]);
    let addr = tcp.ready().addr.expect("an address");
    assert_eq!(
        addr.ip(),
        net.server.addr,
        "the server binds its own host's address"
    );
    let v = load_on(
        client,
        &dir.path().join("tcp.json"),
        &["--target", &addr.to_string(), "--connections", "4"],
    );
    assert_eq!(u(&v, "/errors/total"), 0, "no errors over the link");
    assert!(u(&v, "/requests") > 0);

    // The in-process path of `run --two-hosts`: this thread moves to the
    // client host, and the load generator's threads are born there.
    let home = thread_netns();
    {
        let _inside = client.enter().expect("enter the client host");
        assert_ne!(thread_netns(), home);
        let mut plan = LoadPlan::new(Target::Tcp(addr), Mode::Rr);
        plan.warmup = Duration::from_millis(100);
        plan.duration = Duration::from_millis(500);
        plan.threads = 2;
        plan.connections = 2;
        let report = loadgen::run(&plan, &AtomicBool::new(false)).expect("load in-process");
        assert_eq!(report.errors.total, 0);
        assert!(report.requests > 0);
    }
    assert_eq!(thread_netns(), home, "the guard takes the thread home");
    stop(tcp);

    let udp = serve_on(&net.server, &["--model", "udp-iterative", "--addr", &bind]);
    let addr = udp.ready().addr.expect("an address").to_string();
    let v = load_on(
        client,
        &dir.path().join("udp.json"),
        &["--target", &addr, "--mode", "udp", "--timeout", "500ms"],
    );
    assert_eq!(u(&v, "/udp/lost"), 0, "a clean link loses nothing");
    assert_eq!(u(&v, "/udp/sent"), u(&v, "/udp/answered"));
    stop(udp);
}

#[test]
fn loss_on_the_wire_is_counted_loss_for_udp_and_latency_for_tcp() {
    let _guard = serial();
    if !have_nft() {
        eprintln!("SKIPPED: packet loss needs nft (nftables): run scripts/install-deps.sh");
        return;
    }
    let Some(mut net) = network(&LinkOptions::default()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = net.clients[0].clone();
    let bind = format!("{}:0", net.server.addr);

    // TCP: one connection, a clean link, then 10% loss each way. (At 20% a
    // connect can need five SYN rounds, 1+2+4+8+16 s: too slow for a test.)
    let tcp = serve_on(&net.server, &["--model", "mio", "--addr", &bind]);
    let addr = tcp.ready().addr.expect("an address").to_string();
    let args = ["--target", addr.as_str(), "--timeout", "20s"];
    let clean = load_on(&client, &dir.path().join("clean.json"), &args);
    net.set_loss(10.0).expect("set the loss");
    let lossy = load_on(&client, &dir.path().join("lossy.json"), &args);
    stop(tcp);
    let (p99_clean, p99_lossy) = (u(&clean, "/latency_ns/p99"), u(&lossy, "/latency_ns/p99"));
    eprintln!("TCP RR p99: {p99_clean} ns clean, {p99_lossy} ns with 10% loss each way");
    assert_eq!(
        u(&lossy, "/errors/total"),
        0,
        "TCP loses nothing: it retransmits"
    );
    assert!(u(&lossy, "/requests") > 0);
    // A lost segment costs a retransmission timeout (200 ms minimum on Linux,
    // or a tail-loss probe of at least 10 ms): far above a clean round trip
    // even on a loaded machine, where the clean p99 itself can reach milliseconds.
    assert!(
        p99_lossy > 10_000_000 && p99_lossy > 4 * p99_clean,
        "retransmissions show in the tail: p99 {p99_lossy} ns vs {p99_clean} ns clean"
    );

    // UDP: 20% each way; what is lost is counted, and nothing else.
    net.set_loss(20.0).expect("set the loss");
    let udp = serve_on(&net.server, &["--model", "udp-iterative", "--addr", &bind]);
    let addr = udp.ready().addr.expect("an address").to_string();
    let v = load_on(
        &client,
        &dir.path().join("udp.json"),
        // 16 flows, so a second holds hundreds of datagrams despite the timeouts.
        &[
            "--target",
            &addr,
            "--mode",
            "udp",
            "--connections",
            "16",
            "--timeout",
            "100ms",
        ],
    );
    stop(udp);
    let (sent, answered, lost) = (
        u(&v, "/udp/sent"),
        u(&v, "/udp/answered"),
        u(&v, "/udp/lost"),
    );
    eprintln!("UDP with 20% loss each way: sent {sent}, answered {answered}, lost {lost}");
    assert!(lost > 0, "UDP counts the datagrams the link dropped");
    assert_eq!(sent, answered + lost, "every datagram is answered or lost");
    let share = lost as f64 / sent as f64;
    assert!(
        (0.15..0.6).contains(&share),
        "about 1 - 0.8² = 36% lost, not {:.1}%",
        share * 100.0
    );
}

#[test]
fn two_load_generators_merge_into_one_exact_distribution() {
    let _guard = serial();
    let Some(net) = network(&LinkOptions {
        clients: 2,
        ..LinkOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // One server, reachable from both links.
    let server = serve_on(&net.server, &["--model", "mio", "--addr", "0.0.0.0:0"]);
    let port = server.ready().addr.expect("an address").port();
    let jsons: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("client{i}.json")))
        .collect();
    let running: Vec<ChildGuard> = net
        .clients
        .iter()
        .zip(&jsons)
        .map(|(client, json)| {
            let target = format!("{}:{port}", client.peer);
            spawn_piped(&mut load_command(
                client,
                json,
                &["--target", &target, "--connections", "2"],
            ))
        })
        .collect();
    let results: Vec<serde_json::Value> = running
        .into_iter()
        .zip(&jsons)
        .map(|(child, json)| result_of(child.output_within(LOAD_TIMEOUT), json))
        .collect();
    stop(server);

    let merged_json = dir.path().join("merged.json");
    let out = spawn_piped(
        Command::new(exe())
            .arg("merge")
            .args(&jsons)
            .arg("--json")
            .arg(&merged_json),
    )
    .output_within(LOAD_TIMEOUT);
    let merged = result_of(out, &merged_json);

    // The reference: one histogram holding both sample sets.
    let mut both = loadgen::stats::new_histogram();
    for r in &results {
        assert_eq!(u(r, "/errors/total"), 0);
        let text = r["histogram_v2"].as_str().expect("a histogram");
        both.add(loadgen::stats::decode_v2(text).expect("it decodes"))
            .expect("histograms of one configuration add");
    }
    let want = loadgen::stats::percentiles(&both);
    let got: Percentiles =
        serde_json::from_value(merged["latency_ns"].clone()).expect("merged percentiles");
    assert_eq!(
        (got.count, got.min, got.p50, got.p90, got.p99, got.p999, got.p9999, got.max),
        (want.count, want.min, want.p50, want.p90, want.p99, want.p999, want.p9999, want.max),
        "merged percentiles are those of the combined distribution"
    );
    assert!((got.mean - want.mean).abs() <= 1e-6 * want.mean.max(1.0));
    let sum = |path: &str| results.iter().map(|r| u(r, path)).sum::<u64>();
    for path in [
        "/requests",
        "/latency_ns/count",
        "/bytes_sent",
        "/bytes_received",
    ] {
        assert_eq!(u(&merged, path), sum(path), "{path} adds up");
    }
    assert!(sum("/requests") > 0 && results.iter().all(|r| u(r, "/requests") > 0));
}
