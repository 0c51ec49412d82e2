//! What the proxy forwards at all: the request target must be one the upstream client can
//! express (RFC 3986 characters only), free of dot and empty segments, and the method and
//! path must be among those the harness uses — the provider definition's
//! `upstream.requests` (data, not code). Anything else is answered locally and never
//! reaches the provider with a credential.

use super::refusals::RefusalReason;
pub use crate::config::provider_def::RequestRules;

/// Why a request is answered locally instead of forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetRefusal {
    /// A character RFC 3986 does not allow in a path or query, a bad percent escape, a
    /// dot segment, an empty segment, or an encoded `/` or `\` in the path → 400.
    BadTarget(&'static str),
    /// A method the harness never uses → 405.
    Method,
    /// A path outside the harness's prefixes → 404.
    Path,
}

impl TargetRefusal {
    pub fn status(self) -> u16 {
        match self {
            TargetRefusal::BadTarget(_) => 400,
            TargetRefusal::Method => 405,
            TargetRefusal::Path => 404,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            TargetRefusal::BadTarget(why) => why,
            TargetRefusal::Method => "this method is not one the harness uses; not forwarded",
            TargetRefusal::Path => "this path is not one the harness uses; not forwarded",
        }
    }

    pub fn reason(self) -> RefusalReason {
        match self {
            TargetRefusal::BadTarget(_) => RefusalReason::BadRequestTarget,
            TargetRefusal::Method => RefusalReason::MethodNotAllowed,
            TargetRefusal::Path => RefusalReason::PathNotAllowed,
        }
    }
}

/// RFC 3986 `pchar` plus `/` and `?`: unreserved, sub-delims, `:` and `@`.
fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b)
}

/// Check a request's method and its path (after the session secret, starting with `/`).
pub fn check(method: &str, path: &str, rules: &RequestRules) -> Result<(), TargetRefusal> {
    check_target(path)?;
    if !rules.methods.iter().any(|m| m == method) {
        return Err(TargetRefusal::Method);
    }
    let path_only = path.split('?').next().unwrap_or(path);
    if !rules
        .path_prefixes
        .iter()
        .any(|prefix| path_only.starts_with(prefix.as_str()))
    {
        return Err(TargetRefusal::Path);
    }
    Ok(())
}

/// The target alone: characters, percent escapes and segments.
pub fn check_target(path: &str) -> Result<(), TargetRefusal> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(TargetRefusal::BadTarget(
            "the request target must be an absolute path",
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
                if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(TargetRefusal::BadTarget(
                        "the request target holds a bad percent escape",
                    ));
                }
                i += 3;
            }
            b if allowed(b) => i += 1,
            _ => {
                return Err(TargetRefusal::BadTarget(
                    "the request target holds a character RFC 3986 does not allow",
                ));
            }
        }
    }
    let path_only = path.split('?').next().unwrap_or(path);
    // One trailing slash is a path of its own (`/backend-api/`); `//` anywhere is not.
    if path_only.contains("//") {
        return Err(TargetRefusal::BadTarget(
            "the request path holds an empty segment (//)",
        ));
    }
    for segment in path_only[1..].split('/') {
        let (mut len, mut dots) = (0, 0);
        for b in decoded(segment.as_bytes()) {
            len += 1;
            match b {
                b'.' => dots += 1,
                b'/' | b'\\' => {
                    return Err(TargetRefusal::BadTarget(
                        "the request path holds an encoded / or \\",
                    ));
                }
                _ => {}
            }
        }
        if len > 0 && len <= 2 && dots == len {
            return Err(TargetRefusal::BadTarget(
                "the request path holds a dot segment (. or ..)",
            ));
        }
    }
    Ok(())
}

/// A segment's bytes with `%XX` escapes of ASCII decoded (others kept escaped). The
/// escapes were checked before: a `%` is always followed by two hex digits.
fn decoded(segment: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *segment.get(i)?;
        if b == b'%'
            && let [hi, lo] = segment.get(i + 1..i + 3).unwrap_or_default()
            && let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo))
            && hi < 8
        {
            i += 3;
            return Some((hi * 16 + lo) as u8);
        }
        i += 1;
        Some(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RequestRules {
        RequestRules {
            methods: vec!["GET".into(), "POST".into()],
            path_prefixes: vec!["/v1/".into(), "/backend-api/".into()],
        }
    }

    #[test]
    fn what_the_harnesses_send_passes() {
        for (method, path) in [
            ("POST", "/v1/messages?beta=true"),
            ("POST", "/backend-api/codex/responses"),
            ("GET", "/backend-api/codex/models?client_version=0.169.0"),
            ("GET", "/backend-api/wham/usage"),
            ("GET", "/backend-api/"),
            ("GET", "/v1/files/file_01%3Aab?x=a/b&y=..%2F"),
            ("GET", "/v1/.../x"),
            ("GET", "/v1/a.%2e/%2e%2e%2e"),
        ] {
            assert_eq!(check(method, path, &rules()), Ok(()), "{method} {path}");
        }
    }

    #[test]
    fn bad_targets_methods_and_paths_are_refused() {
        let bad = |path: &str| {
            matches!(
                check("GET", path, &rules()),
                Err(TargetRefusal::BadTarget(_))
            )
        };
        for path in [
            "/v1/\"x",
            "/v1/<script>",
            "/v1/{x}",
            "/v1/a|b",
            "/v1/a\\b",
            "/v1/a^b",
            "/v1/`x`",
            "/v1/a#frag",
            "/v1/[x]",
            "/v1/%zz",
            "/v1/%4",
            "/v1/caf\u{e9}",
            "/v1/../etc",
            "/v1/./x",
            "/v1/%2e%2E/x",
            "/v1/.%2e/x",
            "/v1/x/..",
            "/v1/x/%2E",
            "/v1//x",
            "//v1/x",
            "/v1/a%2fb",
            "/v1/a%5Cb",
            "v1/x",
            "*",
        ] {
            assert!(bad(path), "{path:?} passed");
        }
        assert_eq!(
            check("TRACE", "/v1/messages", &rules()),
            Err(TargetRefusal::Method)
        );
        assert_eq!(
            check("CONNECT", "/v1/messages", &rules()),
            Err(TargetRefusal::Method)
        );
        assert_eq!(check("get", "/v1/x", &rules()), Err(TargetRefusal::Method));
        assert_eq!(check("GET", "/", &rules()), Err(TargetRefusal::Path));
        assert_eq!(check("GET", "/v2/x", &rules()), Err(TargetRefusal::Path));
        assert_eq!(check("GET", "/v1", &rules()), Err(TargetRefusal::Path));
    }
}
