//! Object names: validated once, then mapped to the platform's namespace.

use crate::error::{Error, ErrorKind, Result};
use std::fmt;

/// The longest name accepted, in bytes. It is `NAME_MAX` on Linux, where a named object is a file
/// in the shared-memory directory; on Windows the limit (`MAX_PATH` characters, prefix included) is
/// larger, so one limit serves both.
pub const MAX_NAME_LEN: usize = 255;

/// Prefix of the temporary files mmf uses while creating an object; names may not start with it.
pub(crate) const RESERVED_PREFIX: &str = ".mmf-";

/// A validated object name: what `shm_open("/NAME")` opens on Linux and what `Local\NAME`
/// designates on Windows.
///
/// A valid name is 1 to [`MAX_NAME_LEN`] bytes, is not `.` or `..`, does not start with `.mmf-`
/// (reserved for mmf's own temporary files) and contains no `/`, `\` or NUL. One leading `/` is
/// accepted and dropped, so the POSIX spelling `"/NAME"` names the same object as `"NAME"`.
///
/// ```
/// let n = mmf::Name::new("/mmfobject").unwrap();
/// assert_eq!(n.as_str(), "mmfobject");
/// assert_eq!(mmf::Name::new("a/b").unwrap_err().kind(), mmf::ErrorKind::InvalidName);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidName`] with a message saying which rule the name breaks.
    pub fn new(name: &str) -> Result<Name> {
        let bare = name.strip_prefix('/').unwrap_or(name);
        let bad = |why: &'static str| {
            Err(Error::new(
                ErrorKind::InvalidName,
                "use",
                format!("name {:?}", name),
                why,
            ))
        };
        if bare.is_empty() {
            return bad("a name must not be empty");
        }
        if bare.len() > MAX_NAME_LEN {
            return bad("a name must be at most 255 bytes long");
        }
        if bare.contains('\0') {
            return bad("a name must not contain a NUL byte");
        }
        if bare.contains('/') {
            return bad("a name must not contain '/' (other than one leading '/')");
        }
        if bare.contains('\\') {
            return bad("a name must not contain '\\' (use the namespace option for Global\\)");
        }
        if bare == "." || bare == ".." {
            return bad("'.' and '..' are not object names");
        }
        if bare.starts_with(RESERVED_PREFIX) {
            return bad("names starting with '.mmf-' are reserved for mmf's temporary files");
        }
        Ok(Name(bare.to_owned()))
    }

    /// The name without any leading `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How messages refer to the object: `shared memory object "NAME"`, with NAME escaped as
    /// Rust's `{:?}` does when it has anything but plain printable ASCII. (Opening an object
    /// builds this string, so the common case stays clear of the formatting machinery and its
    /// Unicode tables, which a new process would first have to fault in.)
    pub(crate) fn describe(&self) -> String {
        const PREFIX: &str = "shared memory object \"";
        let plain = self
            .0
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        if !plain {
            return format!("shared memory object {:?}", self.0);
        }
        let mut s = String::with_capacity(PREFIX.len() + self.0.len() + 1);
        s.push_str(PREFIX);
        s.push_str(&self.0);
        s.push('"');
        s
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Name {
    type Err = Error;
    fn from_str(s: &str) -> Result<Name> {
        Name::new(s)
    }
}

/// Anything that can name an object: `&str`, `String` or a [`Name`].
pub trait IntoName {
    /// Validates and converts.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidName`].
    fn into_name(self) -> Result<Name>;
}

impl IntoName for Name {
    fn into_name(self) -> Result<Name> {
        Ok(self)
    }
}
impl IntoName for &Name {
    fn into_name(self) -> Result<Name> {
        Ok(self.clone())
    }
}
impl IntoName for &str {
    fn into_name(self) -> Result<Name> {
        Name::new(self)
    }
}
impl IntoName for String {
    fn into_name(self) -> Result<Name> {
        Name::new(&self)
    }
}
impl IntoName for &String {
    fn into_name(self) -> Result<Name> {
        Name::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_escape_like_debug() {
        let mut escaped = 0;
        for n in [
            "plain-name_1.2",
            "with space",
            "quote\"d",
            "back\\slash",
            "tab\there",
            "é",
        ] {
            if let Ok(name) = Name::new(n) {
                assert_eq!(name.describe(), format!("shared memory object {:?}", n));
                escaped += usize::from(format!("{:?}", n).len() != n.len() + 2);
            }
        }
        assert!(escaped >= 2, "the escaping path was not exercised");
    }

    #[test]
    fn rules() {
        assert!(Name::new("ok-name_1.2").is_ok());
        assert_eq!(Name::new("/x").unwrap().as_str(), "x");
        for bad in [
            "",
            "/",
            "a/b",
            "//x",
            "a\0b",
            ".",
            "..",
            ".mmf-new.1",
            "a\\b",
        ] {
            assert_eq!(
                Name::new(bad).unwrap_err().kind(),
                ErrorKind::InvalidName,
                "{:?}",
                bad
            );
        }
        assert!(Name::new(&"n".repeat(255)).is_ok());
        assert_eq!(
            Name::new(&"n".repeat(256)).unwrap_err().kind(),
            ErrorKind::InvalidName
        );
    }

    #[test]
    fn message_names_the_input() {
        let e = Name::new("a/b").unwrap_err();
        assert!(e.to_string().contains("\"a/b\""), "{}", e);
    }
}
