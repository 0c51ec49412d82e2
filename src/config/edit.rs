//! Edits of the config file's JSON, pure: enrolling an account of a harness provider, building
//! and merging the Codex Max candidate. Every edit returns the new document and the list of
//! changes it makes (what `enroll plan` shows); the caller validates the new document and
//! writes it (with a backup) or not. Keys the edit does not touch keep their values and order.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::starter::{self, Starter};
use super::{Config, ProviderDefinition};

/// How much of a changed value a human rendering shows.
pub const RENDERED_VALUE_CHARS: usize = 100;

/// One change an edit makes, at a JSON path of the config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigChange {
    /// Dotted path (`providers.codex.accounts.max-4`).
    pub path: String,
    pub op: ChangeOp,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// A key that did not exist.
    Add,
    /// Routes appended to a profile's `providers` list.
    Append,
    /// A key whose value is replaced.
    Replace,
}

impl ConfigChange {
    /// `+ providers.codex.accounts.max-4 = {...}`: one line for people, the value shortened
    /// to [`RENDERED_VALUE_CHARS`] (the JSON output keeps it whole).
    pub fn render(&self) -> String {
        let sign = match self.op {
            ChangeOp::Add => "+",
            ChangeOp::Append => "+=",
            ChangeOp::Replace => "~",
        };
        let value = self.value.to_string();
        let shown = match value.char_indices().nth(RENDERED_VALUE_CHARS) {
            Some((cut, _)) => format!("{}…", &value[..cut]),
            None => value,
        };
        format!("{sign} {} = {shown}", self.path)
    }
}

/// A new config document and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEdit {
    pub config: Value,
    pub changes: Vec<ConfigChange>,
}

/// Why an edit is refused; nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditRefusal {
    /// The account exists already (enroll never overwrites one).
    AccountExists { provider: String, account: String },
    /// The account name cannot name an account and its store.
    BadName { name: String, why: &'static str },
    /// A part of the config that must be a JSON object is not.
    NotAnObject { path: String },
    /// The candidate has no Codex provider.
    NoCodexProvider,
    /// The config already has several Codex accounts: the candidate is for one.
    SeveralCodexAccounts { count: usize },
}

impl std::fmt::Display for EditRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AccountExists { provider, account } => write!(
                f,
                "account {provider}:{account} exists already; enroll never overwrites an account (pick another name, or log it in with its login command)"
            ),
            Self::BadName { name, why } => write!(f, "account name {name:?} {why}"),
            Self::NotAnObject { path } => write!(
                f,
                "{path} in the config is not a JSON object; fix it (`oauth-mux config validate`)"
            ),
            Self::NoCodexProvider => f.write_str("the candidate config has no Codex provider"),
            Self::SeveralCodexAccounts { count } => write!(
                f,
                "the config has {count} Codex accounts already; add more with `oauth-mux enroll codex --account NAME --confirm-enroll`"
            ),
        }
    }
}

impl std::error::Error for EditRefusal {}

/// Why `name` cannot name an account and its store directory (`None`: it can). Stricter than
/// the config's own rule because the name becomes a directory and a shell word.
pub fn account_name_problem(name: &str) -> Option<&'static str> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > 64 {
        Some("is longer than 64 characters")
    } else if !first_ok {
        Some("must start with a letter or a digit")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("may only hold letters, digits, '-', '_' and '.'")
    } else {
        None
    }
}

/// The config's provider for a harness kind: the one named like the kind (when it has that
/// kind), else the only provider of that kind.
pub fn harness_provider(config: &Value, kind: &str) -> Option<String> {
    let providers = config.get("providers")?.as_object()?;
    let kind_of = |p: &Value| p.get("kind").and_then(Value::as_str).map(str::to_owned);
    if providers.get(kind).and_then(kind_of).as_deref() == Some(kind) {
        return Some(kind.to_owned());
    }
    let mut of_kind = providers
        .iter()
        .filter(|(_, p)| kind_of(p).as_deref() == Some(kind));
    match (of_kind.next(), of_kind.next()) {
        (Some((name, _)), None) => Some(name.clone()),
        _ => None,
    }
}

/// The accounts of a provider, in config order.
pub fn account_names(config: &Value, provider: &str) -> Vec<String> {
    config
        .pointer(&format!("/providers/{}/accounts", pointer_part(provider)))
        .and_then(Value::as_object)
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default()
}

fn pointer_part(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The object at `key` of `parent`, created empty when missing.
fn object_at<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a mut Map<String, Value>, EditRefusal> {
    parent
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| EditRefusal::NotAnObject { path: path.into() })
}

