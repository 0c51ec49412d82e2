//! The onboarding facts of the two harness providers (Codex CLI, Claude Code): which accounts
//! a fresh setup names, which profiles their routes join, and how the harness's own login is
//! run. `init`, `setup`, `enroll`, the login handoffs and the managed sessions' default
//! profiles all read them here. Everything else about the providers (config-dir variable,
//! credential file, login command) is the provider definition's data.

use std::path::Path;

use serde_json::{Value, json};

use super::ProviderDefinition;

/// A profile a harness provider's accounts join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StarterProfile {
    pub name: &'static str,
    /// Each account joins with one route per capability, in this order.
    pub capabilities: &'static [&'static str],
    /// The profile's `capability_degradation_chain`.
    pub degradation_chain: &'static [&'static str],
}

/// One harness provider's onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Starter {
    /// The provider name and kind (`codex`, `claude`).
    pub provider: &'static str,
    /// The accounts `init`/`setup` name when none are configured.
    pub default_accounts: &'static [&'static str],
    /// The profile a managed session uses unless told otherwise; the first of `profiles`.
    pub default_profile: &'static str,
    pub profiles: &'static [StarterProfile],
    /// Tags every account gets.
    pub tags: &'static [&'static str],
    /// The harness's own login, run with the account's store as its config dir. Codex: a
    /// device-code login (works over SSH, no local browser needed). Claude Code: the
    /// interactive subscription login, which writes a refreshable `claudeAiOauth` credential
    /// into `$CLAUDE_CONFIG_DIR/.credentials.json`; `claude setup-token` is not used because
    /// its one-year token has no refresh token and only the `user:inference` scope, and it is
    /// printed to the terminal instead of stored (docs/onboarding.md).
    pub login_args: &'static [&'static str],
    /// The variable naming the harness binary (default: the provider name on `PATH`).
    pub bin_env: &'static str,
    /// How to install the harness.
    pub install: &'static str,
}

/// The harness providers, Codex first.
pub const STARTERS: [Starter; 2] = [
    Starter {
        provider: "codex",
        default_accounts: &["max-1", "max-2", "max-3"],
        default_profile: "codex-max",
        profiles: &[
            StarterProfile {
                name: "codex-max",
                capabilities: &["codex-max", "codex-mini"],
                degradation_chain: &["codex-mini"],
            },
            StarterProfile {
                name: "codex-mini",
                capabilities: &["codex-mini"],
                degradation_chain: &[],
            },
        ],
        tags: &["subscription"],
        login_args: &["login", "--device-auth"],
        bin_env: "OMUX_CODEX_BIN",
        install: "npm install -g @openai/codex",
    },
    Starter {
        provider: "claude",
        default_accounts: &["personal", "work"],
        default_profile: "claude",
        profiles: &[StarterProfile {
            name: "claude",
            capabilities: &["messages"],
            degradation_chain: &[],
        }],
        tags: &["subscription"],
        login_args: &["auth", "login"],
        bin_env: "OMUX_CLAUDE_BIN",
        install: "npm install -g @anthropic-ai/claude-code",
    },
];

/// The starter of a harness provider kind.
pub fn starter(kind: &str) -> Option<&'static Starter> {
    STARTERS.iter().find(|s| s.provider == kind)
}

/// Priority of the `index`-th of `count` starter accounts: the first highest, 10 apart.
pub fn starter_priority(index: usize, count: usize) -> i32 {
    10 * (count - index) as i32
}

/// The store of an account: `<root>/<provider>/<account>` (root: the data dir).
pub fn store_dir(root: &Path, provider: &str, account: &str) -> std::path::PathBuf {
    root.join(provider).join(account)
}

/// An account entry whose credential lives in its own store: the config dir the harness
/// uses, and a file secret pointing at the credential file the harness writes there.
pub fn account_entry(
    starter: &Starter,
    def: &ProviderDefinition,
    store: &Path,
    priority: i32,
) -> Value {
    json!({
        "priority": priority,
        "config_dir": store.display().to_string(),
        "secret": {
            "backend": "file",
            "path": store.join(&def.injection.credential_filename).display().to_string()
        },
        "tags": starter.tags,
    })
}

/// The routes an account contributes to a profile.
pub fn profile_routes(provider: &str, account: &str, profile: &StarterProfile) -> Vec<String> {
    profile
        .capabilities
        .iter()
        .map(|c| format!("{provider}:{account}#{c}"))
        .collect()
}

