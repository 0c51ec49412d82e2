//! Header handling: the credential swap (the only change the proxy makes to a request) and
//! hop-by-hop fields per RFC 9110 §7.6.1, in both directions.

use std::borrow::Cow;

use super::fields::Fields;
use super::framing::{RequestHead, lists_token};
use super::pool::Credential;

/// A header field as it goes upstream: borrowed from the harness's request, except the
/// credential fields and a rewritten `anthropic-beta`, which are the proxy's own.
pub type UpstreamHeader<'a> = (&'a str, Cow<'a, [u8]>);

/// Fields that describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Fields the upstream client recomputes for the new hop.
const REFRAMED: &[&str] = &["host", "content-length", "expect"];

/// Fields that carry the harness's own credential; replaced by the elected account's.
const CREDENTIAL: &[&str] = &["authorization", "x-api-key", "chatgpt-account-id"];

/// The beta flag Anthropic requires for OAuth bearer tokens.
pub const CLAUDE_OAUTH_BETA: &str = "oauth-2025-04-20";

/// Codex's per-conversation routing token; only valid on the account that issued it.
pub const CODEX_TURN_STATE: &str = "x-codex-turn-state";

fn is_listed(name: &str, list: &[&str]) -> bool {
    list.iter().any(|l| name.eq_ignore_ascii_case(l))
}

/// The headers to send upstream: every client header unchanged except hop-by-hop and
/// framing fields, the credential swapped for `credential`, and `x-codex-turn-state`
/// dropped when the request moves to another account.
pub fn upstream_request_headers<'a>(
    client: &'a RequestHead,
    credential: &Credential,
    drop_turn_state: bool,
) -> Vec<UpstreamHeader<'a>> {
    let mut out: Vec<UpstreamHeader<'a>> = Vec::with_capacity(client.headers().len() + 2);
    let mut betas: Option<Vec<String>> = None;
    for h in client.headers() {
        let name = h.name;
        if is_listed(name, HOP_BY_HOP)
            || is_listed(name, REFRAMED)
            || is_listed(name, CREDENTIAL)
            || client.has_token("connection", name)
            || (drop_turn_state && name.eq_ignore_ascii_case(CODEX_TURN_STATE))
        {
            continue;
        }
        if name.eq_ignore_ascii_case("anthropic-beta") {
            let list = betas.get_or_insert_with(Vec::new);
            list.extend(
                String::from_utf8_lossy(h.value)
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            );
            continue;
        }
        out.push((name, Cow::Borrowed(h.value)));
    }
    match credential {
        Credential::CodexChatgpt {
            access_token,
            account_id,
        } => {
            out.push(("authorization", bearer(access_token)));
            out.push(("chatgpt-account-id", account_id.as_bytes().to_vec().into()));
        }
        Credential::CodexApiKey { api_key } => {
            out.push(("authorization", bearer(api_key)));
        }
        Credential::ClaudeOauth { access_token } => {
            out.push(("authorization", bearer(access_token)));
            let list = betas.get_or_insert_with(Vec::new);
            if !list.iter().any(|b| b == CLAUDE_OAUTH_BETA) {
                list.push(CLAUDE_OAUTH_BETA.to_string());
            }
        }
        Credential::ClaudeApiKey { api_key } => {
            out.push(("x-api-key", api_key.as_bytes().to_vec().into()));
            if let Some(list) = betas.as_mut() {
                list.retain(|b| b != CLAUDE_OAUTH_BETA);
            }
        }
    }
    if let Some(list) = betas.filter(|l| !l.is_empty()) {
        out.push(("anthropic-beta", list.join(",").into_bytes().into()));
    }
    out
}

fn bearer(token: &str) -> Cow<'static, [u8]> {
    let mut v = Vec::with_capacity(7 + token.len());
    v.extend_from_slice(b"Bearer ");
    v.extend_from_slice(token.as_bytes());
    v.into()
}

