//! Semantic validation of a parsed config: references, route specs, secret blocks
//! and provider definitions (those in `definition_checks`). Every problem is collected;
//! nothing stops early.

use std::collections::BTreeSet;

use super::builtin;
pub use super::definition_checks::validate_definition;
use super::problem::{Problem, join};
use super::provider_def::ProviderDefinition;
use super::schema::{CONFIG_VERSION, Config};
use crate::model::RouteKey;

/// Shells `env --shell` can render.
pub const SHELLS: [&str; 4] = ["bash", "zsh", "fish", "ksh"];

/// Validate a parsed config. `set_aside` lists paths the parser already reported,
/// so references to them are not reported twice.
pub fn validate(config: &Config, set_aside: &[String]) -> Vec<Problem> {
    let mut v = Validator {
        config,
        set_aside,
        problems: Vec::new(),
    };
    v.check_version();
    v.check_defaults();
    v.check_policy();
    for (name, def) in &config.provider_definitions {
        let path = join("provider_definitions", name);
        v.problems.extend(validate_definition(def, name, &path));
    }
    v.check_providers();
    v.check_profiles();
    v.problems
}

struct Validator<'a> {
    config: &'a Config,
    set_aside: &'a [String],
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn error(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.problems.push(Problem::error(path, message, hint));
    }

    fn was_set_aside(&self, path: &str) -> bool {
        self.set_aside
            .iter()
            .any(|p| p == path || path.starts_with(&format!("{p}.")))
    }

    fn check_version(&mut self) {
        if self.config.version != CONFIG_VERSION && self.config.version != 0 {
            self.error(
                "version",
                "unsupported config version",
                "this oauth-mux reads version 1 configs; set \"version\": 1",
            );
        }
    }

    fn check_defaults(&mut self) {
        let d = &self.config.defaults;
        if let Some(p) = &d.provider
            && !self.config.providers.contains_key(p)
        {
            self.error(
                "defaults.provider",
                "names no configured provider",
                known("providers", self.config.providers.keys()),
            );
        }
        if let Some(p) = &d.profile
            && !self.config.profiles.contains_key(p)
        {
            self.error(
                "defaults.profile",
                "names no configured profile",
                known("profiles", self.config.profiles.keys()),
            );
        }
        if let Some(s) = &d.strategy
            && !self.config.strategies.contains_key(s)
        {
            self.error(
                "defaults.strategy",
                "names no configured strategy",
                known("strategies", self.config.strategies.keys()),
            );
        }
        if let Some(sh) = &d.shell
            && !SHELLS.contains(&sh.as_str())
        {
            self.error(
                "defaults.shell",
                "names no shell `env --shell` can render",
                format!("use one of {}", SHELLS.join(", ")),
            );
        }
    }

    fn check_policy(&mut self) {
        let budgets = &self.config.policy.daemon.allowed_budgets;
        if budgets.iter().any(|b| !b.valid_for_probe()) {
            self.error(
                "policy.daemon.allowed_budgets",
                "`interactive` and `mutating` are not background budgets",
                "use policy.daemon.allow_interactive / allow_mutating instead",
            );
        }
        for name in self.config.policy.providers.keys() {
            if !self.config.providers.contains_key(name) {
                self.error(
                    join("policy.providers", name),
                    "policy for a provider that is not configured",
                    known("providers", self.config.providers.keys()),
                );
            }
        }
        if let Some(t) = self.config.policy.usage_switch_threshold_pct
            && !(1.0..=100.0).contains(&t)
        {
            self.error(
                "policy.usage_switch_threshold_pct",
                "out of range",
                "use a percentage between 1 and 100 (default 95)",
            );
        }
    }

    fn check_providers(&mut self) {
        for (pname, provider) in &self.config.providers {
            let ppath = join("providers", pname);
            if let Some(problem) = name_problem(pname) {
                self.error(
                    &ppath,
                    format!("provider name {problem}"),
                    "use letters, digits, '-', '_' or '.'",
                );
            }
            if provider.kind.is_empty() {
                self.error(
                    join(&ppath, "kind"),
                    "missing provider kind",
                    format!(
                        "set kind to a built-in ({}) or a provider_definitions entry",
                        builtin::NAMES.join(", ")
                    ),
                );
            } else if self.definition_for(&provider.kind).is_none() {
                self.error(
                    join(&ppath, "kind"),
                    "names no built-in provider or provider_definitions entry",
                    format!(
                        "use a built-in ({}) or add it under provider_definitions",
                        builtin::NAMES.join(", ")
                    ),
                );
            }
            if let Some(url) = &provider.upstream {
                self.check_url(&join(&ppath, "upstream"), url);
            }
            if let Some(url) = &provider.token_url {
                self.check_url(&join(&ppath, "token_url"), url);
            }
            for (aname, account) in &provider.accounts {
                let apath = join(&join(&ppath, "accounts"), aname);
                if let Some(problem) = name_problem(aname) {
                    self.error(
                        &apath,
                        format!("account name {problem}"),
                        "use letters, digits, '-', '_' or '.'",
                    );
                }
                self.problems.extend(super::secret_spec::validate_secret(
                    &account.secret,
                    &join(&apath, "secret"),
                ));
                if let Some(url) = &account.upstream {
                    self.check_url(&join(&apath, "upstream"), url);
                }
                if let Some(url) = &account.token_url {
                    self.check_url(&join(&apath, "token_url"), url);
                }
            }
        }
    }

    fn check_url(&mut self, path: &str, url: &str) {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            self.error(
                path,
                "not an http(s) URL",
                "use a base URL such as https://api.example.com",
            );
        }
    }

    fn check_profiles(&mut self) {
        for (name, profile) in &self.config.profiles {
            let path = join("profiles", name);
            if profile.providers.is_empty() {
                self.error(
                    join(&path, "providers"),
                    "a profile needs at least one route",
                    "list routes like \"codex:max-1#codex-max\"",
                );
            }
            let mut capabilities = BTreeSet::new();
            for (i, spec) in profile.providers.iter().enumerate() {
                let spath = format!("{}[{i}]", join(&path, "providers"));
                match RouteKey::parse(spec) {
                    Err(e) => self.error(
                        &spath,
                        format!("invalid route: {}", e.problem),
                        "write routes as provider:account or provider:account#capability",
                    ),
                    Ok(key) => {
                        if let Some(c) = &key.capability {
                            capabilities.insert(c.clone());
                        }
                        self.check_route_reference(&spath, &key);
                    }
                }
            }
            if let Some(s) = &profile.strategy
                && !self.config.strategies.contains_key(s)
            {
                self.error(
                    join(&path, "strategy"),
                    "names no configured strategy",
                    known("strategies", self.config.strategies.keys()),
                );
            }
            for (i, cap) in profile.capability_degradation_chain.iter().enumerate() {
                if !capabilities.contains(cap) {
                    self.error(
                        format!("{}[{i}]", join(&path, "capability_degradation_chain")),
                        "names a capability no route of this profile uses",
                        "add a route with that #capability to the profile, or remove it from the chain",
                    );
                }
            }
        }
    }

    fn check_route_reference(&mut self, path: &str, key: &RouteKey) {
        let ppath = join("providers", &key.provider);
        if self.was_set_aside(&ppath) {
            return;
        }
        let Some(provider) = self.config.providers.get(&key.provider) else {
            self.error(
                path,
                "names no configured provider",
                known("providers", self.config.providers.keys()),
            );
            return;
        };
        let apath = join(&join(&ppath, "accounts"), &key.account);
        if !provider.accounts.contains_key(&key.account) && !self.was_set_aside(&apath) {
            self.error(
                path,
                format!("provider {:?} has no such account", key.provider),
                known("accounts", provider.accounts.keys()),
            );
        }
        if let (Some(cap), Some(def)) = (&key.capability, self.definition_for(&provider.kind))
            && def.capability(cap).is_none()
        {
            let names: Vec<&String> = def.capabilities.iter().map(|c| &c.name).collect();
            self.error(
                path,
                format!("provider kind {:?} has no such capability", provider.kind),
                known("capabilities", names.into_iter()),
            );
        }
    }

    fn definition_for(&self, kind: &str) -> Option<ProviderDefinition> {
        self.config
            .provider_definitions
            .get(kind)
            .cloned()
            .or_else(|| builtin::definition(kind))
    }
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        format!("no {what} are configured")
    } else {
        format!("known {what}: {}", names.join(", "))
    }
}

/// Provider and account names become route-key parts and file names.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains(':') || name.contains('#') {
        Some("contains ':' or '#', which separate route-key parts")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Some("contains whitespace, '/' or control characters")
    } else {
        None
    }
}
