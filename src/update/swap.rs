//! Replacing the installed binary: stage the new one beside it, run it, swap it in with one
//! rename, run it again where it now lives, record it (the receipt), and only then drop the
//! old one. Any failure puts the old binary back.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::refusal::Refusal;

/// How long the new binary may take to print its version.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the swap did not happen (the old binary is in place either way).
#[derive(Debug)]
pub enum SwapError {
    /// The new binary failed its test run.
    Refused(Refusal),
    /// A file operation failed.
    Io(String),
}

impl std::fmt::Display for SwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(r) => r.fmt(f),
            Self::Io(m) => f.write_str(m),
        }
    }
}

fn io(action: &str, path: &Path, e: std::io::Error) -> SwapError {
    SwapError::Io(format!("cannot {action} {}: {e}", path.display()))
}

/// Fail early (before any download) when the binary's directory cannot be written.
pub fn check_writable(exe: &Path) -> Result<(), String> {
    let dir = exe.parent().unwrap_or(Path::new("."));
    let probe = dir.join(format!(".oauth-mux.write-test-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot write to {} ({e}); run the update as the user who installed it \
             (for example `sudo oauth-mux update`)",
            dir.display()
        )),
    }
}

/// Remove what an interrupted earlier update left beside the binary (stage and backup files
/// of processes that are gone). Best effort.
pub fn remove_leftovers(exe: &Path) {
    let Some(dir) = exe.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = [".oauth-mux.new-", ".oauth-mux.old-"]
            .iter()
            .find_map(|p| name.strip_prefix(p));
        if let Some(pid) = ours.and_then(|rest| rest.split('.').next())
            && pid != std::process::id().to_string()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Run `binary version` and require it to print `oauth-mux <version>`.
pub fn smoke_run(binary: &Path, version: &str) -> Result<(), Refusal> {
    let fail = |why: String| Refusal::SmokeRun { why };
    let mut child = Command::new(binary)
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_remove("OMUX_INSTALL_SOURCE")
        .spawn()
        .map_err(|e| fail(format!("it does not start on this machine ({e})")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < SMOKE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "`version` did not finish within {}s",
                    SMOKE_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(fail(format!("waiting for it failed ({e})"))),
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    let printed = out.trim();
    if !status.success() {
        return Err(fail(format!("`version` exited with {status}")));
    }
    if printed != format!("oauth-mux {version}") {
        return Err(fail(format!(
            "`version` printed {printed:?}, expected \"oauth-mux {version}\""
        )));
    }
    Ok(())
}

/// A new binary written beside the installed one, not yet in its place.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
}

impl Staged {
    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Write `bytes` as an executable beside `exe` (same directory, so the swap is one rename).
pub fn stage(exe: &Path, bytes: &[u8]) -> Result<Staged, SwapError> {
    use std::io::Write;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let path = dir.join(format!(
        ".oauth-mux.new-{}{}",
        std::process::id(),
        exe_suffix(exe)
    ));
    let staged = Staged { path };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o755);
    }
    let mut file = options
        .open(&staged.path)
        .map_err(|e| io("create", &staged.path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write", &staged.path, e))?;
    Ok(staged)
}

fn exe_suffix(exe: &Path) -> &'static str {
    if exe
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
    {
        ".exe"
    } else {
        ""
    }
}

/// Put `staged` in place of `exe`, check that `exe` now prints `version`, then run `record`
/// (writing the receipt). If either fails, the old binary is restored. On success the old
/// binary is removed (on Windows, where a running program cannot be deleted, at the next
/// update).
pub fn replace(
    exe: &Path,
    staged: Staged,
    version: &str,
    record: impl FnOnce() -> Result<(), String>,
) -> Result<(), SwapError> {
    let dir = exe.parent().unwrap_or(Path::new("."));
    let backup = dir.join(format!(
        ".oauth-mux.old-{}{}",
        std::process::id(),
        exe_suffix(exe)
    ));
    keep_old(exe, &backup)?;
    let restore = |why: SwapError| -> SwapError {
        match put_back(exe, &backup) {
            Ok(()) => why,
            Err(e) => SwapError::Io(format!(
                "{why}; restoring the previous binary failed too ({e}): it is at {}",
                backup.display()
            )),
        }
    };
    if let Err(e) = std::fs::rename(staged.path(), exe) {
        return Err(restore(io("move the new binary to", exe, e)));
    }
    if let Err(refusal) = smoke_run(exe, version) {
        return Err(restore(SwapError::Refused(refusal)));
    }
    if let Err(why) = record() {
        return Err(restore(SwapError::Io(why)));
    }
    let _ = std::fs::remove_file(&backup);
    Ok(())
}

/// Keep the installed binary at `backup`: a hard link on Unix (the name `exe` never goes
/// missing), a rename on Windows (a running program can be renamed, not replaced).
fn keep_old(exe: &Path, backup: &Path) -> Result<(), SwapError> {
    if cfg!(windows) {
        return std::fs::rename(exe, backup).map_err(|e| io("move aside", exe, e));
    }
    if std::fs::hard_link(exe, backup).is_ok() {
        return Ok(());
    }
    std::fs::copy(exe, backup)
        .map(|_| ())
        .map_err(|e| io("back up", exe, e))
}

fn put_back(exe: &Path, backup: &Path) -> std::io::Result<()> {
    if cfg!(windows) && exe.exists() {
        let failed = exe.with_extension("failed.exe");
        std::fs::rename(exe, &failed)?;
    }
    std::fs::rename(backup, exe)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(version_line: &str) -> Vec<u8> {
        format!("#!/bin/sh\n[ \"$1\" = version ] && echo '{version_line}' && exit 0\nexit 3\n")
            .into_bytes()
    }

    fn installed(dir: &Path, version: &str) -> PathBuf {
        let exe = dir.join("oauth-mux");
        std::fs::write(&exe, script(&format!("oauth-mux {version}"))).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exe
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_good_binary_replaces_the_old_one_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let exe = installed(dir.path(), "1.0.0");
        let staged = stage(&exe, &script("oauth-mux 1.1.0")).unwrap();
        smoke_run(staged.path(), "1.1.0").unwrap();
        let mut recorded = false;
        replace(&exe, staged, "1.1.0", || {
            recorded = true;
            Ok(())
        })
        .unwrap();
        assert!(recorded);
        smoke_run(&exe, "1.1.0").unwrap();
        assert_eq!(names(dir.path()), ["oauth-mux"]);
        assert_eq!(
            std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn a_binary_that_prints_another_version_is_refused_and_the_old_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let exe = installed(dir.path(), "1.0.0");
        let before = std::fs::read(&exe).unwrap();
        let staged = stage(&exe, &script("oauth-mux 9.9.9")).unwrap();
        let err = replace(&exe, staged, "1.1.0", || Ok(())).unwrap_err();
        assert!(
            matches!(err, SwapError::Refused(Refusal::SmokeRun { .. })),
            "{err}"
        );
        assert_eq!(std::fs::read(&exe).unwrap(), before);
        assert_eq!(names(dir.path()), ["oauth-mux"]);
    }

    #[test]
    fn a_failed_receipt_write_rolls_the_binary_back() {
        let dir = tempfile::tempdir().unwrap();
        let exe = installed(dir.path(), "1.0.0");
        let before = std::fs::read(&exe).unwrap();
        let staged = stage(&exe, &script("oauth-mux 1.1.0")).unwrap();
        let err = replace(&exe, staged, "1.1.0", || Err("disk full".into())).unwrap_err();
        assert!(err.to_string().contains("disk full"));
        assert_eq!(std::fs::read(&exe).unwrap(), before);
        assert_eq!(names(dir.path()), ["oauth-mux"]);
    }

    #[test]
    fn a_binary_that_does_not_start_fails_its_smoke_run() {
        let dir = tempfile::tempdir().unwrap();
        let exe = installed(dir.path(), "1.0.0");
        let staged = stage(&exe, b"\x7fELF not really").unwrap();
        assert!(matches!(
            smoke_run(staged.path(), "1.1.0"),
            Err(Refusal::SmokeRun { .. })
        ));
        drop(staged);
        assert_eq!(names(dir.path()), ["oauth-mux"]);
    }

    #[test]
    fn leftovers_of_dead_updates_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let exe = installed(dir.path(), "1.0.0");
        std::fs::write(dir.path().join(".oauth-mux.old-999999999"), b"x").unwrap();
        std::fs::write(dir.path().join(".oauth-mux.new-999999999.exe"), b"x").unwrap();
        std::fs::write(dir.path().join("unrelated"), b"x").unwrap();
        remove_leftovers(&exe);
        assert_eq!(names(dir.path()), ["oauth-mux", "unrelated"]);
        assert!(check_writable(&exe).is_ok());
    }
}
