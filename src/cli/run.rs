//! `sockbench run` (not yet built).

use anyhow::{bail, Result};

/// Arguments of `sockbench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {}

pub fn execute(_args: RunArgs) -> Result<()> {
    bail!("`sockbench run` is not built yet")
}
