//! `sockbench completions SHELL` and `sockbench man`: shell completions and
//! the man page, generated from the same clap definition as the parser, so
//! they never drift from the flags.

use std::io::Write as _;

use anyhow::{Context, Result};
use clap_complete::Shell;

/// Arguments of `sockbench completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  sockbench completions bash > /etc/bash_completion.d/sockbench
  sockbench completions zsh > ~/.zfunc/_sockbench
  sockbench completions fish > ~/.config/fish/completions/sockbench.fish")]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `sockbench man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  sockbench man > sockbench.1 && man ./sockbench.1")]
pub struct ManArgs {}

pub fn completions(args: CompletionsArgs) -> Result<()> {
    let mut command = super::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "sockbench", &mut out);
    out.flush()
        .context("failed to write the completions to stdout")
}

pub fn man(_: ManArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(super::command())
        .render(&mut out)
        .context("failed to write the man page to stdout")?;
    out.flush()
        .context("failed to write the man page to stdout")
}
