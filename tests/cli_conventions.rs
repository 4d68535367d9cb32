//! The command line keeps the conventions its users know from other tools:
//! shell completions and a man page generated from the same definition,
//! `--version` naming the build, examples in every subcommand's help, and
//! usage errors exiting 2.

mod common;

use common::sockbench;

fn stdout_of(args: &[&str]) -> String {
    let out = sockbench().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_cover_every_subcommand_and_enum_value() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        for word in ["serve", "load", "run", "report", "compare", "completions"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
        // Possible values reach the completions: the load modes.
        assert!(
            script.contains("crr") && script.contains("open"),
            "{shell} completions lack --mode's values"
        );
    }
    let out = sockbench().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_page_and_version_name_the_build() {
    let man = stdout_of(&["man"]);
    assert!(
        man.contains(".TH sockbench 1"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(
        man.contains("compare"),
        "the man page lists the subcommands"
    );
    let version = stdout_of(&["--version"]);
    assert!(
        version.starts_with(&format!("sockbench {} (git ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

#[test]
fn every_subcommand_help_has_examples() {
    for command in [
        "serve",
        "load",
        "run",
        "report",
        "merge",
        "compare",
        "completions",
        "man",
    ] {
        let help = stdout_of(&[command, "--help"]);
        assert!(
            help.contains("Examples:\n  sockbench "),
            "{command} --help has no examples:\n{help}"
        );
    }
    let load = stdout_of(&["load", "--help"]);
    assert!(
        load.contains("[possible values: rr, crr, open, udp]"),
        "{load}"
    );
}
