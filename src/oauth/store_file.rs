//! The account's credential file as a refresh sees it: read it whole, know its tokens by
//! fingerprint, and replace it atomically with only the token fields changed, in the same
//! style (pretty or compact JSON, trailing newline) and with the same file mode.

use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use crate::config::ProviderDefinition;
use crate::model::grant::{Grant, WritebackFields, apply_grant};
use crate::secrets::{Credential, ExpiresAtUnit, MAX_SECRET_BYTES, Secret, parse_credential};
use crate::store::atomic::write_atomic_with_mode;
use crate::util::fingerprint::short_hash;

/// One reading of the store.
pub struct Snapshot {
    /// The document as parsed (key order kept).
    pub doc: Value,
    /// The text as read (for the pool, which parses it the harness's way).
    pub text: Secret,
    pub credential: Credential,
    /// The file's permission bits, kept on rewrite.
    pub mode: u32,
    pretty: bool,
    trailing_newline: bool,
}

impl Snapshot {
    /// Fingerprint of the access token.
    pub fn access_fingerprint(&self) -> String {
        short_hash(self.credential.access_token.expose())
    }

    /// The refresh token, if the store has one.
    pub fn refresh_token(&self) -> Option<&str> {
        self.credential.refresh_token.as_ref().map(|s| s.expose())
    }
}

/// Why the store could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreProblem(pub String);

impl std::fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read and parse the store (tokens are registered for redaction by the parser).
pub fn read(
    path: &Path,
    def: &ProviderDefinition,
    now: Timestamp,
) -> Result<Snapshot, StoreProblem> {
    let file = std::fs::File::open(path)
        .map_err(|e| StoreProblem(format!("the credential file cannot be read ({})", e.kind())))?;
    let mode = file_mode(&file);
    let mut text = String::new();
    file.take(MAX_SECRET_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| StoreProblem(format!("the credential file cannot be read ({})", e.kind())))?;
    if text.len() > MAX_SECRET_BYTES {
        return Err(StoreProblem("the credential file is too large".into()));
    }
    let secret = Secret::new(text);
    let doc: Value = serde_json::from_str(secret.expose()).map_err(|e| {
        StoreProblem(format!(
            "the credential file is not JSON (line {}, column {}); log in again",
            e.line(),
            e.column()
        ))
    })?;
    let credential =
        parse_credential(&secret, &def.credential, now).map_err(|e| StoreProblem(e.to_string()))?;
    let raw = secret.expose();
    Ok(Snapshot {
        pretty: raw.trim_start().starts_with("{\n") || raw.contains("\n  \""),
        trailing_newline: raw.ends_with('\n'),
        doc,
        text: secret,
        credential,
        mode,
    })
}

#[cfg(unix)]
fn file_mode(file: &std::fs::File) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600)
}

#[cfg(not(unix))]
fn file_mode(_file: &std::fs::File) -> u32 {
    0o600
}

/// Where the definition puts a grant's fields.
pub fn fields(def: &ProviderDefinition) -> WritebackFields<'_> {
    let refresh = def.refresh.as_ref();
    let cred = &def.credential;
    WritebackFields {
        wrapper_key: cred.wrapper_key.as_deref(),
        access_token: &cred.access_token_path,
        refresh_token: &cred.refresh_token_path,
        id_token: refresh.and_then(|r| r.id_token_path.as_deref()),
        expires_at: cred.expires_at_path.as_deref(),
        expires_at_ms: cred.expires_at_unit == Some(ExpiresAtUnit::Milliseconds),
        scopes: refresh.and_then(|r| r.scopes_path.as_deref()),
        refreshed_at: refresh.and_then(|r| r.refreshed_at_path.as_deref()),
    }
}

/// The snapshot's document with the grant written in, as text in the snapshot's style.
pub fn render_with_grant(
    snapshot: &Snapshot,
    def: &ProviderDefinition,
    grant: &Grant,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<Secret, StoreProblem> {
    let doc = apply_grant(&snapshot.doc, &fields(def), grant, expires_at, now).map_err(|why| {
        StoreProblem(format!(
            "the credential file's shape does not fit the provider definition ({why})"
        ))
    })?;
    let mut text = if snapshot.pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    }
    .map_err(|_| StoreProblem("the new credential could not be serialized".into()))?;
    if snapshot.trailing_newline {
        text.push('\n');
    }
    Ok(Secret::new(text))
}

/// Replace the store with `text` atomically (same-directory temp file created exclusively
/// 0600, fsync, the old mode, rename, fsync of the directory). `before_rename` runs between
/// the fsync and the rename.
pub fn replace(
    path: &Path,
    text: &Secret,
    mode: u32,
    before_rename: &mut dyn FnMut(),
) -> Result<(), StoreProblem> {
    write_atomic_with_mode(path, text.expose().as_bytes(), mode, before_rename).map_err(|e| {
        StoreProblem(format!(
            "the refreshed credential could not be written ({})",
            e.kind()
        ))
    })
}

/// The directory holding the store.
pub fn store_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
