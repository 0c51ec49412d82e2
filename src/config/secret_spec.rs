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
            format!("unknown secret backend {backend:?}"),
            format!("use one of {}", backends.join(", ")),
        ));
        return out;
    }
    let spec: SecretSpec = match serde_json::from_value(secret.clone()) {
        Ok(spec) => spec,
        Err(e) => {
            out.push(Problem::error(
                path,
                e.to_string(),
                "string fields take strings; `command` takes an array of strings",
            ));
            return out;
        }
    };
    for field in spec.missing_fields() {
        out.push(Problem::error(
            join(path, field),
            format!("backend {backend:?} needs `{field}`"),
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
