//! `oauth-mux setup codex|claude [--accounts A,B] [--plan] [--json]`: idempotent guided setup.
//! Creates what is missing (the config, or the provider's accounts and profiles through the
//! same edit as `enroll`; the account stores), then reports every account's credentials and
//! the login command of each one without usable credentials. `--plan`/`--json` only report.

use serde::Serialize;
use serde_json::json;

use super::{
    AccountCheck, ConfigDoc, check_account, check_doc, ensure_store, harness_accounts,
    harness_facts, read_doc, shown_path, write_doc,
};
use crate::cli::SetupArgs;
use crate::commands::context::Context;
use crate::config::edit::{self, ChangeOp, ConfigChange};
use crate::config::starter;
use crate::harness::binary;
use crate::harness::credentials::CredentialState;
use crate::harness::status::HarnessKind;
use crate::model::event::ConfigEditEvent;
use crate::output;
use crate::store::config_file;
use crate::util::home::expand_tilde;

#[derive(Serialize)]
struct SetupReport {
    harness: HarnessKind,
    /// `--plan`/`--json`: this run only reports.
    plan_only: bool,
    /// Something is (or was) missing: config entries or stores.
    changes_needed: bool,
    /// The changes were made.
    applied: bool,
    /// The accounts the config gains (or would gain).
    accounts_added: Vec<String>,
    config_path: String,
    config_created: bool,
    config_changes: Vec<ConfigChange>,
    backup_config: Option<String>,
    stores_to_create: Vec<String>,
    stores_created: Vec<String>,
    harness_binary: BinaryReport,
    accounts: Vec<AccountCheck>,
    /// Every account's store holds usable credentials.
    ok: bool,
    spends_provider_calls: bool,
    next_commands: Vec<String>,
}

#[derive(Serialize)]
struct BinaryReport {
    name: &'static str,
    found: bool,
    version: Option<String>,
    problem: Option<String>,
}

pub fn run(args: &SetupArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let harness = args.harness.kind();
    let (starter, def) = harness_facts(harness);
    let plan_only = args.plan || args.json;
    let path = ctx.dirs.config_file.clone();
    // Held from reading the config to writing it, so a concurrent enroll is never lost.
    let _lock = if plan_only {
        None
    } else {
        Some(config_file::lock(&path).map_err(crate::exit::Failure::from)?)
    };
    let previous = read_doc(&path)?;
    let root = ctx.dirs.data_dir.clone();
    let wanted: Vec<String> = if !args.accounts.is_empty() {
        args.accounts.clone()
    } else {
        let configured = previous
            .as_ref()
            .and_then(|d| edit::harness_provider(&d.value, starter.provider))
            .map(|p| edit::account_names(&previous.as_ref().unwrap().value, &p))
            .unwrap_or_default();
        if configured.is_empty() {
            starter
                .default_accounts
                .iter()
                .map(|a| a.to_string())
                .collect()
        } else {
            configured
        }
    };
    let mut seen = Vec::new();
    let wanted: Vec<String> = wanted
        .into_iter()
        .filter(|a| {
            let first = !seen.contains(a);
            seen.push(a.clone());
            first
        })
        .collect();
    for name in &wanted {
        if let Some(why) = edit::account_name_problem(name) {
            return Err(crate::exit::Failure::new(
                crate::exit::ExitCode::Usage,
                format!("--accounts: account name {name:?} {why}"),
            )
            .into());
        }
    }
    let (doc, changes, added) = match &previous {
        None => {
            let doc = starter::starter_config(&[(starter, def, wanted.clone())], &root);
            let changes = vec![ConfigChange {
                path: "$".into(),
                op: ChangeOp::Add,
                value: json!(format!("a new config with {}", wanted.join(", "))),
            }];
            (doc, changes, wanted.clone())
        }
        Some(ConfigDoc { value, .. }) => {
            let mut doc = value.clone();
            let mut changes = Vec::new();
            let provider = edit::harness_provider(value, starter.provider);
            let have = provider
                .as_deref()
                .map(|p| edit::account_names(value, p))
                .unwrap_or_default();
            let added: Vec<String> = wanted
                .iter()
                .filter(|a| !have.contains(a))
                .cloned()
                .collect();
            for account in &added {
                let e = edit::enroll(&doc, starter, def, account, &root).map_err(|e| {
                    crate::exit::Failure::new(crate::exit::ExitCode::Error, e.to_string())
                })?;
                doc = e.config;
                changes.extend(e.changes);
            }
            (doc, changes, added)
        }
    };
    let config = check_doc(&doc)?;
    let accounts = harness_accounts(&config, harness);
    let stores: Vec<std::path::PathBuf> = accounts
        .iter()
        .filter_map(|(p, a)| config.providers[p].accounts[a].config_dir.as_deref())
        .map(expand_tilde)
        .collect();
    let stores_to_create: Vec<String> = stores
        .iter()
        .filter(|d| !d.is_dir())
        .map(|d| shown_path(d))
        .collect();
    let mut report = SetupReport {
        harness,
        plan_only,
        changes_needed: !changes.is_empty() || !stores_to_create.is_empty(),
        applied: false,
        accounts_added: added,
        config_path: path.display().to_string(),
        config_created: previous.is_none(),
        config_changes: changes,
        backup_config: None,
        stores_to_create,
        stores_created: Vec::new(),
        harness_binary: binary_report(starter),
        accounts: Vec::new(),
        ok: false,
        spends_provider_calls: false,
        next_commands: Vec::new(),
    };
    if !plan_only {
        if !report.config_changes.is_empty() {
            let backup = write_doc(
                &ctx,
                previous.as_ref(),
                &doc,
                ConfigEditEvent {
                    action: "setup".into(),
                    provider: Some(starter.provider.into()),
                    accounts: report.accounts_added.clone(),
                    changed: report
                        .config_changes
                        .iter()
                        .map(|c| c.path.clone())
                        .collect(),
                    backup_kept: false,
                },
            )?;
            report.backup_config = backup.map(|b| b.display().to_string());
        }
        for dir in &stores {
            if ensure_store(dir)? {
                report.stores_created.push(shown_path(dir));
            }
        }
        report.applied = report.changes_needed;
    }
    report.config_created &= !plan_only;
    report.accounts = accounts
        .iter()
        .map(|(p, a)| check_account(&ctx, &config, harness, p, a))
        .collect();
    report.ok = report
        .accounts
        .iter()
        .all(|a| a.credentials.state == CredentialState::Usable);
    report.next_commands = next_commands(&report, harness, plan_only);
    output::emit(args.json, &report, |r| render(r, plan_only))
}

