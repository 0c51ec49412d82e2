//! `read_secret`: dispatch to a backend, plus the in-process backends (env, file,
//! stdin) and the helpers the others share.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use zeroize::Zeroize;

use super::error::{SecretErrorKind as Kind, describe_io};
use super::{Secret, SecretBackend, SecretError, SecretSpec, age_file, tools};

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

/// Read the secret an account's `secret` block points at. `field_path` is the JSON
/// path of that block in config (`providers.codex.accounts.max-1.secret`); errors name
/// the exact field under it and the fix, never the value or a file path.
pub fn read_secret(spec: &SecretSpec, field_path: &str) -> Result<Secret, SecretError> {
    read_secret_with(spec, field_path, &ReadOptions::default())
}

/// [`read_secret`] with explicit options (a shorter command timeout, for example).
pub fn read_secret_with(
    spec: &SecretSpec,
    field_path: &str,
    options: &ReadOptions,
) -> Result<Secret, SecretError> {
    if let Some(field) = spec.missing_fields().first() {
        return Err(SecretError::new(
            Kind::NotConfigured,
            Some(spec.backend),
            format!(
                "secret for {field_path} uses backend {} but has no `{field}`; add {field_path}.{field}",
                spec.backend
            ),
        ));
    }
    let ctx = Ctx {
        spec,
        field_path,
        options,
    };
    match spec.backend {
        SecretBackend::Env => read_env(&ctx),
        SecretBackend::File => read_file_backend(&ctx),
        SecretBackend::Stdin => read_stdin(&ctx),
        SecretBackend::Command => tools::read_command(&ctx),
        SecretBackend::Keychain => tools::read_keychain(&ctx),
        SecretBackend::Sops => tools::read_sops(&ctx),
        SecretBackend::Age => age_file::read_age(&ctx),
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

/// Expand a leading `~` or `~/` to `$HOME`. Other paths are returned unchanged.
pub fn expand_tilde(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (path, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (p, Some(home)) if p.starts_with("~/") => Path::new(&home).join(&p[2..]),
        (p, _) => PathBuf::from(p),
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

fn read_env(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let name = ctx.required(&ctx.spec.variable);
    let field = ctx.field("variable");
    // A credential pasted where its variable's name belongs must not be printed back.
    let is_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let shown = if is_name {
        format!("environment variable {name}")
    } else {
        "the environment variable".to_string()
    };
    let fail = |kind, problem: &str, fix: &str| {
        SecretError::new(
            kind,
            Some(SecretBackend::Env),
            format!("{shown} (from {field}) {problem}; {fix}"),
        )
    };
    match std::env::var_os(&name) {
        None => Err(fail(
            Kind::NotFound,
            "is not set",
            "export it before running oauth-mux, or fix the variable name",
        )),
        Some(v) if v.is_empty() => Err(fail(
            Kind::NotFound,
            "is empty",
            "export the credential in it, or fix the variable name",
        )),
        Some(v) => match v.into_string() {
            Ok(value) => Ok(Secret::new(value)),
            Err(raw) => {
                raw.into_encoded_bytes().zeroize();
                Err(fail(
                    Kind::Invalid,
                    "is not valid UTF-8",
                    "store the credential as text",
                ))
            }
        },
    }
}

fn read_file_backend(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let path = expand_tilde(&ctx.required(&ctx.spec.path));
    let bytes = read_file_limited(&path, MAX_SECRET_BYTES)
        .map_err(|e| file_error(ctx, "secret file", "path", &e, &path))?;
    let text = utf8(bytes).map_err(|()| {
        SecretError::for_field(
            Kind::Invalid,
            SecretBackend::File,
            "secret file",
            &ctx.field("path"),
            "is not valid UTF-8 text",
            "point it at the credential file (JSON or a raw token)",
        )
        .with_path(&path)
    })?;
    if text.trim().is_empty() {
        return Err(SecretError::for_field(
            Kind::NotFound,
            SecretBackend::File,
            "secret file",
            &ctx.field("path"),
            "is empty",
            "write the credential into it or log in again",
        )
        .with_path(&path));
    }
    Ok(Secret::new(text))
}

/// Stdin is read once per process and cached: several accounts (or a retry) may ask
/// for it, and a pipe can only be read once.
static STDIN_CACHE: OnceLock<Result<Secret, Kind>> = OnceLock::new();

fn read_stdin(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let cached = STDIN_CACHE.get_or_init(|| {
        let mut bytes = Vec::new();
        let read = io::stdin()
            .lock()
            .take(MAX_SECRET_BYTES as u64 + 1)
            .read_to_end(&mut bytes);
        if read.is_err() {
            bytes.zeroize();
            return Err(Kind::Invalid);
        }
        if bytes.len() > MAX_SECRET_BYTES {
            bytes.zeroize();
            return Err(Kind::TooLarge);
        }
        match utf8(bytes) {
            Ok(text) if text.trim().is_empty() => Err(Kind::NotFound),
            Ok(text) => Ok(Secret::new(text)),
            Err(()) => Err(Kind::Invalid),
        }
    });
    match cached {
        Ok(secret) => Ok(secret.clone()),
        Err(kind) => {
            let problem = match kind {
                Kind::NotFound => "was empty",
                Kind::TooLarge => "was larger than 4 MiB",
                _ => "could not be read as UTF-8 text",
            };
            Err(SecretError::new(
                *kind,
                Some(SecretBackend::Stdin),
                format!(
                    "standard input for {} {problem}; pipe the credential in (`… | oauth-mux …`); stdin is read once per process",
                    ctx.field_path
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_trailing_newlines_keeps_inner_ones() {
        assert_eq!(strip_trailing_newlines("a\nb\r\n\n".into()), "a\nb");
        assert_eq!(strip_trailing_newlines("tok".into()), "tok");
    }

    #[test]
    fn expand_tilde_only_touches_a_leading_tilde() {
        let home = std::env::var("HOME").unwrap();
        assert_eq!(expand_tilde("~/x/y"), Path::new(&home).join("x/y"));
        assert_eq!(expand_tilde("~"), PathBuf::from(&home));
        assert_eq!(expand_tilde("/a/~/b"), PathBuf::from("/a/~/b"));
        assert_eq!(expand_tilde("~other/x"), PathBuf::from("~other/x"));
    }
}