/// Add `account` to the harness provider of `starter` (created when missing) with its store
/// under `root`, and its routes to each of the starter's profiles (created when missing).
pub fn enroll(
    config: &Value,
    starter: &Starter,
    def: &ProviderDefinition,
    account: &str,
    root: &Path,
) -> Result<ConfigEdit, EditRefusal> {
    if let Some(why) = account_name_problem(account) {
        return Err(EditRefusal::BadName {
            name: account.into(),
            why,
        });
    }
    let mut doc = config.clone();
    let provider = harness_provider(config, starter.provider).unwrap_or(starter.provider.into());
    let root_map = doc.as_object_mut().ok_or(EditRefusal::NotAnObject {
        path: "the config".into(),
    })?;
    let mut changes = Vec::new();
    let providers = object_at(root_map, "providers", "providers")?;
    let store = starter::store_dir(root, &provider, account);
    match providers.get_mut(&provider) {
        None => {
            let block = starter::provider_block(starter, def, root, &[account.to_owned()]);
            changes.push(ConfigChange {
                path: format!("providers.{provider}"),
                op: ChangeOp::Add,
                value: block.clone(),
            });
            providers.insert(provider.clone(), block);
        }
        Some(block) => {
            let path = format!("providers.{provider}");
            let block = block
                .as_object_mut()
                .ok_or(EditRefusal::NotAnObject { path: path.clone() })?;
            let accounts = object_at(block, "accounts", &format!("{path}.accounts"))?;
            if accounts.contains_key(account) {
                return Err(EditRefusal::AccountExists {
                    provider,
                    account: account.into(),
                });
            }
            let lowest = accounts
                .values()
                .filter_map(|a| a.get("priority").and_then(Value::as_i64))
                .min();
            let priority = lowest.map_or(10, |p| p as i32 - 10);
            let entry = starter::account_entry(starter, def, &store, priority);
            changes.push(ConfigChange {
                path: format!("{path}.accounts.{account}"),
                op: ChangeOp::Add,
                value: entry.clone(),
            });
            accounts.insert(account.into(), entry);
        }
    }
    let profiles = object_at(root_map, "profiles", "profiles")?;
    for profile in starter.profiles {
        let routes = starter::profile_routes(&provider, account, profile);
        let path = format!("profiles.{}", profile.name);
        match profiles.get_mut(profile.name) {
            None => {
                let block = starter::profile_block(&provider, profile, &[account.to_owned()]);
                changes.push(ConfigChange {
                    path,
                    op: ChangeOp::Add,
                    value: block.clone(),
                });
                profiles.insert(profile.name.into(), block);
            }
            Some(block) => {
                let block = block
                    .as_object_mut()
                    .ok_or(EditRefusal::NotAnObject { path: path.clone() })?;
                let list = block
                    .entry("providers")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .ok_or(EditRefusal::NotAnObject {
                        path: format!("{path}.providers"),
                    })?;
                let new: Vec<Value> = routes
                    .iter()
                    .filter(|r| !list.iter().any(|have| have == *r))
                    .map(|r| json!(r))
                    .collect();
                if !new.is_empty() {
                    list.extend(new.iter().cloned());
                    changes.push(ConfigChange {
                        path: format!("{path}.providers"),
                        op: ChangeOp::Append,
                        value: Value::Array(new),
                    });
                }
            }
        }
    }
    Ok(ConfigEdit {
        config: doc,
        changes,
    })
}

