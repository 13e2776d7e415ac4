//! `mmf dialog`: the seed's "MMF Sharing Data" window as a terminal UI.

mod seed;
mod ui;

use crate::cli::DialogArgs;
use crate::cmd::Ctx;
use crate::exit::CliError;
use crate::interrupt::Interrupts;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;
use std::io::IsTerminal;
use std::time::Duration;

/// How long one look for more input waits once some arrived.
const DRAIN: Duration = Duration::from_millis(1);

enum Input {
    Ready,
    None,
    /// The terminal went away (window closed, connection dropped).
    Gone,
}

/// Waits up to `timeout` for input on the terminal. A terminal that went away does not always
/// send SIGHUP, and crossterm keeps reading a hung-up terminal in a loop (it reads as ready
/// forever), so the hang-up is detected here, before crossterm reads: the dialog then ends like
/// Exit, releasing the object, instead of spinning.
#[cfg(unix)]
fn terminal_input(timeout: Duration) -> Input {
    use rustix::event::{PollFd, PollFlags};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    match rustix::event::poll(&mut fds, ms) {
        Ok(0) => Input::None,
        Ok(_) => {
            let got = fds[0].revents();
            if got.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                Input::Gone
            } else {
                Input::Ready
            }
        }
        Err(e) if e == rustix::io::Errno::INTR => Input::None,
        Err(_) => Input::Gone,
    }
}

/// Waits up to `timeout` for input on the console. A Windows console reports no hang-up: a
/// closing window comes as a console control event (see `interrupt.rs`).
#[cfg(windows)]
fn terminal_input(timeout: Duration) -> Input {
    match event::poll(timeout) {
        Ok(true) => Input::Ready,
        Ok(false) => Input::None,
        Err(_) => Input::Gone,
    }
}

pub fn run(ctx: &Ctx, a: DialogArgs) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "the dialog needs a terminal on stdin and stdout; use `mmf store --raw` and \
             `mmf retrieve --raw` in scripts"
                .into(),
        )
        .into());
    }
    // SIGTERM and SIGHUP (Ctrl-Break and the console window closing on Windows) end the dialog
    // like Exit, so the terminal is restored and the object released. In the terminal's raw mode
    // Ctrl-C is a key, not an interrupt.
    let mut stop = Interrupts::catch()?;
    let mut seed = seed::Seed::start(ctx, &a.name)?;
    let mut ui = ui::Ui::new(&seed);

    let mut terminal = ratatui::try_init()?;
    let result = (|| -> anyhow::Result<()> {
        execute!(std::io::stdout(), EnableMouseCapture)?;
        while !ui.quit && !stop.arrived() {
            terminal.draw(|f| ui.draw(f, &seed))?;
            match terminal_input(Duration::from_millis(200)) {
                Input::Gone => break,
                Input::None => continue,
                Input::Ready => {}
            }
            // Handle every event crossterm holds and every byte the terminal has. crossterm reads
            // 1 KiB at a time, and its poll(2) reader needs a timeout above zero to read at all.
            while event::poll(DRAIN)? {
                match event::read()? {
                    Event::Key(k) => ui.key(&mut seed, k),
                    Event::Mouse(m) => ui.mouse(&mut seed, m),
                    Event::Paste(s) => ui.paste(&s),
                    _ => {}
                }
            }
        }
        Ok(())
    })();
    // Exit: UnmapViewOfFile, CloseHandle. The last instance to go takes the object with it. This
    // comes first: releasing the object must not depend on a terminal that may be gone.
    drop(seed);
    // Restoring a terminal that went away fails; `try_restore` reports that instead of printing
    // (ratatui's `restore` prints to stderr, which would panic with no terminal behind it).
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    let _ = ratatui::try_restore();
    result
}
