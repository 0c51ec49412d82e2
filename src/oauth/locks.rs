//! The locks a refresh holds, so that oauth-mux processes and the provider's own CLI never
//! spend the same refresh token twice (reference: token-refresh.md).
//!
//! - oauth-mux's own lock, `<runtime>/refresh-locks/<store fingerprint>.lock` (`flock`),
//!   serializes every oauth-mux process and thread refreshing one store;
//! - Codex CLI: `flock` on `$CODEX_HOME/auth.lock` across the whole refresh, and
//!   `auth.json.lock` around the write;
//! - Claude Code: the lock directories `<dir>/.oauth_refresh.lock`, then
//!   `<realpath(dir)>.lock`, kept fresh (mtime touched every 5 s, stale after 10 s), and
//!   `<dir>/.storage-write.lock` (stale after 15 s) around the write.
//!
//! The order is always oauth-mux's lock, then the CLI's in the CLI's own order.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::provider_def::LockProtocol;
use crate::store::lock::ExclusiveLock;
use crate::util::fingerprint::short_hash;

/// How long a refresh waits for another holder of a store's locks.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);
/// Claude Code's refresh lock directories count as abandoned after this long untouched.
const CLAUDE_REFRESH_STALE: Duration = Duration::from_secs(10);
/// Claude Code's write lock directory counts as abandoned after this long untouched.
const CLAUDE_WRITE_STALE: Duration = Duration::from_secs(15);
/// How often held lock directories are touched.
const TOUCH_EVERY: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// Why a lock could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockProblem(pub String);

impl std::fmt::Display for LockProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The locks held across one refresh; released when dropped (the CLI's first).
pub struct RefreshLocks {
    cli: Option<CliLocks>,
    _own: ExclusiveLock,
}

/// The CLI's refresh locks; each is held for its `Drop`.
#[allow(dead_code)]
enum CliLocks {
    Codex(ExclusiveLock),
    Claude(DirLocks),
}

/// The lock held around the write of the store; each is held for its `Drop`.
#[allow(dead_code)]
pub enum WriteLock {
    None,
    Flock(ExclusiveLock),
    Dir(DirLocks),
}

/// oauth-mux's own lock file for `store`.
pub fn own_lock_path(runtime_dir: &Path, store: &Path) -> PathBuf {
    runtime_dir
        .join("refresh-locks")
        .join(format!("{}.lock", short_hash(&store.to_string_lossy())))
}

impl RefreshLocks {
    /// Take oauth-mux's lock, then the CLI's refresh locks, waiting at most [`LOCK_WAIT`].
    pub fn acquire(
        protocol: LockProtocol,
        runtime_dir: &Path,
        store: &Path,
    ) -> Result<RefreshLocks, LockProblem> {
        let own = ExclusiveLock::acquire(&own_lock_path(runtime_dir, store), LOCK_WAIT)
            .map_err(|e| lock_problem("oauth-mux's refresh lock of this account", &e))?;
        let dir = super::store_file::store_dir(store);
        let cli = match protocol {
            LockProtocol::None => None,
            LockProtocol::Codex => Some(CliLocks::Codex(
                ExclusiveLock::acquire(&dir.join("auth.lock"), LOCK_WAIT)
                    .map_err(|e| LockProblem(format!("Codex's auth.lock is held too long: {e}")))?,
            )),
            LockProtocol::Claude => {
                let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
                let sibling = PathBuf::from(format!("{}.lock", real.display()));
                Some(CliLocks::Claude(DirLocks::acquire(
                    &[dir.join(".oauth_refresh.lock"), sibling],
                    CLAUDE_REFRESH_STALE,
                )?))
            }
        };
        Ok(RefreshLocks { cli, _own: own })
    }

    /// Give the CLI's locks back early (after a rejection, so that a CLI blocked on them can
    /// write the tokens it got); oauth-mux's own lock stays held.
    pub fn release_cli(&mut self) {
        self.cli = None;
    }

    /// Take the lock the CLI takes around its write of the store.
    pub fn write_lock(
        &self,
        protocol: LockProtocol,
        store: &Path,
    ) -> Result<WriteLock, LockProblem> {
        let dir = super::store_file::store_dir(store);
        match protocol {
            LockProtocol::None => Ok(WriteLock::None),
            LockProtocol::Codex => ExclusiveLock::acquire(&dir.join("auth.json.lock"), LOCK_WAIT)
                .map(WriteLock::Flock)
                .map_err(|e| lock_problem("Codex's auth.json.lock", &e)),
            LockProtocol::Claude => {
                DirLocks::acquire(&[dir.join(".storage-write.lock")], CLAUDE_WRITE_STALE)
                    .map(WriteLock::Dir)
            }
        }
    }
}

impl Drop for RefreshLocks {
    fn drop(&mut self) {
        // The CLI's locks first, then oauth-mux's (reverse order of taking them).
        self.cli = None;
    }
}

/// `mkdir`-style lock directories, taken in order and kept fresh by a thread that touches
/// them every [`TOUCH_EVERY`]; removed (in reverse order) when dropped.
pub struct DirLocks {
    held: Arc<Mutex<Vec<PathBuf>>>,
    stop: Arc<AtomicBool>,
    keeper: Option<JoinHandle<()>>,
}

impl DirLocks {
    /// Take each directory in turn: create it; when it exists and was not touched for
    /// `stale`, its holder is gone and it is taken over. Gives up after [`LOCK_WAIT`].
    pub fn acquire(paths: &[PathBuf], stale: Duration) -> Result<DirLocks, LockProblem> {
        let locks = DirLocks {
            held: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
            keeper: None,
        };
        let started = Instant::now();
        for path in paths {
            loop {
                match std::fs::create_dir(path) {
                    Ok(()) => {
                        locks
                            .held
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(path.clone());
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if is_stale(path, stale) {
                            let _ = std::fs::remove_dir(path);
                            continue;
                        }
                    }
                    Err(e) => {
                        return Err(LockProblem(format!(
                            "the lock directory {} cannot be created ({})",
                            name_of(path),
                            e.kind()
                        )));
                    }
                }
                if started.elapsed() >= LOCK_WAIT {
                    return Err(LockProblem(format!(
                        "the lock directory {} is held by another process (Claude Code?) for \
                         longer than {} s",
                        name_of(path),
                        LOCK_WAIT.as_secs()
                    )));
                }
                std::thread::sleep(POLL);
            }
        }
        Ok(locks.keep_fresh())
    }

    fn keep_fresh(mut self) -> DirLocks {
        let held = self.held.clone();
        let stop = self.stop.clone();
        self.keeper = std::thread::Builder::new()
            .name("omux-lock-keeper".into())
            .spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::Acquire) {
                    std::thread::sleep(POLL);
                    if last.elapsed() >= TOUCH_EVERY {
                        for path in held.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                            touch(path);
                        }
                        last = Instant::now();
                    }
                }
            })
            .ok();
        self
    }
}