/// The Codex Max candidate for a config that holds at most one Codex account: the same
/// config, with the starter's accounts (stores under `root`) added after the existing one
/// (lower priorities, so the account in use stays first) and the `codex-max` and
/// `codex-mini` profiles rebuilt over every Codex account.
pub fn codex_candidate(
    active: &Value,
    def: &ProviderDefinition,
    root: &Path,
) -> Result<Value, EditRefusal> {
    let starter = starter::starter("codex").expect("the codex starter");
    let provider = harness_provider(active, "codex").unwrap_or_else(|| "codex".into());
    let existing = account_names(active, &provider);
    if existing.len() > 1 {
        return Err(EditRefusal::SeveralCodexAccounts {
            count: existing.len(),
        });
    }
    let mut doc = active.clone();
    let root_map = doc.as_object_mut().ok_or(EditRefusal::NotAnObject {
        path: "the config".into(),
    })?;
    let providers = object_at(root_map, "providers", "providers")?;
    let block = providers.entry(provider.clone()).or_insert_with(|| {
        let mut block = starter::provider_block(starter, def, root, &[]);
        if provider != "codex" {
            block["kind"] = json!("codex");
        }
        block
    });
    let block = block.as_object_mut().ok_or(EditRefusal::NotAnObject {
        path: format!("providers.{provider}"),
    })?;
    let accounts = object_at(block, "accounts", &format!("providers.{provider}.accounts"))?;
    let mut priority = accounts
        .values()
        .filter_map(|a| a.get("priority").and_then(Value::as_i64))
        .min()
        .map_or(40, |p| p as i32);
    let mut all = existing.clone();
    for name in starter.default_accounts {
        if accounts.contains_key(*name) {
            continue;
        }
        priority -= 10;
        let store = starter::store_dir(root, &provider, name);
        accounts.insert(
            (*name).into(),
            starter::account_entry(starter, def, &store, priority),
        );
        all.push((*name).into());
    }
    let profiles = object_at(root_map, "profiles", "profiles")?;
    for profile in starter.profiles {
        profiles.insert(
            profile.name.into(),
            starter::profile_block(&provider, profile, &all),
        );
    }
    Ok(doc)
}

/// Merge a Codex Max candidate into the active config: its Codex provider and the
/// `codex-max`/`codex-mini` profiles replace the active ones; every other key is kept.
pub fn merge_codex(active: &Value, candidate: &Value) -> Result<ConfigEdit, EditRefusal> {
    let starter = starter::starter("codex").expect("the codex starter");
    let provider = harness_provider(candidate, "codex").ok_or(EditRefusal::NoCodexProvider)?;
    let mut doc = active.clone();
    let root_map = doc.as_object_mut().ok_or(EditRefusal::NotAnObject {
        path: "the config".into(),
    })?;
    let mut changes = Vec::new();
    let mut put = |map: &mut Map<String, Value>, key: &str, path: String, value: &Value| {
        let op = if map.contains_key(key) {
            ChangeOp::Replace
        } else {
            ChangeOp::Add
        };
        if map.get(key) != Some(value) {
            changes.push(ConfigChange {
                path,
                op,
                value: value.clone(),
            });
            map.insert(key.into(), value.clone());
        }
    };
    let from = &candidate["providers"][&provider];
    let providers = object_at(root_map, "providers", "providers")?;
    put(providers, &provider, format!("providers.{provider}"), from);
    let profiles = object_at(root_map, "profiles", "profiles")?;
    for profile in starter.profiles {
        if let Some(value) = candidate.pointer(&format!("/profiles/{}", profile.name)) {
            put(
                profiles,
                profile.name,
                format!("profiles.{}", profile.name),
                value,
            );
        }
    }
    Ok(ConfigEdit {
        config: doc,
        changes,
    })
}

