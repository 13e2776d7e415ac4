//! What `store`, `retrieve`, `watch` and `info` share about mmf shared values.
//! TEMPORARY: the library's shared values (mmf/src/value.rs) have not landed yet.

use super::Ctx;
use crate::exit::CliError;
use mmf::{Lifetime, Permissions};

/// An open shared value.
pub struct Value;

fn missing() -> anyhow::Error {
    CliError::Failed("shared values are not in the library yet; use --raw".into()).into()
}

/// Stores `data` as a new version of the shared value `name`, creating it if needed.
pub fn store(
    _ctx: &Ctx,
    _name: &str,
    _data: &[u8],
    _lifetime: Lifetime,
    _permissions: Option<Permissions>,
) -> anyhow::Result<Value> {
    Err(missing())
}

/// The version and length of the value `name` holds, if it can be read.
pub fn summary(_ctx: &Ctx, _name: &str) -> Option<(u64, usize)> {
    None
}

/// The latest value of `name`: a shared value whole, a plain object up to its first NUL.
pub fn retrieve_any(
    ctx: &Ctx,
    name: &str,
    waiter: &super::retrieve::Waiter,
) -> anyhow::Result<Vec<u8>> {
    let m = waiter.retry(|| ctx.open_options().writable(false).open(name))?;
    super::retrieve::read_plain(&m)
}
