//! The private directory a credential file is written into for one child
//! process, and the guard that removes it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::util::private_fs;

/// A 0700 directory with a random name holding one 0600 credential file. The
/// directory and everything in it is removed when the guard is dropped: after the
/// child exits, on a forwarded signal, and on every error path.
#[derive(Debug)]
pub struct PrivateCredentialDir {
    dir: PathBuf,
}

impl PrivateCredentialDir {
    /// Create a fresh private directory under `base` (created 0700 when missing).
    pub fn create(base: &Path) -> io::Result<PrivateCredentialDir> {
        private_fs::ensure_private_dir(base)?;
        let mut last = io::Error::other("no attempt");
        for _ in 0..8 {
            let dir = base.join(format!("cred-{}", random_hex()?));
            match private_fs::create_private_dir(&dir) {
                Ok(()) => return Ok(PrivateCredentialDir { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Create under the runtime dir, falling back to the system temp dir when the
    /// runtime dir cannot be used.
    pub fn create_in_runtime_or_tmp(runtime_dir: &Path) -> io::Result<PrivateCredentialDir> {
        Self::create(runtime_dir).or_else(|_| Self::create(&std::env::temp_dir().join("oauth-mux")))
    }

    /// The directory (what the provider's config-dir variable points at).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Write `contents` to `<dir>/<filename>`, created exclusively with mode 0600.
    pub fn write_file(&self, filename: &str, contents: &[u8]) -> io::Result<PathBuf> {
        if filename.is_empty() || filename.contains('/') || filename == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "credential_filename must be a plain file name",
            ));
        }
        let path = self.dir.join(filename);
        let mut file = private_fs::private_file_options()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(contents)?;
        file.sync_all()?;
        Ok(path)
    }
}

impl Drop for PrivateCredentialDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_is_private_file_is_0600_and_both_vanish_on_drop() {
        let base = tempfile::tempdir().unwrap();
        let guard = PrivateCredentialDir::create(&base.path().join("run")).unwrap();
        let file = guard.write_file("creds.json", b"{}").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| p.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(guard.path()), 0o700);
            assert_eq!(mode(&file), 0o600);
        }
        let dir = guard.path().to_path_buf();
        drop(guard);
        assert!(!dir.exists());
        assert!(guard_refuses_paths(&base));
    }

    fn guard_refuses_paths(base: &tempfile::TempDir) -> bool {
        let g = PrivateCredentialDir::create(base.path()).unwrap();
        g.write_file("../escape", b"x").is_err() && g.write_file("", b"x").is_err()
    }
}
