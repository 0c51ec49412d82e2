//! Turn an account's stored credential into what the session proxy swaps into requests.
//! The launcher reads the secret; this module only parses it (tokens are registered for
//! redaction by `secrets::parse_credential`).

use jiff::Timestamp;

use super::claude_env::ClaudeAuthKind;
use super::codex_home::CodexAuthKind;
use super::session::AuthKind;
use super::status::HarnessKind;
use crate::config::ProviderDefinition;
use crate::proxy::pool::Credential;
use crate::secrets::{self, Secret, TokenKind};

/// Why an account cannot join a session (no secret material in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// The credential did not parse; the message names the field and the fix.
    Parse(String),
    /// The access token is expired (counting the 30 s skew).
    Expired,
    /// A ChatGPT credential without the account id Codex's backend needs.
    MissingAccountId,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Parse(msg) => f.write_str(msg),
            Unusable::Expired => {
                f.write_str("its access token is expired; log in again or refresh it")
            }
            Unusable::MissingAccountId => f.write_str(
                "its ChatGPT credential has no account id (tokens.account_id); log in again",
            ),
        }
    }
}

/// Build the proxy credential for one account of `harness`.
pub fn materialize(
    harness: HarnessKind,
    definition: &ProviderDefinition,
    raw: &Secret,
    now: Timestamp,
) -> Result<(Credential, AuthKind), Unusable> {
    let parsed = secrets::parse_credential(raw, &definition.credential, now)
        .map_err(|e| Unusable::Parse(e.to_string()))?;
    if parsed.kind == TokenKind::Bearer && parsed.is_expired(now) {
        return Err(Unusable::Expired);
    }
    let token = parsed.access_token.expose().to_string();
    match (harness, parsed.kind) {
        (HarnessKind::Codex, TokenKind::ApiKey) => Ok((
            Credential::CodexApiKey { api_key: token },
            AuthKind::Codex(CodexAuthKind::ApiKey),
        )),
        (HarnessKind::Codex, TokenKind::Bearer) => {
            let account_id = account_id(definition, raw).ok_or(Unusable::MissingAccountId)?;
            secrets::redact::register(&account_id);
            Ok((
                Credential::CodexChatgpt {
                    access_token: token,
                    account_id,
                },
                AuthKind::Codex(CodexAuthKind::Chatgpt),
            ))
        }
        (HarnessKind::Claude, TokenKind::ApiKey) => Ok((
            Credential::ClaudeApiKey { api_key: token },
            AuthKind::Claude(ClaudeAuthKind::ApiKey),
        )),
        (HarnessKind::Claude, TokenKind::Bearer) => Ok((
            Credential::ClaudeOauth {
                access_token: token,
            },
            AuthKind::Claude(ClaudeAuthKind::Oauth),
        )),
    }
}

/// What an account's store holds, as setup, canary and the login handoffs report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// A credential a managed session can use now.
    Usable,
    /// A credential whose access token has expired.
    Expired,
    /// A credential the harness cannot use (it does not parse, or misses a field).
    Unusable,
    /// Nothing where the credential belongs (the account is not logged in).
    Missing,
    /// The secret could not be read (permissions, a failing command, a missing variable).
    Unreadable,
    /// Not read, because reading would consume it (a `stdin` secret).
    NotChecked,
}

impl CredentialState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Usable => "usable",
            Self::Expired => "expired",
            Self::Unusable => "unusable",
            Self::Missing => "missing",
            Self::Unreadable => "unreadable",
            Self::NotChecked => "not_checked",
        }
    }
}

/// Facts about one stored credential: no token, no account id, no path.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CredentialFacts {
    pub state: CredentialState,
    /// `chatgpt` or `api_key` (Codex), `oauth` or `api_key` (Claude).
    pub auth: Option<&'static str>,
    pub expires_at: Option<Timestamp>,
    /// The subscription the token carries: ChatGPT `chatgpt_plan_type`, Claude
    /// `subscriptionType`.
    pub plan: Option<String>,
    /// Claude's `rateLimitTier`, when the credential carries it.
    pub rate_limit_tier: Option<String>,
    /// Why the credential cannot be used, when it cannot.
    pub problem: Option<String>,
}

