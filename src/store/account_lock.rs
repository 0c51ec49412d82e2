//! Per-account advisory repair locks, `<runtime>/repair-locks/<provider>-<account>.lock`.
//!
//! Holding an [`AccountLock`] holds an OS `flock` on the file; the OS releases it when
//! the process exits, so a crashed repair never blocks the next one. The file records
//! who holds it (`{"provider","account","started_at","pid"}`) so other commands can
//! report `repair_in_progress{started_at}` via [`probe`]. Lock files are never unlinked
//! (unlinking while another process waits on the old inode is a race).

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::StoreError;
use super::lock::open_lock_file;
use super::paths::Dirs;

/// `try_acquire` retries this often before reporting the lock as held, so that a
/// concurrent [`probe`] (which holds the lock for an instant) is not mistaken for a
/// repair in progress.
const ACQUIRE_ATTEMPTS: u32 = 3;
const ACQUIRE_RETRY_DELAY: Duration = Duration::from_millis(10);

/// Shown as `started_at` when a live holder has not yet written its details.
pub const UNKNOWN_STARTED_AT: &str = "unknown";

/// A held repair lock for one account. Released when dropped; the file stays.
#[derive(Debug)]
pub struct AccountLock {
    file: File,
    path: PathBuf,
}

/// What a live holder of an account lock wrote about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// RFC 3339 time the holder took the lock ([`UNKNOWN_STARTED_AT`] if not yet written).
    pub started_at: String,
}

impl AccountLock {
    /// Try to take the repair lock of `provider`/`account` without waiting.
    ///
    /// `Ok(None)` means another live process (or another handle in this one) holds it.
    pub fn try_acquire(
        dirs: &Dirs,
        provider: &str,
        account: &str,
        now_rfc3339: &str,
    ) -> Result<Option<AccountLock>, StoreError> {
        let path = lock_file_path(dirs, provider, account);
        let mut file = open_lock_file(&path)?;
        let mut attempt = 1;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if attempt < ACQUIRE_ATTEMPTS => {
                    attempt += 1;
                    thread::sleep(ACQUIRE_RETRY_DELAY);
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(err)) => return Err(StoreError::io("lock", &path, err)),
            }
        }
        let holder = json!({
            "provider": provider,
            "account": account,
            "started_at": now_rfc3339,
            "pid": std::process::id(),
        });
        let mut content = serde_json::to_vec(&holder).expect("a JSON value serializes");
        content.push(b'\n');
        file.set_len(0)
            .and_then(|()| file.write_all(&content))
            .and_then(|()| file.sync_data())
            .map_err(|err| StoreError::io("write", &path, err))?;
        Ok(Some(AccountLock { file, path }))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AccountLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Whether a live process holds the repair lock of `provider`/`account`, and since when.
///
/// Takes the lock without waiting and releases it at once; `None` when nobody holds
/// it (or the lock file does not exist or cannot be opened).
pub fn probe(dirs: &Dirs, provider: &str, account: &str) -> Option<LockHolder> {
    let path = lock_file_path(dirs, provider, account);
    let mut file = File::open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(TryLockError::WouldBlock) => {
            let mut content = String::new();
            let started_at = file
                .read_to_string(&mut content)
                .ok()
                .and_then(|_| serde_json::from_str::<Value>(&content).ok())
                .and_then(|v| v.get("started_at")?.as_str().map(str::to_string))
                .unwrap_or_else(|| UNKNOWN_STARTED_AT.to_string());
            Some(LockHolder { started_at })
        }
        Err(TryLockError::Error(_)) => None,
    }
}

/// The lock file of `provider`/`account`: `<runtime>/repair-locks/<provider>-<account>.lock`,
/// with every character outside `[A-Za-z0-9._-]` replaced by `_`.
pub fn lock_file_path(dirs: &Dirs, provider: &str, account: &str) -> PathBuf {
    dirs.repair_locks_dir()
        .join(format!("{}-{}.lock", sanitize(provider), sanitize(account)))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(root: &Path) -> Dirs {
        Dirs {
            config_file: root.join("c/config.json"),
            config_dir: root.join("c"),
            state_dir: root.join("s"),
            runtime_dir: root.join("r"),
            data_dir: root.join("d"),
        }
    }

    #[test]
    fn names_are_sanitized() {
        let d = dirs(Path::new("/x"));
        assert_eq!(
            lock_file_path(&d, "codex", "max-1"),
            PathBuf::from("/x/r/repair-locks/codex-max-1.lock")
        );
        assert_eq!(
            lock_file_path(&d, "gh/../x", "me@example.com é"),
            PathBuf::from("/x/r/repair-locks/gh_.._x-me_example.com__.lock")
        );
    }

    #[test]
    fn second_handle_sees_the_lock_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        assert_eq!(probe(&d, "codex", "max-1"), None);
        let held = AccountLock::try_acquire(&d, "codex", "max-1", "2026-11-22T05:00:00Z")
            .unwrap()
            .expect("free lock is acquired");
        assert_eq!(
            probe(&d, "codex", "max-1"),
            Some(LockHolder {
                started_at: "2026-11-22T05:00:00Z".into()
            })
        );
        assert!(
            AccountLock::try_acquire(&d, "codex", "max-1", "later")
                .unwrap()
                .is_none()
        );
        assert_eq!(probe(&d, "codex", "max-2"), None, "other accounts are free");
        let path = held.path().to_path_buf();
        drop(held);
        assert!(path.exists(), "the lock file is not unlinked");
        assert_eq!(probe(&d, "codex", "max-1"), None);
        let again = AccountLock::try_acquire(&d, "codex", "max-1", "t2").unwrap();
        assert!(again.is_some());
        let content: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(content["started_at"], "t2");
        assert_eq!(content["provider"], "codex");
        assert_eq!(content["account"], "max-1");
        assert_eq!(content["pid"], std::process::id());
    }
}
