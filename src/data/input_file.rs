//! The check every data file (CSV, Parquet, .npy) and saved model passes
//! before it is opened: it must be a regular file. The readers open a file
//! more than once (the CSV delimiter is sniffed from the header, Parquet
//! row groups are read on several threads, .npy files are memory-mapped)
//! and seek in it; a named pipe would block the second open for ever,
//! /dev/zero would be read without end, and /dev/stdin reads only once.

use crate::data::error::DataError;
use std::path::Path;

use crate::error::{Error, Result};

/// The size of `path` in bytes where it is a regular file (symbolic links
/// followed); [`crate::DataError::NotARegularFile`] where it is anything else. A path
/// whose metadata cannot be read passes (`None`): opening it then says why
/// (no such file, no permission) as it always has.
pub(crate) fn regular_file_size(path: &Path) -> Result<Option<u64>> {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(None);
    };
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Ok(Some(metadata.len()));
    }
    Err(Error::Data(DataError::NotARegularFile {
        path: path.display().to_string(),
        kind: kind_of(&file_type),
    }))
}

/// What a file that is not a regular one is, in words.
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "pipe (FIFO)";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
        if file_type.is_socket() {
            return "socket";
        }
    }
    "special file"
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused_and_regular_files_pass() {
        for (path, kind) in [("/dev/zero", "character device"), ("/", "directory")] {
            match regular_file_size(Path::new(path)) {
                Err(Error::Data(DataError::NotARegularFile {
                    path: named,
                    kind: found,
                })) => {
                    assert_eq!((named.as_str(), found), (path, kind))
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        let file = std::env::temp_dir().join(format!("downhill-regular-{}", std::process::id()));
        std::fs::write(&file, b"abc").unwrap();
        assert_eq!(regular_file_size(&file).unwrap(), Some(3));
        std::fs::remove_file(&file).unwrap();
        // Missing files are left to the open that follows to name.
        assert_eq!(regular_file_size(Path::new("/no/such/file")).unwrap(), None);
    }
}
