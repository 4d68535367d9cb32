//! `sockbench report` (not yet built).

use anyhow::{bail, Result};

/// Arguments of `sockbench report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

pub fn execute(_args: ReportArgs) -> Result<()> {
    bail!("`sockbench report` is not built yet")
}
