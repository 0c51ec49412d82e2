//! The recovery file: new tokens received but not yet written to the store. It is written
//! (0600, fsynced) before the store is touched and removed after, so a process killed in
//! between leaves the rotated refresh token behind instead of losing it; the next refresh
//! of that store completes the write first (`model::refresh::may_write` decides).
//!
//! `<state>/refresh-recovery/<store fingerprint>.json`; never a path inside, only tokens, the
//! fingerprint of the refresh token they were bought with, and the times to write.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::grant::Grant;
use crate::secrets::Secret;
use crate::store::atomic::write_atomic;
use crate::util::fingerprint::short_hash;

#[derive(Serialize, Deserialize)]
struct Record {
    /// Fingerprint of the refresh token spent for these tokens. (Named so that the
    /// redaction layer, which registers values under credential-like keys of secret text,
    /// does not take the fingerprint for a secret and scrub it from events.)
    spent_fingerprint: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    expires_at: Option<Timestamp>,
    received_at: Timestamp,
}

/// A pending write, read back from its file.
pub struct Pending {
    pub used_refresh_token_hash: String,
    pub grant: Grant,
    pub expires_at: Option<Timestamp>,
    pub received_at: Timestamp,
}

/// The recovery file of `store`.
pub fn path_for(state_dir: &Path, store: &Path) -> PathBuf {
    state_dir
        .join("refresh-recovery")
        .join(format!("{}.json", short_hash(&store.to_string_lossy())))
}

/// Write the recovery file (atomically, 0600 in a 0700 directory, fsynced).
pub fn save(
    file: &Path,
    used_refresh_token: &str,
    grant: &Grant,
    expires_at: Option<Timestamp>,
    received_at: Timestamp,
) -> std::io::Result<()> {
    let record = Record {
        spent_fingerprint: short_hash(used_refresh_token),
        access_token: grant.access_token.clone(),
        refresh_token: grant.refresh_token.clone(),
        id_token: grant.id_token.clone(),
        scope: grant.scope.clone(),
        expires_at,
        received_at,
    };
    let text = Secret::new(serde_json::to_string(&record).map_err(std::io::Error::other)?);
    write_atomic(file, text.expose().as_bytes())
}

/// The pending write in `file`, if there is a readable one (an unreadable one is removed:
/// it cannot be completed).
pub fn load(file: &Path) -> Option<Pending> {
    let text = Secret::new(std::fs::read_to_string(file).ok()?);
    let Ok(record) = serde_json::from_str::<Record>(text.expose()) else {
        remove(file);
        return None;
    };
    Some(Pending {
        used_refresh_token_hash: record.spent_fingerprint,
        grant: Grant {
            access_token: record.access_token,
            refresh_token: record.refresh_token,
            id_token: record.id_token,
            expires_in: None,
            scope: record.scope,
        },
        expires_at: record.expires_at,
        received_at: record.received_at,
    })
}

/// Remove the recovery file (and its directory entry, durably).
pub fn remove(file: &Path) {
    if std::fs::remove_file(file).is_ok()
        && let Some(dir) = file.parent()
    {
        let _ = crate::store::atomic::sync_dir(dir);
    }
}
