//! `std::io` over a view: a cursor that reads, writes and seeks with the view's guarded copies.

use super::View;
use std::io;

/// A position in a [`View`] with [`io::Read`], [`io::Write`] and [`io::Seek`], for code that
/// speaks `std::io` (parsers, `io::copy`, `BufReader`). Every read and write is one of the view's
/// copies ([`View::read_at`], [`View::write_at`]): sound while other processes write, and an
/// error rather than `SIGBUS` if the object shrinks. Reads stop at the end of the view (0 bytes
/// is end of file); writes past the end write what fits, then fail with `WriteZero` through
/// `write_all`, like a fixed-size buffer.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let m = mmf::Mapping::anonymous(4096)?;
///     let view = m.map_mut()?;
///     let mut c = view.cursor();
///     c.write_all(b"hello, ")?;
///     write!(c, "{}", 42)?;
///     c.seek(SeekFrom::Start(0))?;
///     let mut text = [0u8; 9];
///     c.read_exact(&mut text)?;
///     assert_eq!(&text, b"hello, 42");
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Cursor<'a> {
    view: &'a View,
    pos: u64,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(view: &'a View) -> Cursor<'a> {
        Cursor { view, pos: 0 }
    }

    /// The current position, in bytes from the start of the view.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Moves to `pos` (may lie past the end: reads there return 0 bytes, writes fail).
    pub fn set_position(&mut self, pos: u64) {
        self.pos = pos;
    }

    /// The view underneath.
    pub fn view(&self) -> &'a View {
        self.view
    }

    /// The bytes from the position to the end of the view, at most `want`, and where they start.
    fn span(&self, want: usize) -> Option<(usize, usize)> {
        let len = self.view.len() as u64;
        if self.pos >= len {
            return None;
        }
        let n = (len - self.pos).min(want as u64) as usize;
        Some((self.pos as usize, n))
    }
}

impl io::Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.span(buf.len()) {
            None => Ok(0),
            Some((at, n)) => {
                self.view.read_at(at, &mut buf[..n])?;
                self.pos += n as u64;
                Ok(n)
            }
        }
    }
}

impl io::Write for Cursor<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.span(buf.len()) {
            None => Ok(0),
            Some((at, n)) => {
                self.view.write_at(at, &buf[..n])?;
                self.pos += n as u64;
                Ok(n)
            }
        }
    }

    /// Nothing is buffered; use [`View::flush`] to write a file-backed view back to disk.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for Cursor<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            io::SeekFrom::Start(p) => {
                self.pos = p;
                return Ok(p);
            }
            io::SeekFrom::End(d) => (self.view.len() as u64, d),
            io::SeekFrom::Current(d) => (self.pos, d),
        };
        let target = if delta >= 0 {
            base.checked_add(delta as u64)
        } else {
            base.checked_sub(delta.unsigned_abs())
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn reads_to_the_end_writes_what_fits_and_seeks_within_bounds() {
        let m = crate::Mapping::anonymous(4096).unwrap();
        let v = m.map_range(4000, 96, crate::Access::ReadWrite).unwrap();
        let mut c = v.cursor();
        c.write_all(&[7u8; 90]).unwrap();
        assert_eq!(c.position(), 90);
        let err = c.write_all(&[1u8; 10]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WriteZero, "{}", err);
        assert_eq!(c.position(), 96);
        assert_eq!(c.seek(SeekFrom::End(-6)).unwrap(), 90);
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, vec![1u8; 6]);
        assert_eq!(c.read(&mut [0u8; 4]).unwrap(), 0, "end of file");
        assert!(c.seek(SeekFrom::Current(-1000)).is_err());
        assert_eq!(c.position(), 96, "a failed seek does not move");
        c.set_position(0);
        let mut all = Vec::new();
        std::io::copy(&mut c, &mut all).unwrap();
        assert_eq!(all.len(), 96);
        assert_eq!(&all[..90], &[7u8; 90][..]);
    }

    #[test]
    fn writes_through_a_read_only_view_are_errors() {
        let m = crate::Mapping::anonymous(4096).unwrap();
        let v = m.map().unwrap();
        let err = v.cursor().write(b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{}", err);
    }
}
