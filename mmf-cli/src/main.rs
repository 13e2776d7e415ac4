//! `mmf`: the command-line front end of the mmf library. See `mmf --help`.

mod app;
mod cli;
mod cmd;
mod dialog;
mod exit;
mod input;
mod interrupt;
mod output;
mod progress;

fn main() -> std::process::ExitCode {
    app::main()
}
