//! What `store`, `retrieve`, `watch` and `info` share about mmf shared values.

use super::Ctx;
use super::retrieve::{Waiter, write_plain};
use crate::exit::{CliError, object};
use crate::input::Input;
use crate::progress::Progress;
use mmf::{
    Access, Disposition, ErrorKind, Lifetime, Mapping, Permissions, SharedValue, ValueHeader,
    ValueOptions,
};
use std::io::Write;
use std::time::Duration;

/// Values up to this size get slots of their own size at creation; larger ones start with the
/// library's default slots and grow the one they are stored in, so a 100 MB value costs about
/// 100 MB rather than one slot's worth times the number of slots.
const PRESIZE_LIMIT: u64 = 64 << 10;

/// How long an object whose header is still all zeros may take to become a shared value before
/// it is read as a plain object (a value's creator publishes its header within microseconds).
const PLAIN_GRACE: Duration = Duration::from_millis(200);

fn options(ctx: &Ctx) -> ValueOptions {
    let mut o = ValueOptions::new();
    if let Some(d) = &ctx.dir {
        o.dir(d);
    }
    o.allow_other_owner(ctx.allow_other_owner);
    o
}

/// What a name turned out to hold.
pub enum Opened {
    /// An mmf shared value.
    Value(SharedValue),
    /// Plain bytes (the seed's format, C, Python).
    Plain(Mapping),
}

/// Opens `name` as a shared value if it is one, else (read-only) as a plain object.
///
/// A value is opened writable where the permissions allow, though nothing is stored through it:
/// a writable handle pins the slot it reads (so a writer storing flat out cannot starve it) and
/// is woken by the kernel when a new version is stored, where a read-only one polls.
pub fn open_any(ctx: &Ctx, name: &str) -> anyhow::Result<Opened> {
    let mut o = options(ctx);
    o.timeout(PLAIN_GRACE);
    let opened = match o.open(name) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => o.access(Access::ReadOnly).open(name),
        r => r,
    };
    match opened {
        Ok(v) => Ok(Opened::Value(v)),
        // Not a shared value: foreign bytes (Corrupt), or zeros that never became a header.
        Err(e) if matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::NotReady) => {
            if ctx.find(name).is_ok_and(|o| o.is_value()) {
                // It says it is a value but cannot be read as one: report that, not its bytes.
                return Err(e.into());
            }
            let plain = ctx.open_options().access(Access::ReadOnly).open(name)?;
            if damaged_value(&plain) {
                // A value whose magic was damaged: its header is not data either.
                return Err(e.into());
            }
            Ok(Opened::Plain(plain))
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores `data` as a new version of the shared value `name`, creating it with `lifetime` if it
/// does not exist, and says which. An existing value keeps its own lifetime: as with Win32's
/// `CreateFileMapping`, opening an existing handle-lifetime object makes this process one more
/// holder. A value this call created is removed again if the store fails (out of space, say), so
/// a failed store leaves nothing behind. `lock_timeout` overrides the library's patience with a
/// writer lock another process keeps.
pub fn store(
    ctx: &Ctx,
    name: &str,
    data: &[u8],
    lifetime: Lifetime,
    permissions: Option<Permissions>,
    lock_timeout: Option<Duration>,
) -> anyhow::Result<(SharedValue, Disposition)> {
    let how = How {
        lifetime,
        permissions,
        lock_timeout,
    };
    store_with(ctx, name, Some(data.len() as u64), how, |v| v.store(data))
}

/// [`store`] from a file or stdin, streamed into the value as it is read (bounded memory for any
/// size); also returns the number of bytes stored.
pub fn store_input(
    ctx: &Ctx,
    name: &str,
    input: Input,
    how: How,
) -> anyhow::Result<(SharedValue, Disposition, u64)> {
    match input {
        Input::Bytes(b) => {
            let (v, d) = store(
                ctx,
                name,
                &b,
                how.lifetime,
                how.permissions,
                how.lock_timeout,
            )?;
            Ok((v, d, b.len() as u64))
        }
        Input::Stream { reader, len, .. } => {
            let (v, d) = store_with(ctx, name, len, how, |v| match len {
                Some(l) => v.store_from(reader, l),
                None => v.store_streamed(reader),
            })?;
            let stored = v.reader()?.len();
            Ok((v, d, stored))
        }
    }
}

/// How a store creates a value that does not exist yet, and how long it waits for the lock.
pub struct How {
    pub lifetime: Lifetime,
    pub permissions: Option<Permissions>,
    pub lock_timeout: Option<Duration>,
}

fn store_with(
    ctx: &Ctx,
    name: &str,
    len: Option<u64>,
    how: How,
    put: impl FnOnce(&SharedValue) -> mmf::Result<u64>,
) -> anyhow::Result<(SharedValue, Disposition)> {
    let mut o = options(ctx);
    o.lifetime(how.lifetime).timeout(PLAIN_GRACE);
    if let Some(t) = how.lock_timeout {
        o.lock_timeout(t);
    }
    if let Some(len) = len.filter(|&l| l > 0 && l <= PRESIZE_LIMIT) {
        o.capacity(len);
    }
    if let Some(p) = how.permissions {
        o.permissions(p);
    }
    let (v, created) = o
        .open_or_create(name)
        .map_err(|e| plain_in_the_way(ctx, name, e))?;
    if let Err(e) = put(&v) {
        // Nothing was ever stored in a value made here: take the name back, so that a failed
        // store leaves no empty value behind. (Another process that opened it meanwhile keeps
        // its handle.)
        if created == Disposition::Created && v.version() == 0 {
            let _ = ctx.namespace().remove(name);
        }
        return Err(e.into());
    }
    Ok((v, created))
}

/// Whether a plain-looking object is really a shared value whose magic was damaged (see
/// [`ValueHeader::has_damaged_magic`]), judged from its first 64 bytes.
fn damaged_value(m: &Mapping) -> bool {
    if m.len() < 8 {
        return false;
    }
    let head = m.map().and_then(|v| v.read_vec(0, v.len().min(64)));
    head.is_ok_and(|h| ValueHeader::has_damaged_magic(&h))
}

/// A plain object where a value was expected gets an error that says what to do.
fn plain_in_the_way(ctx: &Ctx, name: &str, e: mmf::Error) -> anyhow::Error {
    let plain = matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::NotReady)
        && ctx.find(name).is_ok_and(|o| !o.is_value())
        && !ctx
            .open_options()
            .access(Access::ReadOnly)
            .open(name)
            .is_ok_and(|m| damaged_value(&m));
    if plain {
        CliError::Usage(format!(
            "{} is a plain object, not an mmf shared value; store into it with --raw, or remove \
             it first with `mmf rm {name}`",
            object(name)
        ))
        .into()
    } else {
        e.into()
    }
}

