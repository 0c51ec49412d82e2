//! `oauth-mux doctor` and `oauth-mux doctor runtime`: no-spend readiness.

use serde::Serialize;

use super::context::Context;
use super::facts::RouteId;
use crate::cli::{DoctorArgs, DoctorCommand, RuntimeArgs};
use crate::config::Problem;
use crate::exit::{ExitCode, Quiet};
use crate::model::runtime::RuntimeReadiness;
use crate::output;
use crate::routes::{self, find_on_path, is_writable};
use crate::util::home::expand_tilde as expand_home;

#[derive(Serialize)]
struct DoctorReport {
    ok: bool,
    configured: bool,
    config_valid: bool,
    config_path: String,
    config_error: Option<String>,
    providers: usize,
    accounts: usize,
    profiles: usize,
    codex_configured: bool,
    codex_max_configured: bool,
    warnings: Vec<Problem>,
    health_store_readable: bool,
    /// What is missing, each with the command that fixes it; empty when nothing is.
    problems: Vec<DoctorProblem>,
    next_commands: Vec<String>,
}

/// One thing that keeps oauth-mux from working, and what to run about it.
#[derive(Serialize)]
struct DoctorProblem {
    /// `no_config`, `config_invalid`, `no_accounts`, `missing_binary`, `store_missing`,
    /// `store_unwritable`, `not_logged_in`, `health_store_unreadable`.
    code: &'static str,
    /// `provider:account` or the binary, when the problem is about one.
    subject: Option<String>,
    message: String,
    next_command: Option<String>,
}

