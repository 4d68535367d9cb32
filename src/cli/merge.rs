//! `sockbench merge`: results of several load generators (hosts, runs) made
//! into one distribution by adding their HdrHistograms.

use std::path::PathBuf;

use anyhow::{Context, Result};
use loadgen::LoadReport;

/// Arguments of `sockbench merge`.
const EXAMPLES: &str = "\
Examples:
  sockbench merge client-a.json client-b.json --json merged.json";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MergeArgs {
    /// Result files written by `sockbench load --json`.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn execute(args: MergeArgs) -> Result<()> {
    let mut reports: Vec<LoadReport> = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let report = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a load result (written by sockbench load --json)",
                path.display()
            )
        })?;
        reports.push(report);
    }
    let merged = loadgen::merge(&reports)?;
    println!("Merged {} runs:", reports.len());
    print!("{}", loadgen::output::summary(&merged));
    if let Some(path) = &args.json {
        super::load::write_json(path, &merged)?;
    }
    Ok(())
}
