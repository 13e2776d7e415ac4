//! `mmf gc`: remove handle-lifetime objects nobody holds any more.

use super::Ctx;
use crate::output::shown;
use std::io::{IsTerminal, Write};

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let removed = ctx.namespace().gc()?;
    let mut out = std::io::stdout().lock();
    for name in &removed {
        writeln!(out, "removed {}", shown(name))?;
    }
    out.flush()?;
    if removed.is_empty() && std::io::stdout().is_terminal() {
        crate::exit::inform(format_args!("nothing to remove"));
    }
    Ok(())
}
