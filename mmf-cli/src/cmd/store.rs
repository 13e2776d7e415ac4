//! `mmf store NAME [DATA]`: a shared value (default) or the seed's plain format (`--raw`).

use super::Ctx;
use crate::cli::StoreArgs;
use crate::exit::{CliError, object};
use crate::input;
use crate::interrupt::Interrupts;
use crate::progress::Progress;
use mmf::{Disposition, ErrorKind, Lifetime, Mapping, Permissions};

/// The seed's object size, and the least `--raw` creates.
pub const RAW_MIN_SIZE: u64 = 4096;

/// Bytes written into a plain object per step.
const CHUNK: usize = 1 << 20;

pub fn run(ctx: &Ctx, a: StoreArgs) -> anyhow::Result<()> {
    let input = input::open_value(a.data, a.file)?;
    // With --hold, catch the signals once the value is read (a Ctrl-C while typing it still
    // aborts) and before the object exists: a Ctrl-C from now on ends the hold cleanly.
    let signals = if a.hold {
        Some(Interrupts::catch()?)
    } else {
        None
    };
    let lifetime = if a.hold {
        Lifetime::Handle
    } else {
        Lifetime::Persistent
    };
    let permissions = a.mode.map(Permissions::from_mode);
    // What stays open while `--hold` waits, whether it was made here, and its lifetime (an
    // existing object keeps its own).
    let (held, how, lifetime, len): (Box<dyn std::any::Any>, Disposition, Lifetime, u64) = if a.raw
    {
        // A plain object is sized for its value and NUL first: read it whole.
        let data = input.into_bytes()?;
        let (m, how) = store_raw(ctx, &a.name, &data, lifetime, permissions)?;
        let l = m.lifetime();
        (Box::new(m), how, l, data.len() as u64)
    } else {
        let how = super::values::How {
            lifetime,
            permissions,
            lock_timeout: a.timeout,
        };
        let (v, how, len) = super::values::store_input(ctx, &a.name, input, how)?;
        let l = v.mapping().lifetime();
        (Box::new(v), how, l, len)
    };
    if let Some(mut signals) = signals {
        crate::exit::inform(format_args!(
            "{}",
            holding_note(&a.name, len, how, lifetime)
        ));
        signals.wait();
    }
    // Handle lifetime: closing the last handle removes the name, as in Win32.
    drop(held);
    Ok(())
}

/// What `--hold` says on stderr once the value is stored.
///
/// Like Win32's `CreateFileMapping` on an existing name (`ERROR_ALREADY_EXISTS`), `--hold` on an
/// object that exists opens it and holds it like its other holders: a handle-lifetime object then
/// lives until its last holder ends, and a persistent one stays persistent.
fn holding_note(name: &str, len: u64, how: Disposition, lifetime: Lifetime) -> String {
    let obj = object(name);
    match (how, lifetime) {
        (Disposition::Created, _) => format!(
            "mmf: holding {obj} ({len} bytes stored); it goes away when this command ends (Ctrl-C)"
        ),
        (_, Lifetime::Handle) => format!(
            "mmf: {obj} already exists: holding it with its other holders ({len} bytes stored); \
             it goes away when the last of them ends (Ctrl-C ends this one)"
        ),
        _ => format!(
            "mmf: {obj} already exists and is persistent: holding it ({len} bytes stored) until \
             Ctrl-C, and it stays after that (remove it with `mmf rm {name}`)"
        ),
    }
}

/// Writes `data` and a NUL into the plain object `name`: in place when it exists, whatever its
/// size, as long as they fit (as `CreateFileMapping` opens an existing object, which keeps its
/// own size and lifetime); otherwise in a new object of at least [`RAW_MIN_SIZE`] bytes with
/// `lifetime`.
fn store_raw(
    ctx: &Ctx,
    name: &str,
    data: &[u8],
    lifetime: Lifetime,
    permissions: Option<Permissions>,
) -> anyhow::Result<(Mapping, Disposition)> {
    if data.contains(&0) {
        crate::exit::inform(format_args!(
            "mmf: warning: the value holds NUL bytes; C programs reading the plain object stop at the first"
        ));
    }
    if ctx.find(name).is_ok_and(|o| o.is_value()) {
        return Err(CliError::Usage(format!(
            "{} holds an mmf shared value; store without --raw, or remove it first with \
             `mmf rm {name}`",
            object(name)
        ))
        .into());
    }
    let need = data.len() as u64 + 1;
    let (m, how) = match ctx.open_options().open(name) {
        Ok(m) => (m, Disposition::Opened),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut opts = ctx.create_options();
            opts.size(need.max(RAW_MIN_SIZE)).lifetime(lifetime);
            if let Some(p) = permissions {
                opts.permissions(p);
            }
            opts.open_or_create(name)?
        }
        Err(e) => return Err(e.into()),
    };
    if m.len() < need {
        let fits = m.len().saturating_sub(1);
        anyhow::bail!(
            "cannot store into {}: it holds {} bytes, so at most {fits} bytes fit with the NUL, \
             and the value has {} (store at most {fits} bytes, or remove it first with \
             `mmf rm {name}`)",
            object(name),
            m.len(),
            data.len()
        );
    }
    let view = m.map_mut()?;
    let mut progress = Progress::bytes(Some(data.len() as u64), "storing");
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        view.write_at(i * CHUNK, chunk)?;
        progress.inc(chunk.len() as u64);
    }
    view.write_at(data.len(), &[0])?;
    Ok((m, how))
}
