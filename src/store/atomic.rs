//! Crash-safe file replacement and private directories.
//!
//! A state file is never edited in place: the new content goes to a temp file in the
//! same directory (created exclusively, 0600), is fsynced, renamed over the target, and
//! the directory is fsynced so the rename itself survives a power cut. A crash at any
//! point leaves either the old file or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::util::private_fs::private_file_options;

pub use crate::util::private_fs::ensure_private_dir;

/// Open `path` for writing, creating it exclusively with mode 0600.
fn create_private_file(path: &Path) -> io::Result<File> {
    private_file_options()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Replace `path` with `bytes` atomically: temp file (0600) in the same directory,
/// fsync, rename over the target, fsync the directory. Missing parents are created 0700.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(path, bytes, 0o600, &mut || {})
}

/// [`write_atomic`] giving the new file `mode` (a file that is not oauth-mux's keeps the mode
/// its owner chose). The temp file is created 0600 and gets `mode` once written, so its
/// content is never readable by others while it is written. `before_rename` runs between
/// the fsync and the rename.
pub fn write_atomic_with_mode(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    before_rename: &mut dyn FnMut(),
) -> io::Result<()> {
    let dir = parent_dir(path);
    ensure_private_dir(&dir)?;
    let (tmp_path, mut file) = create_temp_beside(path, &dir)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| set_mode(&file, mode))
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            before_rename();
            fs::rename(&tmp_path, path)
        });
    if let Err(err) = written {
        let _ = fs::remove_file(&tmp_path);
        return Err(err);
    }
    sync_dir(&dir)
}

/// Remove temp files that writers of `path` left behind when they were killed
/// mid-write. Call it only while holding the lock every writer of `path` takes, so no
/// live writer's temp file can be removed.
pub fn remove_stale_temps(path: &Path) -> io::Result<usize> {
    let Some(name) = path.file_name() else {
        return Ok(0);
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let dir = parent_dir(path);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Create `.<name>.tmp-<random>` next to `path`, exclusively, retrying on a collision.
fn create_temp_beside(path: &Path, dir: &Path) -> io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let mut last_err = None;
    for _ in 0..8 {
        let suffix = getrandom::u64().map_err(io::Error::other)?;
        let tmp_path = dir.join(format!(".{name}.tmp-{suffix:016x}"));
        match create_private_file(&tmp_path) {
            Ok(file) => return Ok((tmp_path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last_err = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("could not create a temp file")))
}

fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if mode != 0o600 {
            file.set_permissions(fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

/// Flush a directory entry change (a rename or a new file) to disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a directory as a file; NTFS journals the rename.
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let entries: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, vec![std::ffi::OsString::from("state.json")]);
    }

    #[cfg(unix)]
    #[test]
    fn creates_0600_files_in_0700_dirs() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x/y/state.json");
        write_atomic(&path, b"{}").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("x")), 0o700);
        assert_eq!(mode(&tmp.path().join("x/y")), 0o700);
    }

    #[test]
    fn stale_temps_of_one_file_are_removed_and_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("health.json");
        fs::write(tmp.path().join(".health.json.tmp-0123"), b"partial").unwrap();
        fs::write(tmp.path().join(".other.json.tmp-0123"), b"other").unwrap();
        fs::write(&path, b"{}").unwrap();
        assert_eq!(remove_stale_temps(&path).unwrap(), 1);
        assert!(path.exists());
        assert!(tmp.path().join(".other.json.tmp-0123").exists());
        assert!(!tmp.path().join(".health.json.tmp-0123").exists());
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_dir() {
        assert_eq!(parent_dir(Path::new("f.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/s/f.json")), PathBuf::from("/s"));
    }

    #[test]
    fn a_path_without_file_name_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = write_atomic(&tmp.path().join(".."), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
