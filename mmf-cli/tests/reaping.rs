//! `mmf gc` running while `mmf store` creates objects: no create fails and nothing live is removed
//! (objects are built unnamed and get their name only when complete, so no reaper sees one half
//! made). Real processes: two shell loops of `mmf gc` against 2,000 `mmf store` runs.
#![cfg(target_os = "linux")]

mod common;

use common::{Env, MMF};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn two_thousand_cli_stores_under_two_gc_loops_all_succeed() {
    let env = Env::new();
    let stop = env.dir.join("stop-gc-loops");
    let gc_loop = || {
        Command::new("sh")
            .arg("-c")
            .arg(r#"n=0; while [ ! -e "$1" ]; do "$0" gc >/dev/null || exit 9; n=$((n+1)); done; echo "$n""#)
            .arg(MMF)
            .arg(&stop)
            .env("MMF_DIR", &env.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a gc loop")
    };
    let loops = [gc_loop(), gc_loop()];
    let mut failures = Vec::new();
    for i in 0..2000 {
        let name = format!("gc-race-{}", i);
        let r = env.run(&["store", &name, &format!("value {}", i)], b"");
        if r.code() != Some(0) {
            failures.push(r.explain());
        }
    }
    std::fs::write(&stop, b"").unwrap();
    let mut runs = Vec::new();
    for child in loops {
        let out = common::wait_output(child, Duration::from_secs(60), "gc loop");
        assert!(
            out.status.success(),
            "a gc loop failed: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        runs.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    std::fs::remove_file(&stop).unwrap();
    assert!(
        failures.is_empty(),
        "{} of 2000 stores failed; first: {}",
        failures.len(),
        failures[0]
    );
    // Every object is there with its value (stores make persistent objects).
    let mut names: Vec<String> = std::fs::read_dir(&env.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        2000,
        "objects: {:?}",
        &names[..names.len().min(5)]
    );
    for i in [0, 999, 1999] {
        let r = env.ok(&["retrieve", &format!("gc-race-{}", i)]);
        assert_eq!(r.stdout_str().trim_end(), format!("value {}", i));
    }
    println!("gc passes during the stores: {:?}", runs);
}
