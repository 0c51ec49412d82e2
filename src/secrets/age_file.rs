//! The `age` backend: native decryption (armored or binary) with an X25519 identity
//! given inline or in a file.

use std::str::FromStr;

use zeroize::Zeroize;

use super::backend::{Ctx, MAX_SECRET_BYTES, file_error, read_file_limited, utf8};
use super::error::SecretErrorKind as Kind;
use super::{Secret, SecretBackend, SecretError};
use crate::util::home::expand_tilde;

/// The prefix every age X25519 identity starts with.
const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-";

/// Identity files are small; anything bigger is not one.
const MAX_IDENTITY_FILE_BYTES: usize = 64 * 1024;

/// The identity text: inline when it starts with the prefix, else the first
/// `AGE-SECRET-KEY-` line of the file it names.
fn identity_text(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let raw = ctx.required(&ctx.spec.identity);
    let raw = raw.trim();
    if raw.starts_with(IDENTITY_PREFIX) {
        return Ok(Secret::new(raw.to_string()));
    }
    let path = expand_tilde(raw);
    let bytes = read_file_limited(&path, MAX_IDENTITY_FILE_BYTES)
        .map_err(|e| file_error(ctx, "age identity file", "identity", &e, &path))?;
    let not_found = || {
        SecretError::for_field(
            Kind::Invalid,
            SecretBackend::Age,
            "age identity file",
            &ctx.field("identity"),
            "has no AGE-SECRET-KEY- line",
            "point it at an identity file made by `age-keygen`, or put the key inline",
        )
        .with_path(&path)
    };
    let text = Secret::new(utf8(bytes).map_err(|()| not_found())?);
    let line = text
        .expose()
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(IDENTITY_PREFIX))
        .ok_or_else(not_found)?;
    Ok(Secret::new(line.to_string()))
}

pub(crate) fn read_age(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let identity_text = identity_text(ctx)?;
    let identity = age::x25519::Identity::from_str(identity_text.expose()).map_err(|_| {
        SecretError::for_field(
            Kind::Invalid,
            SecretBackend::Age,
            "age identity",
            &ctx.field("identity"),
            "is not a valid X25519 identity",
            "use an AGE-SECRET-KEY-1… key made by `age-keygen` (plugin and SSH identities are not supported)",
        )
    })?;

    let path = expand_tilde(&ctx.required(&ctx.spec.path));
    let ciphertext = read_file_limited(&path, MAX_SECRET_BYTES)
        .map_err(|e| file_error(ctx, "age file", "path", &e, &path))?;
    let decrypt_error = |problem: &str, fix: &str| {
        SecretError::for_field(
            Kind::Decrypt,
            SecretBackend::Age,
            "age file",
            &ctx.field("path"),
            problem,
            fix,
        )
        .with_path(&path)
    };
    let mut plaintext = age::decrypt(&identity, &ciphertext).map_err(|err| match err {
        age::DecryptError::NoMatchingKeys => decrypt_error(
            "was not encrypted to the configured identity",
            "set secret.identity to the key whose recipient encrypted it, or re-encrypt the file to it",
        ),
        other => decrypt_error(
            &format!("could not be decrypted ({other})"),
            "check that it is an age file (armored or binary) and not truncated",
        ),
    })?;
    if plaintext.len() > MAX_SECRET_BYTES {
        plaintext.zeroize();
        return Err(decrypt_error(
            "decrypts to more than 4 MiB",
            "encrypt only the credential",
        ));
    }
    let text = utf8(plaintext).map_err(|()| {
        decrypt_error(
            "decrypts to something that is not UTF-8 text",
            "encrypt the credential as text (JSON or a raw token)",
        )
    })?;
    if text.trim().is_empty() {
        return Err(decrypt_error(
            "decrypts to an empty credential",
            "encrypt the credential itself",
        ));
    }
    Ok(Secret::new(text))
}