impl CredentialFacts {
    /// Facts for a credential that was not parsed (missing, unreadable, not checked).
    pub fn without_credential(state: CredentialState, problem: Option<String>) -> Self {
        CredentialFacts {
            state,
            auth: None,
            expires_at: None,
            plan: None,
            rate_limit_tier: None,
            problem,
        }
    }
}

/// Inspect a credential read from an account's store for `harness`: whether a session can
/// use it, its expiry, and the plan and entitlement claims it carries.
pub fn inspect(
    harness: HarnessKind,
    definition: &ProviderDefinition,
    raw: &Secret,
    now: Timestamp,
) -> CredentialFacts {
    let parsed = secrets::parse_credential(raw, &definition.credential, now);
    let expires_at = parsed.as_ref().ok().and_then(|c| c.expires_at);
    let (plan, rate_limit_tier) = entitlements(harness, raw);
    let (state, auth, problem) = match materialize(harness, definition, raw, now) {
        Ok((_, kind)) => (CredentialState::Usable, Some(kind.label()), None),
        Err(Unusable::Expired) => (
            CredentialState::Expired,
            None,
            Some(Unusable::Expired.to_string()),
        ),
        Err(why) => (CredentialState::Unusable, None, Some(why.to_string())),
    };
    CredentialFacts {
        state,
        auth,
        expires_at,
        plan,
        rate_limit_tier,
        problem,
    }
}

/// The plan and rate-limit tier a stored credential names, if any: Codex's id token claim
/// `https://api.openai.com/auth` → `chatgpt_plan_type` (read from the id token, else the
/// access token; signatures are not checked), Claude's `claudeAiOauth.subscriptionType` and
/// `rateLimitTier`. Values are short labels; anything else is dropped.
pub fn entitlements(harness: HarnessKind, raw: &Secret) -> (Option<String>, Option<String>) {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(raw.expose().trim()) else {
        return (None, None);
    };
    let label = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 48
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            })
            .map(str::to_owned)
    };
    match harness {
        HarnessKind::Codex => {
            let plan = ["id_token", "access_token"].iter().find_map(|field| {
                let token = doc.get("tokens")?.get(*field)?.as_str()?;
                let payload = token.split('.').nth(1)?;
                let claims: serde_json::Value =
                    serde_json::from_slice(&crate::util::base64url::decode(payload)?).ok()?;
                label(
                    claims
                        .get("https://api.openai.com/auth")?
                        .get("chatgpt_plan_type"),
                )
            });
            (plan, None)
        }
        HarnessKind::Claude => {
            let oauth = doc.get("claudeAiOauth");
            (
                label(oauth.and_then(|o| o.get("subscriptionType"))),
                label(oauth.and_then(|o| o.get("rateLimitTier"))),
            )
        }
    }
}

