//! The child environment for a managed Claude Code session.
//!
//! Claude needs no config file: `ANTHROPIC_BASE_URL` points it at the session proxy and a
//! placeholder credential makes it send auth headers the proxy replaces. The user's
//! `CLAUDE_CONFIG_DIR` (or `~/.claude`) stays theirs unless they ask for isolation.
//!
//! One trap, observed with Claude Code 2.1.197: an `env` block in the user's settings.json
//! overrides the process environment, so `"env": {"ANTHROPIC_BASE_URL": …}` there would send
//! traffic around the proxy. `claude --settings <file>` wins over user settings, so when a
//! conflict is found the launcher passes one with the session's values.

use std::path::{Path, PathBuf};

/// How the elected Claude account authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaudeAuthKind {
    /// Subscription OAuth: `Authorization: Bearer` plus the `oauth-2025-04-20` beta.
    Oauth,
    /// Anthropic API key: `x-api-key`.
    ApiKey,
}

impl ClaudeAuthKind {
    /// Label used in status frames.
    pub fn label(self) -> &'static str {
        match self {
            ClaudeAuthKind::Oauth => "oauth",
            ClaudeAuthKind::ApiKey => "api_key",
        }
    }
}

/// Placeholder the child sends as its OAuth token (replaced by the proxy).
pub const PLACEHOLDER_OAUTH_TOKEN: &str = "sk-ant-oat01-omux-placeholder";
/// Placeholder the child sends as its API key (replaced by the proxy).
pub const PLACEHOLDER_API_KEY: &str = "sk-ant-api03-omux-placeholder";

/// Variables that would route Claude's model traffic or credentials around the proxy; the
/// launcher removes them from the child's environment before setting its own.
pub const ROUTING_VARS: [&str; 8] = [
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "ANTHROPIC_UNIX_SOCKET",
];

/// Variables that stop Claude's non-model traffic (telemetry, bootstrap, auto-update).
/// Set only when the user asks (`--no-side-traffic`).
pub const SIDE_TRAFFIC_VARS: [(&str, &str); 3] = [
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
];

/// What the launcher changes in the child's environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvPlan {
    pub remove: Vec<String>,
    pub set: Vec<(String, String)>,
}

/// Options the user chose for the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaudeOptions {
    /// Fresh `CLAUDE_CONFIG_DIR` for this session only (`--isolated-config`).
    pub isolated_config_dir: Option<PathBuf>,
    /// `--no-side-traffic`.
    pub no_side_traffic: bool,
}

/// The environment changes for a Claude child talking to `proxy_base`.
pub fn env_plan(proxy_base: &str, auth: ClaudeAuthKind, options: &ClaudeOptions) -> EnvPlan {
    let mut plan = EnvPlan {
        remove: ROUTING_VARS.iter().map(|v| v.to_string()).collect(),
        set: vec![("ANTHROPIC_BASE_URL".into(), proxy_base.to_string())],
    };
    plan.set.push(credential_var(auth));
    if let Some(dir) = &options.isolated_config_dir {
        plan.set.push((
            "CLAUDE_CONFIG_DIR".into(),
            dir.to_string_lossy().into_owned(),
        ));
    }
    if options.no_side_traffic {
        for (k, v) in SIDE_TRAFFIC_VARS {
            plan.set.push((k.into(), v.into()));
        }
    }
    plan
}

fn credential_var(auth: ClaudeAuthKind) -> (String, String) {
    match auth {
        ClaudeAuthKind::Oauth => (
            "CLAUDE_CODE_OAUTH_TOKEN".into(),
            PLACEHOLDER_OAUTH_TOKEN.into(),
        ),
        ClaudeAuthKind::ApiKey => ("ANTHROPIC_API_KEY".into(), PLACEHOLDER_API_KEY.into()),
    }
}

