//! Validation of one provider definition (built-in or user): injection, capabilities and
//! their probes, failure rules, the managed-session upstream and what it may forward.
//! Probe URLs, bodies, headers and argv must carry no token material.

use std::collections::BTreeSet;

use crate::util::env_name::is_env_name;

use super::problem::{Problem, join};
use super::provider_def::{ProbeAuth, ProbeDefinition, ProbeTransport, ProviderDefinition};

/// Validate one provider definition (built-in or user) at `path`.
pub fn validate_definition(def: &ProviderDefinition, key: &str, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let err =
        |out: &mut Vec<Problem>, p: String, m: String, h: &str| out.push(Problem::error(p, m, h));
    if !def.name.is_empty() && def.name != key {
        err(
            &mut out,
            join(path, "name"),
            "`name` differs from the definition's key".into(),
            "drop `name` or make it equal to the key",
        );
    }
    out.extend(super::refresh_rules::validate_refresh(def, path));
    let inj = &def.injection;
    if inj.credential_filename.is_empty()
        || inj.credential_filename.contains('/')
        || inj.credential_filename.contains("..")
    {
        err(
            &mut out,
            join(path, "injection.credential_filename"),
            "must be a plain file name".into(),
            "e.g. \"credentials.json\"",
        );
    }
    for (i, (env, field)) in inj.direct_env.iter().enumerate() {
        let p = format!("{}[{i}]", join(path, "injection.direct_env"));
        if !is_env_name(env) {
            err(
                &mut out,
                p.clone(),
                "not a valid environment variable name".into(),
                "use [A-Za-z_][A-Za-z0-9_]*",
            );
        }
        if field != "access_token" && field != "refresh_token" {
            err(
                &mut out,
                p,
                "this field cannot be injected".into(),
                "use \"access_token\" or \"refresh_token\"",
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (i, cap) in def.capabilities.iter().enumerate() {
        let cpath = format!("{}[{i}]", join(path, "capabilities"));
        if cap.name.is_empty() {
            err(
                &mut out,
                join(&cpath, "name"),
                "capability name is empty".into(),
                "name the capability, e.g. \"identity\"",
            );
        }
        for n in std::iter::once(&cap.name).chain(&cap.aliases) {
            if !n.is_empty() && !seen.insert(n.clone()) {
                err(
                    &mut out,
                    cpath.clone(),
                    "a name or alias of this capability is used twice".into(),
                    "names and aliases must be unique within a provider",
                );
            }
        }
        if let Some(probe) = &cap.probe {
            out.extend(validate_probe(probe, &join(&cpath, "probe")));
        }
    }
    let has_probe = def.capabilities.iter().any(|c| c.probe.is_some());
    if has_probe && def.failure_rules.is_empty() {
        out.push(Problem::warning(
            join(path, "failure_rules"),
            "probes are defined but no failure rules",
            "the status defaults still apply; add rules for provider-specific bodies (see docs/providers.md)",
        ));
    }
    for (i, rule) in def.failure_rules.iter().enumerate() {
        let rpath = format!("{}[{i}]", join(path, "failure_rules"));
        if !rule.has_matcher() {
            out.push(Problem::error(
                &rpath,
                "a failure rule needs at least one matcher",
                "add status, status_min/max, retry_after_gte/lt, hint_equals or hint_contains",
            ));
        }
        if rule.class.is_none() {
            out.push(Problem::error(
                join(&rpath, "class"),
                "a failure rule needs a class",
                "e.g. \"class\": {\"degraded\": \"tier_insufficient\"}",
            ));
        }
        if let (Some(a), Some(b)) = (rule.status_min, rule.status_max)
            && a > b
        {
            out.push(Problem::error(
                &rpath,
                "status_min is above status_max",
                "swap them",
            ));
        }
        if let (Some(a), Some(b)) = (rule.retry_after_gte, rule.retry_after_lt)
            && a >= b
        {
            out.push(Problem::error(
                &rpath,
                "retry_after_gte must be below retry_after_lt",
                "make the range non-empty",
            ));
        }
        for (field, hint) in [
            ("hint_equals", &rule.hint_equals),
            ("hint_contains", &rule.hint_contains),
        ] {
            if hint.as_deref().is_some_and(|h| h.trim().is_empty()) {
                out.push(Problem::error(
                    join(&rpath, field),
                    "an empty hint matches everything",
                    "remove it or give text to match",
                ));
            }
        }
    }
    if let Some(up) = &def.upstream {
        if up.harness != "codex" && up.harness != "claude" {
            out.push(Problem::error(
                join(path, "upstream.harness"),
                "unknown harness",
                "use \"codex\" or \"claude\"",
            ));
        }
        if let Some(env) = &up.base_url_env
            && !is_env_name(env)
        {
            out.push(Problem::error(
                join(path, "upstream.base_url_env"),
                "not an environment variable name",
                "use [A-Za-z_][A-Za-z0-9_]*",
            ));
        }
        if let Some(rules) = &up.requests {
            out.extend(validate_request_rules(
                rules,
                &join(path, "upstream.requests"),
            ));
        }
    }
    out
}

/// The methods and path prefixes a session proxy forwards.
fn validate_request_rules(rules: &super::provider_def::RequestRules, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    if rules.methods.is_empty() {
        out.push(Problem::error(
            join(path, "methods"),
            "no method is allowed",
            "list the methods the harness sends, e.g. [\"GET\", \"POST\"]",
        ));
    }
    for (i, method) in rules.methods.iter().enumerate() {
        let upper = |c: char| c.is_ascii_uppercase();
        if method.is_empty()
            || !method.chars().all(upper)
            || method == "CONNECT"
            || method == "TRACE"
        {
            out.push(Problem::error(
                format!("{}[{i}]", join(path, "methods")),
                "not a method the session proxy may forward",
                "use upper-case request methods such as GET or POST; CONNECT and TRACE are never forwarded",
            ));
        }
    }
    if rules.path_prefixes.is_empty() {
        out.push(Problem::error(
            join(path, "path_prefixes"),
            "no path is allowed",
            "list the path prefixes the harness uses, e.g. [\"/v1/\"]",
        ));
    }
    for (i, prefix) in rules.path_prefixes.iter().enumerate() {
        let segments: Vec<&str> = prefix.split('/').collect();
        let clean = prefix.starts_with('/')
            && prefix.ends_with('/')
            && prefix.is_ascii()
            && (prefix == "/"
                || segments[1..segments.len() - 1]
                    .iter()
                    .all(|s| !s.is_empty() && *s != "." && *s != ".." && !s.contains('%')));
        if !clean {
            out.push(Problem::error(
                format!("{}[{i}]", join(path, "path_prefixes")),
                "not a clean path prefix",
                "start and end it with '/', with no '.', '..' or empty segments, e.g. \"/v1/\"",
            ));
        }
    }
    out
}

fn validate_probe(probe: &ProbeDefinition, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut err =
        |field: &str, m: String, h: &str| out.push(Problem::error(join(path, field), m, h));
    if probe.timeout_ms == 0 {
        err(
            "timeout_ms",
            "timeout must be positive".into(),
            "e.g. 30000",
        );
    }
    if probe.success_status_min > probe.success_status_max {
        err(
            "success_status_min",
            "success range is reversed".into(),
            "make success_status_min ≤ success_status_max",
        );
    }
    if !probe.effective_budget().valid_for_probe() {
        err(
            "budget",
            "a probe cannot be interactive or mutating".into(),
            "use free_local, free_command, cheap_provider or spend_provider",
        );
    }
    match probe.transport {
        ProbeTransport::Http => {
            if !["GET", "POST", "HEAD"].contains(&probe.method.as_str()) {
                err(
                    "method",
                    "method not allowed".into(),
                    "use GET, POST or HEAD",
                );
            }
            match &probe.url {
                None => err(
                    "url",
                    "an HTTP probe needs a url".into(),
                    "e.g. \"https://api.example.com/me\"",
                ),
                Some(url) if url.trim().is_empty() => err(
                    "url",
                    "url is empty".into(),
                    "e.g. \"https://api.example.com/me\"",
                ),
                Some(url) => {
                    if let Some(m) = token_material(url) {
                        err(
                            "url",
                            format!("the URL carries token material ({m})"),
                            "credentials go in headers via `auth`, never in probe URLs",
                        );
                    }
                    if bad_placeholder(url).is_some() {
                        err(
                            "url",
                            "a bad placeholder".into(),
                            "placeholders are {{NAME}} with NAME of letters, digits and '_'",
                        );
                    }
                }
            }
            if let Some(body) = &probe.body {
                if probe.method != "POST" {
                    err(
                        "body",
                        "a body needs method POST".into(),
                        "set \"method\": \"POST\"",
                    );
                }
                if body.trim().is_empty() {
                    err(
                        "body",
                        "body is empty".into(),
                        "remove it or give the request body",
                    );
                }
                if let Some(m) = token_material(body) {
                    err(
                        "body",
                        format!("the body carries token material ({m})"),
                        "credentials go in headers via `auth`, never in probe bodies",
                    );
                }
                if bad_placeholder(body).is_some() {
                    err(
                        "body",
                        "a bad placeholder".into(),
                        "placeholders are {{NAME}} with NAME of letters, digits and '_'",
                    );
                }
            }
            if probe
                .content_type
                .as_deref()
                .is_some_and(|c| c.trim().is_empty())
            {
                err(
                    "content_type",
                    "content_type is empty".into(),
                    "e.g. \"application/json\"",
                );
            }
            for (name, value) in &probe.headers {
                if let Some(problem) = probe_header_problem(name, value, probe) {
                    err(
                        "headers",
                        format!("header {name:?}: {problem}"),
                        "headers carry fixed request headers such as \"anthropic-version\"; credentials come from `auth`",
                    );
                }
            }
            match (probe.auth, &probe.auth_header) {
                (ProbeAuth::TokenHeader, None) => err(
                    "auth_header",
                    "auth \"token_header\" needs auth_header".into(),
                    "e.g. \"X-Figma-Token\"",
                ),
                (ProbeAuth::TokenHeader, Some(h))
                    if h.eq_ignore_ascii_case("authorization")
                        || h.is_empty()
                        || h.chars()
                            .any(|c| c.is_control() || c == ':' || c.is_whitespace()) =>
                {
                    err(
                        "auth_header",
                        "not usable as a token header".into(),
                        "name a custom header; for Authorization use auth \"authorization_header\"",
                    )
                }
                (ProbeAuth::TokenHeader, Some(_)) => {}
                (_, Some(_)) => err(
                    "auth_header",
                    "auth_header is only used with auth \"token_header\"".into(),
                    "set \"auth\": \"token_header\" or remove auth_header",
                ),
                (_, None) => {}
            }
        }
        ProbeTransport::Command => {
            if probe.command.is_empty() || probe.command[0].trim().is_empty() {
                err(
                    "command",
                    "a command probe needs an argv".into(),
                    "e.g. [\"claude\", \"auth\", \"status\", \"--json\"]",
                );
            }
            for arg in &probe.command {
                if let Some(m) = token_material(arg) {
                    err(
                        "command",
                        format!("an argument carries token material ({m})"),
                        "commands read credentials from the account's config dir, never from argv",
                    );
                }
            }
        }
    }
    out
}

/// Why a probe's extra header cannot be sent, if it cannot.
fn probe_header_problem(name: &str, value: &str, probe: &ProbeDefinition) -> Option<String> {
    const SET_ELSEWHERE: &[&str] = &[
        "authorization",
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
    ];
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token_char) {
        return Some("not a valid header name".into());
    }
    if SET_ELSEWHERE.iter().any(|h| name.eq_ignore_ascii_case(h))
        || probe
            .auth_header
            .as_deref()
            .is_some_and(|h| name.eq_ignore_ascii_case(h))
    {
        return Some("set by oauth-mux (auth, content_type or the connection)".into());
    }
    // Credential carriers: a definition is shared text, a credential comes from the
    // account's secret (name the header as `auth_header` to send it there).
    const CREDENTIAL_CARRIERS: &[&str] = &[
        "x-api-key",
        "api-key",
        "proxy-authorization",
        "cookie",
        "x-auth-token",
    ];
    if CREDENTIAL_CARRIERS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
    {
        return Some(
            "carries credentials, which come from the account's secret (use auth_header)".into(),
        );
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Some("the value holds control characters".into());
    }
    if let Some(m) = token_material(value) {
        return Some(format!("the value carries token material ({m})"));
    }
    None
}

/// Token-shaped material that must never sit in a probe URL, body, header or argv.
fn token_material(text: &str) -> Option<&'static str> {
    const MARKERS: &[&str] = &[
        "access_token=",
        "refresh_token=",
        "id_token=",
        "client_secret=",
        "api_key=",
        "apikey=",
        "authorization=",
        "authorization:",
        "bearer ",
        "bearer%20",
        "\"access_token\"",
        "\"refresh_token\"",
        "{{access_token}}",
        "{{refresh_token}}",
        "{{api_key}}",
    ];
    let lower = text.to_ascii_lowercase();
    if let Some(m) = MARKERS.iter().find(|m| lower.contains(*m)) {
        return Some(m);
    }
    None
}

/// The first `{{...}}` placeholder that is not `{{[A-Za-z0-9_]+}}`, or an unclosed `{{`.
fn bad_placeholder(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Some(rest[start..].to_owned());
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some(format!("{{{{{name}}}}}"));
        }
        rest = &after[end + 2..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(bad_placeholder("https://x/{{FILE_KEY}}/meta"), None);
        assert_eq!(
            bad_placeholder("https://x/{{FILE KEY}}"),
            Some("{{FILE KEY}}".into())
        );
        assert!(bad_placeholder("https://x/{{OPEN").is_some());
    }

    #[test]
    fn token_material_is_caught() {
        assert!(token_material("https://x/?access_token=abc").is_some());
        assert!(token_material("https://x/?q=1&Authorization=abc").is_some());
        assert!(token_material("{\"refresh_token\": \"x\"}").is_some());
        assert!(token_material("https://api.example.com/me").is_none());
    }
}
