//! The configuration file (version 1, compatible with the original's JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::provider_def::ProviderDefinition;
use crate::model::budget::ActionBudget;

pub const CONFIG_VERSION: u32 = 1;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub version: u32,
    pub defaults: Defaults,
    pub policy: Policy,
    pub provider_definitions: BTreeMap<String, ProviderDefinition>,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub profiles: BTreeMap<String, Profile>,
    pub strategies: BTreeMap<String, Strategy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Defaults {
    pub provider: Option<String>,
    pub strategy: Option<String>,
    pub profile: Option<String>,
    pub capability: Option<String>,
    pub shell: Option<String>,
    pub daemon: bool,
}

/// Background admission policy (SPEC §2 "Action budgets").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub daemon: DaemonPolicy,
    /// The original's Codex switch. Unlike the original, spend is off unless written here.
    pub codex: Option<CodexPolicy>,
    /// Per-provider widening of the daemon policy.
    pub providers: BTreeMap<String, DaemonPolicy>,
    /// Proactive switching: move the next request to another account above this usage.
    pub usage_switch_threshold_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DaemonPolicy {
    pub allowed_budgets: Vec<ActionBudget>,
    pub allow_interactive: bool,
    pub allow_mutating: bool,
}

impl Default for DaemonPolicy {
    fn default() -> Self {
        Self {
            allowed_budgets: ActionBudget::DEFAULT_BACKGROUND.to_vec(),
            allow_interactive: false,
            allow_mutating: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodexPolicy {
    pub auto_stay_afloat: bool,
    pub allow_provider_spend: bool,
    pub allow_interactive_auth: bool,
}

impl Default for CodexPolicy {
    fn default() -> Self {
        Self {
            auto_stay_afloat: true,
            allow_provider_spend: false,
            allow_interactive_auth: false,
        }
    }
}

/// A configured provider and its accounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// A built-in provider or a `provider_definitions` entry.
    pub kind: String,
    pub config_dir_env: Option<String>,
    /// Overrides the definition's upstream base URL for every account.
    pub upstream: Option<String>,
    /// Overrides the definition's token endpoint for every account (docs/refresh.md).
    pub token_url: Option<String>,
    /// Overrides the definition's `refresh.margin_seconds`: refresh this long before expiry.
    pub refresh_margin_seconds: Option<u64>,
    pub accounts: BTreeMap<String, AccountConfig>,
}

/// One account of a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountConfig {
    /// Higher first.
    pub priority: i32,
    /// Where the credential lives (see `secrets`).
    pub secret: serde_json::Value,
    /// The account's own config dir (`~` expanded), e.g. its `CODEX_HOME`.
    pub config_dir: Option<String>,
    pub quota: Option<Quota>,
    pub tags: Vec<String>,
    /// The writeback policy: may oauth-mux refresh this account's tokens and write them back
    /// to its store? Unset: yes for stores under oauth-mux's data directory (the ones it
    /// created), no otherwise; `true`/`false` decide (docs/refresh.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_proactive_refresh: Option<bool>,
    /// Overrides the upstream base URL for this account.
    pub upstream: Option<String>,
    /// Overrides the token endpoint for this account (docs/refresh.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            priority: 0,
            secret: serde_json::Value::Null,
            config_dir: None,
            quota: None,
            tags: Vec::new(),
            allow_proactive_refresh: None,
            upstream: None,
            token_url: None,
        }
    }
}

impl AccountConfig {
    /// Where the account's credential is read from: its `secret` block, or, without one,
    /// the file `credential_filename` (the provider definition's `injection`) in its
    /// `config_dir`. `Err` says what is missing, naming the config field.
    /// Read the account's credential field `field` through [`AccountConfig::secret_spec`].
    /// `Err` names what failed, never a value.
    pub fn read_secret(
        &self,
        credential_filename: &str,
        field: &str,
    ) -> Result<crate::secrets::Secret, String> {
        let spec = self.secret_spec(credential_filename)?;
        crate::secrets::read_secret(&spec, field).map_err(|e| e.to_string())
    }

    pub fn secret_spec(
        &self,
        credential_filename: &str,
    ) -> Result<crate::secrets::SecretSpec, String> {
        use crate::secrets::{SecretBackend, SecretSpec};
        if !self.secret.is_null() {
            return serde_json::from_value(self.secret.clone()).map_err(|_| {
                "the `secret` block is invalid; run `oauth-mux config validate`".to_owned()
            });
        }
        let dir = self
            .config_dir
            .as_deref()
            .ok_or("no `secret` and no `config_dir` configured")?;
        if credential_filename.is_empty() {
            return Err("no `secret` configured".into());
        }
        let mut spec = SecretSpec::new(SecretBackend::File);
        spec.path = Some(
            crate::util::home::expand_tilde(dir)
                .join(credential_filename)
                .to_string_lossy()
                .into_owned(),
        );
        Ok(spec)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quota {
    pub monthly_limit: Option<u64>,
    pub warn_at_pct: Option<u32>,
}

/// An ordered list of routes to use for a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Route specs `provider:account[#capability]` in preference order.
    pub providers: Vec<String>,
    pub strategy: Option<String>,
    pub affinity_ttl_minutes: u32,
    /// Capabilities to fall back to, in order, when the requested one has no selectable route.
    pub capability_degradation_chain: Vec<String>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            strategy: None,
            affinity_ttl_minutes: 20,
            capability_degradation_chain: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StrategyKind {
    #[default]
    #[serde(rename = "priority-failover")]
    PriorityFailover,
    #[serde(rename = "health-weighted")]
    HealthWeighted,
    #[serde(rename = "round-robin")]
    RoundRobin,
}

/// Kept for compatibility; selection orders by profile order then priority.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Strategy {
    pub kind: StrategyKind,
    pub max_retries: Option<u32>,
    pub health_decay_per_hour: Option<f64>,
    pub rate_limit_penalty: Option<f64>,
    pub failure_penalty: Option<f64>,
    pub success_bonus: Option<f64>,
}
