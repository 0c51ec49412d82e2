//! Advisory lock files around read-modify-write of shared state.
//!
//! Built on `std::fs::File::lock`/`try_lock` (an OS `flock`). The OS drops the lock
//! when the holder exits, crashed or not, so a bounded wait only ever times out on a
//! live holder. Lock files are never unlinked: removing one while another process
//! waits on it would let two processes "hold" different files with the same name.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::StoreError;
use super::atomic::parent_dir;
use crate::util::private_fs::{ensure_private_dir, private_file_options};

/// How long state writers wait for each other before giving up with a clear error.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A wait longer than this is announced on stderr, once, with what is being waited for.
const SAY_WAITING_AFTER: Duration = Duration::from_secs(1);

const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(10);

/// An exclusive lock held on a lock file; released when dropped.
#[derive(Debug)]
pub struct ExclusiveLock {
    file: File,
    path: PathBuf,
}

impl ExclusiveLock {
    /// Take the exclusive lock on `lock_path` (created 0600, parents 0700), polling
    /// with backoff for at most `timeout`.
    pub fn acquire(lock_path: &Path, timeout: Duration) -> Result<ExclusiveLock, StoreError> {
        let file = open_lock_file(lock_path)?;
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(ExclusiveLock {
                        file,
                        path: lock_path.to_path_buf(),
                    });
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(err)) => {
                    return Err(StoreError::io("lock", lock_path, err));
                }
            }
            let waited = started.elapsed();
            if !said && waited >= SAY_WAITING_AFTER {
                said = true;
                crate::output::warn(&format!(
                    "oauth-mux: waiting for another oauth-mux process to release {} (up to {} s)",
                    describe(lock_path),
                    timeout.as_secs()
                ));
            }
            if waited >= timeout {
                return Err(StoreError::LockTimeout {
                    path: lock_path.to_path_buf(),
                    waited,
                });
            }
            thread::sleep(backoff.min(timeout - waited));
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The lock file this guard holds.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ExclusiveLock {
    fn drop(&mut self) {
        // Closing the file would release the lock too; unlock explicitly to be clear.
        let _ = self.file.unlock();
    }
}

/// Run `f` while holding the exclusive lock on `lock_path`, waiting at most `timeout`.
///
/// The error names the lock file when the lock cannot be had in time.
pub fn with_exclusive<R>(
    lock_path: &Path,
    timeout: Duration,
    f: impl FnOnce() -> R,
) -> Result<R, StoreError> {
    let _guard = ExclusiveLock::acquire(lock_path, timeout)?;
    Ok(f())
}

/// Open (creating 0600 if needed, never truncating) a lock file.
pub(crate) fn open_lock_file(lock_path: &Path) -> Result<File, StoreError> {
    let dir = parent_dir(lock_path);
    ensure_private_dir(&dir).map_err(|err| StoreError::io("create directory", &dir, err))?;
    private_file_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(|err| StoreError::io("open lock file", lock_path, err))
}

/// What a lock file guards, in words (file names only, never a directory).
pub fn describe(lock_path: &Path) -> String {
    let name = lock_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let guarded = name.strip_suffix(".lock").unwrap_or(&name);
    match guarded {
        "health.json" => "the health store".to_owned(),
        "repair-events.jsonl" => "the event log".to_owned(),
        "daemon-snapshot.json" => "the stay-afloat tick (another tick is running)".to_owned(),
        other => format!("the lock on {other}"),
    }
}

/// The lock file guarding `path`: `<path>.lock`.
pub fn lock_path_for(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_the_closure_under_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = tmp.path().join("d/state.json.lock");
        let value = with_exclusive(&lock, Duration::from_secs(1), || 42).unwrap();
        assert_eq!(value, 42);
        assert!(lock.exists(), "lock file is kept after release");
        // Released: a second acquisition succeeds at once.
        with_exclusive(&lock, Duration::ZERO, || ()).unwrap();
    }

    #[test]
    fn times_out_on_a_live_holder_and_names_the_lock_file() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = tmp.path().join("state.json.lock");
        let held = ExclusiveLock::acquire(&lock, Duration::ZERO).unwrap();
        let started = Instant::now();
        let err = with_exclusive(&lock, Duration::from_millis(150), || ()).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(matches!(err, StoreError::LockTimeout { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&lock.display().to_string()),
            "{err}"
        );
        drop(held);
        with_exclusive(&lock, Duration::ZERO, || ()).unwrap();
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_holder_releases() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = tmp.path().join("state.json.lock");
        let held = ExclusiveLock::acquire(&lock, Duration::ZERO).unwrap();
        let lock2 = lock.clone();
        let waiter =
            thread::spawn(move || with_exclusive(&lock2, Duration::from_secs(10), || "got it"));
        thread::sleep(Duration::from_millis(100));
        drop(held);
        assert_eq!(waiter.join().unwrap().unwrap(), "got it");
    }

    #[test]
    fn lock_path_appends_suffix() {
        assert_eq!(
            lock_path_for(Path::new("/s/health.json")),
            PathBuf::from("/s/health.json.lock")
        );
    }
}
