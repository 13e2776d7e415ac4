//! `mmf list`: every named object.

use super::{Ctx, kind_word, lifetime_word, owner};
use crate::cli::ListArgs;
use crate::output::shown_path;
use mmf::ObjectInfo;
use serde_json::json;
use std::io::Write;

pub fn run(ctx: &Ctx, a: ListArgs) -> anyhow::Result<()> {
    let objects = ctx.namespace().list()?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let all: Vec<_> = objects.iter().map(to_json).collect();
        writeln!(out, "{}", serde_json::Value::Array(all))?;
    } else {
        out.write_all(table(&objects).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// One object as JSON (shared by `list --json` and `info --json`).
pub fn to_json(o: &ObjectInfo) -> serde_json::Value {
    json!({
        "name": o.name,
        "size": o.size,
        "kind": kind_word(o),
        "lifetime": lifetime_word(o.lifetime),
        "made_by_mmf": o.lifetime.is_some(),
        "holders": o.holders,
        "holder_pids": o.holder_pids,
        "owner": owner(o),
        // Windows owners are SIDs, with no uid.
        "owner_uid": if cfg!(windows) { None } else { Some(o.owner_uid) },
        "mode": format!("{:04o}", o.mode),
    })
}

/// The table `mmf list` prints; empty when there are no objects. Names are [`shown_path`] escaped, so
/// a name holding a newline or a terminal escape cannot forge rows.
fn table(objects: &[ObjectInfo]) -> String {
    if objects.is_empty() {
        return String::new();
    }
    let header = ["NAME", "SIZE", "KIND", "LIFETIME", "HOLDERS", "OWNER"];
    let rows: Vec<[String; 6]> = objects
        .iter()
        .map(|o| {
            [
                shown_path(&o.name).into_owned(),
                o.size.to_string(),
                kind_word(o).to_owned(),
                lifetime_word(o.lifetime).to_owned(),
                o.holders.map_or_else(|| "?".to_owned(), |h| h.to_string()),
                owner(o),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            // Numbers right-aligned, words left-aligned; no padding after the last column.
            let pad = width[i] - c.chars().count();
            if i == 1 || i == 4 {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                if i < 5 {
                    l.push_str(&" ".repeat(pad));
                }
            }
            if i < 5 {
                l.push_str("  ");
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    }
    s
}
