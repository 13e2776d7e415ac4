//! `mmf rm NAME...`: `shm_unlink` each name.

use super::Ctx;
use crate::cli::RmArgs;

/// Removes every name, going on past failures as rm(1) does. Each failure but the last is
/// reported here; the last is returned, so the exit status is that of a failure.
pub fn run(ctx: &Ctx, a: RmArgs) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    let mut failed: Option<anyhow::Error> = None;
    for name in &a.names {
        match ns.remove(name.as_str()) {
            Ok(()) => {}
            Err(e) if a.force && e.kind() == mmf::ErrorKind::NotFound => {}
            Err(e) => {
                if let Some(prev) = failed.replace(e.into()) {
                    report(&prev);
                }
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

fn report(err: &anyhow::Error) {
    if let crate::exit::Outcome::Fail(_, line) = crate::exit::outcome(err) {
        crate::exit::note(format_args!("{line}"));
    }
}