/// A provider block holding `accounts`, in order, each with its store under `root`.
pub fn provider_block(
    starter: &Starter,
    def: &ProviderDefinition,
    root: &Path,
    accounts: &[String],
) -> Value {
    let mut entries = serde_json::Map::new();
    for (i, account) in accounts.iter().enumerate() {
        let store = store_dir(root, starter.provider, account);
        entries.insert(
            account.clone(),
            account_entry(starter, def, &store, starter_priority(i, accounts.len())),
        );
    }
    let mut block = serde_json::Map::new();
    block.insert("kind".into(), json!(starter.provider));
    if let Some(env) = &def.injection.config_dir_env {
        block.insert("config_dir_env".into(), json!(env));
    }
    block.insert("accounts".into(), Value::Object(entries));
    Value::Object(block)
}

/// A profile block over `accounts` (each account's routes in capability order, accounts
/// in the order given).
pub fn profile_block(provider: &str, profile: &StarterProfile, accounts: &[String]) -> Value {
    let mut routes: Vec<String> = Vec::new();
    for capability in profile.capabilities {
        for account in accounts {
            routes.push(format!("{provider}:{account}#{capability}"));
        }
    }
    let mut block = serde_json::Map::new();
    block.insert("providers".into(), json!(routes));
    if !profile.degradation_chain.is_empty() {
        block.insert(
            "capability_degradation_chain".into(),
            json!(profile.degradation_chain),
        );
    }
    Value::Object(block)
}

/// A whole starter config for the given harness providers and their accounts; the first
/// provider's default profile becomes the default.
pub fn starter_config(
    parts: &[(&Starter, &ProviderDefinition, Vec<String>)],
    root: &Path,
) -> Value {
    let mut providers = serde_json::Map::new();
    let mut profiles = serde_json::Map::new();
    for (starter, def, accounts) in parts {
        providers.insert(
            starter.provider.into(),
            provider_block(starter, def, root, accounts),
        );
        for profile in starter.profiles {
            profiles.insert(
                profile.name.into(),
                profile_block(starter.provider, profile, accounts),
            );
        }
    }
    let defaults = match parts.first() {
        Some((starter, _, _)) => json!({
            "provider": starter.provider,
            "profile": starter.default_profile,
            "capability": starter.profiles[0].capabilities[0],
        }),
        None => json!({}),
    };
    json!({
        "version": 1,
        "defaults": defaults,
        "providers": providers,
        "profiles": profiles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin;

    #[test]
    fn every_starter_names_capabilities_its_provider_has() {
        for s in &STARTERS {
            let def = builtin::definition(s.provider).expect("a built-in provider");
            assert_eq!(s.profiles[0].name, s.default_profile);
            for p in s.profiles {
                for c in p.capabilities.iter().chain(p.degradation_chain) {
                    assert!(def.capability(c).is_some(), "{}: {c}", s.provider);
                }
            }
            assert!(def.injection.config_dir_env.is_some());
        }
    }

    #[test]
    fn the_codex_max_starter_is_three_accounts_in_two_profiles() {
        let s = starter("codex").unwrap();
        let def = builtin::definition("codex").unwrap();
        let accounts: Vec<String> = s.default_accounts.iter().map(|a| a.to_string()).collect();
        let config = starter_config(&[(s, &def, accounts)], Path::new("/data"));
        let (parsed, problems) = crate::config::check_text(&config.to_string());
        assert!(problems.is_empty(), "{problems:?}");
        let parsed = parsed.unwrap();
        let codex = &parsed.providers["codex"];
        assert_eq!(codex.accounts["max-1"].priority, 30);
        assert_eq!(
            codex.accounts["max-3"].config_dir.as_deref(),
            Some("/data/codex/max-3")
        );
        assert_eq!(
            codex.accounts["max-2"].secret["path"],
            "/data/codex/max-2/auth.json"
        );
        assert_eq!(
            parsed.profiles["codex-max"].providers,
            [
                "codex:max-1#codex-max",
                "codex:max-2#codex-max",
                "codex:max-3#codex-max",
                "codex:max-1#codex-mini",
                "codex:max-2#codex-mini",
                "codex:max-3#codex-mini"
            ]
        );
        assert_eq!(
            parsed.profiles["codex-max"].capability_degradation_chain,
            ["codex-mini"]
        );
        assert_eq!(parsed.defaults.profile.as_deref(), Some("codex-max"));
    }
}
