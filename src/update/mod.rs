//! Self-update: find out who owns the installed binary (`owner`, from the install `receipt`,
//! the path and the package databases), fetch the release's `SHA256SUMS` and its minisign
//! signature and check them with the key compiled into this binary (`signature`), read the
//! signed `dist-manifest.json` (`release`), download and check the archive (`download`,
//! `archive`), and swap the binary in with a rollback (`swap`). `plan` holds the pure
//! decisions and the report. Nothing here runs unless the user ran `oauth-mux update` or
//! `oauth-mux version --check`.

pub mod archive;
pub mod download;
pub mod owner;
pub mod plan;
pub mod receipt;
pub mod refusal;
pub mod release;
pub mod signature;
pub mod swap;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use download::{FetchError, Fetcher};
use owner::{InstallFacts, Manager, Owner};
use receipt::Receipt;
use refusal::Refusal;
use release::{ReleaseManifest, ReleaseSource, Wanted};
use signature::{RotationStatement, TrustedKey, VerifiedSums};

/// Largest `SHA256SUMS`, signature, manifest and archive the updater downloads.
const MAX_SUMS: u64 = 1024 * 1024;
const MAX_SIGNATURE: u64 = 64 * 1024;
const MAX_MANIFEST: u64 = 8 * 1024 * 1024;
const MAX_ARCHIVE: u64 = 128 * 1024 * 1024;

/// The release target this binary was built for (`unknown` for hosts without releases).
pub fn built_target() -> &'static str {
    const ARCH: &str = std::env::consts::ARCH;
    if cfg!(target_os = "linux") && cfg!(target_env = "musl") {
        match ARCH {
            "x86_64" => "x86_64-unknown-linux-musl",
            "aarch64" => "aarch64-unknown-linux-musl",
            _ => "unknown",
        }
    } else if cfg!(target_os = "linux") {
        match ARCH {
            "x86_64" => "x86_64-unknown-linux-gnu",
            "aarch64" => "aarch64-unknown-linux-gnu",
            _ => "unknown",
        }
    } else if cfg!(target_os = "macos") {
        match ARCH {
            "x86_64" => "x86_64-apple-darwin",
            "aarch64" => "aarch64-apple-darwin",
            _ => "unknown",
        }
    } else if cfg!(windows) {
        match ARCH {
            "x86_64" => "x86_64-pc-windows-gnu",
            "aarch64" => "aarch64-pc-windows-gnullvm",
            _ => "unknown",
        }
    } else {
        "unknown"
    }
}

/// The binary's file name inside a target's archive.
pub fn exe_name(target: &str) -> &'static str {
    if target.contains("windows") {
        "oauth-mux.exe"
    } else {
        "oauth-mux"
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The installed binary and who owns it.
#[derive(Debug, Clone)]
pub struct Install {
    /// The running binary, symlinks resolved.
    pub exe: PathBuf,
    /// The receipt next to it.
    pub receipt: Option<Receipt>,
    pub owner: Owner,
    /// The release target to update to (the receipt's, else this build's).
    pub target: String,
}

/// Look at the running binary: its path, receipt, environment and package databases.
pub fn inspect_install(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Install> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| anyhow::anyhow!("cannot find the running binary: {e}"))?;
    let receipt = receipt::read(&receipt::path_for(&exe))?;
    let source = env("OMUX_INSTALL_SOURCE");
    let owner = owner::owner_of(&InstallFacts {
        exe: &exe,
        receipt_method: receipt.as_ref().map(|r| r.method.as_str()),
        install_source: source.as_deref(),
        package_database: package_database(&exe),
    });
    let target = receipt
        .as_ref()
        .and_then(|r| r.target.clone())
        .unwrap_or_else(|| built_target().to_string());
    Ok(Install {
        exe,
        receipt,
        owner,
        target,
    })
}

/// The system package database that lists `exe`, if any (dpkg, apk, rpm).
fn package_database(exe: &Path) -> Option<Manager> {
    if !cfg!(target_os = "linux") || !exe.starts_with("/usr") {
        return None;
    }
    let exe_text = exe.to_string_lossy();
    let listed = |file: &str, line: &str| {
        std::fs::read_to_string(file).is_ok_and(|t| t.lines().any(|l| l == line))
    };
    if listed("/var/lib/dpkg/info/oauth-mux.list", &exe_text) {
        return Some(Manager::Deb);
    }
    if listed("/lib/apk/db/installed", "P:oauth-mux") {
        return Some(Manager::Apk);
    }
    let rpm_owned = std::process::Command::new("rpm")
        .args(["-qf", "--quiet"])
        .arg(exe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    rpm_owned.then_some(Manager::Rpm)
}

/// Why an update or a check could not finish.
#[derive(Debug)]
pub enum UpdateError {
    /// The release host could not be reached (exit 204).
    Network(String),
    /// A check failed (exit 206).
    Refused(Refusal),
    /// Anything else (exit 1), e.g. no release at that URL.
    Failed(String),
}

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(m) | Self::Failed(m) => f.write_str(m),
            Self::Refused(r) => r.fmt(f),
        }
    }
}