/// The latest value of `name` into `out`: a shared value whole, a plain object up to its first
/// NUL, a piece at a time (bounded memory for any size), with a progress bar for large values. With `--wait`, waits until the object exists and, for a value, until
/// something was stored.
pub fn retrieve_to(
    ctx: &Ctx,
    name: &str,
    waiter: &Waiter,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let v = match waiter.retry(|| open_any(ctx, name))? {
        Opened::Plain(m) => return write_plain(&m, out),
        Opened::Value(v) => v,
    };
    if v.version() == 0 && waiter.waits() {
        match v.wait_newer(0, waiter.remaining()) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Timeout => {
                return Err(waiter.timed_out("hold a value"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The library's streamed read: pieces from a buffer placed for fast copies, read through the
    // object's descriptor where it can, and started again if the value is replaced before the
    // first piece. The bar's length is the latest value's when the read begins.
    let mut bar = Progress::bytes(Some(v.reader()?.len()), "retrieving");
    let mut failed: Option<std::io::Error> = None;
    let read = v.retrieve_with(|piece| {
        out.write_all(piece).map_err(|e| {
            let kind = e.kind();
            failed = Some(e);
            std::io::Error::from(kind)
        })?;
        bar.inc(piece.len() as u64);
        Ok(())
    });
    if let Some(e) = failed {
        // The output's own error (a broken pipe exits 0), not the library's wrapping of it.
        return Err(e.into());
    }
    read?;
    out.flush()?;
    Ok(())
}

/// The latest value of the shared value `name` (opened read-only).
pub fn latest(ctx: &Ctx, name: &str) -> mmf::Result<Vec<u8>> {
    let mut o = options(ctx);
    o.access(Access::ReadOnly).timeout(PLAIN_GRACE);
    o.open(name)?.retrieve()
}

/// The version and length of the value `name` holds, if it can be read.
pub fn summary(ctx: &Ctx, name: &str) -> Option<(u64, usize)> {
    let mut o = options(ctx);
    o.access(Access::ReadOnly).timeout(PLAIN_GRACE);
    let v = o.open(name).ok()?;
    let (version, bytes) = v.retrieve_versioned().ok()?;
    Some((version, bytes.len()))
}
