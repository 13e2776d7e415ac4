//! `mmf completions SHELL`: a completion script generated from the clap definitions.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use std::io::Write;

pub fn run(a: CompletionsArgs) -> anyhow::Result<()> {
    // Into memory first: the generator panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "mmf", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}
