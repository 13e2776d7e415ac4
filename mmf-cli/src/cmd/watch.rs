//! `mmf watch NAME`: each new value as it is stored.

use super::Ctx;
use super::retrieve::Waiter;
use crate::cli::WatchArgs;
use crate::exit::{CliError, object};
use crate::interrupt::Interrupts;
use mmf::ErrorKind;
use std::io::Write;
use std::time::Duration;

/// How often the loop looks at the interrupt flag while no value arrives.
const TICK: Duration = Duration::from_millis(200);

pub fn run(ctx: &Ctx, a: WatchArgs) -> anyhow::Result<()> {
    // Ctrl-C, SIGTERM and SIGHUP (Ctrl-Break on Windows) end the watch normally (status 0).
    let mut stop = Interrupts::catch()?;
    let waiter = Waiter::new(&a.name, a.wait);
    let v = match waiter.retry(|| super::values::open_any(ctx, &a.name))? {
        super::values::Opened::Value(v) => v,
        super::values::Opened::Plain(_) => {
            return Err(CliError::Usage(format!(
                "{} is a plain object; `mmf watch` follows shared values (made by `mmf store` \
                 without --raw)",
                object(&a.name)
            ))
            .into());
        }
    };
    let mut out = std::io::stdout().lock();
    let (mut seen, bytes) = v.retrieve_versioned()?;
    if seen > 0 {
        print(&mut out, a.json, seen, &bytes)?;
    }
    while !stop.arrived() {
        match v.wait_newer(seen, Some(TICK)) {
            Ok(_) => {
                let (version, bytes) = v.retrieve_versioned()?;
                if version > seen {
                    print(&mut out, a.json, version, &bytes)?;
                    seen = version;
                }
            }
            Err(e) if e.kind() == ErrorKind::Timeout => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One value: its bytes and a newline, or a JSON line.
fn print(out: &mut impl Write, json: bool, version: u64, bytes: &[u8]) -> std::io::Result<()> {
    if json {
        let mut m = serde_json::Map::new();
        m.insert("version".into(), version.into());
        crate::output::value_fields(&mut m, bytes);
        writeln!(out, "{}", serde_json::Value::Object(m))?;
    } else {
        out.write_all(bytes)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
