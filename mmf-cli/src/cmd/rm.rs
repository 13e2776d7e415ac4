//! `mmf rm NAME`: `shm_unlink`.

use super::Ctx;
use crate::cli::RmArgs;

pub fn run(ctx: &Ctx, a: RmArgs) -> anyhow::Result<()> {
    ctx.namespace().remove(a.name.as_str())?;
    Ok(())
}
