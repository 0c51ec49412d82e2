//! What every secret backend shares: the reading context, limits, and the helpers that
//! read bounded input and word errors (never a value, never a path outside `with_path`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use zeroize::Zeroize;

use super::error::{SecretErrorKind as Kind, describe_io};
use super::{SecretError, SecretSpec};

/// Largest secret oauth-mux reads from a file, stdin or a program (4 MiB).
pub const MAX_SECRET_BYTES: usize = 4 * 1024 * 1024;

/// How long an external program (command, keychain tool, sops) may run by default.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Knobs for [`read_secret_with`]; [`read_secret`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Deadline for external programs; they are killed when it passes.
    pub command_timeout: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

/// What every backend needs to read and to word its errors.
pub(crate) struct Ctx<'a> {
    pub spec: &'a SecretSpec,
    pub field_path: &'a str,
    pub options: &'a ReadOptions,
}

impl Ctx<'_> {
    /// `providers.x.accounts.y.secret.<name>`.
    pub fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.field_path)
    }

    /// A required string field (presence was checked by `missing_fields`).
    pub fn required(&self, value: &Option<String>) -> String {
        value.clone().unwrap_or_default()
    }
}

/// Read at most `limit` bytes of a regular file. A directory gives `IsADirectory`;
/// a larger file gives `FileTooLarge`.
pub(crate) fn read_file_limited(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::from(io::ErrorKind::IsADirectory));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        bytes.zeroize();
        return Err(io::Error::from(io::ErrorKind::FileTooLarge));
    }
    Ok(bytes)
}

/// Bytes to a `String`, zeroing the bytes if they are not UTF-8.
pub(crate) fn utf8(bytes: Vec<u8>) -> Result<String, ()> {
    String::from_utf8(bytes).map_err(|e| {
        let mut bytes = e.into_bytes();
        bytes.zeroize();
    })
}

/// Strip trailing `\n`/`\r\n` (programs print a newline after the value).
pub(crate) fn strip_trailing_newlines(mut text: String) -> String {
    let keep = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(keep);
    text
}

/// The error for a file a backend could not read (`subject` is e.g. "secret file").
pub(crate) fn file_error(
    ctx: &Ctx<'_>,
    subject: &str,
    field: &str,
    err: &io::Error,
    path: &Path,
) -> SecretError {
    let (kind, problem) = match err.kind() {
        io::ErrorKind::FileTooLarge => (
            Kind::TooLarge,
            format!("is larger than {} MiB", MAX_SECRET_BYTES >> 20),
        ),
        _ => describe_io(err),
    };
    let fix = match kind {
        Kind::PermissionDenied => "fix the file's permissions or the path",
        Kind::TooLarge => "point it at the credential file itself",
        _ => "fix the path or create the file",
    };
    SecretError::for_field(
        kind,
        ctx.spec.backend,
        subject,
        &ctx.field(field),
        &problem,
        fix,
    )
    .with_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_trailing_newlines_keeps_inner_ones() {
        assert_eq!(strip_trailing_newlines("a\nb\r\n\n".into()), "a\nb");
        assert_eq!(strip_trailing_newlines("tok".into()), "tok");
    }
}