/// Whether the config has the Codex Max shape: a `codex-max` profile whose routes name at
/// least two accounts of Codex providers.
pub fn codex_max_configured(config: &Config) -> bool {
    let Some(profile) = config.profiles.get("codex-max") else {
        return false;
    };
    let mut accounts: Vec<(String, String)> = profile
        .providers
        .iter()
        .filter_map(|spec| crate::model::RouteKey::parse(spec).ok())
        .filter(|k| {
            config
                .providers
                .get(&k.provider)
                .is_some_and(|p| p.kind == "codex")
        })
        .map(|k| (k.provider, k.account))
        .collect();
    accounts.sort();
    accounts.dedup();
    accounts.len() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin;

    fn codex() -> (&'static Starter, ProviderDefinition) {
        (
            starter::starter("codex").unwrap(),
            builtin::definition("codex").unwrap(),
        )
    }

    fn claude() -> (&'static Starter, ProviderDefinition) {
        (
            starter::starter("claude").unwrap(),
            builtin::definition("claude").unwrap(),
        )
    }

    fn valid(doc: &Value) -> Config {
        let (config, problems) = crate::config::check_text(&doc.to_string());
        let errors: Vec<_> = problems.iter().filter(|p| p.is_error()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{doc:#}");
        config.unwrap()
    }

    #[test]
    fn enrolling_into_an_empty_config_adds_the_provider_and_its_profiles() {
        let (s, def) = claude();
        let empty = json!({"version": 1, "providers": {}, "profiles": {}});
        let edit = enroll(&empty, s, &def, "work", Path::new("/d")).unwrap();
        let config = valid(&edit.config);
        let account = &config.providers["claude"].accounts["work"];
        assert_eq!(account.config_dir.as_deref(), Some("/d/claude/work"));
        assert_eq!(account.secret["path"], "/d/claude/work/.credentials.json");
        assert_eq!(
            config.profiles["claude"].providers,
            ["claude:work#messages"]
        );
        let paths: Vec<&str> = edit.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["providers.claude", "profiles.claude"]);
    }

    #[test]
    fn enrolling_appends_the_account_last_and_keeps_everything_else() {
        let (s, def) = codex();
        let base = starter::starter_config(
            &[(s, &def, vec!["max-1".into(), "max-2".into()])],
            Path::new("/d"),
        );
        let mut base = base;
        base["providers"]["github"] = json!({"kind": "github", "accounts": {"me": {"secret": {"backend": "env", "variable": "GH"}}}});
        let edit = enroll(&base, s, &def, "max-4", Path::new("/d")).unwrap();
        let config = valid(&edit.config);
        assert_eq!(config.providers["codex"].accounts["max-4"].priority, 0);
        assert!(config.profiles["codex-max"].providers.ends_with(&[
            "codex:max-4#codex-max".into(),
            "codex:max-4#codex-mini".into()
        ]));
        assert_eq!(
            config.profiles["codex-mini"].providers.last().unwrap(),
            "codex:max-4#codex-mini"
        );
        assert_eq!(
            edit.config["providers"]["github"],
            base["providers"]["github"]
        );
        assert_eq!(edit.changes[0].path, "providers.codex.accounts.max-4");
        assert_eq!(edit.changes[1].op, ChangeOp::Append);
    }

    #[test]
    fn enroll_refuses_an_existing_account_and_a_bad_name() {
        let (s, def) = codex();
        let base = starter::starter_config(&[(s, &def, vec!["max-1".into()])], Path::new("/d"));
        assert_eq!(
            enroll(&base, s, &def, "max-1", Path::new("/d")).unwrap_err(),
            EditRefusal::AccountExists {
                provider: "codex".into(),
                account: "max-1".into()
            }
        );
        for bad in ["", "..", "-x", "a/b", "a b", "a:b", "a#b"] {
            assert!(
                matches!(
                    enroll(&base, s, &def, bad, Path::new("/d")),
                    Err(EditRefusal::BadName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_candidate_keeps_the_single_account_first_and_merge_touches_only_codex() {
        let (_, def) = codex();
        let active = json!({
            "version": 1,
            "defaults": {"profile": "mine"},
            "providers": {
                "codex": {"kind": "codex", "accounts": {"main": {"priority": 5, "config_dir": "~/.codex",
                    "secret": {"backend": "file", "path": "~/.codex/auth.json"}}}},
                "github": {"kind": "github", "accounts": {"me": {"secret": {"backend": "env", "variable": "GH"}}}}
            },
            "profiles": {"mine": {"providers": ["codex:main#codex-max"]},
                         "gh": {"providers": ["github:me#identity"]}}
        });
        let candidate = codex_candidate(&active, &def, Path::new("/d")).unwrap();
        let config = valid(&candidate);
        assert!(codex_max_configured(&config));
        let codex = &config.providers["codex"].accounts;
        assert_eq!(
            [
                codex["main"].priority,
                codex["max-1"].priority,
                codex["max-3"].priority
            ],
            [5, -5, -25]
        );
        assert_eq!(
            config.profiles["codex-max"].providers[0],
            "codex:main#codex-max"
        );
        let merged = merge_codex(&active, &candidate).unwrap();
        let config = valid(&merged.config);
        assert_eq!(
            merged.config["providers"]["github"],
            active["providers"]["github"]
        );
        assert_eq!(merged.config["profiles"]["gh"], active["profiles"]["gh"]);
        assert_eq!(merged.config["defaults"], active["defaults"]);
        assert_eq!(config.providers["codex"].accounts.len(), 4);
        let ops: Vec<(String, ChangeOp)> = merged
            .changes
            .iter()
            .map(|c| (c.path.clone(), c.op))
            .collect();
        assert_eq!(
            ops,
            [
                ("providers.codex".into(), ChangeOp::Replace),
                ("profiles.codex-max".into(), ChangeOp::Add),
                ("profiles.codex-mini".into(), ChangeOp::Add)
            ]
        );
        assert_eq!(
            codex_candidate(&candidate, &def, Path::new("/d")).unwrap_err(),
            EditRefusal::SeveralCodexAccounts { count: 4 }
        );
        assert!(!codex_max_configured(&valid(&active)));
    }
}
