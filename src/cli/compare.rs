//! `sockbench compare OLD NEW`: the figures of two results folders side by side.

use std::path::PathBuf;

use std::io::Write as _;

use anyhow::{bail, Context, Result};

use crate::results::ResultSet;

/// Arguments of `sockbench compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  sockbench compare results/reference results/2026-12-01-myhost

A point is \"changed\" when each run's median lies outside the other's
interval (min–max, or the 95% CI of the median from 6 repeats).")]
pub struct CompareArgs {
    /// The baseline results folder.
    pub old: PathBuf,
    /// The results folder to compare with it.
    pub new: PathBuf,
}

pub fn execute(args: CompareArgs) -> Result<()> {
    let old = ResultSet::load(&args.old)?;
    let new = ResultSet::load(&args.new)?;
    let changes = crate::compare::compare(&old, &new);
    if changes.is_empty() {
        bail!(
            "{} and {} have no point in common: compare runs of the same experiments",
            args.old.display(),
            args.new.display()
        );
    }
    let changed = changes.iter().filter(|c| c.beyond_intervals()).count();
    let text = format!(
        "{}{changed} of {} figures changed beyond both intervals\n",
        crate::compare::table(&changes),
        changes.len()
    );
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("failed to write to stdout"),
    }
}
