//! The fake provider's OAuth token endpoint (`POST …/oauth/token`), with the real rotation
//! rules (reference: token-refresh.md): each refresh token is valid once; using it again is
//! answered as the provider does (`refresh_token_reused` for ChatGPT, `invalid_grant` for
//! Anthropic); every use is counted. An access token it issues is then answered on the
//! model paths like the account it belongs to, until it expires.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::Behaviour;
use crate::util::base64url;

/// How a provider shapes its tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStyle {
    /// ChatGPT (Codex): access and id tokens are JWTs (expiry in `exp`); reuse is a 401
    /// `refresh_token_reused`.
    Codex,
    /// Anthropic (Claude Code): opaque `sk-ant-oat01-…` access tokens with `expires_in`;
    /// reuse is a 400 `invalid_grant`.
    Claude,
}

/// One account's chain of tokens, starting from the refresh token it holds now.
#[derive(Clone, Debug)]
pub struct TokenLineage {
    /// The refresh token the account holds now (valid once).
    pub refresh_token: String,
    pub style: TokenStyle,
    /// How model requests carrying an access token of this lineage are answered.
    pub behaviour: Behaviour,
    /// The lifetime of the access tokens it issues.
    pub lifetime: Duration,
    /// Codex: the ChatGPT account id put into the id token's claims.
    pub account_id: Option<String>,
}

impl TokenLineage {
    pub fn new(refresh_token: impl Into<String>, style: TokenStyle, behaviour: Behaviour) -> Self {
        TokenLineage {
            refresh_token: refresh_token.into(),
            style,
            behaviour,
            lifetime: Duration::from_secs(8 * 3600),
            account_id: None,
        }
    }

    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = Some(id.into());
        self
    }
}

/// What one token request came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// A valid refresh token: new tokens issued.
    Granted,
    /// A refresh token that was already used.
    Reused,
    /// A refresh token the endpoint never issued.
    Unknown,
    /// No refresh token in the body.
    Malformed,
}

struct Chain {
    lineage: TokenLineage,
    /// Refresh tokens of this chain already spent.
    spent: HashSet<String>,
    /// The one valid refresh token.
    current: String,
    issued: u32,
}

/// The endpoint's state (inside the fake's shared state).
#[derive(Default)]
pub(super) struct TokenBook {
    chains: Vec<Chain>,
    /// Access token → (behaviour, Unix expiry).
    issued_access: HashMap<String, (Behaviour, i64)>,
    /// Every request, in order.
    uses: Vec<TokenUse>,
}

impl TokenBook {
    pub(super) fn new(lineages: Vec<TokenLineage>) -> TokenBook {
        TokenBook {
            chains: lineages
                .into_iter()
                .map(|l| Chain {
                    current: l.refresh_token.clone(),
                    lineage: l,
                    spent: HashSet::new(),
                    issued: 0,
                })
                .collect(),
            ..TokenBook::default()
        }
    }

    /// Whether `path` is a token endpoint path.
    pub(super) fn serves(path: &str) -> bool {
        path.ends_with("/oauth/token")
    }

    /// The behaviour of an access token this endpoint issued, or 401 when it expired.
    pub(super) fn access(&self, token: &str, now: i64) -> Option<Result<Behaviour, ()>> {
        let (behaviour, exp) = self.issued_access.get(token)?;
        Some(if now < *exp {
            Ok(behaviour.clone())
        } else {
            Err(())
        })
    }

    /// The ChatGPT account ids of the lineages (for the Codex account check).
    pub(super) fn account_ids(&self) -> Vec<String> {
        self.chains
            .iter()
            .filter_map(|c| c.lineage.account_id.clone())
            .collect()
    }

    pub(super) fn uses(&self) -> &[TokenUse] {
        &self.uses
    }

    /// The valid refresh token of the chain that started with `initial`.
    pub(super) fn current_refresh_token(&self, initial: &str) -> Option<String> {
        self.chains
            .iter()
            .find(|c| c.lineage.refresh_token == initial)
            .map(|c| c.current.clone())
    }

