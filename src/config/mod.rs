//! Configuration: the schema (serde types), loading with all-at-once validation,
//! and the built-in provider definitions.

pub mod builtin;
pub mod definition_checks;
pub mod edit;
pub mod load;
pub mod policy;
pub mod problem;
pub mod provider_def;
pub mod refresh_rules;
pub mod schema;
pub mod secret_spec;
pub mod starter;
pub mod validate;

pub use problem::{Problem, Severity};
pub use provider_def::ProviderDefinition;
pub use schema::Config;

/// Parse and validate config text: the typed config (when the text is an object)
/// and every problem, errors and warnings alike.
pub fn check_text(text: &str) -> (Option<Config>, Vec<Problem>) {
    let mut parsed = load::parse_config(text);
    let mut problems = parsed.problems;
    if let Some(config) = &mut parsed.config {
        for (key, def) in &mut config.provider_definitions {
            if def.name.is_empty() {
                def.name = key.clone();
            }
        }
        problems.extend(validate::validate(config, &parsed.set_aside));
    }
    (parsed.config, problems)
}

impl Config {
    /// The definition for a provider kind: a user definition wins over a built-in.
    pub fn definition(&self, kind: &str) -> Option<&ProviderDefinition> {
        self.provider_definitions
            .get(kind)
            .or_else(|| builtin::all().iter().find(|d| d.name == kind))
    }

    /// Every environment variable a configured secret backend reads, over all accounts
    /// of all providers (a child oauth-mux starts gets none of them).
    pub fn secret_environment(&self) -> std::collections::BTreeSet<String> {
        self.providers
            .values()
            .flat_map(|provider| provider.accounts.values())
            .filter_map(|account| {
                serde_json::from_value::<crate::secrets::SecretSpec>(account.secret.clone()).ok()
            })
            .flat_map(|spec| spec.environment_reads())
            .collect()
    }
}

#[cfg(test)]
mod tests;
