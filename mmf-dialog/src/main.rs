//! `mmf-dialog`: the seed program's "MMF Sharing Data" dialog as a native Win32 program. Type a
//! text and press Store Data: it goes into the 4 KiB shared object `mmfobject`; a second instance
//! finds the object at start-up and shows the text on Retrieve Data. `--name NAME` picks another
//! object. On other systems this is a stub: `mmf dialog` is the same dialog in a terminal.
#![cfg_attr(all(windows, not(test)), windows_subsystem = "windows")]

#[cfg(test)]
mod icon;
mod ids;
mod seed;
#[cfg(windows)]
mod win;

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    win::main()
}

#[cfg(not(windows))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "mmf-dialog is a Windows program (a Win32 dialog); build it with `bash .ci/windows.sh \
         build`. On this system, `mmf dialog` is the same dialog in the terminal."
    );
    std::process::ExitCode::from(1)
}
