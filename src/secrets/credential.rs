//! Turning the text a backend returned into a [`Credential`], as the provider
//! definition's `credential` block describes (SPEC §4, reference §3.5).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::util::json_path;

use super::error::SecretErrorKind as Kind;
use super::{Secret, SecretError, redact};

/// How a token is presented to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An OAuth access token (`Authorization: Bearer`), possibly with a refresh token.
    Bearer,
    /// A static API key or personal access token.
    ApiKey,
}

/// The name the provider definition's `credential.token_type` field uses.
pub type TokenType = TokenKind;

/// The unit of the number at `expires_at_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiresAtUnit {
    Seconds,
    Milliseconds,
}

/// A provider definition's `credential` block: where the pieces are in the JSON a
/// secret backend returns. Every field is optional in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialFormat {
    /// Dot path of the access token (default `access_token`).
    pub access_token_path: String,
    /// Dot path of the refresh token (default `refresh_token`).
    pub refresh_token_path: String,
    /// Dot path of an absolute expiry (Unix seconds or milliseconds, or RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_path: Option<String>,
    /// Dot path of a lifetime in seconds, counted from the moment of parsing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_path: Option<String>,
    /// Dot path of a JWT whose `exp` claim is the expiry (signature not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_from_jwt_path: Option<String>,
    /// Dot path of the account id; only its hash leaves this module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_claim_path: Option<String>,
    /// Dot path of an API key; when it holds a string, the credential is that key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_path: Option<String>,
    /// Key (or dot path) of an object wrapping the credential, e.g. `claudeAiOauth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapper_key: Option<String>,
    /// Forces the token kind (`api_key` makes any token an API key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
    /// Unit of `expires_at`; when absent, values ≥ 1e12 are milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_unit: Option<ExpiresAtUnit>,
    /// Prefixes of a raw (non-JSON) token that make it an OAuth bearer token rather than an
    /// API key, e.g. Claude's `sk-ant-oat` (a `claude setup-token` token stored as is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bearer_prefixes: Vec<String>,
}

impl Default for CredentialFormat {
    fn default() -> Self {
        CredentialFormat {
            access_token_path: "access_token".to_string(),
            refresh_token_path: "refresh_token".to_string(),
            expires_at_path: None,
            expires_in_path: None,
            expires_from_jwt_path: None,
            identity_claim_path: None,
            api_key_path: None,
            wrapper_key: None,
            token_type: None,
            expires_at_unit: None,
            bearer_prefixes: Vec::new(),
        }
    }
}

pub use crate::model::refresh::EXPIRY_SKEW;

/// A parsed credential. Token fields are [`Secret`]s (registered for redaction);
/// `identity` is a hash, never the raw account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<Timestamp>,
    pub kind: TokenKind,
    /// First 12 hex digits of sha256 of the value at `identity_claim_path`.
    pub identity: Option<String>,
}

impl Credential {
    /// Whether the token is expired at `now`, counting [`EXPIRY_SKEW`] early.
    /// A credential without an expiry never expires by the clock.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        crate::model::refresh::is_expired(self.expires_at, now)
    }
}

fn parse_error(field: &str, problem: &str, fix: &str) -> SecretError {
    SecretError::new(
        Kind::Parse,
        None,
        format!("credential {problem} (provider definition credential.{field}); {fix}"),
    )
}

/// Parse what a backend returned. Non-JSON text (not starting with `{`) is an API
/// key; JSON follows `format` (see [`CredentialFormat`]). Every token found is
/// registered for redaction.
pub fn parse_credential(
    raw: &Secret,
    format: &CredentialFormat,
    now: Timestamp,
) -> Result<Credential, SecretError> {
    let trimmed = raw.expose().trim();
    if trimmed.is_empty() {
        return Err(SecretError::new(
            Kind::NotFound,
            None,
            "credential is empty; store the token (JSON or raw) in the account's secret",
        ));
    }
    let forced_kind = format.token_type;
    if !trimmed.starts_with('{') {
        let bearer = format
            .bearer_prefixes
            .iter()
            .any(|p| !p.is_empty() && trimmed.starts_with(p.as_str()));
        return Ok(Credential {
            access_token: Secret::new(trimmed.to_string()),
            refresh_token: None,
            expires_at: None,
            kind: forced_kind.unwrap_or(if bearer {
                TokenKind::Bearer
            } else {
                TokenKind::ApiKey
            }),
            identity: None,
        });
    }
    let root: Value = serde_json::from_str(trimmed).map_err(|e| {
        // Only the position: serde's message could quote part of the input.
        SecretError::new(
            Kind::Parse,
            None,
            format!(
                "credential starts with `{{` but is not valid JSON (line {}, column {}); fix the stored credential or log in again",
                e.line(),
                e.column()
            ),
        )
    })?;
    let doc = match format.wrapper_key.as_deref() {
        Some(key) => root
            .get(key)
            .or_else(|| json_path::get(&root, key))
            .filter(|v| v.is_object())
            .unwrap_or(&root),
        None => &root,
    };
    let identity = identity_hash(doc, format);

    if let Some(Value::String(key)) = format
        .api_key_path
        .as_deref()
        .and_then(|p| json_path::get(doc, p))
        && !key.trim().is_empty()
    {
        return Ok(Credential {
            access_token: Secret::new(key.trim().to_string()),
            refresh_token: None,
            expires_at: None,
            kind: TokenKind::ApiKey,
            identity,
        });
    }

    let access = match json_path::get(doc, &format.access_token_path) {
        None => {
            return Ok(Credential {
                access_token: Secret::new(trimmed.to_string()),
                refresh_token: None,
                expires_at: None,
                kind: forced_kind.unwrap_or(TokenKind::ApiKey),
                identity,
            });
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Secret::new(s.trim().to_string()),
        Some(_) => {
            return Err(parse_error(
                "access_token_path",
                "has a non-string or empty value at the access token path",
                "log in again, or fix access_token_path in the provider definition",
            ));
        }
    };
    let refresh_token = match json_path::get(doc, &format.refresh_token_path) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(Secret::new(s.trim().to_string())),
        _ => None,
    };
    Ok(Credential {
        access_token: access,
        refresh_token,
        expires_at: expiry(doc, format, now)?,
        kind: forced_kind.unwrap_or(TokenKind::Bearer),
        identity,
    })
}

