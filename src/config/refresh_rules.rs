//! Validation of a provider definition's `refresh` block (docs/refresh.md): the request it
//! describes must be sendable and its answer must be readable back.

use super::problem::{Problem, join};
use super::provider_def::{ProviderDefinition, RefreshBodyFormat};
use crate::model::grant::ExpirySource;
use crate::util::env_name::is_env_name;

/// The placeholders a refresh body may hold.
pub const BODY_PLACEHOLDERS: [&str; 3] = ["refresh_token", "client_id", "refresh_reason"];

/// Headers oauth-mux sets itself or that would carry credentials.
const RESERVED_HEADERS: [&str; 9] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

/// Every problem of `def.refresh` (none when the definition has no refresh block).
pub fn validate_refresh(def: &ProviderDefinition, path: &str) -> Vec<Problem> {
    let Some(refresh) = &def.refresh else {
        return Vec::new();
    };
    let path = join(path, "refresh");
    let mut out = Vec::new();
    let mut err = |field: &str, message: String, hint: &str| {
        out.push(Problem::error(join(&path, field), message, hint));
    };
    match def.token_endpoint() {
        None => err(
            "token_endpoint",
            "no token endpoint: neither refresh.token_endpoint nor auth.token_endpoint is set"
                .into(),
            "set refresh.token_endpoint to the provider's OAuth token URL",
        ),
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => err(
            "token_endpoint",
            format!("{url:?} is not an http(s) URL"),
            "use the provider's OAuth token URL, e.g. https://auth.example.com/oauth/token",
        ),
        Some(_) => {}
    }
    if let Some(env) = &refresh.token_endpoint_env
        && !is_env_name(env)
    {
        err(
            "token_endpoint_env",
            format!("{env:?} is not an environment variable name"),
            "use [A-Za-z_][A-Za-z0-9_]*",
        );
    }
    let mut sends_refresh_token =
        refresh.body.is_empty() && refresh.body_format == RefreshBodyFormat::Form;
    for (field, value) in &refresh.body {
        let Some(text) = value.as_str() else {
            err(
                &format!("body.{field}"),
                "a body value must be a string".into(),
                "write it as a string; placeholders are {{refresh_token}}, {{client_id}}, {{refresh_reason}}",
            );
            continue;
        };
        sends_refresh_token |= text.contains("{{refresh_token}}");
        for name in placeholders(text) {
            if !BODY_PLACEHOLDERS.contains(&name) {
                err(
                    &format!("body.{field}"),
                    format!("unknown placeholder {{{{{name}}}}}"),
                    "use {{refresh_token}}, {{client_id}} or {{refresh_reason}}",
                );
            } else if name == "client_id" && def.client_id().is_none() {
                err(
                    &format!("body.{field}"),
                    "{{client_id}} is used but no client id is set".into(),
                    "set refresh.client_id or auth.client_id",
                );
            }
        }
    }
    if !sends_refresh_token {
        err(
            "body",
            "the body never sends the refresh token".into(),
            "add a field whose value is \"{{refresh_token}}\"",
        );
    }
    for name in refresh.headers.keys() {
        if RESERVED_HEADERS
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            err(
                &format!("headers.{name}"),
                format!("header {name:?} is set by oauth-mux or carries credentials"),
                "remove it; the body carries the refresh token",
            );
        }
    }
    let readable_again = match refresh.expiry {
        ExpirySource::AccessTokenJwt => def.credential.expires_from_jwt_path.is_some(),
        ExpirySource::ExpiresIn => def.credential.expires_at_path.is_some(),
    };
    if !readable_again {
        err(
            "expiry",
            "the new expiry could not be read back from the stored credential".into(),
            "with expiry \"expires_in\" set credential.expires_at_path; with \"access_token_jwt\" \
             set credential.expires_from_jwt_path",
        );
    }
    if refresh.timeout_ms == 0 {
        err(
            "timeout_ms",
            "timeout must be positive".into(),
            "e.g. 10000",
        );
    }
    out
}

/// The names inside `{{…}}` in `text`.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin;

    fn def(refresh: serde_json::Value, credential: serde_json::Value) -> ProviderDefinition {
        serde_json::from_value(serde_json::json!({
            "name": "x", "auth": {"token_endpoint": "https://auth.example.com/token"},
            "credential": credential, "refresh": refresh
        }))
        .unwrap()
    }

    #[test]
    fn the_built_in_refresh_blocks_are_valid() {
        for name in ["codex", "claude"] {
            let d = builtin::definition(name).unwrap();
            assert!(d.refresh.is_some(), "{name} refreshes");
            assert_eq!(validate_refresh(&d, name), vec![], "{name}");
        }
    }

    #[test]
    fn a_form_body_may_be_left_to_the_rfc_defaults() {
        let d = def(
            serde_json::json!({}),
            serde_json::json!({"expires_at_path": "e"}),
        );
        assert_eq!(validate_refresh(&d, "p"), vec![]);
    }

    #[test]
    fn each_problem_is_named_with_its_path() {
        let d = def(
            serde_json::json!({"token_endpoint": "ftp://x", "token_endpoint_env": "1BAD",
                "body_format": "json", "body": {"a": "{{nope}}", "b": 3, "c": "{{client_id}}"},
                "headers": {"Authorization": "x"}, "timeout_ms": 0}),
            serde_json::json!({}),
        );
        let problems = validate_refresh(&d, "provider_definitions.x");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "provider_definitions.x.refresh.token_endpoint",
            "provider_definitions.x.refresh.token_endpoint_env",
            "provider_definitions.x.refresh.body.a",
            "provider_definitions.x.refresh.body.b",
            "provider_definitions.x.refresh.body.c",
            "provider_definitions.x.refresh.body",
            "provider_definitions.x.refresh.headers.Authorization",
            "provider_definitions.x.refresh.expiry",
            "provider_definitions.x.refresh.timeout_ms",
        ] {
            assert!(paths.contains(&want), "{want} missing from {paths:?}");
        }
    }
}
