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
