//! `read_secret`: dispatch to a backend, plus the in-process backends (env, file,
//! stdin). What the backends share lives in [`super::backend`].

use std::io::{self, Read};
use std::sync::OnceLock;

use zeroize::Zeroize;

use super::backend::{Ctx, file_error, read_file_limited, utf8};
pub use super::backend::{DEFAULT_COMMAND_TIMEOUT, MAX_SECRET_BYTES, ReadOptions};
use super::error::SecretErrorKind as Kind;
use super::{Secret, SecretBackend, SecretError, SecretSpec, age_file, tools};

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
    let path = crate::util::home::expand_tilde(&ctx.required(&ctx.spec.path));
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
