//! `mmf info NAME`: everything `list` knows about one object, and its value's version.

use super::{Ctx, kind_word, lifetime_word, owner};
use crate::cli::InfoArgs;
use crate::output::shown_path;
use std::io::Write;

pub fn run(ctx: &Ctx, a: InfoArgs) -> anyhow::Result<()> {
    let o = ctx.find(&a.name)?;
    let path = ctx.location(&o);
    let value = if o.is_value() {
        super::values::summary(ctx, &o.name)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let mut j = super::list::to_json(&o);
        let m = j.as_object_mut().expect("an object");
        m.insert("path".into(), path.clone().into());
        if let Some((version, len)) = value {
            m.insert("version".into(), version.into());
            m.insert("value_len".into(), len.into());
        }
        writeln!(out, "{j}")?;
    } else {
        let lifetime = match (o.lifetime, lifetime_word(o.lifetime)) {
            (Some(mmf::Lifetime::Handle), w) => format!("{w} (gone when its last holder exits)"),
            (Some(_), w) => format!("{w} (until `mmf rm`)"),
            (None, w) => format!(
                "{w} (no mmf marks: made by another program, or on a filesystem without user attributes; until `mmf rm`)"
            ),
        };
        let holders = match o.holders {
            None => "unknown".to_owned(),
            Some(n) if o.holder_pids.is_empty() => n.to_string(),
            Some(n) => {
                let pids: Vec<String> = o.holder_pids.iter().map(u32::to_string).collect();
                format!("{n} (pid {})", pids.join(", "))
            }
        };
        writeln!(out, "name:     {}", shown_path(&o.name))?;
        writeln!(out, "kind:     {}", kind_word(&o))?;
        if let Some((version, len)) = value {
            writeln!(out, "version:  {version}")?;
            writeln!(out, "value:    {len} bytes")?;
        }
        writeln!(out, "size:     {} bytes", o.size)?;
        writeln!(out, "lifetime: {lifetime}")?;
        writeln!(out, "holders:  {holders}")?;
        if cfg!(windows) {
            // Windows objects have an owner SID, shown by its account name, and a DACL, read
            // back as mode bits.
            writeln!(out, "owner:    {}", owner(&o))?;
        } else {
            writeln!(out, "owner:    {} (uid {})", owner(&o), o.owner_uid)?;
        }
        writeln!(out, "mode:     {:04o}", o.mode)?;
        writeln!(out, "path:     {}", shown_path(&path))?;
    }
    out.flush()?;
    Ok(())
}
