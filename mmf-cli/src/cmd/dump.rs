//! `mmf dump NAME`: the object's raw bytes, or a hex view on a terminal.

use super::Ctx;
use crate::cli::DumpArgs;
use crate::exit::{CliError, object};
use crate::output::HexView;
use crate::progress::Progress;
use mmf::Access;
use std::io::{IsTerminal, Write};

/// Bytes copied out of the mapping per step.
const CHUNK: usize = 1 << 20;

pub fn run(ctx: &Ctx, a: DumpArgs) -> anyhow::Result<()> {
    let m = ctx
        .open_options()
        .access(Access::ReadOnly)
        .open(a.name.as_str())?;
    let size = m.len();
    if a.offset > size {
        return Err(CliError::Usage(format!(
            "{} has {size} bytes; --offset {} is past its end",
            object(&a.name),
            a.offset
        ))
        .into());
    }
    let len = a.len.unwrap_or(u64::MAX).min(size - a.offset);
    let len = usize::try_from(len)?;
    let stdout = std::io::stdout();
    let to_terminal = stdout.is_terminal();
    let out = std::io::BufWriter::with_capacity(CHUNK, stdout.lock());
    let mut sink = if a.hex || to_terminal {
        Sink::Hex(HexView::new(out, a.offset))
    } else {
        Sink::Raw(out)
    };
    if len > 0 {
        let view = m.map_range(a.offset, len, Access::ReadOnly)?;
        let mut buf = vec![0u8; CHUNK.min(len)];
        // A bar only when the bytes go elsewhere than the terminal.
        let mut progress = if to_terminal {
            Progress::hidden()
        } else {
            Progress::bytes(Some(len as u64), "dumping")
        };
        let mut pos = 0;
        while pos < len {
            let n = CHUNK.min(len - pos);
            view.read_at(pos, &mut buf[..n])?;
            match &mut sink {
                Sink::Hex(h) => h.feed(&buf[..n])?,
                Sink::Raw(w) => w.write_all(&buf[..n])?,
            }
            pos += n;
            progress.inc(n as u64);
        }
    }
    match sink {
        Sink::Hex(h) => h.finish()?,
        Sink::Raw(mut w) => w.flush()?,
    }
    Ok(())
}

enum Sink<W: Write> {
    Raw(W),
    Hex(HexView<W>),
}
