//! Awaiting a change from async code: a task sleeps (no CPU, no polling) until another thread or
//! process stores a new version, then a `Stream` yields each version as it comes. Any executor
//! works; this one is the `futures` crate's `block_on`.
//!
//! Run: `cargo run -p mmf --example await_a_change`

use futures::executor::block_on;
use futures::StreamExt;
use mmf::SharedValue;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("mmf-example-await-{}", std::process::id());
    let value = SharedValue::create(&name)?;
    let seen = value.version();

    // Another process would open the value by name; a thread stands in for it here.
    let writer = value.clone();
    let stores = std::thread::spawn(move || -> mmf::Result<()> {
        for word in ["ready", "steady", "go"] {
            std::thread::sleep(Duration::from_millis(20));
            writer.store(word.as_bytes())?;
        }
        Ok(())
    });

    // One change: a future that resolves to the new version.
    let first = block_on(value.wait_newer_async(seen))?;
    println!(
        "version {}: {}",
        first,
        String::from_utf8_lossy(&value.retrieve()?)
    );

    // Every change after it: a stream of versions (a version replaced before the consumer
    // looks is skipped; the value keeps only the latest).
    block_on(async {
        let mut versions = value.versions(first);
        while let Some(v) = versions.next().await {
            let (v, bytes) = (v?, value.retrieve()?);
            println!("version {}: {}", v, String::from_utf8_lossy(&bytes));
            if bytes == b"go" {
                break;
            }
        }
        Ok::<(), mmf::Error>(())
    })?;
    stores.join().expect("the storing thread")?;
    Ok(())
}
