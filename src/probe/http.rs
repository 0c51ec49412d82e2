//! HTTP probes through the one shared `ureq` agent (`crate::http_agent`: rustls, pooled,
//! proxy from the environment, HTTP statuses returned rather than raised, no redirects).

use std::io::Read;
use std::time::Duration;

use crate::config::provider_def::{BodyValidation, ProbeAuth, ProbeDefinition};
use crate::secrets::Secret;

use super::placeholder::{self, PlaceholderError};

/// The most of a response body a probe keeps (64 KiB).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// What came back from one HTTP probe.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The first [`MAX_BODY_BYTES`] of the body, lossy UTF-8.
    pub body: String,
}

/// Why an HTTP probe did not produce a response.
#[derive(Debug)]
pub enum HttpProbeError {
    /// A placeholder could not be expanded; no request was sent.
    Placeholder(PlaceholderError),
    /// The definition has no URL, or the expanded URL is unusable; no request was sent.
    BadRequest(String),
    /// Connect, TLS, timeout or read failure (exit 204).
    Network(String),
}

impl std::fmt::Display for HttpProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Placeholder(e) => e.fmt(f),
            Self::BadRequest(m) | Self::Network(m) => f.write_str(m),
        }
    }
}

/// The request a probe will send, fully expanded and validated.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub method: String,
    pub url: String,
    pub body: Option<String>,
}

/// Expand and validate the URL and body. Nothing is sent when this fails.
pub fn prepare(
    def: &ProbeDefinition,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PreparedRequest, HttpProbeError> {
    let template = def
        .url
        .as_deref()
        .ok_or_else(|| HttpProbeError::BadRequest("the probe has no url".into()))?;
    let url = placeholder::expand_url(template, env).map_err(HttpProbeError::Placeholder)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(HttpProbeError::BadRequest(
            "the probe url is not an http(s) URL after expansion".into(),
        ));
    }
    let body = match &def.body {
        Some(b) => Some(placeholder::expand_body(b, env).map_err(HttpProbeError::Placeholder)?),
        None => None,
    };
    Ok(PreparedRequest {
        method: def.method.to_ascii_uppercase(),
        url,
        body,
    })
}

/// Send one probe request with the account's token as the definition's `auth` says.
pub fn send(
    def: &ProbeDefinition,
    request: &PreparedRequest,
    token: Option<&Secret>,
) -> Result<HttpResponse, HttpProbeError> {
    let timeout = Duration::from_millis(def.timeout_ms.max(1));
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    if !def.headers.keys().any(|k| k.eq_ignore_ascii_case("accept")) {
        builder = builder.header("Accept", "application/json");
    }
    for (name, value) in &def.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(token) = token {
        builder = match def.auth {
            ProbeAuth::Bearer => {
                builder.header("Authorization", format!("Bearer {}", token.expose()))
            }
            ProbeAuth::AuthorizationHeader => builder.header("Authorization", token.expose()),
            ProbeAuth::TokenHeader => builder.header(
                def.auth_header.as_deref().unwrap_or("X-Auth-Token"),
                token.expose(),
            ),
            ProbeAuth::None => builder,
        };
    }
    let result = match &request.body {
        Some(body) => {
            builder = builder.header(
                "Content-Type",
                def.content_type.as_deref().unwrap_or("application/json"),
            );
            run(builder.body(body.clone().into_bytes()), timeout)
        }
        None => run(builder.body(()), timeout),
    };
    let mut response = result?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut buf = Vec::new();
    if request.method != "HEAD" {
        response
            .body_mut()
            .as_reader()
            .take(MAX_BODY_BYTES)
            .read_to_end(&mut buf)
            .map_err(|e| HttpProbeError::Network(format!("reading the response failed: {e}")))?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&buf).into_owned(),
    })
}

