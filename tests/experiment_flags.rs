//! Every experiment's server flags, for every point of every profile, parse
//! against `sockbench serve`'s own arguments: a typo in an experiment fails
//! here, not halfway through a run.

use std::path::Path;

use clap::Parser;
use sockbench::cli::{Cli, Command};
use sockbench::experiments::{self, Profile};
use sockbench::runner::server_args;

#[test]
fn every_point_of_every_profile_parses_as_serve_flags() {
    let mut checked = 0;
    for profile in Profile::ALL {
        for experiment in experiments::all() {
            for point in (experiment.points)(profile) {
                let args = server_args(
                    &point,
                    Some(&[1]),
                    Path::new("/tmp/sockbench-flags.sock"),
                    None,
                );
                let argv = std::iter::once("sockbench".to_string()).chain(args.iter().cloned());
                let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| {
                    panic!(
                        "{} ({}) point '{}' x={}: `sockbench {}` does not parse:\n{e}",
                        experiment.id,
                        profile.name(),
                        point.series,
                        point.x,
                        args.join(" ")
                    )
                });
                let Command::Serve(serve) = cli.command else {
                    panic!(
                        "{}: server arguments did not parse as `serve`",
                        experiment.id
                    );
                };
                let config = serve.to_config();
                assert_eq!(
                    (serve.model, config.transport),
                    (point.server.model, point.server.transport),
                    "{} point '{}': the parsed model or transport is not the one asked for",
                    experiment.id,
                    point.series
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} points checked: did the registry shrink?"
    );
}

#[test]
fn a_misspelt_flag_is_refused() {
    // The check above must be able to fail: clap refuses what serve does not know.
    let argv = ["sockbench", "serve", "--model", "fork", "--reep", "none"];
    assert!(Cli::try_parse_from(argv).is_err());
}
