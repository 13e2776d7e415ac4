//! The classic Win32 example, without the dialog: a first instance creates a named 4 KiB object
//! and stores a string in it; a second instance (here, this program started again as a child)
//! opens the object by name and retrieves the string. Then the same with a shared value, which
//! never shows a half-written string.
//!
//! Run: `cargo run -p mmf --example two_instances`

use mmf::{Mapping, SharedValue};
use std::error::Error;
use std::process::Command;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("second") {
        return second_instance(&args[1], &args[2]);
    }
    // The first instance: names unique to this run, so examples never collide.
    let plain = format!("mmf-example-plain-{}", std::process::id());
    let value = format!("mmf-example-value-{}", std::process::id());

    // "Store Data": a plain object of 4 KiB holding a C string, as the Win32 example does.
    let object = Mapping::create(&plain, 4096)?;
    object
        .map_mut()?
        .write_at(0, b"typed by the first instance\0")?;

    // The better way: a shared value, replaced and read whole.
    let shared = SharedValue::create(&value)?;
    shared.store(b"stored whole by the first instance")?;

    // "Retrieve Data" in another process.
    let status = Command::new(std::env::current_exe()?)
        .args(["second", &plain, &value])
        .status()?;
    if !status.success() {
        return Err(format!("the second instance failed: {}", status).into());
    }
    // Both objects have handle lifetime: they are gone once `object` and `shared` are dropped.
    Ok(())
}

fn second_instance(plain: &str, value: &str) -> Result<(), Box<dyn Error>> {
    let object = Mapping::open(plain)?;
    let bytes = object.map()?.read_vec(0, 4096)?;
    let text = bytes.split(|b| *b == 0).next().unwrap_or(&[]);
    println!("plain object: {}", String::from_utf8_lossy(text));
    let shared = SharedValue::open(value)?;
    println!(
        "shared value: {}",
        String::from_utf8_lossy(&shared.retrieve()?)
    );
    Ok(())
}
