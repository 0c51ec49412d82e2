//! Provider definitions: providers are data (SPEC §5). Built-ins are JSON files
//! compiled into the binary; users add their own under `provider_definitions`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::budget::{ActionBudget, RepairOwner};
use crate::model::classify::{ClassifierRules, FailureRule, RateLimitRules};

/// Everything oauth-mux knows about one provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderDefinition {
    /// Set from the map key or the built-in file when absent.
    pub name: String,
    pub display_name: Option<String>,
    pub extension_mode: ExtensionMode,
    pub auth: AuthEndpoints,
    /// How to read tokens out of the stored credential.
    pub credential: crate::secrets::CredentialFormat,
    pub injection: Injection,
    pub detection: Detection,
    pub runtime: RuntimeRequirements,
    pub repair: Repair,
    pub capabilities: Vec<Capability>,
    pub rate_limits: RateLimitRules,
    pub failure_rules: Vec<FailureRule>,
    /// Where a managed session's proxy sends this provider's model traffic.
    pub upstream: Option<Upstream>,
    /// How oauth-mux refreshes this provider's OAuth tokens (none: it never does).
    pub refresh: Option<RefreshDefinition>,
}

impl ProviderDefinition {
    pub fn classifier_rules(&self) -> ClassifierRules<'_> {
        ClassifierRules {
            failure_rules: &self.failure_rules,
            rate_limits: &self.rate_limits,
        }
    }

    /// Find a capability by name or alias.
    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capabilities
            .iter()
            .find(|c| c.name == name)
            .or_else(|| {
                self.capabilities
                    .iter()
                    .find(|c| c.aliases.iter().any(|a| a == name))
            })
    }

    pub fn title(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    /// The token endpoint of the refresh grant: the `refresh` block's, else `auth`'s.
    pub fn token_endpoint(&self) -> Option<&str> {
        let refresh = self.refresh.as_ref()?;
        refresh
            .token_endpoint
            .as_deref()
            .or(self.auth.token_endpoint.as_deref())
    }

    /// The OAuth client id of the refresh grant: the `refresh` block's, else `auth`'s.
    pub fn client_id(&self) -> Option<&str> {
        let refresh = self.refresh.as_ref()?;
        refresh
            .client_id
            .as_deref()
            .or(self.auth.client_id.as_deref())
    }
}

/// How oauth-mux refreshes a provider's OAuth tokens (docs/refresh.md): the request the
/// provider's own CLI sends, where the answer's fields go, and the CLI's lock protocol so
/// that oauth-mux and the CLI never spend the same refresh token twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshDefinition {
    /// The token endpoint; default `auth.token_endpoint`.
    pub token_endpoint: Option<String>,
    /// Environment variable that overrides the token endpoint (gateways, tests), e.g.
    /// `OMUX_CODEX_TOKEN_URL`. Config `token_url` on the account wins over it, the provider's
    /// `token_url` loses to it.
    pub token_endpoint_env: Option<String>,
    /// The OAuth client id; default `auth.client_id`.
    pub client_id: Option<String>,
    /// `json` (what Codex and Claude Code send) or `form` (RFC 6749).
    pub body_format: RefreshBodyFormat,
    /// The request body's fields in order. Values may hold `{{refresh_token}}`,
    /// `{{client_id}}` and `{{refresh_reason}}` (`proactive_expiry`,
    /// `unauthorized_recovery`, `scheduled`).
    pub body: serde_json::Map<String, serde_json::Value>,
    /// Extra request headers sent as written (never credentials).
    pub headers: BTreeMap<String, String>,
    /// Where the new expiry comes from: `access_token_jwt` (its `exp`) or `expires_in`.
    /// It is written to `credential.expires_at_path` when the definition has one.
    pub expiry: crate::model::grant::ExpirySource,
    /// Dot path (below `credential.wrapper_key`) the answer's `id_token` is written to.
    pub id_token_path: Option<String>,
    /// Dot path the answer's `scope` is written to, as a list of strings.
    pub scopes_path: Option<String>,
    /// Dot path the refresh time is written to (RFC 3339), e.g. Codex's `last_refresh`.
    pub refreshed_at_path: Option<String>,
    /// The lock protocol of the provider's own CLI (`codex`, `claude`), or `none`.
    pub lock_protocol: LockProtocol,
    /// Refresh this many seconds before the access token expires.
    pub margin_seconds: u64,
    /// Give up on the token endpoint after this long.
    pub timeout_ms: u64,
}

impl Default for RefreshDefinition {
    fn default() -> Self {
        Self {
            token_endpoint: None,
            token_endpoint_env: None,
            client_id: None,
            body_format: RefreshBodyFormat::Form,
            body: serde_json::Map::new(),
            headers: BTreeMap::new(),
            expiry: crate::model::grant::ExpirySource::ExpiresIn,
            id_token_path: None,
            scopes_path: None,
            refreshed_at_path: None,
            lock_protocol: LockProtocol::None,
            margin_seconds: 3600,
            timeout_ms: 10_000,
        }
    }
}