impl From<Refusal> for UpdateError {
    fn from(r: Refusal) -> Self {
        UpdateError::Refused(r)
    }
}

fn fetch_error(e: FetchError, missing: impl FnOnce(String) -> UpdateError) -> UpdateError {
    match e {
        FetchError::Network { .. } => UpdateError::Network(format!(
            "{e}; check the network connection and HTTPS_PROXY, or set OMUX_RELEASE_BASE_URL \
             to a reachable mirror. Nothing was changed"
        )),
        FetchError::NotFound { url } => missing(url),
        FetchError::Insecure { url } => UpdateError::Refused(Refusal::InsecureUrl { url }),
        FetchError::Status { .. } | FetchError::TooLarge { .. } => {
            UpdateError::Failed(format!("{e}. Nothing was changed"))
        }
    }
}

/// A release whose `SHA256SUMS`, signature and manifest checked out.
#[derive(Debug, Clone)]
pub struct CheckedRelease {
    /// The release directory.
    pub url: String,
    /// The verified `SHA256SUMS` text.
    pub sums: String,
    /// What the signature says.
    pub signed: VerifiedSums,
    pub manifest: ReleaseManifest,
    /// The release's version (signed, equal to the manifest's).
    pub version: semver::Version,
}

/// Fetch and check the release `wanted` from `source`: `SHA256SUMS`, its signature (with the
/// key this binary trusts, or a rotation statement from it), and `dist-manifest.json`
/// (whose SHA-256 `SHA256SUMS` lists, and whose version the signature names).
pub fn check_release(
    fetcher: &Fetcher,
    source: &ReleaseSource,
    wanted: &Wanted,
    key: &TrustedKey,
) -> Result<CheckedRelease, UpdateError> {
    let url = source.directory(wanted);
    let file = |name: &str| release::file_url(&url, name);
    let no_release = |missing: String| {
        UpdateError::Failed(match wanted {
            Wanted::Exact(v) => {
                format!("there is no release {v} at {url} ({missing} not found); check the version")
            }
            Wanted::Latest => {
                format!("{url} holds no release ({missing} not found); check OMUX_RELEASE_BASE_URL")
            }
        })
    };
    let sums = fetcher
        .get(&file(signature::SUMS_FILE), MAX_SUMS)
        .map_err(|e| fetch_error(e, no_release))?;
    let sums = String::from_utf8(sums).map_err(|_| {
        UpdateError::Refused(Refusal::ChecksumLine {
            file: signature::SUMS_FILE.into(),
            count: 0,
        })
    })?;
    let sig = fetcher
        .get(&file(signature::SUMS_SIGNATURE_FILE), MAX_SIGNATURE)
        .map_err(|e| fetch_error(e, |_| UpdateError::Refused(Refusal::SignatureMissing)))?;
    let sig = String::from_utf8(sig).map_err(|_| Refusal::SignatureMalformed)?;
    let rotation = if signature::signer_of(&sig)? == key.id() {
        None
    } else {
        fetch_rotation(fetcher, &url)?
    };
    let signed = signature::verify_sums(
        key,
        sums.as_bytes(),
        &sig,
        rotation.as_ref().map(|(k, s)| RotationStatement {
            key_file: k,
            signature: s,
        }),
    )?;
    let manifest_bytes = fetcher
        .get(&file(release::MANIFEST_FILE), MAX_MANIFEST)
        .map_err(|e| {
            fetch_error(e, |_| {
                UpdateError::Refused(Refusal::Manifest {
                    why: "the release has none".into(),
                })
            })
        })?;
    let expected = release::checksum_for(&sums, release::MANIFEST_FILE)?;
    let actual = sha256_hex(&manifest_bytes);
    if actual != expected {
        return Err(Refusal::ChecksumMismatch {
            file: release::MANIFEST_FILE.into(),
            expected,
            actual,
        }
        .into());
    }
    let manifest = ReleaseManifest::parse(&manifest_bytes)?;
    let version = plan::check_signed_version(&signed.version, &manifest.version, wanted)?;
    Ok(CheckedRelease {
        url,
        sums,
        signed,
        manifest,
        version,
    })
}

