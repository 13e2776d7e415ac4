//! Where `mmf store` gets its value: the DATA argument, stdin, or a file. Files and stdin are
//! streamed into the value (or the plain object, with `--raw`) as they are read: memory stays
//! bounded whatever their size.

use crate::progress::Progress;
use anyhow::Context;
use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_argument_wins_and_files_stream() {
        let bytes = |i: Input| match i {
            Input::Bytes(b) => b,
            Input::Stream { mut reader, .. } => {
                let mut b = Vec::new();
                reader.read_to_end(&mut b).unwrap();
                b
            }
        };
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
