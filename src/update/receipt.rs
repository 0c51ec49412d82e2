//! The install receipt: `oauth-mux.receipt.json` next to the binary, written by install.sh
//! and rewritten by `oauth-mux update`. Its presence (method `install.sh` or `update`) is
//! what makes the binary ours to replace. Read tolerantly (fields added later are optional),
//! written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The receipt's file name, in the install directory.
pub const FILE_NAME: &str = "oauth-mux.receipt.json";

/// What install.sh (or an update) recorded about the installed binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Format version (1).
    pub schema: u32,
    /// `oauth-mux`.
    #[serde(default = "default_name")]
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The release target the archive was built for.
    #[serde(default)]
    pub target: Option<String>,
    /// The archive's file name.
    #[serde(default)]
    pub archive: Option<String>,
    /// SHA-256 of the archive, as in `SHA256SUMS`.
    #[serde(default)]
    pub sha256: Option<String>,
    /// SHA-256 of the installed binary.
    #[serde(default)]
    pub binary_sha256: Option<String>,
    /// Where the archive came from (URL, or `file:<path>` for an offline install).
    #[serde(default)]
    pub source: Option<String>,
    /// The release directory URL the install used.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The minisign key id that signed the installed release's `SHA256SUMS`.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `verified`, or what install.sh could not check.
    #[serde(default)]
    pub signature: Option<String>,
    /// RFC 3339 time of the install.
    #[serde(default)]
    pub installed_at: Option<String>,
    /// The directory holding the binary.
    #[serde(default)]
    pub install_dir: Option<String>,
    /// `install.sh`, `update`, or the package manager that wrote it.
    pub method: String,
}

fn default_name() -> String {
    "oauth-mux".into()
}

/// Where the receipt of a binary lives.
pub fn path_for(exe: &Path) -> PathBuf {
    exe.with_file_name(FILE_NAME)
}

/// Why a receipt could not be read.
#[derive(Debug)]
pub struct ReceiptError {
    pub path: PathBuf,
    pub why: String,
}

impl std::fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the install receipt {} is unreadable ({}); reinstall with install.sh to rewrite it, \
             or delete it if this binary was not installed by install.sh",
            self.path.display(),
            self.why
        )
    }
}

impl std::error::Error for ReceiptError {}

/// Read the receipt at `path`: `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Receipt>, ReceiptError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ReceiptError {
                path: path.to_path_buf(),
                why: e.to_string(),
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ReceiptError {
            path: path.to_path_buf(),
            why: format!("not a receipt: {e}"),
        })
}

/// Write the receipt atomically (temp file beside it, fsync, rename). Mode 0644 like the
/// binary it describes: it holds no secret, and a user checking a root-installed binary
/// must be able to read it.
pub fn write(path: &Path, receipt: &Receipt) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(receipt).map_err(std::io::Error::other)?;
    text.push('\n');
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{FILE_NAME}.new-{}", std::process::id()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o644);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_install_sh_receipt_of_an_older_release_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            r#"{"schema": 1, "name": "oauth-mux", "version": "0.3.0",
                "target": "x86_64-unknown-linux-musl", "archive": "a.tar.gz",
                "sha256": "ab", "binary_sha256": "cd", "source": "https://x/a.tar.gz",
                "signature": "verified", "installed_at": "2026-11-22T05:00:00Z",
                "install_dir": "/home/me/.local/bin", "method": "install.sh"}"#,
        )
        .unwrap();
        let r = read(&path).unwrap().unwrap();
        assert_eq!(
            (r.version.as_str(), r.method.as_str()),
            ("0.3.0", "install.sh")
        );
        assert_eq!(r.base_url, None);
        assert_eq!(read(&dir.path().join("none.json")).unwrap(), None);
    }

    #[test]
    fn a_broken_receipt_is_an_error_naming_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains(FILE_NAME) && err.contains("reinstall with install.sh"),
            "{err}"
        );
    }

    #[test]
    fn writing_replaces_atomically_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut r = Receipt {
            schema: 1,
            name: "oauth-mux".into(),
            version: "1.0.0".into(),
            target: None,
            archive: None,
            sha256: None,
            binary_sha256: None,
            source: None,
            base_url: Some("https://x/v1.0.0".into()),
            key_id: None,
            signature: None,
            installed_at: None,
            install_dir: None,
            method: "update".into(),
        };
        write(&path, &r).unwrap();
        r.version = "1.0.1".into();
        write(&path, &r).unwrap();
        assert_eq!(read(&path).unwrap().unwrap(), r);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }
}
