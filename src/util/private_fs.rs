//! Private files and directories (SPEC §1.6): directories 0700, files 0600, created
//! exclusively where a file must be new. Unix permissions; on Windows the per-user
//! profile directories already restrict access.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

/// Create `path` and any missing parents with mode 0700. A directory that exists already is
/// left as it is: oauth-mux never changes a directory it did not create (it may be `/tmp` or
/// the user's home); [`tighten_dir`] is for the ones it owns.
pub fn ensure_private_dir(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Create a new directory with mode 0700; fails if it exists.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Make an oauth-mux-owned directory private (0700) when group or others may enter it.
pub fn tighten_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Open options whose created files are mode 0600; the caller says how to open.
pub fn private_file_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_are_0700_and_files_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b");
        ensure_private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        let fresh = tmp.path().join("fresh");
        create_private_dir(&fresh).unwrap();
        assert!(create_private_dir(&fresh).is_err(), "exists already");
        let file = fresh.join("f");
        private_file_options()
            .write(true)
            .create_new(true)
            .open(&file)
            .unwrap();
        assert_eq!(mode(&file), 0o600);
        let loose = tmp.path().join("loose");
        fs::create_dir(&loose).unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o755, "an existing directory is left alone");
        tighten_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o700);
    }
}
