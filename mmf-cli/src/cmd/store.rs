//! `mmf store NAME [DATA]`: a shared value (default) or the seed's plain format (`--raw`).

use super::Ctx;
use crate::cli::StoreArgs;
use crate::exit::{CliError, object};
use crate::input::{self, Input};
use crate::interrupt::Interrupts;
use anyhow::Context;
use mmf::{Access, Disposition, ErrorKind, Lifetime, Mapping, Permissions};
use std::io::Read;

/// The seed's object size, and the least `--raw` creates.
pub const RAW_MIN_SIZE: u64 = 4096;

/// Bytes read and written into a plain object per step: the most `--raw` holds in memory.
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
        let (m, how, len) = store_raw(ctx, &a.name, input, lifetime, permissions)?;
        let l = m.lifetime();
        (Box::new(m), how, l, len)
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

/// Writes the input and a NUL into the plain object `name`: in place when it exists, whatever
/// its size, as long as they fit (as `CreateFileMapping` opens an existing object, which keeps its
/// own size and lifetime); otherwise in a new object of at least [`RAW_MIN_SIZE`] bytes with
/// `lifetime`. Returns the object, whether it was made here, and the value's length.
///
/// The input is streamed a piece at a time (memory stays bounded whatever its size). Its length
/// is known up front for DATA and files, and for stdin that ends within the first piece; then an
/// existing object that is too small is refused before anything is written. A longer stream of
/// unknown length grows an object made here as it comes (exactly to the value and its NUL), and
/// stops with an error when it outgrows an existing object, which then holds the part written,
/// NUL-terminated. (On Windows a handle-lifetime object, a section, cannot grow: such a stream is
/// read whole first.)
fn store_raw(
    ctx: &Ctx,
    name: &str,
    input: Input,
    lifetime: Lifetime,
    permissions: Option<Permissions>,
) -> anyhow::Result<(Mapping, Disposition, u64)> {
    if ctx.find(name).is_ok_and(|o| o.is_value()) {
        return Err(CliError::Usage(format!(
            "{} holds an mmf shared value; store without --raw, or remove it first with \
             `mmf rm {name}`",
            object(name)
        ))
        .into());
    }
    let (mut reader, mut len, what): (Box<dyn Read>, Option<u64>, String) = match input {
        Input::Bytes(b) => {
            let n = b.len() as u64;
            (Box::new(std::io::Cursor::new(b)), Some(n), "DATA".into())
        }
        Input::Stream { reader, len, what } => (reader, len, what),
    };
    let read_err = |e: std::io::Error| anyhow::Error::new(e).context(format!("cannot read {what}"));
    let mut piece = Vec::with_capacity(CHUNK);
    fill(&mut reader, &mut piece, CHUNK).map_err(read_err)?;
    if len.is_none() && piece.len() < CHUNK {
        len = Some(piece.len() as u64);
    }
    if len.is_none() && cfg!(windows) && lifetime != Lifetime::Persistent {
        // Pagefile-backed sections cannot grow: the object must be made at its final size.
        // (Persistent objects there are files, which grow.)
        reader.read_to_end(&mut piece).map_err(read_err)?;
        len = Some(piece.len() as u64);
    }
    let first = len.unwrap_or(piece.len() as u64) + 1;
    let (m, how) = match ctx.open_options().open(name) {
        Ok(m) => (m, Disposition::Opened),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut opts = ctx.create_options();
            opts.size(first.max(RAW_MIN_SIZE)).lifetime(lifetime);
            if let Some(p) = permissions {
                opts.permissions(p);
            }
            opts.open_or_create(name)?
        }
        Err(e) => return Err(e.into()),
    };
    // An object this call made may grow; one that was there keeps its size.
    let grows = how == Disposition::Created;
    let too_long = |m: &Mapping, len: String| {
        let fits = m.len().saturating_sub(1);
        format!(
            "cannot store into {}: it holds {} bytes, so at most {fits} bytes fit with the NUL, \
             and the value has {len} (store at most {fits} bytes, or remove it first with \
             `mmf rm {name}`)",
            object(name),
            m.len(),
        )
    };
    if let Some(l) = len {
        if m.len() < l + 1 {
            anyhow::bail!(too_long(&m, l.to_string()));
        }
    }
    match write_pieces(&m, piece, &mut reader, &what, grows, &too_long) {
        Ok(at) => Ok((m, how, at)),
        Err(e) => {
            if grows {
                // Made here and not complete: leave nothing behind.
                drop(m);
                let _ = ctx.namespace().remove(name);
            }
            Err(e)
        }
    }
}

/// Writes `piece`, then the rest of `reader` (described as `what`), and a NUL into `m` from
/// offset 0, growing it when `grows`; returns the value's length.
fn write_pieces(
    m: &Mapping,
    mut piece: Vec<u8>,
    mut reader: &mut dyn Read,
    what: &str,
    grows: bool,
    too_long: &dyn Fn(&Mapping, String) -> String,
) -> anyhow::Result<u64> {
    let mut at: u64 = 0;
    let mut warned = false;
    while !piece.is_empty() {
        if !warned && piece.contains(&0) {
            warned = true;
            crate::exit::inform(format_args!(
                "mmf: warning: the value holds NUL bytes; C programs reading the plain object stop at the first"
            ));
        }
        let end = at + piece.len() as u64;
        if end + 1 > m.len() {
            if !grows && m.is_empty() {
                // Not even the NUL fits: nothing to write.
                anyhow::bail!(too_long(m, format!("at least {end}")));
            }
            if !grows {
                // Fill the object, keep it readable as a C string, then say what happened.
                let fits = m.len() - 1;
                let view = m.map_range(at, (m.len() - at) as usize, Access::ReadWrite)?;
                view.write_at(0, &piece[..(fits - at) as usize])?;
                view.write_at((fits - at) as usize, &[0])?;
                anyhow::bail!(
                    "{}; the first {} bytes were written before the input outgrew it",
                    too_long(m, format!("more than {}", m.len() - 1)),
                    m.len() - 1
                );
            }
            m.grow(end + 1)?;
        }
        m.map_range(at, piece.len(), Access::ReadWrite)?
            .write_at(0, &piece)?;
        at = end;
        piece.clear();
        fill(&mut reader, &mut piece, CHUNK).with_context(|| format!("cannot read {what}"))?;
    }
    m.map_range(at, 1, Access::ReadWrite)?.write_at(0, &[0])?;
    Ok(at)
}

/// Reads from `r` into `buf` until it holds `want` bytes or the input ends.
fn fill(r: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
    // `read_to_end` retries reads that were interrupted.
    r.take((want - buf.len()) as u64).read_to_end(buf).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes at a time and is interrupted now and then.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls % 3 == 0 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(7).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn fill_reads_a_piece_or_to_the_end() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut r = Trickle {
            data: data.clone(),
            pos: 0,
            calls: 0,
        };
        let mut buf = Vec::new();
        fill(&mut r, &mut buf, 600).unwrap();
        assert_eq!(buf, data[..600]);
        buf.clear();
        fill(&mut r, &mut buf, 600).unwrap();
        assert_eq!(buf, data[600..]);
        buf.clear();
        fill(&mut r, &mut buf, 600).unwrap();
        assert!(buf.is_empty());
    }
}
