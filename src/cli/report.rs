//! `sockbench report DIR`: redraw charts and REPORT.md from stored JSON.

use std::path::PathBuf;

use anyhow::Result;

use crate::results::ResultSet;

/// Arguments of `sockbench report`.
const EXAMPLES: &str = "\
Examples:
  sockbench report results/reference
  sockbench report results/2026-12-01-myhost";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ReportArgs {
    /// A results folder written by `sockbench run`.
    pub dir: PathBuf,
}

pub fn execute(args: ReportArgs) -> Result<()> {
    let results = ResultSet::load(&args.dir)?;
    let written = crate::report::write(&results)?;
    println!(
        "redrew {} chart files and {} from {} measurements",
        written.charts.len(),
        written.report.display(),
        results.measurements.len()
    );
    Ok(())
}
