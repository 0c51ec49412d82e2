//! Validation of an account's `secret` block; the backends and the fields each
//! needs are defined once, in `secrets::SecretSpec`.

use std::str::FromStr;

use serde_json::Value;

use super::problem::{Problem, join};
use crate::secrets::{SecretBackend, SecretSpec};

const KNOWN_KEYS: [&str; 9] = [
    "backend", "service", "account", "path", "key", "key_path", "variable", "command", "identity",
];

/// Check a `secret` block: a known backend and the fields that backend needs.
pub fn validate_secret(secret: &Value, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let backends: Vec<&str> = SecretBackend::ALL.iter().map(|b| b.as_str()).collect();
    let Some(obj) = secret.as_object() else {
        out.push(Problem::error(
            path,
            if secret.is_null() {
                "missing secret"
            } else {
                "secret must be an object"
            },
            "e.g. \"secret\": {\"backend\": \"env\", \"variable\": \"MY_TOKEN\"}",
        ));
        return out;
    };
    for key in obj.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        out.push(Problem::warning(
            join(path, key),
            "unknown key (ignored)",
            "check the spelling; docs/secrets.md lists each backend's fields",
        ));
    }
    let backend = match obj.get("backend") {
        None => {
            out.push(Problem::error(
                join(path, "backend"),
                "missing secret backend",
                format!("use one of {}", backends.join(", ")),
            ));
            return out;
        }
        Some(Value::String(b)) => b,
        Some(_) => {
            out.push(Problem::error(
                join(path, "backend"),
                "backend must be a string",
                format!("use one of {}", backends.join(", ")),
            ));
            return out;
        }
    };
    if SecretBackend::from_str(backend).is_err() {
        out.push(Problem::error(
            join(path, "backend"),
            "unknown secret backend",
            format!("use one of {}", backends.join(", ")),
        ));
        return out;
    }
    let spec: SecretSpec = match serde_path_to_error::deserialize(secret) {
        Ok(spec) => spec,
        Err(e) => {
            let field = e.path().to_string();
            let found = obj.get(field.as_str());
            out.push(Problem::error(
                join(path, &field),
                super::load::without_value(&e.inner().to_string(), found),
                "string fields take strings; `command` takes an array of strings",
            ));
            return out;
        }
    };
    if spec.backend == SecretBackend::Env
        && let Some(variable) = spec.variable.as_deref()
        && !variable.trim().is_empty()
        && !crate::util::env_name::is_env_name(variable.trim())
    {
        out.push(Problem::error(
            join(path, "variable"),
            "not an environment variable name (the credential itself belongs in that variable, not here)",
            "name the variable that holds the credential, e.g. \"CODEX_MAX_1_AUTH\" ([A-Za-z_][A-Za-z0-9_]*)",
        ));
    }
    for field in spec.missing_fields() {
        out.push(Problem::error(
            join(path, field),
            format!("backend \"{}\" needs `{field}`", spec.backend),
            match field {
                "command" => "give the argv as an array of strings, e.g. [\"pass\", \"show\", \"codex/max-1\"]",
                "variable" => "name the environment variable holding the credential",
                "path" => "give the file path (~ is expanded)",
                "identity" => "give an AGE-SECRET-KEY-… string or the path of an identity file",
                _ => "see docs/secrets.md",
            },
        ));
    }
    out
}
