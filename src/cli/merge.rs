//! `sockbench merge` (not yet built).

use anyhow::{bail, Result};

/// Arguments of `sockbench merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {}

pub fn execute(_args: MergeArgs) -> Result<()> {
    bail!("`sockbench merge` is not built yet")
}
