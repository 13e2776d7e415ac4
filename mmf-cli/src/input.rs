//! Where `mmf store` gets its value: the DATA argument, stdin, or a file. Read in large chunks.

use crate::progress::Progress;
use anyhow::Context;
use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// The size of one read.
const CHUNK: usize = 1 << 20;

/// Reads the value: `data` as given (its bytes), stdin when `data` is absent or "-", or `file`.
pub fn read_value(data: Option<OsString>, file: Option<PathBuf>) -> anyhow::Result<Vec<u8>> {
    if let Some(path) = file {
        let f = std::fs::File::open(&path)
            .with_context(|| format!("cannot read {:?}", path.display().to_string()))?;
        let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        return read_all(f, len, "reading")
            .with_context(|| format!("cannot read {:?}", path.display().to_string()));
    }
    match data {
        Some(d) if d != "-" => Ok(d.into_encoded_bytes()),
        _ => {
            if std::io::stdin().is_terminal() {
                crate::exit::inform(format_args!(
                    "mmf: reading the value from stdin; end it with {END_OF_INPUT}"
                ));
            }
            read_all(std::io::stdin().lock(), None, "reading stdin")
                .context("cannot read the value from stdin")
        }
    }
}

/// The keys that end typed input on this platform's terminal.
const END_OF_INPUT: &str = if cfg!(windows) {
    "Ctrl-Z and Enter"
} else {
    "Ctrl-D"
};

/// Reads `r` to the end, `CHUNK` bytes at a time, with a progress bar when it is large.
pub fn read_all(
    mut r: impl Read,
    len: Option<u64>,
    message: &'static str,
) -> std::io::Result<Vec<u8>> {
    let hint = len.and_then(|l| usize::try_from(l).ok()).unwrap_or(0);
    let mut out = Vec::with_capacity(hint);
    let mut buf = vec![0u8; CHUNK];
    let mut progress = Progress::bytes(len, message);
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                progress.inc(n as u64);
            }
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
            "t",
        )
        .unwrap();
        assert_eq!(got, data);
        assert_eq!(read_all(&[][..], Some(0), "t").unwrap(), b"");
        let big = vec![7u8; 3 * CHUNK + 5];
        assert_eq!(
            read_all(&big[..], Some(big.len() as u64), "t").unwrap(),
            big
        );
    }

    #[test]
    fn data_argument_wins_and_dash_means_stdin() {
        assert_eq!(read_value(Some("abc".into()), None).unwrap(), b"abc");
        assert_eq!(read_value(Some("".into()), None).unwrap(), b"");
    }
}
