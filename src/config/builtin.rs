//! Built-in provider definitions: JSON files under `src/config/providers/`,
//! compiled into the binary and parsed once.

use std::sync::OnceLock;

use super::provider_def::ProviderDefinition;

/// `(name, JSON)` for every built-in provider.
const FILES: &[(&str, &str)] = &[
    ("codex", include_str!("providers/codex.json")),
    ("claude", include_str!("providers/claude.json")),
    ("github", include_str!("providers/github.json")),
    ("linear", include_str!("providers/linear.json")),
    ("vercel", include_str!("providers/vercel.json")),
    ("figma", include_str!("providers/figma.json")),
    ("flakehub", include_str!("providers/flakehub.json")),
    ("mcp", include_str!("providers/mcp.json")),
    ("gemini", include_str!("providers/gemini.json")),
];

/// The names of the built-in providers, in `providers list` order.
pub const NAMES: &[&str] = &[
    "codex", "claude", "github", "linear", "vercel", "figma", "flakehub", "mcp", "gemini",
];

/// Every built-in definition, parsed.
pub fn all() -> &'static [ProviderDefinition] {
    static DEFS: OnceLock<Vec<ProviderDefinition>> = OnceLock::new();
    DEFS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, json)| {
                let mut def: ProviderDefinition = serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("built-in provider {name} does not parse: {e}"));
                def.name = (*name).to_owned();
                def
            })
            .collect()
    })
}

/// A built-in definition by name.
pub fn definition(name: &str) -> Option<ProviderDefinition> {
    all().iter().find(|d| d.name == name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load::typed_with_recovery, validate::validate_definition};

    #[test]
    fn every_builtin_parses_strictly_and_validates() {
        assert_eq!(FILES.len(), NAMES.len());
        for (name, json) in FILES {
            assert!(NAMES.contains(name));
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            let mut problems = Vec::new();
            let def: ProviderDefinition =
                typed_with_recovery(value, &mut problems, &mut Vec::new()).unwrap();
            let problems: Vec<_> = problems
                .into_iter()
                .chain(validate_definition(&def, name, name))
                .collect();
            assert!(problems.is_empty(), "{name}: {problems:#?}");
        }
        assert_eq!(all().len(), NAMES.len());
    }
}