/// `minisign.pub` and `minisign.pub.minisig` of a release signed by a new key (none = the
/// release offers no rotation statement).
fn fetch_rotation(fetcher: &Fetcher, url: &str) -> Result<Option<(String, String)>, UpdateError> {
    let get = |name: &str| match fetcher.get(&release::file_url(url, name), MAX_SIGNATURE) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(FetchError::NotFound { .. }) => Ok(None),
        Err(e) => Err(fetch_error(e, UpdateError::Failed)),
    };
    let key = get(signature::ROTATION_KEY_FILE)?;
    let sig = get(signature::ROTATION_SIGNATURE_FILE)?;
    Ok(key.zip(sig))
}

/// The new binary, out of its checked archive.
#[derive(Debug, Clone)]
pub struct NewBinary {
    pub bytes: Vec<u8>,
    /// The archive's file name and download URL.
    pub archive: String,
    pub url: String,
    /// The archive's SHA-256 (equal to its `SHA256SUMS` line).
    pub sha256: String,
}

/// Download the archive for `target`, check its SHA-256 against `SHA256SUMS`, and take the
/// binary out of it. `progress(done, total)` follows the download.
pub fn fetch_binary(
    fetcher: &Fetcher,
    release: &CheckedRelease,
    target: &str,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<NewBinary, UpdateError> {
    let artifact = release.manifest.archive_for(target)?;
    let expected = release::checksum_for(&release.sums, &artifact.name)?;
    if !artifact.sha256.eq_ignore_ascii_case(&expected) {
        return Err(Refusal::Manifest {
            why: format!("its sha256 for {} differs from SHA256SUMS", artifact.name),
        }
        .into());
    }
    let url = release::file_url(&release.url, &artifact.name);
    let bytes = fetcher
        .get_with_progress(&url, MAX_ARCHIVE, progress)
        .map_err(|e| {
            fetch_error(e, |missing| {
                UpdateError::Refused(Refusal::Archive {
                    why: format!("{missing} is listed in SHA256SUMS but not found"),
                })
            })
        })?;
    let actual = sha256_hex(&bytes);
    if actual != expected {
        return Err(Refusal::ChecksumMismatch {
            file: artifact.name.clone(),
            expected,
            actual,
        }
        .into());
    }
    let member = format!("oauth-mux-{target}/{}", exe_name(target));
    let binary = archive::extract_member(&artifact.name, &bytes, &member)?;
    Ok(NewBinary {
        bytes: binary,
        archive: artifact.name.clone(),
        url,
        sha256: actual,
    })
}

/// Put `new` in place of the installed binary (test run first, receipt written as part of
/// the swap, old binary restored on any failure). Returns the new receipt.
pub fn install(
    install: &Install,
    release: &CheckedRelease,
    new: &NewBinary,
    installed_at: jiff::Timestamp,
) -> Result<Receipt, UpdateError> {
    let swap_error = |e: swap::SwapError| match e {
        swap::SwapError::Refused(r) => UpdateError::Refused(r),
        swap::SwapError::Io(m) => {
            UpdateError::Failed(format!("{m}. The previous binary is in place"))
        }
    };
    let version = release.version.to_string();
    swap::remove_leftovers(&install.exe);
    let staged = swap::stage(&install.exe, &new.bytes).map_err(swap_error)?;
    swap::smoke_run(staged.path(), &version)?;
    let dir = install.exe.parent().unwrap_or(Path::new("."));
    let receipt = Receipt {
        schema: 1,
        name: "oauth-mux".into(),
        version: version.clone(),
        target: Some(install.target.clone()),
        archive: Some(new.archive.clone()),
        sha256: Some(new.sha256.clone()),
        binary_sha256: Some(sha256_hex(&new.bytes)),
        source: Some(new.url.clone()),
        base_url: Some(release.url.clone()),
        key_id: Some(release.signed.signed_by.to_string()),
        signature: Some("verified".into()),
        installed_at: Some(installed_at.to_string()),
        install_dir: Some(dir.display().to_string()),
        method: "update".into(),
    };
    let receipt_path = receipt::path_for(&install.exe);
    swap::replace(&install.exe, staged, &version, || {
        receipt::write(&receipt_path, &receipt).map_err(|e| {
            format!(
                "cannot write the install receipt {}: {e}",
                receipt_path.display()
            )
        })
    })
    .map_err(swap_error)?;
    Ok(receipt)
}

#[cfg(all(test, unix))]
mod flow_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_target_names_a_release_target_on_release_hosts() {
        let t = built_target();
        assert!(t.starts_with(std::env::consts::ARCH), "{t}");
        assert_eq!(exe_name("x86_64-pc-windows-gnu"), "oauth-mux.exe");
        assert_eq!(exe_name("aarch64-apple-darwin"), "oauth-mux");
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
