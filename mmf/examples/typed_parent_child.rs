//! A typed shared value between a parent and a child process: the parent publishes a struct,
//! the child waits for it in the kernel, reads it whole, and answers with a new version.
//!
//! Run: `cargo run -p mmf --example typed_parent_child`

use mmf::Shared;
use std::error::Error;
use std::process::Command;
use std::time::Duration;

/// What the processes exchange: `#[repr(C)]`, no padding, any bit pattern valid, which the
/// derive checks at compile time. Its layout id comes from this definition, so a program with
/// another struct of the same size gets `LayoutMismatch` instead of this one's bytes.
#[derive(Clone, Copy, Debug, PartialEq, mmf::Pod)]
#[repr(C)]
struct Reading {
    sequence: u64,
    celsius: f64,
    sensor: [u8; 16],
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        return child(&args[1]);
    }
    let name = format!("mmf-example-typed-{}", std::process::id());
    let shared = Shared::<Reading>::create(&name)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["child", &name])
        .spawn()?;
    let mine = shared.store(&Reading {
        sequence: 1,
        celsius: 21.5,
        sensor: *b"kitchen\0\0\0\0\0\0\0\0\0",
    })?;
    // Wait for the child's answer: a version after ours.
    shared.wait_newer(mine, Some(Duration::from_secs(30)))?;
    let answer = shared.load()?;
    println!("parent got: {:?}", answer);
    assert_eq!(answer.sequence, 2);
    if !child.wait()?.success() {
        return Err("the child failed".into());
    }
    Ok(())
}

fn child(name: &str) -> Result<(), Box<dyn Error>> {
    // Opening checks the layout: another type of the same size would be LayoutMismatch.
    let shared = Shared::<Reading>::open(name)?;
    if shared.version() == 0 {
        shared.wait_newer(0, Some(Duration::from_secs(30)))?;
    }
    let r = shared.load()?;
    println!("child got: {:?}", r);
    shared.store(&Reading {
        sequence: r.sequence + 1,
        celsius: r.celsius + 0.5,
        ..r
    })?;
    Ok(())
}