/// Settings files Claude reads whose `env` could override ours: the user's
/// `<config dir>/settings.json` and the project's `.claude/settings{,.local}.json`.
pub fn settings_files(config_dir: &Path, cwd: &Path) -> Vec<PathBuf> {
    vec![
        config_dir.join("settings.json"),
        cwd.join(".claude/settings.json"),
        cwd.join(".claude/settings.local.json"),
    ]
}

/// The routing variables a settings.json text sets in its `env` block (names only).
pub fn conflicting_settings_vars(settings_json: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(settings_json) else {
        return Vec::new();
    };
    let mut found: Vec<String> = value
        .get("env")
        .and_then(|e| e.as_object())
        .map(|env| {
            env.keys()
                .filter(|k| ROUTING_VARS.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if value.get("apiKeyHelper").is_some_and(|v| !v.is_null()) {
        found.push("apiKeyHelper".into());
    }
    found
}

/// The `--settings` file content that puts the session's values back on top of a user
/// settings file that overrides them.
pub fn override_settings(proxy_base: &str, auth: ClaudeAuthKind) -> String {
    let (cred_key, cred_value) = credential_var(auth);
    let mut env = serde_json::Map::new();
    env.insert("ANTHROPIC_BASE_URL".into(), proxy_base.into());
    env.insert(cred_key, cred_value.into());
    for var in ROUTING_VARS {
        if !env.contains_key(var) {
            // Claude treats an empty value as unset.
            env.insert(var.into(), "".into());
        }
    }
    let mut text =
        serde_json::to_string_pretty(&serde_json::json!({ "env": env })).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_plan_sets_base_and_placeholder_only() {
        let plan = env_plan(
            "http://127.0.0.1:1/s",
            ClaudeAuthKind::Oauth,
            &ClaudeOptions::default(),
        );
        assert!(plan.remove.contains(&"ANTHROPIC_API_KEY".to_string()));
        assert!(
            plan.set
                .contains(&("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:1/s".into()))
        );
        assert!(plan.set.contains(&(
            "CLAUDE_CODE_OAUTH_TOKEN".into(),
            PLACEHOLDER_OAUTH_TOKEN.into()
        )));
        assert!(!plan.set.iter().any(|(k, _)| k == "CLAUDE_CONFIG_DIR"));
        assert!(
            !plan
                .set
                .iter()
                .any(|(k, _)| k == "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"),
            "side traffic is only disabled on request"
        );
    }

    #[test]
    fn api_key_isolated_quiet_plan() {
        let plan = env_plan(
            "http://b",
            ClaudeAuthKind::ApiKey,
            &ClaudeOptions {
                isolated_config_dir: Some("/x/cfg".into()),
                no_side_traffic: true,
            },
        );
        assert!(
            plan.set
                .contains(&("ANTHROPIC_API_KEY".into(), PLACEHOLDER_API_KEY.into()))
        );
        assert!(
            plan.set
                .contains(&("CLAUDE_CONFIG_DIR".into(), "/x/cfg".into()))
        );
        assert!(plan.set.contains(&(
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
            "1".into()
        )));
    }

    #[test]
    fn settings_conflicts_are_found_by_name() {
        let text = r#"{"env":{"ANTHROPIC_BASE_URL":"http://x","FOO":"1"},"apiKeyHelper":"/bin/k"}"#;
        assert_eq!(
            conflicting_settings_vars(text),
            vec!["ANTHROPIC_BASE_URL".to_string(), "apiKeyHelper".to_string()]
        );
        assert!(conflicting_settings_vars(r#"{"env":{"FOO":"1"}}"#).is_empty());
        assert!(conflicting_settings_vars("not json").is_empty());
    }

    #[test]
    fn override_settings_restores_session_values() {
        let text = override_settings("http://127.0.0.1:9/s", ClaudeAuthKind::Oauth);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9/s");
        assert_eq!(v["env"]["CLAUDE_CODE_OAUTH_TOKEN"], PLACEHOLDER_OAUTH_TOKEN);
        assert_eq!(v["env"]["ANTHROPIC_API_KEY"], "");
    }
}