/// The upstream response headers to show the harness: all but hop-by-hop fields (including
/// those the response's `Connection` lists) and `content-length` (the proxy re-frames).
pub fn downstream_response_headers(upstream: &Fields) -> Vec<(&str, &[u8])> {
    upstream
        .iter()
        .filter(|(name, _)| {
            !is_listed(name, HOP_BY_HOP)
                && *name != "content-length"
                && !upstream.get_all("connection").any(|v| lists_token(v, name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request with these header fields.
    fn request(fields: &[(&str, &str)]) -> RequestHead {
        let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        RequestHead::new("POST", "/", 1, &fields)
    }

    fn get<'a>(out: &'a [UpstreamHeader<'_>], name: &str) -> Vec<&'a str> {
        out.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| std::str::from_utf8(v).unwrap())
            .collect()
    }

    #[test]
    fn codex_chatgpt_swap_keeps_everything_else() {
        let client = request(&[
            ("Host", "127.0.0.1:1"),
            ("Authorization", "Bearer harness-token"),
            ("chatgpt-account-id", "harness-acct"),
            ("originator", "codex_exec"),
            ("Connection", "keep-alive, x-drop-me"),
            ("x-drop-me", "1"),
            ("Content-Length", "5"),
            ("content-encoding", "zstd"),
            ("x-codex-turn-state", "ts"),
        ]);
        let cred = Credential::CodexChatgpt {
            access_token: "tok-A".into(),
            account_id: "acct-A".into(),
        };
        let out = upstream_request_headers(&client, &cred, false);
        assert_eq!(get(&out, "authorization"), ["Bearer tok-A"]);
        assert_eq!(get(&out, "chatgpt-account-id"), ["acct-A"]);
        assert_eq!(get(&out, "originator"), ["codex_exec"]);
        assert_eq!(get(&out, "content-encoding"), ["zstd"]);
        assert_eq!(get(&out, "x-codex-turn-state"), ["ts"]);
        for gone in ["host", "connection", "x-drop-me", "content-length"] {
            assert!(get(&out, gone).is_empty(), "{gone} forwarded");
        }
        let moved = upstream_request_headers(&client, &cred, true);
        assert!(get(&moved, "x-codex-turn-state").is_empty());
    }

    #[test]
    fn claude_oauth_adds_beta_once_and_api_key_removes_it() {
        let client = request(&[
            ("x-api-key", "sk-ant-harness"),
            (
                "anthropic-beta",
                "claude-code-20250219,context-1m-2025-08-07",
            ),
        ]);
        let oauth = Credential::ClaudeOauth {
            access_token: "oat".into(),
        };
        let out = upstream_request_headers(&client, &oauth, false);
        assert_eq!(get(&out, "authorization"), ["Bearer oat"]);
        assert!(get(&out, "x-api-key").is_empty());
        assert_eq!(
            get(&out, "anthropic-beta"),
            ["claude-code-20250219,context-1m-2025-08-07,oauth-2025-04-20"]
        );
        let client2 = request(&[
            ("authorization", "Bearer harness"),
            ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
        ]);
        let out = upstream_request_headers(&client2, &oauth, false);
        assert_eq!(
            get(&out, "anthropic-beta"),
            ["claude-code-20250219,oauth-2025-04-20"]
        );
        let key = Credential::ClaudeApiKey {
            api_key: "sk-ant-k".into(),
        };
        let out = upstream_request_headers(&client2, &key, false);
        assert!(get(&out, "authorization").is_empty());
        assert_eq!(get(&out, "x-api-key"), ["sk-ant-k"]);
        assert_eq!(get(&out, "anthropic-beta"), ["claude-code-20250219"]);
    }

    #[test]
    fn credential_debug_is_redacted() {
        let c = Credential::CodexApiKey {
            api_key: "sk-canary".into(),
        };
        assert!(!format!("{c:?}").contains("canary"));
    }
}
