//! `mmf dialog`: the seed's "MMF Sharing Data" window as a terminal UI.

mod seed;
mod ui;

use crate::cli::DialogArgs;
use crate::cmd::Ctx;
use crate::exit::CliError;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub fn run(ctx: &Ctx, a: DialogArgs) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "the dialog needs a terminal on stdin and stdout; use `mmf store --raw` and \
             `mmf retrieve --raw` in scripts"
                .into(),
        )
        .into());
    }
    // SIGTERM and SIGHUP end the dialog like Exit, so the terminal is restored and the object
    // released.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let mut seed = seed::Seed::start(ctx, &a.name)?;
    let mut ui = ui::Ui::new(&seed);

    let mut terminal = ratatui::try_init()?;
    let result = (|| -> anyhow::Result<()> {
        execute!(std::io::stdout(), EnableMouseCapture)?;
        while !ui.quit && !stop.load(Ordering::Relaxed) {
            terminal.draw(|f| ui.draw(f, &seed))?;
            if !event::poll(Duration::from_millis(200))? {
                continue;
            }
            match event::read()? {
                Event::Key(k) => ui.key(&mut seed, k),
                Event::Mouse(m) => ui.mouse(&mut seed, m),
                Event::Paste(s) => ui.paste(&s),
                _ => {}
            }
        }
        Ok(())
    })();
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    // Exit: UnmapViewOfFile, CloseHandle. The last instance to go takes the object with it.
    drop(seed);
    result
}
