//! `{{NAME}}` placeholders in probe URLs and bodies, expanded from the process
//! environment and validated before any request is built.

use crate::util::env_name::is_env_name;

/// Why a template could not be expanded. The message names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderError {
    /// The environment variable is unset or empty.
    Missing(String),
    /// The value holds characters that could change the URL's structure.
    Unsafe(String),
    /// `{{` without a closing `}}`, or a name that is not an env var name.
    Malformed(String),
}

impl std::fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(name) => write!(
                f,
                "placeholder {{{{{name}}}}} needs the environment variable {name}; export {name}=... and run again"
            ),
            Self::Unsafe(name) => write!(
                f,
                "environment variable {name} holds characters not allowed in a probe URL (only A-Z a-z 0-9 . _ ~ -, or a whole https:// URL when the URL is exactly {{{{{name}}}}})"
            ),
            Self::Malformed(text) => write!(f, "malformed placeholder in {text:?}"),
        }
    }
}

impl std::error::Error for PlaceholderError {}

/// Expand every `{{NAME}}` in a probe URL. Substituted values are limited to
/// unreserved URL characters, except that a URL consisting of exactly one
/// placeholder may be a whole `https://` URL.
pub fn expand_url(
    template: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, PlaceholderError> {
    if let Some(name) = sole_placeholder(template) {
        let value = lookup(name, env)?;
        if is_https_url(&value) || is_url_safe(&value) {
            return Ok(value);
        }
        return Err(PlaceholderError::Unsafe(name.to_owned()));
    }
    expand(template, env, |name, value| {
        if is_url_safe(value) {
            Ok(())
        } else {
            Err(PlaceholderError::Unsafe(name.to_owned()))
        }
    })
}

/// Expand every `{{NAME}}` in a probe body (values are not restricted, but must be set).
pub fn expand_body(
    template: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, PlaceholderError> {
    expand(template, env, |_, _| Ok(()))
}

/// The names of the placeholders in `template`, in order.
pub fn names(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + 2..];
    }
    out
}

fn expand(
    template: &str,
    env: &dyn Fn(&str) -> Option<String>,
    check: impl Fn(&str, &str) -> Result<(), PlaceholderError>,
) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| PlaceholderError::Malformed(template.to_owned()))?;
        let name = &after[..end];
        if !is_env_name(name) {
            return Err(PlaceholderError::Malformed(template.to_owned()));
        }
        let value = lookup(name, env)?;
        check(name, &value)?;
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, PlaceholderError> {
    env(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PlaceholderError::Missing(name.to_owned()))
}

fn sole_placeholder(template: &str) -> Option<&str> {
    let inner = template.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    is_env_name(inner).then_some(inner)
}

fn is_url_safe(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
}

/// An `https://` URL with a host and no whitespace, control characters or fragment.
/// Loopback `http://` URLs are accepted too, so local fakes and gateways work.
fn is_https_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://127.0.0.1"))
        .or_else(|| value.strip_prefix("http://localhost"))
        .or_else(|| value.strip_prefix("http://[::1]"));
    let Some(rest) = rest else { return false };
    let clean = !value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '"' || c == '\\');
    let has_host = value.starts_with("http://") || !rest.is_empty() && !rest.starts_with('/');
    clean && has_host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn expands_safe_segments() {
        let e = env(&[("KEY", "abc-123")]);
        assert_eq!(
            expand_url("https://api.example.com/v1/files/{{KEY}}/meta", &e).unwrap(),
            "https://api.example.com/v1/files/abc-123/meta"
        );
    }

    #[test]
    fn missing_variable_is_named() {
        let e = env(&[]);
        let err = expand_url("https://x.test/{{FILE_KEY}}", &e).unwrap_err();
        assert_eq!(err, PlaceholderError::Missing("FILE_KEY".into()));
        assert!(err.to_string().contains("FILE_KEY"));
    }

    #[test]
    fn unsafe_segment_values_are_refused() {
        let e = env(&[("KEY", "a/../b?x=1")]);
        assert_eq!(
            expand_url("https://x.test/{{KEY}}", &e).unwrap_err(),
            PlaceholderError::Unsafe("KEY".into())
        );
    }

    #[test]
    fn a_whole_url_placeholder_may_hold_an_https_url() {
        let e = env(&[(
            "U",
            "https://mcp.example.com/.well-known/oauth-protected-resource",
        )]);
        assert_eq!(
            expand_url("{{U}}", &e).unwrap(),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
        let e = env(&[("U", "https://x.test/a#frag")]);
        assert!(expand_url("{{U}}", &e).is_err());
        let e = env(&[("U", "ftp://x.test/")]);
        assert!(expand_url("{{U}}", &e).is_err());
        let e = env(&[("U", "http://127.0.0.1:8080/x")]);
        assert!(expand_url("{{U}}", &e).is_ok());
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        let e = env(&[("A", "b")]);
        assert!(matches!(
            expand_url("https://x.test/{{A", &e),
            Err(PlaceholderError::Malformed(_))
        ));
        assert!(matches!(
            expand_url("https://x.test/{{a-b}}", &e),
            Err(PlaceholderError::Malformed(_))
        ));
        assert_eq!(names("{{A}}/x/{{B_2}}"), vec!["A", "B_2"]);
    }
}
