//! `sockbench load` (not yet built).

use anyhow::{bail, Result};

/// Arguments of `sockbench load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {}

pub fn execute(_args: LoadArgs) -> Result<()> {
    bail!("`sockbench load` is not built yet")
}
