//! The refresh grant's answer and what it changes (docs/refresh.md): what a token endpoint's
//! reply means, and which fields of the stored credential a grant rewrites (every other key
//! keeps its value and place). Pure: the POST and the file write are in `oauth/`.

use jiff::Timestamp;
use serde_json::Value;

use crate::util::json_path;

/// OAuth error codes that say the refresh token is spent or dead. Codex CLI treats these (and
/// any 401) as permanent; Claude Code does the same with `invalid_grant`.
pub const REJECTION_CODES: [&str; 4] = [
    "invalid_grant",
    "refresh_token_reused",
    "refresh_token_expired",
    "refresh_token_invalidated",
];

/// New tokens from a token endpoint. The strings are secrets: the shell registers them for
/// redaction as soon as they are parsed.
#[derive(Clone, PartialEq)]
pub struct Grant {
    pub access_token: String,
    /// Absent: the old refresh token stays valid (Claude keeps it; Codex keeps what it has).
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// Lifetime in seconds, when the endpoint says.
    pub expires_in: Option<f64>,
    /// Space-separated scopes, when the endpoint says.
    pub scope: Option<String>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grant(<redacted>)")
    }
}

/// What a token endpoint's answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantAnswer {
    Granted(Grant),
    /// The refresh token is spent, expired or revoked: nothing but a new login helps (unless
    /// another process refreshed first; see `model::refresh::after_rejection`).
    Rejected {
        error: String,
    },
    /// Anything else (5xx, 429, an unreadable body): nothing changed; try again later.
    Transient {
        error: Option<String>,
    },
}

/// Judge a token endpoint's answer (`status`, `body`).
pub fn judge_answer(status: u16, body: &str) -> GrantAnswer {
    let json: Option<Value> = serde_json::from_str(body.trim()).ok();
    let error = json.as_ref().and_then(error_code);
    if (200..300).contains(&status) {
        return match json.as_ref().and_then(parse_grant) {
            Some(grant) => GrantAnswer::Granted(grant),
            None => GrantAnswer::Transient {
                error: Some(error.unwrap_or_else(|| "unreadable_token_response".to_owned())),
            },
        };
    }
    let permanent = status == 401
        || error
            .as_deref()
            .is_some_and(|e| REJECTION_CODES.contains(&e));
    if permanent && (400..500).contains(&status) {
        GrantAnswer::Rejected {
            error: error.unwrap_or_else(|| "unauthorized".to_owned()),
        }
    } else {
        GrantAnswer::Transient {
            error: error.or_else(|| Some(format!("http_{status}"))),
        }
    }
}

/// The OAuth error code of an error body: `{"error": "invalid_grant"}` (RFC 6749) or
/// `{"error": {"code": "refresh_token_reused", …}}` (OpenAI). Only identifier-like codes are
/// kept (a provider's free text never reaches events).
pub fn error_code(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let code = match error {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o
            .get("code")
            .and_then(Value::as_str)
            .or_else(|| o.get("type").and_then(Value::as_str))?,
        _ => return None,
    };
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    ok.then(|| code.to_owned())
}

fn parse_grant(body: &Value) -> Option<Grant> {
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Some(Grant {
        access_token: text("access_token")?,
        refresh_token: text("refresh_token"),
        id_token: text("id_token"),
        expires_in: body
            .get("expires_in")
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()))
            .filter(|s| s.is_finite() && *s > 0.0),
        scope: text("scope"),
    })
}

/// Where a grant's expiry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpirySource {
    /// The new access token is a JWT; its `exp` is the expiry (Codex; `expires_in` ignored).
    AccessTokenJwt,
    /// `now + expires_in` (Claude).
    ExpiresIn,
}

/// The expiry of a grant received at `now`.
pub fn grant_expiry(grant: &Grant, source: ExpirySource, now: Timestamp) -> Option<Timestamp> {
    match source {
        ExpirySource::AccessTokenJwt => crate::util::jwt::exp(&grant.access_token),
        ExpirySource::ExpiresIn => grant
            .expires_in
            .and_then(|s| jiff::SignedDuration::try_from_secs_f64(s).ok())
            .and_then(|d| now.checked_add(d).ok()),
    }
}

/// Where a grant's fields go in the stored credential (dot paths below `wrapper_key`, as the
/// provider definition's `credential` and `refresh` blocks say).
#[derive(Debug, Clone, Copy)]
pub struct WritebackFields<'a> {
    pub wrapper_key: Option<&'a str>,
    pub access_token: &'a str,
    pub refresh_token: &'a str,
    pub id_token: Option<&'a str>,
    /// The absolute expiry, in milliseconds when `expires_at_ms`, else seconds.
    pub expires_at: Option<&'a str>,
    pub expires_at_ms: bool,
    /// The granted scopes as a JSON array of strings.
    pub scopes: Option<&'a str>,
    /// The refresh time as RFC 3339 (Codex's `last_refresh`).
    pub refreshed_at: Option<&'a str>,
}

/// The stored credential `doc` with the grant's fields written in: the access token; the
/// refresh token, id token and scopes when the grant has them; the expiry and refresh time
/// when the definition names them. Nothing else changes. `Err` names a path that cannot be
/// written (an existing value that is not an object on the way).
pub fn apply_grant(
    doc: &Value,
    fields: &WritebackFields<'_>,
    grant: &Grant,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<Value, String> {
    let mut out = doc.clone();
    let prefix = |path: &str| match fields.wrapper_key {
        Some(w) => format!("{w}.{path}"),
        None => path.to_owned(),
    };
    let mut set = |path: &str, value: Value| json_path::set(&mut out, &prefix(path), value);
    set(
        fields.access_token,
        Value::String(grant.access_token.clone()),
    )?;
    if let Some(rt) = &grant.refresh_token {
        set(fields.refresh_token, Value::String(rt.clone()))?;
    }
    if let (Some(path), Some(id)) = (fields.id_token, &grant.id_token) {
        set(path, Value::String(id.clone()))?;
    }
    if let (Some(path), Some(at)) = (fields.expires_at, expires_at) {
        let n = if fields.expires_at_ms {
            at.as_millisecond()
        } else {
            at.as_second()
        };
        set(path, Value::from(n))?;
    }
    if let (Some(path), Some(scope)) = (fields.scopes, &grant.scope) {
        let list: Vec<Value> = scope
            .split_whitespace()
            .map(|s| Value::String(s.to_owned()))
            .collect();
        set(path, Value::Array(list))?;
    }
    if let Some(path) = fields.refreshed_at {
        set(path, Value::String(now.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "grant_tests.rs"]
mod tests;
