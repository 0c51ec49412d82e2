//! `dist-manifest.json`: every artifact of a release with its kind, target, size and sha256.
//! It is the single input of every installer template (install.sh, formula, handoff).

use serde::{Deserialize, Serialize};

/// What an artifact is, for humans and for upload tooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `oauth-mux-<triple>.tar.gz` or `.zip`.
    Archive,
    /// Debian package.
    Deb,
    /// RPM package.
    Rpm,
    /// Alpine package.
    Apk,
    /// The npm root package (JS launcher).
    NpmRoot,
    /// An npm platform package holding one binary.
    NpmPlatform,
    /// `install.sh`.
    InstallerSh,
    /// The Homebrew formula.
    HomebrewFormula,
}

/// One file of the release tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// File name in the release directory (no path).
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Rust target triple it was built for, when it is target-specific.
    pub target: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Download URL on the release host.
    pub url: String,
}

/// The signature scheme recorded in the manifest (the manifest is written before signing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signing {
    /// `minisign`.
    pub scheme: String,
    /// The public key line (`RW…`) embedded in install.sh and the binary.
    pub public_key: String,
    /// Its minisign key id (what `oauth-mux version --json` reports as `release_key_id`).
    pub key_id: String,
    /// The signature file next to SHA256SUMS.
    pub file: String,
    /// The exact trusted comment of the signature.
    pub trusted_comment: String,
}

/// The whole release, as written to `dist-manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this file.
    pub schema_version: u32,
    /// `oauth-mux`.
    pub name: String,
    /// Release version without a leading `v`.
    pub version: String,
    /// Git tag, `v<version>`.
    pub tag: String,
    /// Timestamp used for every mtime in the tree.
    pub source_date_epoch: u64,
    /// URL of the directory holding the release files.
    pub base_url: String,
    /// File name of the install receipt install.sh writes next to the binary.
    pub install_receipt: String,
    /// Signing scheme and key.
    pub signing: Signing,
    /// Every artifact except `dist-manifest.json`, `SHA256SUMS` and its signature.
    pub artifacts: Vec<Artifact>,
}

impl Manifest {
    /// The archive artifact for a target triple.
    pub fn archive_for(&self, triple: &str) -> Option<&Artifact> {
        self.artifacts
            .iter()
            .find(|a| a.kind == Kind::Archive && a.target.as_deref() == Some(triple))
    }

    /// Artifacts of one kind, in manifest order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Artifact> {
        self.artifacts.iter().filter(move |a| a.kind == kind)
    }
}

/// File name of the install receipt (in the install directory, next to the binary).
pub const RECEIPT_FILE: &str = "oauth-mux.receipt.json";

/// The trusted comment signed into `SHA256SUMS.minisig`.
pub fn trusted_comment(version: &str) -> String {
    format!("file:SHA256SUMS\tversion:{version}")
}
