//! [`SecretError`]: why a credential could not be read or parsed, worded for the user
//! and safe to print: it never holds a secret value, and file paths are kept apart
//! ([`SecretError::path_hint`]) because paths are private unless `--include-paths`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SecretBackend;
use crate::exit::{ExitCode, Failure};

/// What went wrong, for callers that branch (e.g. to record `credential_unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretErrorKind {
    /// A field the backend needs is missing from the `secret` block.
    NotConfigured,
    /// The variable, file, keychain item or key is absent (or empty).
    NotFound,
    /// The OS refused access.
    PermissionDenied,
    /// Larger than the backend's limit.
    TooLarge,
    /// The content is not usable (not UTF-8, wrong type, malformed identity…).
    Invalid,
    /// An external tool (`secret-tool`, `sops`, the command) is not installed.
    ToolMissing,
    /// An external command ran and failed.
    CommandFailed,
    /// An external command did not finish in time.
    Timeout,
    /// age decryption failed (wrong identity, corrupt file).
    Decrypt,
    /// The backend does not exist on this OS.
    Unsupported,
    /// The credential was read but does not match the provider's credential format.
    Parse,
}

/// A failure to read or parse a secret. `Display` names the backend, the config
/// field and the fix, never the value and never a file path.
#[derive(Clone)]
pub struct SecretError {
    kind: SecretErrorKind,
    backend: Option<SecretBackend>,
    message: String,
    path_hint: Option<PathBuf>,
    detail: Option<String>,
}

impl SecretError {
    /// An error with a complete, user-facing `message` (no secrets, no paths).
    pub fn new(
        kind: SecretErrorKind,
        backend: Option<SecretBackend>,
        message: impl Into<String>,
    ) -> Self {
        SecretError {
            kind,
            backend,
            message: message.into(),
            path_hint: None,
            detail: None,
        }
    }

    /// The common shape: "`subject` for `field` `problem`; `fix`".
    pub(crate) fn for_field(
        kind: SecretErrorKind,
        backend: SecretBackend,
        subject: &str,
        field: &str,
        problem: &str,
        fix: &str,
    ) -> Self {
        Self::new(
            kind,
            Some(backend),
            format!("{subject} for {field} {problem}; {fix}"),
        )
    }

    /// Attach the private path this error is about (shown only with `--include-paths`).
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path_hint = Some(path.into());
        self
    }

    /// Attach private diagnostics (an external tool's stderr, already scrubbed).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        if !detail.trim().is_empty() {
            self.detail = Some(super::redact::scrub(detail.trim()));
        }
        self
    }

    /// The category of failure.
    pub fn kind(&self) -> SecretErrorKind {
        self.kind
    }

    /// The backend that failed, or `None` for credential-parsing errors.
    pub fn backend(&self) -> Option<SecretBackend> {
        self.backend
    }

    /// The file involved, for commands run with `--include-paths`. Never in `Display`.
    pub fn path_hint(&self) -> Option<&Path> {
        self.path_hint.as_deref()
    }

    /// The tail of an external tool's stderr, scrubbed of token material but possibly
    /// holding paths: show it only with `--include-paths`.
    pub fn private_detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Path and detail are private; Debug output ends up in logs as easily as Display.
        f.debug_struct("SecretError")
            .field("kind", &self.kind)
            .field("backend", &self.backend)
            .field("message", &self.message)
            .field("has_path_hint", &self.path_hint.is_some())
            .finish()
    }
}

impl std::error::Error for SecretError {}

impl From<SecretError> for Failure {
    fn from(err: SecretError) -> Self {
        Failure::new(ExitCode::SecretRead, err.to_string())
    }
}

/// Words for an I/O failure on a secret file, and the matching kind. Uses only the
/// error kind: an `io::Error`'s text may carry a path.
pub(crate) fn describe_io(err: &io::Error) -> (SecretErrorKind, String) {
    match err.kind() {
        io::ErrorKind::NotFound => (SecretErrorKind::NotFound, "does not exist".into()),
        io::ErrorKind::PermissionDenied => (
            SecretErrorKind::PermissionDenied,
            "is not readable (permission denied)".into(),
        ),
        io::ErrorKind::IsADirectory => (
            SecretErrorKind::Invalid,
            "is a directory, not a file".into(),
        ),
        io::ErrorKind::InvalidData => (SecretErrorKind::Invalid, "is not valid UTF-8 text".into()),
        other => (
            SecretErrorKind::Invalid,
            format!("could not be read ({other})"),
        ),
    }
}