fn run<S: ureq::AsSendBody>(
    built: Result<ureq::http::Request<S>, ureq::http::Error>,
    timeout: Duration,
) -> Result<ureq::http::Response<ureq::Body>, HttpProbeError> {
    let request = built.map_err(|_| {
        HttpProbeError::BadRequest(
            "the probe request could not be built (check the url, method and auth_header)".into(),
        )
    })?;
    crate::http_agent::run(request, timeout)
        .map_err(|e| HttpProbeError::Network(describe_error(&e)))
}

/// A short description of a transport error. ureq's messages name the host and
/// the failure, never request headers.
pub(crate) fn describe_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(io) => format!("connection error: {}", io.kind()),
        other => format!("request failed: {other}"),
    }
}

/// The text failure rules match: the named header, else the body when
/// `hint_body` is set or no header is named.
pub fn hint(def: &ProbeDefinition, response: &HttpResponse) -> Option<String> {
    match &def.hint_header {
        Some(h) => Some(
            crate::model::classify::header_value(&response.headers, h)
                .unwrap_or("")
                .to_owned(),
        ),
        None => Some(response.body.clone()),
    }
}

/// Check a successful body as the definition's `validate_body` asks. `Err` names
/// what is wrong; the caller records `schema_invalid`.
pub fn validate_body(kind: BodyValidation, body: &str) -> Result<(), String> {
    match kind {
        BodyValidation::ProtectedResourceMetadata => protected_resource_metadata(body),
    }
}

/// RFC 9728: a JSON object whose `resource` is an https URL without fragment and
/// whose `authorization_servers` is a non-empty array of such URLs.
fn protected_resource_metadata(body: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(body.trim()).map_err(|_| "the body is not JSON".to_owned())?;
    let obj = value
        .as_object()
        .ok_or_else(|| "the body is not a JSON object".to_owned())?;
    let is_https = |v: &serde_json::Value| {
        v.as_str().is_some_and(|s| {
            s.strip_prefix("https://")
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
                && !s.contains('#')
                && !s.chars().any(char::is_whitespace)
        })
    };
    match obj.get("resource") {
        Some(r) if is_https(r) => {}
        Some(_) => return Err("`resource` is not an https URL without a fragment".into()),
        None => return Err("`resource` is missing".into()),
    }
    match obj.get("authorization_servers").and_then(|v| v.as_array()) {
        Some(servers) if !servers.is_empty() && servers.iter().all(is_https) => Ok(()),
        Some(servers) if servers.is_empty() => Err("`authorization_servers` is empty".into()),
        Some(_) => Err("`authorization_servers` holds a value that is not an https URL".into()),
        None => Err("`authorization_servers` is missing or not an array".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_resource_metadata_rules() {
        let ok = r#"{"resource":"https://mcp.example.com","authorization_servers":["https://auth.example.com"]}"#;
        assert!(protected_resource_metadata(ok).is_ok());
        for bad in [
            "not json",
            "[]",
            r#"{"authorization_servers":["https://a.example"]}"#,
            r#"{"resource":"http://mcp.example.com","authorization_servers":["https://a.example"]}"#,
            r#"{"resource":"https://mcp.example.com#x","authorization_servers":["https://a.example"]}"#,
            r#"{"resource":"https://mcp.example.com","authorization_servers":[]}"#,
            r#"{"resource":"https://mcp.example.com","authorization_servers":["http://a.example"]}"#,
            r#"{"resource":"https://mcp.example.com"}"#,
        ] {
            assert!(protected_resource_metadata(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prepare_refuses_missing_placeholder_before_sending() {
        let def = ProbeDefinition {
            url: Some("https://api.example.com/files/{{OMUX_NOPE}}/meta".into()),
            ..Default::default()
        };
        let err = prepare(&def, &|_| None).unwrap_err();
        assert!(
            matches!(err, HttpProbeError::Placeholder(PlaceholderError::Missing(ref n)) if n == "OMUX_NOPE")
        );
    }
}
