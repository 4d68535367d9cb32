//! The command line. Only this module knows about flags: each subcommand's
//! file holds its clap type and turns it into a library config.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod load;
pub mod merge;
pub mod report;
pub mod run;
pub mod serve;

/// What does each classic server design really cost?
#[derive(Debug, Parser)]
#[command(name = "sockbench", version, about, propagate_version = true)]
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::execute(args),
        Command::Load(args) => load::execute(args),
        Command::Run(args) => run::execute(args),
        Command::Report(args) => report::execute(args),
        Command::Merge(args) => merge::execute(args),
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
