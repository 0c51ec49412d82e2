//! The `secret` block of an account in config: which backend holds the credential and
//! where. Pure data; reading happens in the backend modules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The seven secret backends (SPEC §4), spelled as in the original's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretBackend {
    Env,
    File,
    Command,
    Stdin,
    Keychain,
    Sops,
    Age,
}

impl SecretBackend {
    /// Every backend, in documentation order.
    pub const ALL: [SecretBackend; 7] = [
        SecretBackend::Env,
        SecretBackend::File,
        SecretBackend::Command,
        SecretBackend::Stdin,
        SecretBackend::Keychain,
        SecretBackend::Sops,
        SecretBackend::Age,
    ];

    /// The config spelling (`"env"`, `"keychain"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretBackend::Env => "env",
            SecretBackend::File => "file",
            SecretBackend::Command => "command",
            SecretBackend::Stdin => "stdin",
            SecretBackend::Keychain => "keychain",
            SecretBackend::Sops => "sops",
            SecretBackend::Age => "age",
        }
    }
}

impl fmt::Display for SecretBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend name that is not one of [`SecretBackend::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownBackend(pub String);

impl fmt::Display for UnknownBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = SecretBackend::ALL.iter().map(|b| b.as_str()).collect();
        write!(
            f,
            "unknown secret backend {:?}; use one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownBackend {}

impl FromStr for SecretBackend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecretBackend::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownBackend(s.to_string()))
    }
}

/// Whether (and how) a refreshed credential could be written back to the backend
/// (SPEC §2 "Writeback"; the original's table in reference §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteCapability {
    /// The value comes from somewhere oauth-mux must not write (env, stdin).
    Readonly,
    /// Atomic replace of the file, preserving unrelated JSON fields.
    ReplaceFile,
    /// A command backend; no write contract exists yet.
    CommandWrite,
    /// The OS keychain; writing is not implemented.
    KeychainWrite,
    /// A sops file; writing is not implemented.
    SopsWrite,
    /// No way to write (age files).
    Unsupported,
}

/// The variables `sops --decrypt` reads age keys from (the key itself, a key file, a
/// command printing keys, an SSH key file).
pub const SOPS_KEY_VARIABLES: [&str; 4] = [
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
];

/// An account's `secret` config block: the backend plus the fields it needs.
/// Fields a backend does not use are ignored (config validation may warn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSpec {
    /// Which backend reads the credential.
    pub backend: SecretBackend,
    /// keychain: the item's service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// keychain: the item's account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// file, sops, age: the file to read (`~` is expanded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Accepted for compatibility with the original's config; no backend reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// sops: dot path of the string to take from the decrypted JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    /// env: the environment variable holding the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// command: argv (no shell); the credential is its stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// age: an inline `AGE-SECRET-KEY-…` or a file holding one (`~` is expanded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl SecretSpec {
    /// A spec for `backend` with every optional field unset.
    pub fn new(backend: SecretBackend) -> Self {
        SecretSpec {
            backend,
            service: None,
            account: None,
            path: None,
            key: None,
            key_path: None,
            variable: None,
            command: None,
            identity: None,
        }
    }

    /// The fields this backend requires that are absent or empty, in a stable order,
    /// so config validation can report each one with its JSON path.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let absent = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        let mut missing = Vec::new();
        match self.backend {
            SecretBackend::Env => {
                if absent(&self.variable) {
                    missing.push("variable");
                }
            }
            SecretBackend::File | SecretBackend::Sops => {
                if absent(&self.path) {
                    missing.push("path");
                }
            }
            SecretBackend::Command => {
                let empty = self
                    .command
                    .as_ref()
                    .is_none_or(|argv| argv.first().is_none_or(|p| p.is_empty()));
                if empty {
                    missing.push("command");
                }
            }
            SecretBackend::Stdin => {}
            SecretBackend::Keychain => {
                if absent(&self.service) {
                    missing.push("service");
                }
                if absent(&self.account) {
                    missing.push("account");
                }
            }
            SecretBackend::Age => {
                if absent(&self.path) {
                    missing.push("path");
                }
                if absent(&self.identity) {
                    missing.push("identity");
                }
            }
        }
        missing
    }

    /// The environment variables this backend reads credential material from (or finds
    /// it through): `env`'s variable, and the variables `sops` finds its age keys by.
    /// Children oauth-mux starts never inherit them.
    pub fn environment_reads(&self) -> Vec<String> {
        match self.backend {
            SecretBackend::Env => self
                .variable
                .iter()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect(),
            SecretBackend::Sops => SOPS_KEY_VARIABLES.iter().map(|v| v.to_string()).collect(),
            SecretBackend::File
            | SecretBackend::Command
            | SecretBackend::Stdin
            | SecretBackend::Keychain
            | SecretBackend::Age => Vec::new(),
        }
    }

    /// How a refreshed credential could be persisted to this backend.
    pub fn write_capability(&self) -> WriteCapability {
        match self.backend {
            SecretBackend::Env | SecretBackend::Stdin => WriteCapability::Readonly,
            SecretBackend::File => WriteCapability::ReplaceFile,
            SecretBackend::Command => WriteCapability::CommandWrite,
            SecretBackend::Keychain => WriteCapability::KeychainWrite,
            SecretBackend::Sops => WriteCapability::SopsWrite,
            SecretBackend::Age => WriteCapability::Unsupported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip_through_str_and_serde() {
        for backend in SecretBackend::ALL {
            assert_eq!(backend.as_str().parse::<SecretBackend>(), Ok(backend));
            let json = serde_json::to_string(&backend).unwrap();
            assert_eq!(json, format!("\"{}\"", backend.as_str()));
        }
        let err = "vault".parse::<SecretBackend>().unwrap_err();
        assert!(err.to_string().contains("env, file, command"));
    }

    #[test]
    fn missing_fields_names_each_required_field() {
        let cases = [
            (SecretBackend::Env, vec!["variable"]),
            (SecretBackend::File, vec!["path"]),
            (SecretBackend::Command, vec!["command"]),
            (SecretBackend::Stdin, vec![]),
            (SecretBackend::Keychain, vec!["service", "account"]),
            (SecretBackend::Sops, vec!["path"]),
            (SecretBackend::Age, vec!["path", "identity"]),
        ];
        for (backend, want) in cases {
            assert_eq!(SecretSpec::new(backend).missing_fields(), want, "{backend}");
        }
        let spec = SecretSpec {
            command: Some(vec![]),
            ..SecretSpec::new(SecretBackend::Command)
        };
        assert_eq!(spec.missing_fields(), vec!["command"]);
        let spec = SecretSpec {
            variable: Some("  ".into()),
            ..SecretSpec::new(SecretBackend::Env)
        };
        assert_eq!(spec.missing_fields(), vec!["variable"]);
        let spec = SecretSpec {
            service: Some("svc".into()),
            account: Some("me".into()),
            ..SecretSpec::new(SecretBackend::Keychain)
        };
        assert!(spec.missing_fields().is_empty());
    }

    #[test]
    fn write_capability_follows_the_backend_table() {
        let want = [
            (SecretBackend::Env, "readonly"),
            (SecretBackend::File, "replace_file"),
            (SecretBackend::Command, "command_write"),
            (SecretBackend::Stdin, "readonly"),
            (SecretBackend::Keychain, "keychain_write"),
            (SecretBackend::Sops, "sops_write"),
            (SecretBackend::Age, "unsupported"),
        ];
        for (backend, name) in want {
            let cap = SecretSpec::new(backend).write_capability();
            assert_eq!(serde_json::to_value(cap).unwrap(), name);
        }
    }

    #[test]
    fn spec_deserializes_the_original_config_shape() {
        let spec: SecretSpec = serde_json::from_str(
            r#"{"backend":"command","command":["pass","show","codex"],"extra":1}"#,
        )
        .unwrap();
        assert_eq!(spec.backend, SecretBackend::Command);
        assert_eq!(spec.command.as_deref().unwrap().len(), 3);
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"backend":"command","command":["pass","show","codex"]})
        );
    }
}
