//! `mmf watch NAME`: each new value as it is stored.

use super::Ctx;
use crate::cli::WatchArgs;

pub fn run(ctx: &Ctx, a: WatchArgs) -> anyhow::Result<()> {
    ctx.find(&a.name)?;
    Err(crate::exit::CliError::Failed("shared values are not in the library yet".into()).into())
}