/// How the refresh request's body is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshBodyFormat {
    Json,
    /// `application/x-www-form-urlencoded`; an empty `body` sends RFC 6749 §6's
    /// `grant_type`, `refresh_token` and `client_id`.
    #[default]
    Form,
}

/// The lock protocol of a provider's own CLI, shared while oauth-mux refreshes its store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockProtocol {
    /// Codex CLI: `flock` on `$CODEX_HOME/auth.lock` across the refresh, `auth.json.lock`
    /// around the write.
    Codex,
    /// Claude Code: the lock directories `<dir>/.oauth_refresh.lock` and `<dir>.lock`, kept
    /// fresh, and `<dir>/.storage-write.lock` around the write.
    Claude,
    /// No CLI shares the store: oauth-mux's own lock only.
    #[default]
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionMode {
    #[default]
    SchemaOnly,
    CommandAdapter,
    SecretBackendAdapter,
    TransportAdapter,
    CompiledProviderAdapter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthEndpoints {
    pub discovery_url: Option<String>,
    pub token_endpoint: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub client_id: Option<String>,
    pub pkce: bool,
    pub dpop: bool,
    pub grant_types: Vec<String>,
}

impl Default for AuthEndpoints {
    fn default() -> Self {
        Self {
            discovery_url: None,
            token_endpoint: None,
            authorization_endpoint: None,
            revocation_endpoint: None,
            device_authorization_endpoint: None,
            client_id: None,
            pkce: true,
            dpop: false,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        }
    }
}

/// How credentials reach a child process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Injection {
    /// Env var naming the account's config dir (e.g. `CODEX_HOME`).
    pub config_dir_env: Option<String>,
    /// File name written into a private temp dir when the account has no config dir.
    pub credential_filename: String,
    /// Template with `{{access_token}}`, `{{refresh_token}}`, `{{expires_at}}`.
    pub credential_template: Option<String>,
    /// `[ENV_NAME, "access_token" | "refresh_token"]` pairs exported directly.
    pub direct_env: Vec<(String, String)>,
}

