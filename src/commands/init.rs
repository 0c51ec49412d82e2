//! `oauth-mux init [--codex-max]`: write a starter config, never overwriting one.

use serde::Serialize;
use serde_json::json;

use super::context::Context;
use crate::cli::InitArgs;
use crate::exit::{ExitCode, Quiet};
use crate::output;
use crate::store::atomic::write_atomic;

#[derive(Serialize)]
struct InitReport {
    ok: bool,
    created: bool,
    config_path: String,
    template: &'static str,
    reason: &'static str,
    next_commands: Vec<String>,
}

pub fn run(args: &InitArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let path = &ctx.dirs.config_file;
    let template = if args.codex_max {
        "codex-max"
    } else {
        "minimal"
    };
    let exists = path.exists();
    let report = if exists {
        InitReport {
            ok: false,
            created: false,
            config_path: path.display().to_string(),
            template,
            reason: "config_exists",
            next_commands: vec![
                "oauth-mux config validate".into(),
                "oauth-mux doctor".into(),
            ],
        }
    } else {
        let config = if args.codex_max {
            codex_max_config(&ctx)
        } else {
            minimal_config()
        };
        let mut text = serde_json::to_string_pretty(&config)?;
        text.push('\n');
        write_atomic(path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        let mut next = vec![
            "oauth-mux config validate".to_owned(),
            "oauth-mux doctor".to_owned(),
        ];
        if args.codex_max {
            next.push("oauth-mux doctor runtime --provider codex --json".into());
            next.push("oauth-mux route explain --profile codex-max".into());
        } else {
            next.push("oauth-mux providers list".into());
        }
        InitReport {
            ok: true,
            created: true,
            config_path: path.display().to_string(),
            template,
            reason: "written",
            next_commands: next,
        }
    };
    output::emit(args.json, &report, |r| {
        let head = if r.created {
            format!("wrote a {} starter config to {}", r.template, r.config_path)
        } else {
            format!(
                "a config already exists at {}; nothing was changed (init never overwrites)",
                r.config_path
            )
        };
        head + &output::next_block(&r.next_commands)
    })?;
    if exists {
        Err(Quiet(ExitCode::Error).into())
    } else {
        Ok(())
    }
}

fn minimal_config() -> serde_json::Value {
    json!({
        "version": 1,
        "defaults": {},
        "providers": {},
        "profiles": {}
    })
}

/// Three Codex subscription accounts with isolated `CODEX_HOME` stores under the
/// data dir, and the `codex-max` / `codex-mini` profiles.
fn codex_max_config(ctx: &Context) -> serde_json::Value {
    let root = ctx.dirs.data_dir.join("codex");
    let mut accounts = serde_json::Map::new();
    for (name, priority) in [("max-1", 30), ("max-2", 20), ("max-3", 10)] {
        let dir = root.join(name);
        accounts.insert(
            name.into(),
            json!({
                "priority": priority,
                "config_dir": dir.display().to_string(),
                "secret": {"backend": "file", "path": dir.join("auth.json").display().to_string()},
                "tags": ["subscription", "codex-max"]
            }),
        );
    }
    let max_routes: Vec<String> = ["max-1", "max-2", "max-3"]
        .iter()
        .flat_map(|a| {
            [
                format!("codex:{a}#codex-max"),
                format!("codex:{a}#codex-mini"),
            ]
        })
        .collect();
    let mini_routes: Vec<String> = ["max-1", "max-2", "max-3"]
        .iter()
        .map(|a| format!("codex:{a}#codex-mini"))
        .collect();
    json!({
        "version": 1,
        "defaults": {"provider": "codex", "profile": "codex-max", "capability": "codex-max"},
        "providers": {"codex": {"kind": "codex", "config_dir_env": "CODEX_HOME", "accounts": accounts}},
        "profiles": {
            "codex-max": {"providers": max_routes, "capability_degradation_chain": ["codex-mini"]},
            "codex-mini": {"providers": mini_routes}
        }
    })
}
