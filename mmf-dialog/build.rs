//! On Windows targets: compiles the dialog resource (`res/dialog.rc`, with the icon that
//! `src/icon.rs` draws) with mingw-w64's windres and links it into `mmf-dialog.exe`. Elsewhere the
//! program is a stub and needs nothing.

#[path = "src/icon.rs"]
mod icon;

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=res/dialog.rc");
    println!("cargo:rerun-if-changed=src/icon.rs");
    println!("cargo:rerun-if-env-changed=WINDRES");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("mmf-dialog.ico"), icon::ico()).expect("writing the icon");
    // windres for the target: WINDRES if set, else mingw-w64's for the target's architecture.
    let windres = std::env::var("WINDRES").unwrap_or_else(|_| {
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
        format!("{arch}-w64-mingw32-windres")
    });
    let object = out.join("dialog.o");
    let status = Command::new(&windres)
        .args([
            "--input",
            "res/dialog.rc",
            "--output-format",
            "coff",
            "--output",
        ])
        .arg(&object)
        .arg("--include-dir")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "mmf-dialog: cannot run `{windres}` ({e}); the dialog resource needs mingw-w64's \
                 windres (Debian: binutils-mingw-w64-x86-64), or set WINDRES to another windres"
            )
        });
    assert!(
        status.success(),
        "mmf-dialog: `{windres}` failed on res/dialog.rc ({status})"
    );
    // Only the executable needs the resource.
    println!("cargo:rustc-link-arg-bins={}", object.display());
}