impl Default for Injection {
    fn default() -> Self {
        Self {
            config_dir_env: None,
            credential_filename: "credentials.json".into(),
            credential_template: None,
            direct_env: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Detection {
    pub binary_names: Vec<String>,
    pub env_markers: Vec<String>,
}

/// What must be present locally for a route to be usable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeRequirements {
    pub required_binaries: Vec<String>,
    pub env_vars: Vec<String>,
    pub writable_paths: Vec<String>,
    pub session_paths: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Repair {
    pub owner: RepairOwner,
    /// The command a human runs to log in again; `{account}`, `{provider}` and `{config_dir}`
    /// are filled in. The built-in harnesses name their login handoffs
    /// (`oauth-mux codex login-device {account}`), which create a missing store.
    pub login_command: Option<String>,
    pub proactive_refresh: Option<String>,
    pub refresh_token_response: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capability {
    pub name: String,
    pub aliases: Vec<String>,
    pub proof_status: Option<String>,
    pub proof_requirements: Vec<String>,
    pub probe: Option<ProbeDefinition>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeTransport {
    #[default]
    Http,
    Command,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeAuth {
    #[default]
    Bearer,
    AuthorizationHeader,
    TokenHeader,
    None,
}

/// Extra checks on a successful probe body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyValidation {
    /// RFC 9728 protected-resource metadata: `resource` and `authorization_servers` are HTTPS URLs.
    ProtectedResourceMetadata,
}

impl BodyValidation {
    /// Check a body the classifier called a success. `Err` says what is wrong; the
    /// probe then records the route as degraded `schema_invalid`. Pure.
    pub fn check(self, body: &str) -> Result<(), String> {
        match self {
            Self::ProtectedResourceMetadata => check_protected_resource_metadata(body),
        }
    }
}

/// RFC 9728 §2/§3: a JSON object whose `resource` is an HTTPS URL without a
/// fragment, and whose `authorization_servers` is a non-empty list of such URLs.
fn check_protected_resource_metadata(body: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(body.trim()).map_err(|_| "the body is not JSON".to_owned())?;
    let object = value
        .as_object()
        .ok_or("the metadata is not a JSON object")?;
    match object.get("resource").and_then(|v| v.as_str()) {
        Some(url) if is_https_url_without_fragment(url) => {}
        Some(_) => return Err("`resource` is not an https URL without a fragment".into()),
        None => return Err("`resource` is missing".into()),
    }
    let servers = object
        .get("authorization_servers")
        .and_then(|v| v.as_array())
        .ok_or("`authorization_servers` is missing")?;
    if servers.is_empty() {
        return Err("`authorization_servers` is empty".into());
    }
    if !servers
        .iter()
        .all(|s| s.as_str().is_some_and(is_https_url_without_fragment))
    {
        return Err(
            "`authorization_servers` holds a value that is not an https URL without a fragment"
                .into(),
        );
    }
    Ok(())
}

fn is_https_url_without_fragment(url: &str) -> bool {
    url.strip_prefix("https://").is_some_and(|rest| {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        !host.is_empty()
            && !url.contains('#')
            && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// How to check one capability of one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeDefinition {
    pub transport: ProbeTransport,
    pub method: String,
    /// May hold `{{ENV_NAME}}` placeholders, expanded from the environment.
    pub url: Option<String>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    /// Extra request headers sent as written (API versions, beta flags); never credentials,
    /// which come from `auth`.
    pub headers: BTreeMap<String, String>,
    pub command: Vec<String>,
    pub auth: ProbeAuth,
    pub auth_header: Option<String>,
    pub timeout_ms: u64,
    pub success_status_min: u16,
    pub success_status_max: u16,
    /// Use this response header as the failure-rule hint.
    pub hint_header: Option<String>,
    /// Use the response body as the hint (the default when no `hint_header`).
    pub hint_body: bool,
    /// Defaults: `cheap_provider` for HTTP, `free_command` for commands.
    pub budget: Option<ActionBudget>,
    pub validate_body: Option<BodyValidation>,
}

impl Default for ProbeDefinition {
    fn default() -> Self {
        Self {
            transport: ProbeTransport::Http,
            method: "GET".into(),
            url: None,
            body: None,
            content_type: None,
            headers: BTreeMap::new(),
            command: Vec::new(),
            auth: ProbeAuth::Bearer,
            auth_header: None,
            timeout_ms: 30_000,
            success_status_min: 200,
            success_status_max: 299,
            hint_header: None,
            hint_body: false,
            budget: None,
            validate_body: None,
        }
    }
}

impl ProbeDefinition {
    pub fn effective_budget(&self) -> ActionBudget {
        self.budget.unwrap_or(match self.transport {
            ProbeTransport::Http => ActionBudget::CheapProvider,
            ProbeTransport::Command => ActionBudget::FreeCommand,
        })
    }
}

/// The upstream a managed session forwards to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// `codex` or `claude`: which harness wire protocol this provider speaks.
    pub harness: String,
    pub base_url: String,
    /// Origin for API-key accounts when it differs (Codex: `https://api.openai.com`).
    #[serde(default)]
    pub api_key_base_url: Option<String>,
    /// Env var that overrides `base_url` (for gateways, mirrors and tests).
    #[serde(default)]
    pub base_url_env: Option<String>,
    /// What the harness sends through the session proxy; anything else is answered there
    /// and never reaches the provider with a credential. Absent: the built-in definition of
    /// the same harness decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestRules>,
}

/// The methods and path prefixes a harness sends through the session proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRules {
    /// Methods forwarded, exactly as spelled on the wire (`GET`, `POST`, …).
    pub methods: Vec<String>,
    /// Paths forwarded start with one of these (each starts and ends with `/`).
    pub path_prefixes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::BodyValidation::ProtectedResourceMetadata as Prm;

    #[test]
    fn protected_resource_metadata_accepts_rfc_9728_documents() {
        let body = r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"],"scopes_supported":["mcp:tools"]}"#;
        assert_eq!(Prm.check(body), Ok(()));
    }

    #[test]
    fn protected_resource_metadata_rejects_what_rfc_9728_forbids() {
        let cases = [
            ("<html>Not here</html>", "not JSON"),
            ("[]", "not a JSON object"),
            (
                r#"{"authorization_servers":["https://a.example"]}"#,
                "`resource` is missing",
            ),
            (
                r#"{"resource":"http://mcp.example.com","authorization_servers":["https://a.example"]}"#,
                "`resource` is not",
            ),
            (
                r#"{"resource":"https://mcp.example.com/#frag","authorization_servers":["https://a.example"]}"#,
                "`resource` is not",
            ),
            (
                r#"{"resource":"https://mcp.example.com"}"#,
                "`authorization_servers` is missing",
            ),
            (
                r#"{"resource":"https://mcp.example.com","authorization_servers":[]}"#,
                "is empty",
            ),
            (
                r#"{"resource":"https://mcp.example.com","authorization_servers":["https://a.example#x"]}"#,
                "holds a value",
            ),
            (
                r#"{"resource":"https://","authorization_servers":["https://a.example"]}"#,
                "`resource` is not",
            ),
        ];
        for (body, want) in cases {
            let err = Prm.check(body).expect_err(body);
            assert!(err.contains(want), "{body}: {err}");
        }
    }
}
