//! The command line. Only this module knows about flags: each subcommand's
//! file holds its clap type and turns it into a library config.

use std::process::ExitCode;

use std::sync::OnceLock;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod clients;
pub mod compare;
pub mod load;
pub mod merge;
mod remote;
pub mod report;
pub mod run;
pub mod serve;
pub mod shell;

/// What does each classic server design really cost?
#[derive(Debug, Parser)]
#[command(name = "sockbench", version, about, propagate_version = true)]
#[command(
    after_help = "See `sockbench COMMAND --help` for examples. Exit codes: 0 ok, 1 error, 2 usage, 3 points failed, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one server model until SIGINT/SIGTERM.
    Serve(serve::ServeArgs),
    /// Drive a running server with the load generator.
    Load(load::LoadArgs),
    /// The main job: every model through every experiment, then charts and REPORT.md.
    Run(run::RunArgs),
    /// Redraw the charts and REPORT.md of a results folder from its JSON.
    Report(report::ReportArgs),
    /// Merge load results from several load-generator hosts into one distribution.
    Merge(merge::MergeArgs),
    /// Compare two results folders point by point: medians, ratio, and whether beyond both intervals.
    Compare(compare::CompareArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Man(shell::ManArgs),
    /// Print this machine as JSON: build, CPU, cores, kernel, memory, addresses
    /// (what `run --server-host` records of the server host).
    Machine,
}

/// `0.1.0 (git 1a2b3c4)`: the version and the revision it was built from.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(crate::hosts::machine::version)
}

/// The whole command line as clap sees it (with the version), for the
/// parser, the completions and the man page alike.
pub fn command() -> clap::Command {
    Cli::command().version(version())
}

fn print_machine() -> anyhow::Result<()> {
    let description = crate::hosts::machine::describe();
    println!("{}", serde_json::to_string_pretty(&description)?);
    Ok(())
}

/// A value parser for a library enum (`ALL`, `name()`, `FromStr`): its
/// names become possible values, listed in `--help` and completions,
/// while the library stays free of clap.
pub fn named<T>(all: &[T], name: fn(&T) -> &'static str) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    let names: Vec<&'static str> = all.iter().map(name).collect();
    PossibleValuesParser::new(names).try_map(|s| s.parse::<T>().map_err(|e| e.to_string()))
}

/// A command that ran to its end but must not exit 0; `main` maps each to
/// its documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum Unsuccessful {
    /// Some measurements failed (a server crashed, hung or did not start,
    /// or the load failed); the results and the report are written.
    #[error("{failed} of {total} measurements failed; see the warnings above and REPORT.md in {}", dir.display())]
    PointsFailed {
        failed: usize,
        total: usize,
        dir: std::path::PathBuf,
    },
    /// Stopped by SIGINT/SIGTERM; what was measured is written, marked partial.
    #[error("interrupted: the points measured so far are in {} (run.json says partial)", dir.display())]
    Interrupted { dir: std::path::PathBuf },
}

/// The exit codes, as README's "Exit codes" table documents them.
pub mod exit {
    /// Every point measured cleanly (or the command did its job).
    pub const OK: u8 = 0;
    /// An error stopped the command (its one-line message says what to do).
    pub const ERROR: u8 = 1;
    /// A usage error: unknown flag or value (clap's convention).
    pub const USAGE: u8 = 2;
    /// The run finished, but some points failed.
    pub const POINTS_FAILED: u8 = 3;
    /// Interrupted by SIGINT/SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// Parses the arguments, runs the command, and maps failure to a one-line
/// message on stderr and an exit code from [`exit`] (clap exits 2 itself
/// for usage errors).
pub fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Serve(args) => serve::execute(args),
        Command::Load(args) => load::execute(args),
        Command::Run(args) => run::execute(args),
        Command::Report(args) => report::execute(args),
        Command::Merge(args) => merge::execute(args),
        Command::Compare(args) => compare::execute(args),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args),
        Command::Machine => print_machine(),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("error: {e:#}");
            ExitCode::from(match e.downcast_ref::<Unsuccessful>() {
                Some(Unsuccessful::PointsFailed { .. }) => exit::POINTS_FAILED,
                Some(Unsuccessful::Interrupted { .. }) => exit::INTERRUPTED,
                None => exit::ERROR,
            })
        }
    }
}
