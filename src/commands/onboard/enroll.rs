//! `oauth-mux enroll plan PROVIDER --account NAME` (changes nothing) and
//! `oauth-mux enroll PROVIDER --account NAME --confirm-enroll`: add one account of a harness
//! provider, its routes in the provider's profiles, and its store. The new config is validated
//! before it is written, the previous one is kept as a backup, the write is atomic, and a
//! name that exists is refused.

use serde::Serialize;
use serde_json::json;

use super::{check_doc, ensure_store, harness_facts, read_doc, shown_path, write_doc};
use crate::cli::{EnrollArgs, EnrollCommand, EnrollTarget};
use crate::commands::context::Context;
use crate::commands::facts::login_command;
use crate::config::edit::{self, ConfigChange, EditRefusal};
use crate::config::starter;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::model::event::ConfigEditEvent;
use crate::output;
use crate::store::config_file;

#[derive(Serialize)]
struct EnrollReport {
    /// `plan` or `enroll`.
    action: &'static str,
    ok: bool,
    executed: bool,
    /// Whether this action writes (the confirmed enroll does; the plan never).
    mutates: bool,
    confirmation_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires: Option<&'static str>,
    provider: String,
    account: String,
    config_path: String,
    config_created: bool,
    config_changes: Vec<ConfigChange>,
    backup_config: Option<String>,
    store: String,
    store_created: bool,
    ran_provider_login: bool,
    spends_provider_calls: bool,
    confirm_command: String,
    next_commands: Vec<String>,
}

pub fn run(args: &EnrollArgs) -> anyhow::Result<()> {
    match &args.sub {
        Some(EnrollCommand::Plan(target)) => enroll(target, false, true),
        None => enroll(&args.target, args.confirm_enroll, false),
    }
}

fn enroll(target: &EnrollTarget, confirmed: bool, plan: bool) -> anyhow::Result<()> {
    let (Some(provider), Some(account)) = (target.provider, target.account.as_deref()) else {
        return Err(Failure::new(
            ExitCode::Usage,
            "name the provider and the account: `oauth-mux enroll codex --account NAME`",
        )
        .into());
    };
    let harness = provider.kind();
    let (starter, def) = harness_facts(harness);
    let ctx = Context::from_env()?;
    let path = ctx.dirs.config_file.clone();
    let writes = confirmed && !plan;
    let _lock = if writes {
        Some(config_file::lock(&path).map_err(Failure::from)?)
    } else {
        None
    };
    let previous = read_doc(&path)?;
    let base = previous
        .as_ref()
        .map(|d| d.value.clone())
        .unwrap_or_else(|| json!({"version": 1, "providers": {}, "profiles": {}}));
    let edit = edit::enroll(&base, starter, def, account, &ctx.dirs.data_dir).map_err(|e| {
        let code = match e {
            EditRefusal::BadName { .. } => ExitCode::Usage,
            EditRefusal::NotAnObject { .. } => ExitCode::Config,
            _ => ExitCode::Error,
        };
        Failure::new(code, e.to_string())
    })?;
    let config = check_doc(&edit.config)?;
    let provider_name =
        edit::harness_provider(&edit.config, starter.provider).unwrap_or(starter.provider.into());
    let store = starter::store_dir(&ctx.dirs.data_dir, &provider_name, account);
    let login = login_command(&config, &provider_name, account).unwrap_or_default();
    let confirm_command = format!(
        "oauth-mux enroll {} --account {account} --confirm-enroll",
        starter.provider
    );
    let mut report = EnrollReport {
        action: if plan { "plan" } else { "enroll" },
        ok: plan,
        executed: false,
        mutates: !plan,
        confirmation_required: !plan && !confirmed,
        requires: (!plan && !confirmed).then_some("--confirm-enroll"),
        provider: provider_name.clone(),
        account: account.to_owned(),
        config_path: path.display().to_string(),
        config_created: previous.is_none(),
        config_changes: edit.changes.clone(),
        backup_config: None,
        store: shown_path(&store),
        store_created: false,
        ran_provider_login: false,
        spends_provider_calls: false,
        confirm_command: confirm_command.clone(),
        next_commands: if writes {
            vec![login, format!("oauth-mux {} canary", starter.provider)]
        } else {
            vec![confirm_command]
        },
    };
    if writes {
        let backup = write_doc(
            &ctx,
            previous.as_ref(),
            &edit.config,
            ConfigEditEvent {
                action: "enroll".into(),
                provider: Some(provider_name),
                accounts: vec![account.to_owned()],
                changed: edit.changes.iter().map(|c| c.path.clone()).collect(),
                backup_kept: false,
            },
        )?;
        report.backup_config = backup.map(|b| b.display().to_string());
        report.store_created = ensure_store(&store)?;
        report.executed = true;
        report.ok = true;
    }
    output::emit(target.json, &report, render)?;
    if report.ok {
        Ok(())
    } else {
        Err(Quiet(ExitCode::Error).into())
    }
}

fn render(r: &EnrollReport) -> String {
    let mut out = String::new();
    let head = match (r.executed, r.action) {
        (true, _) => format!("enrolled {}:{}", r.provider, r.account),
        (false, "plan") => format!("plan for {}:{} (nothing changed)", r.provider, r.account),
        _ => format!(
            "{}:{} is not enrolled yet: confirm with --confirm-enroll (nothing changed)",
            r.provider, r.account
        ),
    };
    out.push_str(&head);
    out.push('\n');
    if r.config_created {
        out.push_str(&format!("config: a new file {}\n", r.config_path));
    } else {
        out.push_str(&format!("config: {}\n", r.config_path));
    }
    for c in &r.config_changes {
        out.push_str(&format!("  {}\n", c.render()));
    }
    out.push_str(&format!(
        "store: {}{}\n",
        r.store,
        if r.store_created {
            " (created, 0700)"
        } else if r.executed {
            " (exists)"
        } else {
            " (created 0700 on enroll)"
        }
    ));
    if let Some(b) = &r.backup_config {
        out.push_str(&format!("previous config kept as {b}\n"));
    }
    out + &output::next_block(&r.next_commands)
}
