//! Where a managed session's proxy sends model traffic: the provider's public origin by
//! default, or a gateway, regional endpoint, mirror or test server the user names.
//!
//! Precedence, most specific first: the account's `upstream` in config, the environment
//! (`OMUX_CODEX_UPSTREAM` / `OMUX_CLAUDE_UPSTREAM`), the provider's `upstream` in config,
//! the built-in default. Values are origins (`scheme://host[:port]`); a trailing `/` is
//! dropped. The request path the harness used is appended unchanged.

use anyhow::bail;

use super::status::HarnessKind;

/// Environment variable naming the Codex upstream origin.
pub const CODEX_UPSTREAM_ENV: &str = "OMUX_CODEX_UPSTREAM";
/// Environment variable naming the Claude upstream origin.
pub const CLAUDE_UPSTREAM_ENV: &str = "OMUX_CLAUDE_UPSTREAM";
/// Environment variable naming an extra PEM CA bundle trusted for upstream TLS.
pub const EXTRA_CA_ENV: &str = "OMUX_EXTRA_CA_FILE";

/// The environment variable for a harness's upstream.
pub fn env_var(harness: HarnessKind) -> &'static str {
    match harness {
        HarnessKind::Codex => CODEX_UPSTREAM_ENV,
        HarnessKind::Claude => CLAUDE_UPSTREAM_ENV,
    }
}

/// The built-in origin: ChatGPT's backend for Codex subscriptions, the OpenAI API for
/// Codex API keys, the Anthropic API for Claude.
pub fn default_origin(harness: HarnessKind, api_key: bool) -> &'static str {
    match (harness, api_key) {
        (HarnessKind::Codex, false) => "https://chatgpt.com",
        (HarnessKind::Codex, true) => "https://api.openai.com",
        (HarnessKind::Claude, _) => "https://api.anthropic.com",
    }
}

/// Pick the upstream origin by precedence and validate it.
pub fn resolve(
    harness: HarnessKind,
    api_key: bool,
    account: Option<&str>,
    env: Option<&str>,
    provider: Option<&str>,
) -> anyhow::Result<String> {
    let (source, raw) = [
        ("the account's `upstream` in config", account),
        (env_var(harness), env),
        ("the provider's `upstream` in config", provider),
    ]
    .into_iter()
    .find_map(|(source, v)| v.filter(|v| !v.trim().is_empty()).map(|v| (source, v)))
    .unwrap_or(("built-in default", default_origin(harness, api_key)));
    validate_origin(raw).map_err(|why| anyhow::anyhow!("{source}: {why}"))
}

/// Accept `http://` or `https://` origins without credentials, query or fragment.
pub fn validate_origin(raw: &str) -> anyhow::Result<String> {
    let value = raw.trim().trim_end_matches('/');
    let Some((scheme, rest)) = value.split_once("://") else {
        bail!("upstream must start with https:// or http:// (got a value without a scheme)");
    };
    if scheme != "https" && scheme != "http" {
        bail!("upstream scheme must be https or http, not {scheme}");
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        bail!("upstream has no host");
    }
    if host.contains('@') {
        bail!("upstream must not carry credentials (user:password@); use the account's secret");
    }
    if value.contains('?') || value.contains('#') {
        bail!("upstream must not carry a query or fragment");
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_account_env_provider_default() {
        let r = |a, e, p| resolve(HarnessKind::Codex, false, a, e, p).unwrap();
        assert_eq!(r(None, None, None), "https://chatgpt.com");
        assert_eq!(
            r(None, None, Some("https://p.example")),
            "https://p.example"
        );
        assert_eq!(
            r(None, Some("http://127.0.0.1:9/"), Some("https://p.example")),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            r(Some("https://a.example"), Some("http://127.0.0.1:9"), None),
            "https://a.example"
        );
        assert_eq!(r(None, Some("  "), None), "https://chatgpt.com");
        assert_eq!(
            resolve(HarnessKind::Codex, true, None, None, None).unwrap(),
            "https://api.openai.com"
        );
        assert_eq!(
            resolve(HarnessKind::Claude, false, None, None, None).unwrap(),
            "https://api.anthropic.com"
        );
    }

    #[test]
    fn bad_origins_name_their_source() {
        let err = resolve(HarnessKind::Claude, false, None, Some("ftp://x"), None).unwrap_err();
        assert!(err.to_string().contains("OMUX_CLAUDE_UPSTREAM"), "{err}");
        assert!(validate_origin("https://u:p@x").is_err());
        assert!(validate_origin("x.example").is_err());
        assert!(validate_origin("https://x/?a=1").is_err());
        assert_eq!(
            validate_origin("https://gw.example/openai/").unwrap(),
            "https://gw.example/openai"
        );
    }
}
