//! `oauth-mux init [--codex-max] [--claude]`: write a starter config when there is none and
//! create the store of every account it names; never overwrite a config.

use serde::Serialize;
use serde_json::json;

use super::{check_doc, ensure_store, harness_facts, shown_path, write_doc};
use crate::cli::InitArgs;
use crate::commands::context::Context;
use crate::commands::facts::login_command;
use crate::config::starter;
use crate::exit::{ExitCode, Quiet};
use crate::harness::status::HarnessKind;
use crate::model::event::ConfigEditEvent;
use crate::output;

#[derive(Serialize)]
struct InitReport {
    ok: bool,
    created: bool,
    config_path: String,
    template: String,
    reason: &'static str,
    stores: Vec<StoreReport>,
    next_commands: Vec<String>,
}

#[derive(Serialize)]
struct StoreReport {
    provider: String,
    account: String,
    store: String,
    created: bool,
    login_command: String,
}

pub fn run(args: &InitArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let path = ctx.dirs.config_file.clone();
    let mut harnesses = Vec::new();
    if args.codex_max {
        harnesses.push(HarnessKind::Codex);
    }
    if args.claude {
        harnesses.push(HarnessKind::Claude);
    }
    let template = match harnesses.as_slice() {
        [] => "minimal".to_owned(),
        [HarnessKind::Codex] => "codex-max".to_owned(),
        [HarnessKind::Claude] => "claude".to_owned(),
        _ => "codex-max+claude".to_owned(),
    };
    let root = ctx.dirs.data_dir.clone();
    let parts: Vec<_> = harnesses
        .iter()
        .map(|h| {
            let (s, def) = harness_facts(*h);
            let accounts: Vec<String> = s.default_accounts.iter().map(|a| a.to_string()).collect();
            (s, def, accounts)
        })
        .collect();
    let doc = if parts.is_empty() {
        json!({"version": 1, "defaults": {}, "providers": {}, "profiles": {}})
    } else {
        starter::starter_config(&parts, &root)
    };
    let config = check_doc(&doc)?;
    let existed = path.exists()
        || match write_doc(
            &ctx,
            None,
            &doc,
            ConfigEditEvent {
                action: "init".into(),
                provider: None,
                accounts: parts.iter().flat_map(|(_, _, a)| a.clone()).collect(),
                changed: vec!["$".into()],
                backup_kept: false,
            },
        ) {
            Ok(_) => false,
            // Another process wrote a config meanwhile: it is kept, as any config is.
            Err(_) if path.exists() => true,
            Err(e) => return Err(e),
        };
    let report = if existed {
        InitReport {
            ok: false,
            created: false,
            config_path: path.display().to_string(),
            template,
            reason: "config_exists",
            stores: Vec::new(),
            next_commands: vec![
                "oauth-mux doctor".into(),
                "oauth-mux setup codex".into(),
                "oauth-mux setup claude".into(),
            ],
        }
    } else {
        let mut stores = Vec::new();
        for (s, _, accounts) in &parts {
            for account in accounts {
                let dir = starter::store_dir(&root, s.provider, account);
                stores.push(StoreReport {
                    provider: s.provider.into(),
                    account: account.clone(),
                    store: shown_path(&dir),
                    created: ensure_store(&dir)?,
                    login_command: login_command(&config, s.provider, account).unwrap_or_default(),
                });
            }
        }
        let mut next: Vec<String> = stores.iter().map(|s| s.login_command.clone()).collect();
        next.push("oauth-mux doctor".into());
        if parts.is_empty() {
            next.push("oauth-mux setup codex".into());
            next.push("oauth-mux setup claude".into());
        }
        InitReport {
            ok: true,
            created: true,
            config_path: path.display().to_string(),
            template,
            reason: "written",
            stores,
            next_commands: next,
        }
    };
    output::emit(args.json, &report, render)?;
    if existed {
        Err(Quiet(ExitCode::Error).into())
    } else {
        Ok(())
    }
}

fn render(r: &InitReport) -> String {
    if !r.created {
        return format!(
            "a config already exists at {}; nothing was changed (init never overwrites: add accounts with `oauth-mux setup` or `oauth-mux enroll`)",
            r.config_path
        ) + &output::next_block(&r.next_commands);
    }
    let mut out = format!(
        "wrote a {} starter config to {}\n",
        r.template, r.config_path
    );
    if !r.stores.is_empty() {
        out.push_str(&format!(
            "account stores (0700): {}\n\nLog each account in (its harness's own login, into its store):\n",
            r.stores
                .iter()
                .map(|s| format!("{}:{} {}", s.provider, s.account, s.store))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for s in &r.stores {
            out.push_str(&format!("  {}\n", s.login_command));
        }
    }
    let rest: Vec<String> = r
        .next_commands
        .iter()
        .filter(|c| !r.stores.iter().any(|s| &s.login_command == *c))
        .cloned()
        .collect();
    out + &output::next_block(&rest)
}
