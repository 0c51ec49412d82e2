//! Where a managed session's proxy sends model traffic: the provider's public origin by
//! default, or a gateway, regional endpoint, mirror or test server the user names.
//!
//! Precedence, most specific first: the account's `upstream` in config, the environment
//! variable the provider definition names in `upstream.base_url_env` (built-ins:
//! `OMUX_CODEX_UPSTREAM`, `OMUX_CLAUDE_UPSTREAM`), the provider's `upstream` in config, the
//! definition's `upstream.base_url` (`api_key_base_url` for API-key accounts when set).
//! Values are origins (`scheme://host[:port]`, optionally a path prefix); a trailing `/` is
//! dropped and the harness's request path is appended unchanged.

use anyhow::bail;

use crate::config::provider_def::Upstream;

/// Environment variable naming an extra PEM CA bundle trusted for upstream TLS.
pub const EXTRA_CA_ENV: &str = "OMUX_EXTRA_CA_FILE";

/// The candidate values, each optional except the definition's default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sources<'a> {
    /// `providers.<p>.accounts.<a>.upstream`.
    pub account: Option<&'a str>,
    /// (variable name, value) of the definition's `base_url_env`, when set.
    pub env: Option<(&'a str, &'a str)>,
    /// `providers.<p>.upstream`.
    pub provider: Option<&'a str>,
}

/// The definition's default origin for an account.
pub fn definition_default(upstream: &Upstream, api_key: bool) -> &str {
    match (&upstream.api_key_base_url, api_key) {
        (Some(url), true) => url,
        _ => &upstream.base_url,
    }
}

/// Pick the upstream origin by precedence and validate it; errors name the source.
pub fn resolve(sources: Sources<'_>, default: &str) -> anyhow::Result<String> {
    let env_label = sources.env.map(|(name, _)| name).unwrap_or("environment");
    let (source, raw) = [
        (
            "the account's `upstream` in config".to_string(),
            sources.account,
        ),
        (env_label.to_string(), sources.env.map(|(_, v)| v)),
        (
            "the provider's `upstream` in config".to_string(),
            sources.provider,
        ),
    ]
    .into_iter()
    .find_map(|(source, v)| v.filter(|v| !v.trim().is_empty()).map(|v| (source, v)))
    .unwrap_or((
        "the provider definition's upstream.base_url".into(),
        default,
    ));
    validate_origin(raw).map_err(|why| anyhow::anyhow!("{source}: {why}"))
}

/// A probe URL sent where the route's model traffic goes: when `url` starts with the
/// definition's default origin (`base_url` or `api_key_base_url`) and an account, environment
/// or provider override names another upstream, that origin is replaced by it. So a probe
/// (and `live-qa`) checks the gateway, mirror or test server a managed session would use.
pub fn probe_url(url: &str, upstream: &Upstream, sources: Sources<'_>) -> anyhow::Result<String> {
    for base in std::iter::once(&upstream.base_url).chain(&upstream.api_key_base_url) {
        let base = base.trim_end_matches('/');
        if let Some(rest) = url.strip_prefix(base)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return Ok(format!("{}{rest}", resolve(sources, base)?));
        }
    }
    Ok(url.to_owned())
}

/// Accept `http://` or `https://` URLs without credentials, query or fragment.
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

    const DEF: &str = "https://chatgpt.com";

    #[test]
    fn precedence_is_account_env_provider_default() {
        let r = |account: Option<&str>, env: Option<&str>, provider: Option<&str>| {
            resolve(
                Sources {
                    account,
                    env: env.map(|v| ("OMUX_CODEX_UPSTREAM", v)),
                    provider,
                },
                DEF,
            )
            .unwrap()
        };
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
    }

    #[test]
    fn api_key_accounts_use_the_api_key_origin() {
        let up = Upstream {
            harness: "codex".into(),
            base_url: "https://chatgpt.com".into(),
            api_key_base_url: Some("https://api.openai.com".into()),
            base_url_env: Some("OMUX_CODEX_UPSTREAM".into()),
            requests: None,
        };
        assert_eq!(definition_default(&up, true), "https://api.openai.com");
        assert_eq!(definition_default(&up, false), "https://chatgpt.com");
    }

    #[test]
    fn probe_urls_follow_the_upstream_override() {
        let up = Upstream {
            harness: "claude".into(),
            base_url: "https://api.anthropic.com".into(),
            api_key_base_url: None,
            base_url_env: Some("OMUX_CLAUDE_UPSTREAM".into()),
            requests: None,
        };
        let url = "https://api.anthropic.com/v1/messages";
        assert_eq!(probe_url(url, &up, Sources::default()).unwrap(), url);
        let env = Sources {
            env: Some(("OMUX_CLAUDE_UPSTREAM", "http://127.0.0.1:9/")),
            ..Sources::default()
        };
        assert_eq!(
            probe_url(url, &up, env).unwrap(),
            "http://127.0.0.1:9/v1/messages"
        );
        assert_eq!(
            probe_url("https://api.anthropic.company/x", &up, env).unwrap(),
            "https://api.anthropic.company/x",
            "only the origin itself is replaced"
        );
        assert_eq!(
            probe_url("https://other.example/v1", &up, env).unwrap(),
            "https://other.example/v1"
        );
    }

    #[test]
    fn bad_origins_name_their_source() {
        let err = resolve(
            Sources {
                env: Some(("OMUX_CLAUDE_UPSTREAM", "ftp://x")),
                ..Sources::default()
            },
            DEF,
        )
        .unwrap_err();
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
