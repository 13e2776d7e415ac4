//! A sliding window over a file larger than one wants mapped at once: `Mapping::chunks` maps one
//! bounded view at a time (advised sequential), so memory use stays at one window.
//!
//! Run: `cargo run -p mmf --example sliding_window`

use mmf::{Access, FileOptions};
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::temp_dir().join(format!("mmf-example-window-{}", std::process::id()));
    // A sparse 64 MiB file: no disk space is used until pages are written.
    std::fs::File::create(&path)?.set_len(64 << 20)?;
    let result = run(&path);
    std::fs::remove_file(&path)?;
    result
}

fn run(path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let file = FileOptions::new().open(path)?;
    // Mark the start of every 4 MiB window, one window mapped at a time.
    let window = 4 << 20;
    for (i, view) in file.chunks(window, Access::ReadWrite).enumerate() {
        view?.write_at(0, &(i as u64).to_le_bytes())?;
    }
    // Read the marks back the same way.
    let mut sum = 0u64;
    let mut count = 0u64;
    for view in file.chunks(window, Access::ReadOnly) {
        let mut mark = [0u8; 8];
        view?.read_at(0, &mut mark)?;
        sum += u64::from_le_bytes(mark);
        count += 1;
    }
    println!(
        "{} windows of {} bytes, marks sum to {}",
        count, window, sum
    );
    assert_eq!(sum, (0..count).sum::<u64>());
    Ok(())
}
