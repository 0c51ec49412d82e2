//! Validation of an account's `secret` block (the backends themselves live in `secrets`).

use serde_json::Value;

use super::problem::{Problem, join};

const BACKENDS: [&str; 7] = ["env", "file", "command", "stdin", "keychain", "sops", "age"];

/// Check a `secret` block: a known backend and the fields that backend needs.
pub fn validate_secret(secret: &Value, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(obj) = secret.as_object() else {
        out.push(Problem::error(
            path,
            if secret.is_null() {
                "missing secret".to_owned()
            } else {
                "secret must be an object".to_owned()
            },
            "e.g. \"secret\": {\"backend\": \"env\", \"variable\": \"MY_TOKEN\"}",
        ));
        return out;
    };
    let backend = obj.get("backend").and_then(Value::as_str).unwrap_or("");
    let required: &[&str] = match backend {
        "env" => &["variable"],
        "file" | "sops" => &["path"],
        "command" => &["command"],
        "stdin" => &[],
        "keychain" => &["service", "account"],
        "age" => &["path", "identity"],
        "" => {
            out.push(Problem::error(
                join(path, "backend"),
                "missing secret backend",
                format!("use one of {}", BACKENDS.join(", ")),
            ));
            return out;
        }
        other => {
            out.push(Problem::error(
                join(path, "backend"),
                format!("unknown secret backend {other:?}"),
                format!("use one of {}", BACKENDS.join(", ")),
            ));
            return out;
        }
    };
    for field in required {
        let present = match obj.get(*field) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(Value::Array(a)) => !a.is_empty() && a.iter().all(Value::is_string),
            _ => false,
        };
        if !present {
            out.push(Problem::error(
                join(path, field),
                format!("backend {backend:?} needs `{field}`"),
                match *field {
                    "command" => "give the argv as an array of strings, e.g. [\"pass\", \"show\", \"codex/max-1\"]",
                    "variable" => "name the environment variable holding the credential",
                    "path" => "give the file path (~ is expanded)",
                    "identity" => "give an AGE-SECRET-KEY-… string or the path of an identity file",
                    _ => "see docs/secrets.md",
                },
            ));
        }
    }
    for key in obj.keys() {
        if ![
            "backend", "service", "account", "path", "key", "key_path", "variable", "command",
            "identity",
        ]
        .contains(&key.as_str())
        {
            out.push(Problem::warning(
                join(path, key),
                "unknown key (ignored)",
                "check the spelling; docs/secrets.md lists each backend's fields",
            ));
        }
    }
    out
}
