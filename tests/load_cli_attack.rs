//! `sockbench load --slowloris N` and `--flood RATE`: misbehaving clients
//! beside the measured ones, counted in the JSON and the summary, and bad
//! settings refused with one line.

use common::load::*;

mod common;

#[test]
fn slowloris_connections_are_held_and_counted_while_mio_keeps_serving() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let (stdout, v) = load_json(
        dir.path(),
        "slowloris.json",
        &[
            "--target",
            &addr,
            "--slowloris",
            "16",
            "--slowloris-interval",
            "100ms",
        ],
    );
    assert_eq!(u(&v, "/attack/opened"), 16, "{stdout}");
    assert_eq!(u(&v, "/attack/held_at_end"), 16, "{stdout}");
    assert!(u(&v, "/attack/bytes_sent") >= 16, "{stdout}");
    // An event loop answers the well-behaved client all the same.
    assert!(u(&v, "/requests") > 100, "{stdout}");
    assert_eq!(u(&v, "/errors/total"), 0, "{stdout}");
    assert!(
        stdout.contains("Attackers: 16 connections opened"),
        "{stdout}"
    );
}

#[test]
fn a_flood_opens_connections_at_its_rate() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&["--model", "mio"]);
    let addr = addr_of(&server);
    let (stdout, v) = load_json(
        dir.path(),
        "flood.json",
        &["--target", &addr, "--flood", "200"],
    );
    // 1.25 s at 200/s: about 250, whatever the scheduler's jitter.
    let opened = u(&v, "/attack/opened");
    assert!((100..=400).contains(&opened), "{opened}: {stdout}");
    assert!(u(&v, "/requests") > 100, "{stdout}");
}

#[test]
fn bad_attack_settings_are_one_line_errors() {
    for (args, hint) in [
        (vec!["--flood", "0"], "flood"),
        (vec!["--slowloris", "0"], "slowloris"),
    ] {
        let mut all = vec!["--target", "127.0.0.1:9", "--duration", "1s"];
        all.extend(args);
        assert_one_line_error(&load(&all), hint);
    }
}