    /// Answer one token request: (status, JSON body).
    pub(super) fn answer(&mut self, body: &str, now: i64) -> (u16, Value) {
        let Some(presented) = refresh_token_of(body) else {
            self.uses.push(TokenUse::Malformed);
            return (
                400,
                json!({"error": "invalid_request", "error_description": "refresh_token is required"}),
            );
        };
        let Some(chain) = self
            .chains
            .iter_mut()
            .find(|c| c.current == presented || c.spent.contains(&presented))
        else {
            self.uses.push(TokenUse::Unknown);
            return rejection(None, false);
        };
        if chain.spent.contains(&presented) {
            self.uses.push(TokenUse::Reused);
            return rejection(Some(chain.lineage.style), true);
        }
        chain.spent.insert(presented.clone());
        chain.issued += 1;
        let n = chain.issued;
        let lineage = chain.lineage.clone();
        let root = lineage.refresh_token.clone();
        chain.current = format!("{root}-r{n}");
        let refresh_token = chain.current.clone();
        let lifetime = lineage.lifetime.as_secs() as i64;
        let exp = now + lifetime;
        let access_token = match lineage.style {
            TokenStyle::Codex => jwt(
                &json!({"exp": exp, "iat": now, "sub": "fake-user"}),
                &format!("{root}a{n}"),
            ),
            TokenStyle::Claude => format!("sk-ant-oat01-{root}-a{n}"),
        };
        self.issued_access
            .insert(access_token.clone(), (lineage.behaviour.clone(), exp));
        self.uses.push(TokenUse::Granted);
        let body = match lineage.style {
            TokenStyle::Codex => json!({
                "id_token": jwt(&json!({"exp": exp, "iat": now, "email": "fake@example.invalid",
                    "https://api.openai.com/auth": {"chatgpt_plan_type": "pro",
                        "chatgpt_account_id": lineage.account_id.clone().unwrap_or_default()}}),
                    &format!("{root}i{n}")),
                "access_token": access_token,
                "refresh_token": refresh_token,
                "expires_in": lifetime,
            }),
            TokenStyle::Claude => json!({
                "token_type": "Bearer",
                "access_token": access_token,
                "refresh_token": refresh_token,
                "expires_in": lifetime,
                "scope": "user:inference user:profile user:sessions:claude_code",
            }),
        };
        (200, body)
    }
}

/// The provider's answer to a refresh token it will not honour.
fn rejection(style: Option<TokenStyle>, reused: bool) -> (u16, Value) {
    match (style, reused) {
        (Some(TokenStyle::Codex), true) => (
            401,
            json!({"error": {"message": "Your refresh token has already been used to generate a new access token. Please try signing in again.",
                "type": "invalid_request_error", "param": null, "code": "refresh_token_reused"}}),
        ),
        _ => (
            400,
            json!({"error": "invalid_grant", "error_description": "Refresh token not found or invalid"}),
        ),
    }
}

/// The `refresh_token` of a JSON or form body.
fn refresh_token_of(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<Value>(body.trim()) {
        return v.get("refresh_token")?.as_str().map(str::to_owned);
    }
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "refresh_token").then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An unsigned JWT with `claims`; its signature part is `mark`'s letters and digits (so a
/// canary marker in the refresh token carries over into every token derived from it).
fn jwt(claims: &Value, mark: &str) -> String {
    let signature: String = mark.chars().filter(char::is_ascii_alphanumeric).collect();
    format!(
        "{}.{}.{signature}",
        base64url::encode(br#"{"alg":"none","typ":"JWT"}"#),
        base64url::encode(claims.to_string().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Behaviour {
        Behaviour::Succeed { text: "x".into() }
    }

    #[test]
    fn each_refresh_token_is_valid_once_and_reuse_is_refused() {
        let mut book = TokenBook::new(vec![TokenLineage::new("rt0", TokenStyle::Codex, ok())]);
        let (status, body) = book.answer(r#"{"refresh_token":"rt0"}"#, 1000);
        assert_eq!(status, 200);
        let access = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            crate::util::jwt::exp(&access).unwrap().as_second(),
            1000 + 8 * 3600
        );
        assert_eq!(body["refresh_token"], "rt0-r1");
        assert!(book.access(&access, 1001).unwrap().is_ok());
        assert!(book.access(&access, 1000 + 8 * 3600).unwrap().is_err());
        let (status, body) = book.answer(r#"{"refresh_token":"rt0"}"#, 1002);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("refresh_token_reused"))
        );
        assert_eq!(
            book.answer("grant_type=refresh_token&refresh_token=rt0-r1", 1003)
                .0,
            200
        );
        assert_eq!(book.current_refresh_token("rt0").as_deref(), Some("rt0-r2"));
        assert_eq!(
            book.answer(r#"{"refresh_token":"nope"}"#, 1004).1["error"],
            "invalid_grant"
        );
        assert_eq!(
            book.uses(),
            [
                TokenUse::Granted,
                TokenUse::Reused,
                TokenUse::Granted,
                TokenUse::Unknown
            ]
        );
    }

    #[test]
    fn claude_style_reuse_is_invalid_grant() {
        let mut book = TokenBook::new(vec![TokenLineage::new("c0", TokenStyle::Claude, ok())]);
        let (_, body) = book.answer(r#"{"refresh_token":"c0"}"#, 0);
        assert_eq!(body["access_token"], "sk-ant-oat01-c0-a1");
        assert_eq!(body["expires_in"], 8 * 3600);
        let (status, body) = book.answer(r#"{"refresh_token":"c0"}"#, 0);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
    }
}
