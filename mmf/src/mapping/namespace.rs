//! The namespace of named objects: listing, garbage collection, removal.

use super::*;

/// The place named objects live: `/dev/shm` (or `$MMF_DIR`) by default, or any directory on
/// Linux. Listing, garbage collection and removal.
///
/// On Windows a handle-lifetime object is a section in the session's kernel namespace
/// (`Local\NAME`), and a persistent object is a file in the directory of persistent objects:
/// `%LOCALAPPDATA%\mmf` by default (made by the first persistent create), `%MMF_DIR%`, or the one given to
/// [`at`](Self::at). A native program opens it with `CreateFileW` (sharing read, write and delete)
/// and `CreateFileMappingW` over the file. Listing covers both, and `Global\` sections too.
///
/// ```
/// fn main() -> Result<(), mmf::Error> {
///     let ns = mmf::Namespace::default();
///     for obj in ns.list()? {
///         println!("{} {} bytes", obj.name, obj.size);
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    dir: Option<PathBuf>,
}

impl Namespace {
    /// The namespace in directory `dir` (Linux; on Windows, `dir` holds the persistent objects).
    pub fn at(dir: impl Into<PathBuf>) -> Namespace {
        Namespace {
            dir: Some(dir.into()),
        }
    }

    /// The directory this namespace resolves to: the one given to [`at`](Self::at), else
    /// `$MMF_DIR`, else `/dev/shm`. On Windows, the directory of persistent objects (else
    /// `%LOCALAPPDATA%\mmf`); `None` there only without `LOCALAPPDATA`.
    pub fn dir(&self) -> Option<PathBuf> {
        sys::namespace_dir(self.dir.as_deref())
    }

    /// Every named object, sorted by name. Handle-lifetime objects whose holders are all gone are
    /// removed on the way and not listed.
    ///
    /// On Windows: the sections of the session's namespace and of `Global\` (named
    /// `Global\NAME` here), read through the NT object directory, and the persistent objects;
    /// owner and mode are 0 there.
    ///
    /// # Errors
    /// `NotFound` if the directory is missing (Linux).
    pub fn list(&self) -> Result<Vec<ObjectInfo>> {
        sys::list(self.dir.as_deref()).map_err(|e| e.context("list", self.describe()))
    }

    /// Removes handle-lifetime objects whose holders are all gone, and temporary files left by
    /// creators that died midway. Returns the names removed.
    ///
    /// # Errors
    /// As for [`list`](Self::list).
    pub fn gc(&self) -> Result<Vec<String>> {
        sys::gc(self.dir.as_deref()).map_err(|e| e.context("collect", self.describe()))
    }

    /// Removes the name (`shm_unlink`). Processes that have the object open keep using it; new
    /// opens get `NotFound`.
    ///
    /// On Windows this deletes a persistent object's file; a handle-lifetime section cannot be
    /// removed (`Unsupported`): its name goes with its last handle.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied`, `InvalidName`.
    #[doc(alias = "shm_unlink")]
    pub fn remove(&self, name: impl IntoName) -> Result<()> {
        let name = name.into_name()?;
        sys::remove(&name, self.dir.as_deref()).map_err(|e| e.context("remove", name.describe()))
    }

    /// The namespace as error messages name it.
    fn describe(&self) -> String {
        match self.dir() {
            Some(dir) => format!("directory {}", dir.display()),
            None => "the object namespace".to_owned(),
        }
    }
}
