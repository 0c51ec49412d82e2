//! Small file-system helpers for what a managed session writes: 0700 directories, 0600
//! files created exclusively, symlinks, random names. Unix permissions; on Windows the
//! per-user profile directories already restrict access.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::util::private_fs as private;

/// Create `dir` and its parents (0700) when absent; tighten an existing one (the directories
/// a managed session uses are oauth-mux's own).
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    private::ensure_private_dir(dir)
        .with_context(|| format!("could not create directory {}", dir_label(dir)))?;
    private::tighten_dir(dir)
        .with_context(|| format!("could not make {} private (0700)", dir_label(dir)))
}

/// Create a new directory (0700); fails if it exists.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    private::create_private_dir(dir)
        .with_context(|| format!("could not create directory {}", dir_label(dir)))
}

/// Open a new file for appending (0600); fails if it exists.
pub fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    private::private_file_options()
        .create_new(true)
        .append(true)
        .open(path)
}

/// Write `bytes` to a new 0600 file and sync it.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = create_private_file(path)
        .with_context(|| format!("could not create {}", dir_label(path)))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", dir_label(path)))
}

/// Create a symbolic link `link` pointing at `target`.
pub fn symlink(target: &Path, link: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    let result = std::os::unix::fs::symlink(target, link);
    #[cfg(windows)]
    let result = if target.is_dir() {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    };
    result.with_context(|| format!("could not link {} into the overlay", dir_label(link)))
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether a process with this id exists (Unix); conservatively true elsewhere.
pub fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks for existence and permission.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The last path component only: errors never print full paths (they may name a user).
fn dir_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "(directory)".into())
}

/// Marker file inside every directory a session owns (so a sweep never removes anything else).
pub const OWNED_MARKER: &str = ".oauth-mux-overlay";

/// File inside an owned directory naming the child process that uses it (its process id,
/// which is also its process group id).
pub const CHILD_MARKER: &str = ".oauth-mux-child";

/// A 0700 directory `<parent>/<prefix>-<pid>-<random>` owned by this process; removed when
/// dropped. Directories of the same prefix left behind by dead processes are swept first,
/// unless the child that used one (or anything of its process group) still runs.
#[derive(Debug)]
pub struct OwnedDir {
    path: std::path::PathBuf,
}

impl OwnedDir {
    /// Create a fresh owned directory under `parent` (created 0700 when absent).
    pub fn create(parent: &Path, prefix: &str) -> anyhow::Result<OwnedDir> {
        ensure_private_dir(parent)?;
        sweep_stale(parent, prefix);
        let path = parent.join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            random_hex(8)?
        ));
        create_private_dir(&path)?;
        let dir = OwnedDir { path };
        write_private_new(&dir.path.join(OWNED_MARKER), b"")?;
        Ok(dir)
    }

    /// The directory. Never printed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record the child process that uses this directory, so that a sweep by another
    /// oauth-mux keeps it while that child's process group lives, even if this process
    /// died.
    pub fn note_child(&self, pid: u32) -> anyhow::Result<()> {
        write_private_new(&self.path.join(CHILD_MARKER), pid.to_string().as_bytes())
    }

    /// Remove the directory now (symlinks inside are removed, never followed).
    pub fn remove(self) -> anyhow::Result<()> {
        let path = self.path.clone();
        std::mem::forget(self);
        if path.exists() {
            fs::remove_dir_all(&path).context("could not remove a session directory")?;
        }
        Ok(())
    }
}

impl Drop for OwnedDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn sweep_stale(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let lead = format!("{prefix}-");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&lead) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id()
            && !process_alive(pid)
            && entry.path().join(OWNED_MARKER).exists()
            && !child_still_running(&entry.path())
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the child recorded in an owned directory (or its process group) still runs.
fn child_still_running(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(CHILD_MARKER)) else {
        return false;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => crate::child::group_alive(pid),
        // Unreadable: keep the directory rather than pull it from under a live child.
        Err(_) => true,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn owned_dir_is_private_removed_and_stale_ones_swept() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        // A leftover from a dead process (pid 0x7fff_fff0 does not exist) and a foreign dir.
        let stale = tmp.path().join("t-2147483632-00");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(OWNED_MARKER), "").unwrap();
        let foreign = tmp.path().join("t-2147483632-11");
        fs::create_dir(&foreign).unwrap();
        let dir = OwnedDir::create(tmp.path(), "t").unwrap();
        assert!(!stale.exists());
        assert!(foreign.exists(), "no marker, not ours");
        let path = dir.path().to_path_buf();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_dir_whose_child_still_runs_is_kept_until_the_child_ends() {
        let tmp = tempfile::tempdir().unwrap();
        // Left behind by a dead oauth-mux (pid 0x7fff_fff0 does not exist) whose child runs.
        let stale = tmp.path().join("t-2147483632-00");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(OWNED_MARKER), "").unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        fs::write(stale.join(CHILD_MARKER), child.id().to_string()).unwrap();
        let first = OwnedDir::create(tmp.path(), "t").unwrap();
        assert!(stale.exists(), "swept while its child still runs");
        child.kill().unwrap();
        child.wait().unwrap();
        let second = OwnedDir::create(tmp.path(), "t").unwrap();
        assert!(!stale.exists(), "kept after its child ended");
        drop((first, second));
    }
}