impl Drop for DirLocks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        for path in held.iter().rev() {
            let _ = std::fs::remove_dir(path);
        }
    }
}

/// A lock error in words, without the lock's path (it lies in the store's directory).
fn lock_problem(what: &str, e: &crate::store::StoreError) -> LockProblem {
    LockProblem(match e {
        crate::store::StoreError::LockTimeout { waited, .. } => format!(
            "{what} was held by another process for {:.0} s; try again when it is done",
            waited.as_secs_f64()
        ),
        crate::store::StoreError::Io { action, source, .. } => {
            format!("{what} could not be taken ({action}: {})", source.kind())
        }
        _ => format!("{what} could not be taken"),
    })
}

fn is_stale(path: &Path, stale: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= stale)
}

fn touch(path: &Path) {
    if let Ok(dir) = std::fs::File::open(path) {
        let _ = dir.set_modified(SystemTime::now());
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_locks_exclude_take_over_stale_ones_and_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join(".oauth_refresh.lock");
        let held = DirLocks::acquire(std::slice::from_ref(&a), CLAUDE_REFRESH_STALE).unwrap();
        assert!(a.is_dir());
        drop(held);
        assert!(!a.exists());
        // An abandoned lock (old mtime) is taken over.
        std::fs::create_dir(&a).unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::open(&a).unwrap().set_modified(old).unwrap();
        let taken = DirLocks::acquire(std::slice::from_ref(&a), CLAUDE_REFRESH_STALE).unwrap();
        let fresh = std::fs::metadata(&a).unwrap().modified().unwrap();
        assert!(fresh > old);
        drop(taken);
        assert!(!a.exists());
    }

    #[test]
    fn the_own_lock_serializes_threads_of_one_process() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("auth.json");
        let first = RefreshLocks::acquire(LockProtocol::Codex, tmp.path(), &store).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (dir, s) = (tmp.path().to_path_buf(), store.clone());
        let t = std::thread::spawn(move || {
            let _second = RefreshLocks::acquire(LockProtocol::Codex, &dir, &s).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "second got in"
        );
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        assert!(tmp.path().join("auth.lock").exists());
    }
}
