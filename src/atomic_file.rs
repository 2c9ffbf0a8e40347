//! Files written whole or not at all. Every file the crate and its
//! command-line program write (saved models, checkpoints, predictions,
//! converted tables, plots) is written to a temporary file beside its final
//! path, flushed to the disk and renamed over that path: a kill, a full
//! disk or a failed write leaves the old file (or none), never part of a
//! new one, and a failed write removes its temporary file.
//!
//! ```
//! use std::io::Write;
//! let path = std::env::temp_dir().join("downhill_atomic_doc.txt");
//! let mut file = downhill::atomic_file::AtomicFile::create(&path)?;
//! writeln!(file.file(), "hello").map_err(|e| file.error(e))?;
//! file.commit()?;
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
//! # Ok::<(), downhill::Error>(())
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file being written to a temporary name beside `path`; [`commit`]
/// puts it in place. Dropped uncommitted, the temporary file is removed
/// and `path` is untouched.
///
/// [`commit`]: AtomicFile::commit
pub struct AtomicFile {
    temporary: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts a file that will be `path`: a new temporary file in the same
    /// folder (so that the rename stays on one file system), named after
    /// `path` and ending in its extension (for writers that choose the
    /// format by the name).
    pub fn create(path: impl AsRef<Path>) -> Result<AtomicFile> {
        let path = path.as_ref().to_path_buf();
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().ok_or_else(|| Error::Write {
            path: path.display().to_string(),
            reason: "the path names no file".into(),
        })?;
        // Found now, before a run whose output it is, rather than by the
        // rename at its end.
        if path.is_dir() {
            return Err(Error::Write {
                path: path.display().to_string(),
                reason: "it is a folder: name a file in it".into(),
            });
        }
        let suffix = path
            .extension()
            .map(|e| format!(".partial.{}", e.to_string_lossy()))
            .unwrap_or_else(|| ".partial".into());
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(&suffix);
        // The permissions a file created in place would get: those of the
        // file replaced, else read and write for all as the umask allows
        // (a temporary file is otherwise its owner's alone).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(match std::fs::metadata(&path) {
                Ok(old) => old.permissions(),
                Err(_) => std::fs::Permissions::from_mode(0o666),
            });
        }
        let temporary = builder.tempfile_in(&folder).map_err(|e| Error::Write {
            path: path.display().to_string(),
            // The kind alone: the system's message would name the
            // temporary file, which the user never asked for.
            reason: match folder.is_dir() {
                false => format!("the folder {} does not exist", folder.display()),
                true => format!("cannot create a file in {}: {}", folder.display(), e.kind()),
            },
        })?;
        Ok(AtomicFile { temporary, path })
    }

    /// The temporary file, to write.
    pub fn file(&mut self) -> &mut File {
        self.temporary.as_file_mut()
    }

    /// The temporary file, for writers that take it shared (a memory map).
    pub fn temporary_file(&self) -> &File {
        self.temporary.as_file()
    }

    /// Where the file is written until [`AtomicFile::commit`].
    pub fn temporary_path(&self) -> &Path {
        self.temporary.path()
    }

    /// The path the file will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error of writing this file, naming its final path.
    pub fn error(&self, reason: impl std::fmt::Display) -> Error {
        Error::Write {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// Flushes the file to the disk and renames it over its path (then
    /// flushes the folder, so that the rename itself survives a crash).
    pub fn commit(self) -> Result<()> {
        let failed = |e: &dyn std::fmt::Display| Error::Write {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        };
        self.temporary.as_file().sync_all().map_err(|e| failed(&e))?;
        let path = self.path.clone();
        self.temporary.persist(&path).map_err(|e| failed(&e.error))?;
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Not every system can open a folder to flush it; the file
            // itself is on the disk already.
            if let Ok(folder) = File::open(folder) {
                let _ = folder.sync_all();
            }
        }
        Ok(())
    }
}

/// Writes `path` whole or not at all: `write` fills the temporary file,
/// which is then committed ([`AtomicFile`]).
pub fn write_atomically(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(file.file()).map_err(|e| file.error(e))?;
    file.commit()
}

/// Whether a file can be written at `path`: a temporary file is created
/// beside it and removed. For checking outputs before a long run.
pub fn check_writable(path: impl AsRef<Path>) -> Result<()> {
    AtomicFile::create(path).map(drop)
}

/// Whether `output` is the same file as `input` (through links too), where
/// both exist.
pub fn same_file(output: &Path, input: &Path) -> bool {
    match (output.canonicalize(), input.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Checks an output before a run: it is none of `inputs` (each named by
/// what it is, such as `--data`), and its folder takes a new file.
pub fn check_output(output: &Path, inputs: &[(&Path, &str)]) -> Result<()> {
    if let Some((_, input)) = inputs.iter().find(|(input, _)| same_file(output, input)) {
        return Err(Error::OutputIsInput {
            path: output.display().to_string(),
            input: input.to_string(),
        });
    }
    check_writable(output)
}

#[cfg(test)]
mod tests {
    use crate::atomic_file::*;

    #[test]
    fn a_folder_is_no_output_and_is_found_before_the_run() {
        let folder = tempfile::tempdir().unwrap();
        let error = check_output(folder.path(), &[]).unwrap_err();
        assert_eq!(
            error,
            crate::error::Error::Write {
                path: folder.path().display().to_string(),
                reason: "it is a folder: name a file in it".into(),
            }
        );
    }

    #[test]
    fn an_uncommitted_file_leaves_the_old_one_and_no_temporary() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("model.json");
        std::fs::write(&path, "old").unwrap();
        {
            let mut file = AtomicFile::create(&path).unwrap();
            use std::io::Write;
            file.file().write_all(b"half of a new").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("model.json")]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("table.csv");
        std::fs::write(&path, "old").unwrap();
        let result = write_atomically(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(matches!(result, Err(Error::Write { .. })), "{result:?}");
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    }

    #[test]
    fn a_committed_file_replaces_the_old_one_and_keeps_its_extension_while_written() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("plot.svg");
        std::fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        assert_eq!(file.temporary_path().extension().unwrap(), "svg");
        use std::io::Write;
        file.file().write_all(b"new").unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_output_that_is_an_input_through_a_link_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let data = folder.path().join("data.csv");
        std::fs::write(&data, "x,y\n1,2\n").unwrap();
        let link = folder.path().join("link.csv");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let error = check_output(&link, &[(&data, "--data")]).unwrap_err();
        assert!(
            matches!(&error, Error::OutputIsInput { input, .. } if input == "--data"),
            "{error}"
        );
        check_output(&folder.path().join("model.json"), &[(&data, "--data")]).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_gets_the_permissions_of_one_created_in_place_and_a_replaced_one_keeps_its_own() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().unwrap();
        let (fresh, plain) = (folder.path().join("fresh.json"), folder.path().join("plain.json"));
        std::fs::write(&plain, "made in place").unwrap();
        let in_place = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        write_atomically(&fresh, |_| Ok(())).unwrap();
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            in_place
        );
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&plain, |_| Ok(())).unwrap();
        assert_eq!(
            std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_path() {
        let error = check_writable("/nonexistent-folder-of-downhill/model.json").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("/nonexistent-folder-of-downhill/model.json"),
            "{error}"
        );
    }
}