/// The raw ChatGPT account id at the definition's `identity_claim_path` (never printed).
fn account_id(definition: &ProviderDefinition, raw: &Secret) -> Option<String> {
    let path = definition.credential.identity_claim_path.as_deref()?;
    let root: serde_json::Value = serde_json::from_str(raw.expose().trim()).ok()?;
    let doc = match definition.credential.wrapper_key.as_deref() {
        Some(key) => root.get(key).unwrap_or(&root),
        None => &root,
    };
    secrets::json_path_get(doc, path)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin;

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_string())
    }

    fn jwt() -> String {
        crate::harness::codex_home::unsigned_jwt(&serde_json::json!({"exp": 4_102_444_800_i64}))
    }

    #[test]
    fn codex_chatgpt_auth_json_gives_token_and_account_id() {
        let def = builtin::definition("codex").unwrap();
        let token = jwt();
        let raw = secret(&format!(
            r#"{{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{{"access_token":"{token}","refresh_token":"rt","account_id":"acc-1"}}}}"#
        ));
        let (cred, kind) =
            materialize(HarnessKind::Codex, &def, &raw, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(kind, AuthKind::Codex(CodexAuthKind::Chatgpt));
        match cred {
            Credential::CodexChatgpt {
                access_token,
                account_id,
            } => {
                assert_eq!(access_token, token);
                assert_eq!(account_id, "acc-1");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn codex_api_key_and_missing_account_id() {
        let def = builtin::definition("codex").unwrap();
        let (_, kind) = materialize(
            HarnessKind::Codex,
            &def,
            &secret(r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-x"}"#),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(kind, AuthKind::Codex(CodexAuthKind::ApiKey));
        let err = materialize(
            HarnessKind::Codex,
            &def,
            &secret(&format!(r#"{{"tokens":{{"access_token":"{}"}}}}"#, jwt())),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(err, Unusable::MissingAccountId);
    }

    #[test]
    fn inspection_reports_state_expiry_and_plan_without_secrets() {
        let codex = builtin::definition("codex").unwrap();
        let id = crate::harness::codex_home::unsigned_jwt(&serde_json::json!({
            "https://api.openai.com/auth": {"chatgpt_plan_type": "pro"}}));
        let raw = secret(&format!(
            r#"{{"auth_mode":"chatgpt","tokens":{{"id_token":"{id}","access_token":"{}","account_id":"acc-1"}}}}"#,
            jwt()
        ));
        let facts = inspect(HarnessKind::Codex, &codex, &raw, Timestamp::UNIX_EPOCH);
        assert_eq!(facts.state, CredentialState::Usable);
        assert_eq!(
            (facts.auth, facts.plan.as_deref()),
            (Some("chatgpt"), Some("pro"))
        );
        assert_eq!(facts.expires_at.unwrap().as_second(), 4_102_444_800);
        let claude = builtin::definition("claude").unwrap();
        let raw = secret(
            r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-x","expiresAt":1000,"subscriptionType":"max","rateLimitTier":"default_claude_max_20x"}}"#,
        );
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let facts = inspect(HarnessKind::Claude, &claude, &raw, now);
        assert_eq!(facts.state, CredentialState::Expired);
        assert_eq!(facts.plan.as_deref(), Some("max"));
        assert_eq!(
            facts.rate_limit_tier.as_deref(),
            Some("default_claude_max_20x")
        );
        let facts = inspect(
            HarnessKind::Codex,
            &codex,
            &secret(&format!(r#"{{"tokens":{{"access_token":"{}"}}}}"#, jwt())),
            now,
        );
        assert_eq!(facts.state, CredentialState::Unusable);
        assert!(facts.problem.unwrap().contains("account id"));
    }

    #[test]
    fn claude_oauth_expired_is_unusable() {
        let def = builtin::definition("claude").unwrap();
        let raw = secret(
            r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-x","refreshToken":"r","expiresAt":1000}}"#,
        );
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(
            materialize(HarnessKind::Claude, &def, &raw, now).unwrap_err(),
            Unusable::Expired
        );
        let fresh = secret(
            r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-x","refreshToken":"r","expiresAt":4102444800000}}"#,
        );
        let (_, kind) = materialize(HarnessKind::Claude, &def, &fresh, now).unwrap();
        assert_eq!(kind, AuthKind::Claude(ClaudeAuthKind::Oauth));
        let (_, kind) =
            materialize(HarnessKind::Claude, &def, &secret("sk-ant-api03-k"), now).unwrap();
        assert_eq!(kind, AuthKind::Claude(ClaudeAuthKind::ApiKey));
        // A `claude setup-token` token stored as is: an OAuth bearer, not an API key.
        let (cred, kind) = materialize(
            HarnessKind::Claude,
            &def,
            &secret("sk-ant-oat01-setup"),
            now,
        )
        .unwrap();
        assert_eq!(kind, AuthKind::Claude(ClaudeAuthKind::Oauth));
        assert!(matches!(cred, Credential::ClaudeOauth { .. }));
    }
}
