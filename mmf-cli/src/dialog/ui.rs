//! The dialog's window (IDD_DIALOG1 of mmf1.rc) drawn with ratatui, and what keys and mouse
//! clicks do to it.

use super::seed::{MAX_TEXT, NEW_INSTANCE, Seed};
use ratatui::Frame;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Alignment, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

/// The window's title, from the seed's resource script.
pub const TITLE: &str = "MMF Sharing Data";
/// The label above the field.
pub const LABEL: &str = "Type Data Here:";

/// How the status line starts when the field is full.
const FULL: &str = "the field is full: it takes";

/// What has the keyboard focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// IDC_EDIT1.
    Field,
    /// IDC_BUTTON1.
    Store,
    /// IDC_BUTTON2.
    Retrieve,
    /// IDCANCEL.
    Exit,
}

const ORDER: [Focus; 4] = [Focus::Field, Focus::Store, Focus::Retrieve, Focus::Exit];

/// The dialog's on-screen state.
pub struct Ui {
    /// The field's text (IDC_EDIT1).
    pub text: String,
    /// The cursor, as a character index into `text`.
    cursor: usize,
    /// The first character shown (ES_AUTOHSCROLL).
    scroll: usize,
    /// Who has the focus.
    pub focus: Focus,
    /// The line under the buttons: what happened last.
    pub status: String,
    /// Set by Exit.
    pub quit: bool,
    /// Characters that did not fit in the field, since it last said so.
    left_out: usize,
    // Where things were drawn last, for the mouse.
    field: Rect,
    store: Rect,
    retrieve: Rect,
    exit: Rect,
}

impl Ui {
    /// The window as the seed opens it.
    pub fn new(seed: &Seed) -> Ui {
        let status = if seed.found_at_start {
            format!(
                "\"{}\" exists: another instance stored it; Retrieve Data reads it",
                seed.name()
            )
        } else {
            format!(
                "\"{}\" does not exist yet: Store Data creates it",
                seed.name()
            )
        };
        Ui {
            text: String::new(),
            cursor: 0,
            scroll: 0,
            focus: Focus::Field,
            status,
            quit: false,
            left_out: 0,
            field: Rect::default(),
            store: Rect::default(),
            retrieve: Rect::default(),
            exit: Rect::default(),
        }
    }

    fn enabled(&self, seed: &Seed, f: Focus) -> bool {
        match f {
            Focus::Store => seed.store_enabled,
            Focus::Retrieve => seed.retrieve_enabled,
            Focus::Field | Focus::Exit => true,
        }
    }

    fn move_focus(&mut self, seed: &Seed, forward: bool) {
        let i = ORDER.iter().position(|f| *f == self.focus).unwrap_or(0);
        for step in 1..=ORDER.len() {
            let j = if forward {
                (i + step) % ORDER.len()
            } else {
                (i + ORDER.len() - step) % ORDER.len()
            };
            if self.enabled(seed, ORDER[j]) {
                self.focus = ORDER[j];
                return;
            }
        }
    }

    /// Presses a button, if it is enabled.
    pub fn press(&mut self, seed: &mut Seed, button: Focus) {
        if !self.enabled(seed, button) {
            return;
        }
        match button {
            Focus::Store => match seed.store(&self.text) {
                Ok(n) => {
                    self.status = format!(
                        "stored {n} bytes in \"{}\", which lives while an instance runs",
                        seed.name()
                    );
                    self.set_text(NEW_INSTANCE);
                    if self.focus == Focus::Store {
                        self.focus = Focus::Retrieve;
                    }
                }
                Err(e) => self.status = format!("{e:#}"),
            },
            Focus::Retrieve => match seed.retrieve() {
                Ok(text) => {
                    self.status =
                        format!("retrieved {} bytes from \"{}\"", text.len(), seed.name());
                    self.set_text(&text);
                }
                Err(e) => self.status = format!("{e:#}"),
            },
            Focus::Exit => self.quit = true,
            Focus::Field => {}
        }
    }

