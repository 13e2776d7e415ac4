//! Handing an unnamed object to a child process (`bInheritHandle`): only the child spawned with
//! the token inherits it; it becomes a holder of its own and sees the parent's writes.
//!
//! Run: `cargo run -p mmf --example handle_passing`

use mmf::Mapping;
use std::error::Error;
use std::process::Command;

fn main() -> Result<(), Box<dyn Error>> {
    if let Ok(token) = std::env::var("MMF_EXAMPLE_HANDLE") {
        // The child: take the object over, read the parent's message, answer in place.
        let object = Mapping::from_inherited(&token)?;
        let view = object.map_mut()?;
        let message = view.read_vec(0, 13)?;
        println!("child read: {}", String::from_utf8_lossy(&message));
        view.write_at(64, b"hello, parent")?;
        return Ok(());
    }
    let object = Mapping::anonymous(4096)?;
    let view = object.map_mut()?;
    view.write_at(0, b"hello, child!")?;
    let mut cmd = Command::new(std::env::current_exe()?);
    let handle = object.inherit(&mut cmd)?;
    cmd.env("MMF_EXAMPLE_HANDLE", handle.token());
    let status = cmd.status()?;
    drop(handle); // keep it until the child is spawned, then let it go
    if !status.success() {
        return Err(format!("the child failed: {}", status).into());
    }
    println!(
        "parent read: {}",
        String::from_utf8_lossy(&view.read_vec(64, 13)?)
    );
    assert_eq!(view.read_vec(64, 13)?, b"hello, parent");
    Ok(())
}
