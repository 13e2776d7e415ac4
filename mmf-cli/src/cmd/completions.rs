//! `mmf completions SHELL`: a completion script generated from the clap definitions.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;

pub fn run(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut Cli::command(), "mmf", &mut out);
    std::io::Write::flush(&mut out)?;
    Ok(())
}