    fn set_text(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.text.chars().count();
        self.scroll = 0;
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(b, _)| b)
    }

    /// A key press.
    pub fn key(&mut self, seed: &mut Seed, k: KeyEvent) {
        if k.kind != KeyEventKind::Press {
            return;
        }
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Esc => self.quit = true,
            KeyCode::Char('c' | 'q') if ctrl => self.quit = true,
            KeyCode::Char('x' | 'X') if alt => self.quit = true,
            KeyCode::Char('s' | 'S') if alt => self.press(seed, Focus::Store),
            KeyCode::Char('r' | 'R') if alt => self.press(seed, Focus::Retrieve),
            KeyCode::Tab | KeyCode::Down => self.move_focus(seed, true),
            KeyCode::BackTab | KeyCode::Up => self.move_focus(seed, false),
            KeyCode::Enter => {
                if self.focus == Focus::Field {
                    // The enabled one of the two action buttons.
                    let b = if seed.store_enabled {
                        Focus::Store
                    } else {
                        Focus::Retrieve
                    };
                    self.press(seed, b);
                } else {
                    self.press(seed, self.focus);
                }
            }
            _ if self.focus != Focus::Field => match k.code {
                KeyCode::Char(' ') => self.press(seed, self.focus),
                KeyCode::Left => self.move_focus(seed, false),
                KeyCode::Right => self.move_focus(seed, true),
                _ => {}
            },
            KeyCode::Char('u') if ctrl => self.set_text(""),
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.text.chars().count(),
            KeyCode::Char(c) if !ctrl && !alt => {
                if self.text.len() + c.len_utf8() <= MAX_TEXT {
                    let at = self.byte_at(self.cursor);
                    self.text.insert(at, c);
                    self.cursor += 1;
                } else {
                    self.full(1);
                }
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            _ => {}
        }
    }

    /// Pasted text goes into the field.
    pub fn paste(&mut self, s: &str) {
        if self.focus != Focus::Field {
            return;
        }
        let mut chars = s.chars().filter(|c| !c.is_control());
        let at = self.byte_at(self.cursor);
        let mut taken = String::new();
        for c in chars.by_ref() {
            if self.text.len() + taken.len() + c.len_utf8() > MAX_TEXT {
                self.full(1 + chars.count());
                break;
            }
            taken.push(c);
        }
        self.text.insert_str(at, &taken);
        self.cursor += taken.chars().count();
    }

    /// `n` more characters did not fit: say so, adding up those of one paste or burst of keys.
    fn full(&mut self, n: usize) {
        self.left_out = if self.status.starts_with(FULL) {
            self.left_out + n
        } else {
            n
        };
        self.status = format!(
            "{FULL} {MAX_TEXT} bytes, what the object holds with its NUL; {} characters were \
             left out",
            self.left_out
        );
    }

    /// A mouse event: a left click focuses the field or presses a button.
    pub fn mouse(&mut self, seed: &mut Seed, m: MouseEvent) {
        if m.kind != MouseEventKind::Down(MouseButton::Left) {
            return;
        }
        let p = Position::new(m.column, m.row);
        if self.field.contains(p) {
            self.focus = Focus::Field;
            let inner_x = self.field.x + 1;
            let col = usize::from(m.column.saturating_sub(inner_x));
            self.cursor = (self.scroll + col).min(self.text.chars().count());
            return;
        }
        for (r, b) in [
            (self.store, Focus::Store),
            (self.retrieve, Focus::Retrieve),
            (self.exit, Focus::Exit),
        ] {
            if r.contains(p) && self.enabled(seed, b) {
                // One click presses one button, even where narrow buttons overlap (pressing
                // Store enables Retrieve, which must not then be pressed by the same click).
                self.focus = b;
                self.press(seed, b);
                break;
            }
        }
    }

    /// Draws the window centred on the screen.
    pub fn draw(&mut self, f: &mut Frame<'_>, seed: &Seed) {
        let screen = f.area();
        let w = 60.min(screen.width);
        let h = 16.min(screen.height);
        let area = Rect::new(
            screen.x + (screen.width - w) / 2,
            screen.y + (screen.height - h) / 2,
            w,
            h,
        );
        f.render_widget(Clear, area);
        let window = Block::bordered()
            .border_type(BorderType::Double)
            .title(Line::from(format!(" {TITLE} ")).alignment(Alignment::Center));
        let inner = window.inner(area);
        f.render_widget(window, area);
        let row = |dy: u16, height: u16| {
            let y = (inner.y + dy).min(inner.bottom());
            Rect::new(inner.x, y, inner.width, height.min(inner.bottom() - y))
        };

        // "Type Data Here:" and the field.
        f.render_widget(
            Paragraph::new(LABEL).alignment(Alignment::Center),
            row(1, 1),
        );
        let fr = row(2, 3);
        self.field = Rect::new(fr.x + 2, fr.y, fr.width.saturating_sub(4), fr.height);
        let focused = self.focus == Focus::Field;
        let field_block = Block::bordered().border_style(if focused {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        });
        let width = usize::from(field_block.inner(self.field).width.max(1));
        if self.cursor < self.scroll {
            self.scroll = self.cursor;
        } else if self.cursor >= self.scroll + width {
            self.scroll = self.cursor + 1 - width;
        }
        let shown: String = self.text.chars().skip(self.scroll).take(width).collect();
        let field_inner = field_block.inner(self.field);
        f.render_widget(Paragraph::new(shown).block(field_block), self.field);
        if focused {
            let x = field_inner.x + u16::try_from(self.cursor - self.scroll).unwrap_or(0);
            f.set_cursor_position(Position::new(x.min(field_inner.right()), field_inner.y));
        }

        // Store Data and Retrieve Data side by side, Exit below, as in the seed.
        let br = row(6, 3);
        let bw = 19.min(br.width / 2);
        self.store = Rect::new(br.x + 4.min(br.width / 8), br.y, bw, br.height);
        self.retrieve = Rect::new(
            (br.right().saturating_sub(bw + 4.min(br.width / 8))).max(br.x),
            br.y,
            bw,
            br.height,
        );
        let er = row(9, 3);
        let ew = 10.min(er.width);
        self.exit = Rect::new(er.x + (er.width - ew) / 2, er.y, ew, er.height);
        for (rect, label, b) in [
            (self.store, "Store Data", Focus::Store),
            (self.retrieve, "Retrieve Data", Focus::Retrieve),
            (self.exit, "Exit", Focus::Exit),
        ] {
            let enabled = self.enabled(seed, b);
            let style = if !enabled {
                Style::default().fg(Color::DarkGray)
            } else if self.focus == b {
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default().add_modifier(Modifier::BOLD)
            };
            let border = if enabled {
                Style::default()
            } else {
                Style::default().fg(Color::DarkGray)
            };
            f.render_widget(
                Paragraph::new(Span::styled(label, style))
                    .alignment(Alignment::Center)
                    .block(Block::bordered().border_style(border)),
                rect,
            );
        }

        // What happened last, and the keys.
        f.render_widget(
            Paragraph::new(self.status.as_str())
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true })
                .style(Style::default().fg(Color::Cyan)),
            row(12, 2),
        );
        if area.bottom() < screen.bottom() {
            let help = "Tab: next  Enter: press  Alt+S: store  Alt+R: retrieve  Esc: exit";
            f.render_widget(
                Paragraph::new(help)
                    .alignment(Alignment::Center)
                    .style(Style::default().fg(Color::DarkGray)),
                Rect::new(screen.x, area.bottom(), screen.width, 1),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Ctx;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn screen(t: &Terminal<TestBackend>) -> String {
        let b = t.backend().buffer();
        let mut s = String::new();
        for y in 0..b.area.height {
            for x in 0..b.area.width {
                s.push_str(b[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    #[test]
    fn typing_storing_and_clicking() {
        let dir = std::env::temp_dir().join(format!("mmf-cli-ui-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = Ctx {
            dir: Some(dir.clone()),
            ..Ctx::default()
        };
        let mut seed = Seed::start(&ctx, "ui").unwrap();
        let mut ui = Ui::new(&seed);
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| ui.draw(f, &seed)).unwrap();
        let s = screen(&term);
        for want in [TITLE, LABEL, "Store Data", "Retrieve Data", "Exit"] {
            assert!(s.contains(want), "{want} missing in\n{s}");
        }

        for c in "hi there".chars() {
            ui.key(&mut seed, key(KeyCode::Char(c)));
        }
        ui.key(&mut seed, key(KeyCode::Backspace));
        ui.key(&mut seed, key(KeyCode::Home));
        ui.key(&mut seed, key(KeyCode::Delete));
        assert_eq!(ui.text, "i ther");
        // Tab skips the disabled Retrieve button.
        ui.key(&mut seed, key(KeyCode::Tab));
        assert_eq!(ui.focus, Focus::Store);
        ui.key(&mut seed, key(KeyCode::Tab));
        assert_eq!(ui.focus, Focus::Exit);
        ui.key(&mut seed, key(KeyCode::BackTab));
        ui.key(&mut seed, key(KeyCode::Enter));
        assert_eq!(ui.text, NEW_INSTANCE);
        assert!(!seed.store_enabled && seed.retrieve_enabled);
        assert_eq!(ui.focus, Focus::Retrieve);

        // A click on Retrieve Data reads the object back.
        term.draw(|f| ui.draw(f, &seed)).unwrap();
        let r = ui.retrieve;
        ui.mouse(
            &mut seed,
            MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column: r.x + 2,
                row: r.y + 1,
                modifiers: KeyModifiers::NONE,
            },
        );
        assert_eq!(ui.text, "i ther");
        // A click on Exit quits.
        let e = ui.exit;
        ui.mouse(
            &mut seed,
            MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column: e.x + 1,
                row: e.y + 1,
                modifiers: KeyModifiers::NONE,
            },
        );
        assert!(ui.quit);
        drop(seed);
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn the_field_takes_what_fits_and_says_what_was_left_out() {
        let seed = Seed::start(&Ctx::default(), "mmf-cli-ui-never-created-2").unwrap();
        let mut ui = Ui::new(&seed);
        ui.paste(&"a".repeat(3000));
        assert_eq!(ui.text.len(), 3000);
        assert!(!ui.status.contains("left out"), "{}", ui.status);
        ui.paste(&"é".repeat(1000));
        // 1095 bytes were left: 547 two-byte characters fit, 453 did not.
        assert_eq!(ui.text.len(), 3000 + 547 * 2);
        assert!(
            ui.status.contains("453 characters were left out"),
            "{}",
            ui.status
        );
        let mut seed = seed;
        ui.key(
            &mut seed,
            KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE),
        );
        ui.key(
            &mut seed,
            KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE),
        );
        assert_eq!(ui.text.len(), MAX_TEXT);
        assert!(ui.status.contains("454 characters"), "{}", ui.status);
    }

    #[test]
    fn draws_on_a_tiny_screen_without_panicking() {
        let dir = std::env::temp_dir();
        let ctx = Ctx {
            dir: Some(dir.clone()),
            ..Ctx::default()
        };
        let seed = Seed::start(&ctx, "mmf-cli-ui-never-created").unwrap();
        let mut ui = Ui::new(&seed);
        for (w, h) in [(1, 1), (10, 3), (30, 8), (59, 14)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| ui.draw(f, &seed)).unwrap();
        }
    }
}