fn binary_report(starter: &starter::Starter) -> BinaryReport {
    match binary::program(starter) {
        Ok(program) => match binary::version(&program) {
            Ok(v) => BinaryReport {
                name: starter.provider,
                found: true,
                version: Some(v),
                problem: None,
            },
            Err(why) => BinaryReport {
                name: starter.provider,
                found: true,
                version: None,
                problem: Some(why),
            },
        },
        Err(why) => BinaryReport {
            name: starter.provider,
            found: false,
            version: None,
            problem: Some(why.message),
        },
    }
}

fn next_commands(r: &SetupReport, harness: HarnessKind, plan_only: bool) -> Vec<String> {
    let mut next = Vec::new();
    if plan_only && r.changes_needed {
        next.push(format!("oauth-mux setup {}", harness.name()));
    }
    next.extend(r.accounts.iter().filter_map(|a| a.login_command.clone()));
    next.push(format!("oauth-mux {} canary", harness.name()));
    next
}

fn render(r: &SetupReport, plan_only: bool) -> String {
    let mut out = String::new();
    let (write, change, create) = if plan_only {
        ("would write", "would change", "would create")
    } else {
        ("wrote", "changed", "created")
    };
    if r.config_changes.is_empty() && r.stores_to_create.is_empty() {
        out.push_str("nothing to create: the config and every account store exist\n");
    } else if r.config_created || (plan_only && r.config_changes.iter().any(|c| c.path == "$")) {
        out.push_str(&format!("{write} a new config at {}\n", r.config_path));
    } else {
        for c in &r.config_changes {
            out.push_str(&format!("{change} the config: {}\n", c.render()));
        }
    }
    if let Some(b) = &r.backup_config {
        out.push_str(&format!("previous config kept as {b}\n"));
    }
    for s in if plan_only {
        &r.stores_to_create
    } else {
        &r.stores_created
    } {
        out.push_str(&format!("{create} the account store {s} (0700)\n"));
    }
    let b = &r.harness_binary;
    out.push_str(&match (&b.version, &b.problem) {
        (Some(v), _) => format!("{}: {v}\n", b.name),
        (None, Some(p)) => format!("{}: {p}\n", b.name),
        _ => String::new(),
    });
    out.push('\n');
    let rows: Vec<Vec<String>> = r
        .accounts
        .iter()
        .map(|a| {
            vec![
                format!("{}:{}", a.provider, a.account),
                credentials_cell(a),
                a.login_command.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out.push_str(&output::table(&["ACCOUNT", "CREDENTIALS", "LOGIN"], &rows));
    out + &output::next_block(&r.next_commands)
}

/// `usable (pro, expires 2026-12-31)`, `missing`, `expired 2026-…`.
pub fn credentials_cell(a: &AccountCheck) -> String {
    let c = &a.credentials;
    let mut cell = c.state.label().to_owned();
    let mut extra = Vec::new();
    if let Some(plan) = &c.plan {
        extra.push(plan.clone());
    }
    if let Some(at) = c.expires_at {
        extra.push(format!("expires {}", at.strftime("%Y-%m-%d %H:%M")));
    }
    if !extra.is_empty() {
        cell.push_str(&format!(" ({})", extra.join(", ")));
    }
    cell
}
