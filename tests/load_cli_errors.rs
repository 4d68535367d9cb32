//! `sockbench load` refuses bad input with one line that says what to change,
//! and unknown enum values as usage errors listing the choices.

use common::load::*;

mod common;

#[test]
fn bad_input_is_a_one_line_error() {
    let (_held, refusing) = common::refusing_addr();
    let dead = refusing.to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--mode", "rr"], "no target"),
        (
            vec!["--target", "127.0.0.1:9", "--rate", "100"],
            "--rate applies to --mode open",
        ),
        (
            vec!["--target", "127.0.0.1:9", "--mode", "open"],
            "needs --rate",
        ),
        (
            vec!["--target", "127.0.0.1:9", "--connections", "0"],
            "zero connections",
        ),
        (vec!["--target", "nosuchhost.invalid:80"], "cannot resolve"),
        (
            vec!["--target", "127.0.0.1:9", "--transport", "unix"],
            "needs --path",
        ),
        (
            vec!["--target", &dead, "--duration", "1s"],
            "nothing answers",
        ),
        (
            vec!["--path", "/nonexistent/sock", "--duration", "1s"],
            "nothing answers",
        ),
    ];
    for (args, hint) in cases {
        let out = load(&args);
        assert_one_line_error(&out, hint);
    }
}

/// An enum flag with an unknown value is a usage error: exit 2, and the
/// message lists the possible values.
#[test]
fn unknown_enum_values_are_usage_errors_listing_the_choices() {
    for (flag, value, choice) in [
        ("--mode", "zigzag", "crr"),
        ("--transport", "sctp", "unix"),
        ("--service", "gopher", "synthetic"),
    ] {
        let out = load(&["--target", "127.0.0.1:9", flag, value]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(value) && stderr.contains("possible values") && stderr.contains(choice),
            "{flag} {value}: {stderr}"
        );
    }
}
