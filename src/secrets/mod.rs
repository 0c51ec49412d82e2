//! Secret backends (read side), credential parsing, and the one redaction layer
//! (SPEC §1.4, §4).
//!
//! - [`read_secret`] reads an account's credential through one of seven backends
//!   described by a [`SecretSpec`]; failures are [`SecretError`]s (exit 202) that
//!   name the config field and the fix, never the value or a file path.
//! - [`parse_credential`] turns the text into a [`Credential`] as the provider
//!   definition's [`CredentialFormat`] says.
//! - [`redact`] is the layer every output goes through; every [`Secret`] and every
//!   token parsed from one is registered there.

mod age_file;
mod backend;
mod credential;
mod error;
mod process;
mod read;
pub mod redact;
mod secret;
mod spec;
mod tools;

pub use credential::{
    Credential, CredentialFormat, EXPIRY_SKEW, ExpiresAtUnit, TokenKind, TokenType, jwt_exp,
    parse_credential,
};
pub use error::{SecretError, SecretErrorKind};
pub use read::{
    DEFAULT_COMMAND_TIMEOUT, MAX_SECRET_BYTES, ReadOptions, read_secret, read_secret_with,
};
pub use secret::Secret;
pub use spec::{SecretBackend, SecretSpec, UnknownBackend, WriteCapability};

/// Dot paths into a credential document (the one helper, re-exported for callers of this module).
pub use crate::util::json_path::get as json_path_get;
