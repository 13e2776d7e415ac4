//! Writing results: byte-exact stdout, a hex view, and JSON helpers.

use std::io::{self, Write};

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
