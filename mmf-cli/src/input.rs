//! Where `mmf store` gets its value: the DATA argument, stdin, or a file. Files and stdin are
//! streamed into the value as they are read (memory stays bounded whatever their size); only
//! `--raw` reads them whole first.

use crate::progress::Progress;
use anyhow::Context;
use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// The size of one read.
const CHUNK: usize = 1 << 20;

/// The value to store.
pub enum Input {
    /// The DATA argument's bytes.
    Bytes(Vec<u8>),
    /// A file or stdin, read while the value is stored, with a progress bar on the reads.
    Stream {
        reader: Box<dyn Read>,
        /// The length, when known (a regular file).
        len: Option<u64>,
        /// What it is, for messages.
        what: String,
    },
}

impl Input {
    /// The whole value in memory.
    pub fn into_bytes(self) -> anyhow::Result<Vec<u8>> {
        match self {
            Input::Bytes(b) => Ok(b),
            Input::Stream { reader, len, what } => {
                read_all(reader, len).with_context(|| format!("cannot read {what}"))
            }
        }
    }
}

/// Where the value comes from: `data` as given (its bytes), stdin when `data` is absent or "-",
/// or `file`. A file that cannot be opened is an error here, before anything is stored.
pub fn open_value(data: Option<OsString>, file: Option<PathBuf>) -> anyhow::Result<Input> {
    if let Some(path) = file {
        let what = format!("{:?}", path.display().to_string());
        let f = std::fs::File::open(&path).with_context(|| format!("cannot read {what}"))?;
        let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        return Ok(Input::Stream {
            reader: Box::new(Counted::new(f, len, "storing")),
            len,
            what,
        });
    }
    match data {
        Some(d) if d != "-" => Ok(Input::Bytes(d.into_encoded_bytes())),
        _ => {
            if std::io::stdin().is_terminal() {
                crate::exit::inform(format_args!(
                    "mmf: reading the value from stdin; end it with {END_OF_INPUT}"
                ));
            }
            Ok(Input::Stream {
                reader: Box::new(Counted::new(std::io::stdin(), None, "storing")),
                len: None,
                what: "stdin".into(),
            })
        }
    }
}

/// The keys that end typed input on this platform's terminal.
const END_OF_INPUT: &str = if cfg!(windows) {
    "Ctrl-Z and Enter"
} else {
    "Ctrl-D"
};

/// A reader that moves a progress bar as it is read.
pub struct Counted<R> {
    inner: R,
    progress: Progress,
}

impl<R> Counted<R> {
    pub fn new(inner: R, len: Option<u64>, message: &'static str) -> Counted<R> {
        Counted {
            inner,
            progress: Progress::bytes(len, message),
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// Reads `r` to the end, `CHUNK` bytes at a time (`len`: the expected length, a hint).
pub fn read_all(mut r: impl Read, len: Option<u64>) -> std::io::Result<Vec<u8>> {
    let hint = len.and_then(|l| usize::try_from(l).ok()).unwrap_or(0);
    let mut out = Vec::with_capacity(hint);
    let mut buf = vec![0u8; CHUNK];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes at a time and is interrupted now and then.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls % 3 == 0 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(7).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn reads_everything() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let got = read_all(
            Trickle {
                data: data.clone(),
                pos: 0,
                calls: 0,
            },
            None,
        )
        .unwrap();
        assert_eq!(got, data);
        assert_eq!(read_all(&[][..], Some(0)).unwrap(), b"");
        let big = vec![7u8; 3 * CHUNK + 5];
        assert_eq!(read_all(&big[..], Some(big.len() as u64)).unwrap(), big);
    }

    #[test]
    fn data_argument_wins_and_files_stream() {
        let bytes = |i: Input| i.into_bytes().unwrap();
        assert_eq!(bytes(open_value(Some("abc".into()), None).unwrap()), b"abc");
        assert_eq!(bytes(open_value(Some("".into()), None).unwrap()), b"");
        let path = std::env::temp_dir().join(format!("mmf-input-test-{}", std::process::id()));
        std::fs::write(&path, b"from a file").unwrap();
        let input = open_value(None, Some(path.clone())).unwrap();
        assert!(matches!(input, Input::Stream { len: Some(11), .. }));
        assert_eq!(bytes(input), b"from a file");
        std::fs::remove_file(&path).unwrap();
        let e = open_value(None, Some(path)).err().unwrap();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }
}
