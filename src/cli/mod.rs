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

/// Parses the arguments, runs the command, and maps failure to a one-line
/// message on stderr and exit code 1 (clap uses 2 for usage errors).
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