/// sha256 of the identity claim, first 12 hex digits; the raw id is registered so
/// it is scrubbed if it ever reaches output.
fn identity_hash(doc: &Value, format: &CredentialFormat) -> Option<String> {
    let value = json_path::get(doc, format.identity_claim_path.as_deref()?)?;
    let raw = match value {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    redact::register(&raw);
    Some(crate::util::fingerprint::short_hash(&raw))
}

/// A number, or a string holding one.
fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn expiry(
    doc: &Value,
    format: &CredentialFormat,
    now: Timestamp,
) -> Result<Option<Timestamp>, SecretError> {
    if let Some(value) = format
        .expires_at_path
        .as_deref()
        .and_then(|p| json_path::get(doc, p))
        && !value.is_null()
    {
        return expires_at(value, format.expires_at_unit).map(Some);
    }
    if let Some(value) = format
        .expires_in_path
        .as_deref()
        .and_then(|p| json_path::get(doc, p))
        && !value.is_null()
    {
        let bad = || {
            parse_error(
                "expires_in_path",
                "has an expires_in that is not a number of seconds",
                "fix expires_in_path in the provider definition",
            )
        };
        let secs = as_f64(value).filter(|s| s.is_finite()).ok_or_else(bad)?;
        let at = SignedDuration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .ok_or_else(bad)?;
        return Ok(Some(at));
    }
    if let Some(path) = format.expires_from_jwt_path.as_deref()
        && let Some(value) = json_path::get(doc, path)
    {
        let exp = value.as_str().and_then(jwt_exp).ok_or_else(|| {
            parse_error(
                "expires_from_jwt_path",
                "has no JWT with a numeric `exp` claim at the JWT expiry path",
                "log in again, or fix expires_from_jwt_path in the provider definition",
            )
        })?;
        return Ok(Some(exp));
    }
    Ok(None)
}

fn expires_at(value: &Value, unit: Option<ExpiresAtUnit>) -> Result<Timestamp, SecretError> {
    let bad = || {
        parse_error(
            "expires_at_path",
            "has an expires_at that is not a Unix time (seconds or milliseconds) or RFC 3339 timestamp",
            "fix expires_at_path or expires_at_unit in the provider definition",
        )
    };
    if let Value::String(s) = value
        && let Ok(ts) = s.trim().parse::<Timestamp>()
    {
        return Ok(ts);
    }
    let number = as_f64(value).filter(|n| n.is_finite()).ok_or_else(bad)?;
    let unit = unit.unwrap_or(if number.abs() >= 1e12 {
        ExpiresAtUnit::Milliseconds
    } else {
        ExpiresAtUnit::Seconds
    });
    let millis = match unit {
        ExpiresAtUnit::Seconds => number * 1000.0,
        ExpiresAtUnit::Milliseconds => number,
    };
    if !(-9e15..9e15).contains(&millis) {
        return Err(bad());
    }
    Timestamp::from_millisecond(millis.round() as i64).map_err(|_| bad())
}

/// The `exp` claim of a JWT, without checking its signature (we only schedule
/// refreshes with it; the provider is the judge of validity).
pub fn jwt_exp(token: &str) -> Option<Timestamp> {
    crate::util::jwt::exp(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_skew_is_thirty_seconds() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let cred = Credential {
            access_token: Secret::new("unit-cred-canary-0001".into()),
            refresh_token: None,
            expires_at: Some(at),
            kind: TokenKind::Bearer,
            identity: None,
        };
        let before = |s: i64| at.checked_sub(SignedDuration::from_secs(s)).unwrap();
        assert!(!cred.is_expired(before(31)));
        assert!(cred.is_expired(before(30)));
        assert!(cred.is_expired(at));
    }
}
