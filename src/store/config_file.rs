//! Writing the config file: a new one never replaces an existing one, and a changed one is
//! written atomically after a private backup of the previous bytes, under a lock that every
//! writer of the config takes (so two `enroll`s never lose each other's account).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use super::StoreError;
use super::atomic::{parent_dir, sync_dir, write_atomic};
use super::lock::{ExclusiveLock, lock_path_for};
use crate::util::private_fs::private_file_options;

/// How long a config writer waits for another one.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Take the config writers' lock (`<config>.lock`); hold it from reading the config to
/// writing the new one.
pub fn lock(path: &Path) -> Result<ExclusiveLock, StoreError> {
    ExclusiveLock::acquire(&lock_path_for(path), LOCK_TIMEOUT)
}

/// Write `bytes` to `path`, which must not exist: written beside it (0600, fsynced) and
/// linked into place, so it appears whole or not at all and never replaces a file another
/// process created meanwhile (`AlreadyExists`).
pub fn create_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let staged = dir.join(format!(
        ".{name}.new-{:016x}",
        getrandom::u64().map_err(io::Error::other)?
    ));
    write_atomic(&staged, bytes)?;
    let linked = fs::hard_link(&staged, path);
    let _ = fs::remove_file(&staged);
    linked?;
    sync_dir(&dir)
}

/// Replace the config at `path` with `bytes`: first a private backup of `previous` (the
/// bytes the caller read under [`lock`]) as `<config>.<UTC time>.bak` beside it, then an
/// atomic replace. Returns the backup's path.
pub fn replace_with_backup(
    path: &Path,
    previous: &[u8],
    bytes: &[u8],
    now: Timestamp,
) -> io::Result<PathBuf> {
    let backup = write_backup(path, previous, now)?;
    write_atomic(path, bytes)?;
    Ok(backup)
}

/// A new private file `<path>.<YYYYmmddTHHMMSSZ>[-N].bak` holding `bytes`.
fn write_backup(path: &Path, bytes: &[u8], now: Timestamp) -> io::Result<PathBuf> {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let base = path.as_os_str().to_string_lossy().into_owned();
    for n in 0..100 {
        let candidate = PathBuf::from(if n == 0 {
            format!("{base}.{stamp}.bak")
        } else {
            format!("{base}.{stamp}-{n}.bak")
        });
        match private_file_options()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                sync_dir(&parent_dir(path))?;
                return Ok(candidate);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::other("too many backups in the same second"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_config_never_replaces_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cfg/config.json");
        create_new(&path, b"first").unwrap();
        assert_eq!(mode(&path), 0o600);
        let err = create_new(&path, b"second").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"], "no staged file is left");
    }

    #[test]
    fn a_replace_keeps_a_private_backup_of_the_previous_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.json");
        fs::write(&path, b"old").unwrap();
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let one = replace_with_backup(&path, b"old", b"new", now).unwrap();
        let two = replace_with_backup(&path, b"new", b"newer", now).unwrap();
        assert_eq!(one.file_name().unwrap(), "config.json.20261207T100000Z.bak");
        assert_eq!(
            two.file_name().unwrap(),
            "config.json.20261207T100000Z-1.bak"
        );
        assert_eq!(fs::read(&one).unwrap(), b"old");
        assert_eq!(fs::read(&two).unwrap(), b"new");
        assert_eq!(fs::read(&path).unwrap(), b"newer");
        assert_eq!(mode(&one), 0o600);
        assert_eq!(mode(&path), 0o600);
    }
}
