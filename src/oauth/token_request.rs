//! The refresh grant on the wire: the body and headers the provider's own CLI sends (from
//! the definition's `refresh` block), POSTed through the one agent (`crate::http_agent`:
//! rustls, proxy from the environment, no redirects: a redirect must not carry the refresh
//! token elsewhere).

use std::io::Read;
use std::time::Duration;

use crate::config::ProviderDefinition;
use crate::config::provider_def::RefreshBodyFormat;
use crate::model::refresh::RefreshTrigger;
use crate::secrets::Secret;

/// The most of a token response read (64 KiB).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// What the token endpoint answered.
pub struct TokenResponse {
    pub status: u16,
    /// The body (secret: it holds the new tokens).
    pub body: Secret,
}

/// The request could not be sent or its answer not read (no tokens were learned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkProblem(pub String);

/// The request body, with the placeholders filled in.
pub fn body(
    def: &ProviderDefinition,
    refresh_token: &str,
    trigger: RefreshTrigger,
) -> (Secret, &'static str) {
    let refresh = def.refresh.clone().unwrap_or_default();
    let client_id = def.client_id().unwrap_or_default();
    let fill = |value: &serde_json::Value| {
        value
            .as_str()
            .unwrap_or_default()
            .replace("{{refresh_token}}", refresh_token)
            .replace("{{client_id}}", client_id)
            .replace("{{refresh_reason}}", trigger.oauth_reason())
    };
    let mut fields: Vec<(String, String)> = refresh
        .body
        .iter()
        .map(|(k, v)| (k.clone(), fill(v)))
        .collect();
    match refresh.body_format {
        RefreshBodyFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            (
                Secret::new(serde_json::Value::Object(map).to_string()),
                "application/json",
            )
        }
        RefreshBodyFormat::Form => {
            if fields.is_empty() {
                fields.push(("grant_type".into(), "refresh_token".into()));
                fields.push(("refresh_token".into(), refresh_token.to_owned()));
                if !client_id.is_empty() {
                    fields.push(("client_id".into(), client_id.to_owned()));
                }
            }
            let encoded: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
                .collect();
            (
                Secret::new(encoded.join("&")),
                "application/x-www-form-urlencoded",
            )
        }
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POST the refresh grant to `url` and read the answer.
pub fn post(
    def: &ProviderDefinition,
    url: &str,
    refresh_token: &str,
    trigger: RefreshTrigger,
) -> Result<TokenResponse, NetworkProblem> {
    let refresh = def.refresh.clone().unwrap_or_default();
    let (body, content_type) = body(def, refresh_token, trigger);
    let timeout = Duration::from_millis(refresh.timeout_ms.max(1));
    let mut builder = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", content_type)
        .header("accept", "application/json");
    for (name, value) in &refresh.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .body(body.expose().as_bytes().to_vec())
        .map_err(|_| {
            NetworkProblem("the token request could not be built (check the token URL)".into())
        })?;
    let mut response =
        crate::http_agent::run(request, timeout).map_err(|e| NetworkProblem(describe(&e)))?;
    let status = response.status().as_u16();
    let mut buf = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut buf)
        .map_err(|e| NetworkProblem(format!("reading the token response failed ({})", e.kind())))?;
    Ok(TokenResponse {
        status,
        body: Secret::new(String::from_utf8_lossy(&buf).into_owned()),
    })
}

/// A short description of a transport error (ureq's names the host, never the body).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("the token endpoint timed out ({t})"),
        ureq::Error::HostNotFound => "the token endpoint's host was not found".into(),
        ureq::Error::ConnectionFailed => "the token endpoint refused the connection".into(),
        ureq::Error::Io(io) => format!(
            "connection error talking to the token endpoint ({})",
            io.kind()
        ),
        other => format!("the token request failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin;

    #[test]
    fn codex_and_claude_bodies_are_what_the_clis_send() {
        let codex = builtin::definition("codex").unwrap();
        let (b, ct) = body(&codex, "rt-1", RefreshTrigger::AheadOfExpiry);
        assert_eq!(ct, "application/json");
        assert_eq!(
            b.expose(),
            r#"{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"rt-1"}"#
        );
        let claude = builtin::definition("claude").unwrap();
        let (b, _) = body(&claude, "rt-2", RefreshTrigger::Unauthorized);
        assert_eq!(
            b.expose(),
            r#"{"grant_type":"refresh_token","refresh_token":"rt-2","client_id":"9d1c250a-e61b-44d9-88ed-5944d1962f5e","scope":"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"}"#
        );
    }

    #[test]
    fn a_form_body_without_fields_is_rfc_6749() {
        let def: ProviderDefinition = serde_json::from_value(serde_json::json!({
            "name": "x", "auth": {"client_id": "c 1"}, "refresh": {}
        }))
        .unwrap();
        let (b, ct) = body(&def, "r/t+", RefreshTrigger::Keepalive);
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(
            b.expose(),
            "grant_type=refresh_token&refresh_token=r%2Ft%2B&client_id=c%201"
        );
    }
}
