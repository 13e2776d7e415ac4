//! Writing results: byte-exact stdout, a hex view, JSON helpers, and names safe for a terminal.

use std::borrow::Cow;
use std::io::{self, Write};

/// A name (or path) as human output shows it: unchanged when every character is printable and
/// none is a backslash; otherwise control and other unprintable characters are escaped the way
/// Rust's `escape_debug` writes them (`\n`, `\t`, `\u{1b}`, `\u{202e}`, ...) and backslashes are
/// doubled. A name holding a newline or a terminal escape can then neither forge a table row nor
/// drive the terminal, and no two names are shown alike. JSON output does not use this: it
/// carries names exactly.
pub fn shown(name: &str) -> Cow<'_, str> {
    let plain = |c: char| c != '\\' && c.escape_debug().len() == 1 || c == '"' || c == '\'';
    if name.chars().all(plain) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' | '\'' => out.push(c),
            _ => out.extend(c.escape_debug()),
        }
    }
    Cow::Owned(out)
}

/// A Windows path or kernel name (`C:\\dir\\NAME`, `Global\\NAME`), [`shown`] part by part: the
/// backslashes that separate the parts stay single. Elsewhere, [`shown`] itself.
pub fn shown_path(path: &str) -> Cow<'_, str> {
    if !cfg!(windows) {
        return shown(path);
    }
    let parts: Vec<Cow<'_, str>> = path.split('\\').map(shown).collect();
    Cow::Owned(parts.join("\\"))
}

/// A `hexdump -C`-style view, fed in chunks whose lengths are multiples of 16 (except the last).
/// Runs of identical lines are shown once and then `*`, as `hexdump` does.
pub struct HexView<W: Write> {
    out: W,
    offset: u64,
    last: Option<Vec<u8>>,
    starred: bool,
}

impl<W: Write> HexView<W> {
    /// Starts a view whose first byte is at `offset`.
    pub fn new(out: W, offset: u64) -> HexView<W> {
        HexView {
            out,
            offset,
            last: None,
            starred: false,
        }
    }

    /// Writes the lines for `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        for line in bytes.chunks(16) {
            if line.len() == 16 && self.last.as_deref() == Some(line) {
                if !self.starred {
                    writeln!(self.out, "*")?;
                    self.starred = true;
                }
            } else {
                self.starred = false;
                self.line(line)?;
                self.last = Some(line.to_vec());
            }
            self.offset += line.len() as u64;
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        let mut s = format!("{:08x} ", self.offset);
        for i in 0..16 {
            if i == 8 {
                s.push(' ');
            }
            match line.get(i) {
                Some(b) => s.push_str(&format!(" {b:02x}")),
                None => s.push_str("   "),
            }
        }
        s.push_str("  |");
        s.extend(line.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        s.push('|');
        writeln!(self.out, "{s}")
    }

    /// Writes the final offset line and flushes.
    pub fn finish(mut self) -> io::Result<()> {
        writeln!(self.out, "{:08x}", self.offset)?;
        self.out.flush()
    }
}

/// Standard base64 with padding (for non-UTF-8 values in JSON).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(A[(n >> 18) as usize & 63] as char);
        s.push(A[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// A value as JSON fields: `"value": "text"` when it is UTF-8, else `"value_base64": "..."`.
pub fn value_fields(map: &mut serde_json::Map<String, serde_json::Value>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => map.insert("value".into(), s.into()),
        Err(_) => map.insert("value_base64".into(), base64(bytes).into()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_view() {
        let mut out = Vec::new();
        let mut h = HexView::new(&mut out, 0);
        let mut data = b"Hello\0".to_vec();
        data.resize(64, 0);
        data.extend_from_slice(b"tail");
        h.feed(&data).unwrap();
        h.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "00000000  48 65 6c 6c 6f 00 00 00  00 00 00 00 00 00 00 00  |Hello...........|\n\
             00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000040  74 61 69 6c                                       |tail|\n\
             00000044\n"
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}

#[cfg(test)]
mod shown_tests {
    use super::shown;

    #[test]
    fn names_that_cannot_forge_output_are_unchanged() {
        for name in [
            "plain",
            "with space",
            "it's \"quoted\"",
            "ünïcödé",
            "日本語",
            "a.b-c_d",
        ] {
            assert_eq!(shown(name), name);
        }
    }

    #[test]
    fn unprintable_names_are_escaped() {
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown("x\r\ty"), "x\\r\\ty");
        assert_eq!(shown("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(shown("bidi\u{202e}txt"), "bidi\\u{202e}txt");
        // A backslash is always doubled, so the result reads one way only: a name holding a
        // backslash and an `n` is not shown like a name holding a newline.
        assert_eq!(shown("a\\nb"), "a\\\\nb");
        assert_eq!(shown("a\\n\nb"), "a\\\\n\\nb");
    }
}