fn problem(
    code: &'static str,
    subject: Option<String>,
    message: impl Into<String>,
    next_command: Option<String>,
) -> DoctorProblem {
    DoctorProblem {
        code,
        subject,
        message: message.into(),
        next_command,
    }
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<()> {
    match &args.sub {
        Some(DoctorCommand::Runtime(rt)) => runtime(rt),
        None => doctor(args.json),
    }
}

/// `doctor`: what is configured, and every problem with its next command. Exit 1 when
/// anything is missing.
fn doctor(json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let config_path = ctx.dirs.config_file.display().to_string();
    let health_store_readable = ctx.health().is_ok();
    let mut report = DoctorReport {
        ok: false,
        configured: false,
        config_valid: false,
        config_path,
        config_error: None,
        providers: 0,
        accounts: 0,
        profiles: 0,
        codex_configured: false,
        codex_max_configured: false,
        warnings: Vec::new(),
        health_store_readable,
        problems: Vec::new(),
        next_commands: Vec::new(),
    };
    match ctx.config_if_present() {
        Ok(None) => report.problems.push(problem(
            "no_config",
            None,
            "no config yet",
            Some("oauth-mux init --codex-max".into()),
        )),
        Err(e) => {
            report.configured = true;
            report.config_error = Some(format!("{e:#}"));
            report.problems.push(problem(
                "config_invalid",
                None,
                "the config is invalid",
                Some("oauth-mux config validate".into()),
            ));
        }
        Ok(Some(loaded)) => {
            let c = &loaded.config;
            report.configured = true;
            report.config_valid = true;
            report.providers = c.providers.len();
            report.accounts = c.providers.values().map(|p| p.accounts.len()).sum();
            report.profiles = c.profiles.len();
            report.codex_configured = c.providers.values().any(|p| p.kind == "codex");
            report.codex_max_configured = crate::config::edit::codex_max_configured(c);
            report.warnings = loaded.warnings;
            account_problems(&ctx, c, &mut report.problems);
            if report.accounts == 0 {
                report.problems.push(problem(
                    "no_accounts",
                    None,
                    "no account is configured (Claude Code: `oauth-mux setup claude`)",
                    Some("oauth-mux setup codex".into()),
                ));
                report.next_commands.push("oauth-mux setup claude".into());
            }
            if report.codex_configured && !report.codex_max_configured {
                report
                    .next_commands
                    .push("oauth-mux codex config-candidate --json".into());
            }
            let profile = c
                .defaults
                .profile
                .clone()
                .or_else(|| c.profiles.keys().next().cloned());
            report
                .next_commands
                .push("oauth-mux doctor runtime --json".into());
            if let Some(p) = profile {
                report
                    .next_commands
                    .push(format!("oauth-mux route explain --profile {p} --json"));
            }
            report
                .next_commands
                .push("oauth-mux repair-plan --json".into());
        }
    }
    if !health_store_readable {
        report.problems.push(problem(
            "health_store_unreadable",
            None,
            "the health store cannot be read",
            Some("oauth-mux health --json".into()),
        ));
    }
    let mut first: Vec<String> = Vec::new();
    for p in &report.problems {
        if let Some(c) = &p.next_command
            && !first.contains(c)
        {
            first.push(c.clone());
        }
    }
    if !report.configured {
        first.push("oauth-mux init --claude".into());
        first.push("oauth-mux providers list".into());
    }
    first.append(&mut report.next_commands);
    report.next_commands = first;
    report.ok = report.problems.is_empty();
    output::emit(json, &report, render_doctor)?;
    if report.ok {
        Ok(())
    } else {
        Err(Quiet(ExitCode::Error).into())
    }
}

/// The problems of every configured account: a missing harness binary (once per binary),
/// a missing or read-only store, a credential file that is not there.
fn account_problems(
    ctx: &Context,
    config: &crate::config::Config,
    problems: &mut Vec<DoctorProblem>,
) {
    for (pname, pc) in &config.providers {
        for aname in pc.accounts.keys() {
            let a = account_runtime(ctx, config, pname, aname);
            let subject = Some(format!("{pname}:{aname}"));
            for b in a.required_binaries.iter().filter(|b| !b.found) {
                if !problems
                    .iter()
                    .any(|p| p.code == "missing_binary" && p.subject.as_deref() == Some(&b.name))
                {
                    problems.push(problem(
                        "missing_binary",
                        Some(b.name.clone()),
                        format!("`{}` is not on PATH: {}", b.name, install_hint(&b.name)),
                        None,
                    ));
                }
            }
            let login = super::facts::login_command(config, pname, aname);
            let setup = crate::config::starter::starter(&pc.kind)
                .map(|s| format!("oauth-mux setup {}", s.provider));
            match (a.config_dir_exists, a.config_dir_writable) {
                (Some(false), _) => problems.push(problem(
                    "store_missing",
                    subject.clone(),
                    format!("the store of {pname}:{aname} does not exist"),
                    setup.or_else(|| login.clone()),
                )),
                (Some(true), Some(false)) => problems.push(problem(
                    "store_unwritable",
                    subject.clone(),
                    format!("the store of {pname}:{aname} is not writable"),
                    Some(format!(
                        "oauth-mux doctor runtime --provider {pname} --account {aname}"
                    )),
                )),
                _ => {}
            }
            if a.config_dir_exists == Some(true) {
                for f in a.session_files.iter().filter(|f| !f.present) {
                    problems.push(problem(
                        "not_logged_in",
                        subject.clone(),
                        format!(
                            "{pname}:{aname} is not logged in (no {} in its store)",
                            f.name
                        ),
                        login.clone(),
                    ));
                }
            }
        }
    }
}

fn render_doctor(r: &DoctorReport) -> String {
    let mut out = String::new();
    let yes = |b: bool| if b { "yes" } else { "no" };
    out.push_str(&format!("config:        {}\n", r.config_path));
    out.push_str(&format!("configured:    {}\n", yes(r.configured)));
    if r.configured {
        out.push_str(&format!("valid:         {}\n", yes(r.config_valid)));
    }
    if let Some(e) = &r.config_error {
        out.push_str(&format!("  {}\n", e.replace('\n', "\n  ")));
    }
    if r.config_valid {
        out.push_str(&format!(
            "providers:     {}\naccounts:      {}\nprofiles:      {}\n",
            r.providers, r.accounts, r.profiles
        ));
        out.push_str(&format!("codex-max:     {}\n", yes(r.codex_max_configured)));
    }
    out.push_str(&format!(
        "health store:  {}\n",
        if r.health_store_readable {
            "readable"
        } else {
            "UNREADABLE (see `oauth-mux health`)"
        }
    ));
    for w in &r.warnings {
        out.push_str(&format!("{w}\n"));
    }
    if r.problems.is_empty() {
        out.push_str("\nnothing is missing\n");
    } else {
        out.push_str(&format!("\n{} problem(s):\n", r.problems.len()));
        for p in &r.problems {
            out.push_str(&format!(
                "  {}{}\n",
                p.message,
                p.next_command
                    .as_deref()
                    .map(|c| format!(" → {c}"))
                    .unwrap_or_default()
            ));
        }
    }
    out + &output::next_block(&r.next_commands)
}

#[derive(Serialize)]
struct BinaryCheck {
    name: String,
    found: bool,
}

#[derive(Serialize)]
struct SessionFileCheck {
    name: String,
    present: bool,
}

#[derive(Serialize)]
struct AccountRuntime {
    provider: String,
    account: String,
    ready: bool,
    runtime: RuntimeReadiness,
    required_binaries: Vec<BinaryCheck>,
    config_dir_set: bool,
    config_dir_exists: Option<bool>,
    config_dir_writable: Option<bool>,
    session_files: Vec<SessionFileCheck>,
    /// The token's expiry and whether a refresh is admitted, or why not.
    token: crate::model::refresh::TokenOutlook,
    next_command: Option<String>,
}

#[derive(Serialize)]
struct RouteRuntime {
    route: RouteId,
    ready: bool,
    runtime: RuntimeReadiness,
}

#[derive(Serialize)]
struct RuntimeReport {
    ok: bool,
    configured: bool,
    config_valid: bool,
    accounts: usize,
    ready_accounts: usize,
    action_needed_accounts: usize,
    account_reports: Vec<AccountRuntime>,
    scope: Option<serde_json::Value>,
    route_reports: Vec<RouteRuntime>,
    state_dir_writable: bool,
    paths_printed: bool,
    next_commands: Vec<String>,
}

fn runtime(args: &RuntimeArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let config = &loaded.config;
    let sel = &args.selectors;
    let accounts: Vec<AccountRuntime> = config
        .providers
        .iter()
        .filter(|(pname, _)| sel.provider.as_ref().is_none_or(|p| p == *pname))
        .flat_map(|(pname, pc)| {
            pc.accounts
                .keys()
                .filter(|aname| sel.account.as_ref().is_none_or(|a| a == *aname))
                .map(move |aname| (pname, aname))
        })
        .map(|(pname, aname)| account_runtime(&ctx, config, pname, aname))
        .collect();
    let (scope, route_reports) = if sel.profile.is_some() || sel.capability.is_some() {
        let request = routes::gather(config, sel, &ctx.dirs)?;
        let reports = request
            .candidates
            .iter()
            .map(|c| RouteRuntime {
                route: RouteId::from(&c.key),
                ready: c.runtime.is_ready(),
                runtime: c.runtime.clone(),
            })
            .collect();
        (
            Some(
                serde_json::json!({"profile": request.profile, "capability": request.primary_capability}),
            ),
            reports,
        )
    } else {
        (None, Vec::new())
    };
    let ready_accounts = accounts.iter().filter(|a| a.ready).count();
    let state_dir_writable = !ctx.dirs.state_dir.exists() || is_writable(&ctx.dirs.state_dir);
    let mut next_commands: Vec<String> = accounts
        .iter()
        .filter_map(|a| a.next_command.clone())
        .collect();
    next_commands.dedup();
    next_commands.push("oauth-mux route explain --json".into());
    let report = RuntimeReport {
        ok: ready_accounts == accounts.len() && state_dir_writable,
        configured: true,
        config_valid: true,
        accounts: accounts.len(),
        ready_accounts,
        action_needed_accounts: accounts.len() - ready_accounts,
        account_reports: accounts,
        scope,
        route_reports,
        state_dir_writable,
        paths_printed: false,
        next_commands,
    };
    output::emit(args.json, &report, |r| {
        let rows: Vec<Vec<String>> = r
            .account_reports
            .iter()
            .map(|a| {
                let missing: Vec<&str> = a
                    .required_binaries
                    .iter()
                    .filter(|b| !b.found)
                    .map(|b| b.name.as_str())
                    .collect();
                vec![
                    format!("{}:{}", a.provider, a.account),
                    a.runtime.label().to_owned(),
                    if missing.is_empty() {
                        "-".into()
                    } else {
                        format!("missing {}", missing.join(","))
                    },
                    match (a.config_dir_exists, a.config_dir_writable) {
                        (None, _) => "no config_dir".into(),
                        (Some(false), _) => "config_dir missing".into(),
                        (Some(true), Some(false)) => "config_dir read-only".into(),
                        _ => "config_dir ok".into(),
                    },
                    super::facts::describe_token(&a.token, ctx.now),
                ]
            })
            .collect();
        let mut out = format!("{} of {} accounts ready\n\n", r.ready_accounts, r.accounts);
        out.push_str(&output::table(
            &["ACCOUNT", "RUNTIME", "BINARIES", "STORE", "TOKEN"],
            &rows,
        ));
        if !r.state_dir_writable {
            out.push_str("\nthe state dir is not writable: health cannot be recorded\n");
        }
        out + &output::next_block(&r.next_commands)
    })?;
    if report.ok {
        Ok(())
    } else {
        Err(Quiet(ExitCode::Error).into())
    }
}

/// The local runtime of one configured account: binaries, store, session files, and its
/// token's outlook (read only from a file or environment secret: `oauth::inspect`).
fn account_runtime(
    ctx: &Context,
    config: &crate::config::Config,
    pname: &str,
    aname: &str,
) -> AccountRuntime {
    let pc = &config.providers[pname];
    let account = &pc.accounts[aname];
    let def = config.definition(&pc.kind);
    let key = crate::model::RouteKey::new(pname, aname, None);
    let runtime = routes::readiness(&ctx.dirs, &key, pc, account, def);
    let dir = account.config_dir.as_deref().map(expand_home);
    let env = pc
        .config_dir_env
        .clone()
        .or_else(|| def.and_then(|d| d.injection.config_dir_env.clone()));
    let session_files = def
        .map(|d| {
            d.runtime
                .session_paths
                .iter()
                .filter_map(|s| s.split_once('/'))
                .filter(|(e, _)| Some(*e) == env.as_deref())
                .map(|(_, rel)| SessionFileCheck {
                    name: rel.to_owned(),
                    present: dir.as_ref().is_some_and(|d| d.join(rel).exists()),
                })
                .collect()
        })
        .unwrap_or_default();
    let ready = runtime.is_ready();
    AccountRuntime {
        provider: pname.to_owned(),
        account: aname.to_owned(),
        ready,
        required_binaries: def
            .map(|d| {
                d.runtime
                    .required_binaries
                    .iter()
                    .map(|b| BinaryCheck {
                        name: b.clone(),
                        found: find_on_path(b).is_some(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        config_dir_set: dir.is_some(),
        config_dir_exists: dir.as_ref().map(|d| d.is_dir()),
        config_dir_writable: dir.as_ref().map(|d| d.is_dir() && is_writable(d)),
        session_files,
        token: crate::oauth::inspect::account_outlook(
            config, &ctx.dirs, pname, aname, account, ctx.now,
        ),
        next_command: (!ready).then(|| fix_hint(&runtime, pname, aname, config)),
        runtime,
    }
}

fn fix_hint(
    runtime: &RuntimeReadiness,
    provider: &str,
    account: &str,
    config: &crate::config::Config,
) -> String {
    let login = super::facts::login_command(config, provider, account);
    match runtime {
        RuntimeReadiness::MissingBinary { binary } => install_hint(binary),
        RuntimeReadiness::SessionUnavailable { .. } | RuntimeReadiness::NeedsReauth => login
            .unwrap_or_else(|| {
                format!("oauth-mux repair-plan --provider {provider} --account {account}")
            }),
        RuntimeReadiness::RepairInProgress { .. } => {
            format!("wait for the running repair of {provider}:{account}")
        }
        _ => format!("oauth-mux doctor runtime --provider {provider} --account {account} --json"),
    }
}

/// How to install a missing binary: the harness's own package when it is one.
fn install_hint(binary: &str) -> String {
    match crate::config::starter::starter(binary) {
        Some(s) => format!("{} (or set {} to its path)", s.install, s.bin_env),
        None => format!("install `{binary}` and put it on PATH"),
    }
}
