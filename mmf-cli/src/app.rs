//! The edge: parse the command line, run one command, turn its result into an exit status.

use crate::cli::{Cli, Command};
use crate::cmd;
use crate::exit::{self, Outcome};
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// Runs `mmf` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with status 2.
            // Help that cannot be written (stdout is /dev/full, say) is a failure, as for any
            // other output.
            let printed = e.print().and_then(|()| std::io::stdout().flush());
            if e.use_stderr() {
                return ExitCode::from(exit::USAGE);
            }
            return match printed {
                Ok(()) => ExitCode::from(exit::SUCCESS),
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                    ExitCode::from(exit::SUCCESS)
                }
                Err(err) => {
                    exit::note(format_args!("mmf: cannot write to stdout: {err}"));
                    ExitCode::from(exit::FAILURE)
                }
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(err) => match exit::outcome(&err) {
            Outcome::BrokenPipe => ExitCode::from(exit::SUCCESS),
            Outcome::Fail(code, line) => {
                exit::note(format_args!("{line}"));
                ExitCode::from(code)
            }
        },
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    exit::set_quiet(cli.quiet);
    let ctx = cmd::Ctx {
        dir: cli.dir,
        allow_other_owner: cli.allow_other_owner,
    };
    // `doctor` reports a missing directory itself, among its other checks.
    if !matches!(
        cli.command,
        Command::Completions(_) | Command::Man(_) | Command::Doctor(_)
    ) {
        ctx.check_dir()?;
    }
    match cli.command {
        Command::Store(a) => cmd::store::run(&ctx, a),
        Command::Retrieve(a) => cmd::retrieve::run(&ctx, a),
        Command::Watch(a) => cmd::watch::run(&ctx, a),
        Command::List(a) => cmd::list::run(&ctx, a),
        Command::Info(a) => cmd::info::run(&ctx, a),
        Command::Rm(a) => cmd::rm::run(&ctx, a),
        Command::Gc => cmd::gc::run(&ctx),
        Command::Dump(a) => cmd::dump::run(&ctx, a),
        Command::Dialog(a) => crate::dialog::run(&ctx, a),
        Command::Doctor(a) => cmd::doctor::run(&ctx, a),
        Command::Completions(a) => cmd::completions::run(a),
        Command::Man(a) => cmd::man::run(a),
    }
}
