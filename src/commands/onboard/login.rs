//! The login handoffs: `oauth-mux codex login-device ACCOUNT` runs `codex login --device-auth`
//! and `oauth-mux claude login ACCOUNT` runs `claude auth login`, each with the account's store
//! as the harness's config dir (`CODEX_HOME`, `CLAUDE_CONFIG_DIR`), in this terminal. The
//! account's repair lock is held throughout (other commands see `repair_in_progress`); then the
//! store is read again and the answer says whether it now holds usable credentials. Every run
//! appends a `login` event. Interactive: refused with `--json`.

use serde::Serialize;

use super::{AccountCheck, check_account, ensure_store, harness_facts, shown_path};
use crate::child::{self, ChildSpec, SignalForwarder};
use crate::cli::LoginArgs;
use crate::commands::context::Context;
use crate::config::Config;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::harness::binary;
use crate::harness::credentials::CredentialState;
use crate::harness::status::HarnessKind;
use crate::model::event::{Event, EventKind, LoginEvent, Outcome};
use crate::model::health::{RouteHealth, RouteStatus};
use crate::output;
use crate::store::account_lock::{self, AccountLock};
use crate::store::health_file::HealthFile;
use crate::util::home::expand_tilde;

#[derive(Serialize)]
struct LoginReport {
    ok: bool,
    provider: String,
    account: String,
    command: String,
    exit_code: Option<i32>,
    /// Dead records of the account that a successful login cleared.
    cleared_dead_records: usize,
    #[serde(flatten)]
    check: AccountCheck,
    next_commands: Vec<String>,
}

/// `oauth-mux codex login-device ACCOUNT` / `oauth-mux claude login ACCOUNT`.
pub fn run(harness: HarnessKind, args: &LoginArgs) -> anyhow::Result<()> {
    let this = this_command(harness, &args.account);
    if args.json {
        return Err(Failure::new(
            ExitCode::Usage,
            format!(
                "a login is interactive: it runs {}'s own login in this terminal and needs a person, so it has no --json; run `{this}`",
                harness.name()
            ),
        )
        .into());
    }
    let (starter, _) = harness_facts(harness);
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let config = &loaded.config;
    let provider = provider_of(config, harness, &args.account, args.provider.as_deref())?;
    let pc = &config.providers[&provider];
    let def = config.definition(&pc.kind).ok_or_else(|| {
        Failure::new(
            ExitCode::Config,
            format!("provider {provider} has no definition"),
        )
    })?;
    let account = &pc.accounts[&args.account];
    let env_name = pc
        .config_dir_env
        .clone()
        .or_else(|| def.injection.config_dir_env.clone())
        .unwrap_or_default();
    let Some(store) = account.config_dir.as_deref().map(expand_tilde) else {
        return Err(Failure::new(
            ExitCode::Config,
            format!(
                "account {provider}:{} has no config_dir, so the login has no store to write into; set providers.{provider}.accounts.{}.config_dir (stores made by `oauth-mux enroll` have one)",
                args.account, args.account
            ),
        )
        .into());
    };
    let program = binary::program(starter)?;
    let Some(lock) =
        AccountLock::try_acquire(&ctx.dirs, &provider, &args.account, &ctx.now.to_string())
            .map_err(Failure::from)?
    else {
        let since = account_lock::probe(&ctx.dirs, &provider, &args.account)
            .map(|h| format!(" (since {})", h.started_at))
            .unwrap_or_default();
        return Err(Failure::new(
            ExitCode::Error,
            format!(
                "another oauth-mux process is repairing {provider}:{}{since}; wait for it to finish, then `{this}`",
                args.account
            ),
        )
        .into());
    };
    ensure_store(&store)?;
    let command = format!("{} {}", starter.provider, starter.login_args.join(" "));
    output::warn(&format!(
        "oauth-mux: logging in {provider}:{} with `{command}` ({env_name}={}); follow its instructions",
        args.account,
        shown_path(&store)
    ));
    let spec = ChildSpec {
        program: program.into_os_string(),
        args: starter.login_args.iter().map(Into::into).collect(),
        // The login gets no variable a configured secret backend reads.
        env_remove: config.secret_environment().into_iter().collect(),
        env_set: vec![(env_name, store.clone().into_os_string())],
    };
    let forwarder = SignalForwarder::install()?;
    let ran = child::spawn(&spec, &forwarder)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .and_then(|running| Ok(running.wait()?));
    drop(forwarder);
    let exit_code = ran
        .as_ref()
        .ok()
        .filter(|e| e.signal.is_none())
        .map(|e| e.code);
    // Read again while the lock is still held: what the login left is what others will see.
    let check = check_account(&ctx, config, harness, &provider, &args.account);
    let usable = check.credentials.state == CredentialState::Usable;
    let cleared = if usable {
        clear_dead_records(&ctx, &provider, &args.account)
    } else {
        0
    };
    drop(lock);
    let outcome = match (usable, exit_code) {
        (true, _) => "logged_in",
        (false, Some(0)) => "no_usable_credentials",
        (false, _) => "login_failed",
    };
    crate::evidence::append_event(
        &ctx.dirs,
        &Event::new(
            ctx.now,
            EventKind::Login(LoginEvent {
                provider: provider.clone(),
                account: args.account.clone(),
                command: command.clone(),
                exit_code,
                credentials: check.credentials.state.label().into(),
                outcome: Outcome {
                    outcome: outcome.into(),
                    reason: check.credentials.problem.clone(),
                    ok: usable,
                    executed: true,
                },
            }),
        ),
    );
    ran?;
    let report = LoginReport {
        ok: usable,
        provider: provider.clone(),
        account: args.account.clone(),
        command,
        exit_code,
        cleared_dead_records: cleared,
        next_commands: if usable {
            vec![
                format!("oauth-mux {} canary", harness.name()),
                format!("oauth-mux route explain --provider {provider}"),
            ]
        } else {
            vec![this.clone()]
        },
        check,
    };
    output::emit(false, &report, render)?;
    if usable {
        Ok(())
    } else {
        Err(Quiet(ExitCode::Error).into())
    }
}

fn this_command(harness: HarnessKind, account: &str) -> String {
    match harness {
        HarnessKind::Codex => format!("oauth-mux codex login-device {account}"),
        HarnessKind::Claude => format!("oauth-mux claude login {account}"),
    }
}

/// The provider of `harness` that holds `account` (`--provider` when given).
fn provider_of(
    config: &Config,
    harness: HarnessKind,
    account: &str,
    wanted: Option<&str>,
) -> anyhow::Result<String> {
    let holders: Vec<&String> = config
        .providers
        .iter()
        .filter(|(name, p)| {
            p.kind == harness.name()
                && p.accounts.contains_key(account)
                && wanted.is_none_or(|w| w == name.as_str())
        })
        .map(|(name, _)| name)
        .collect();
    match holders.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Failure::new(
            ExitCode::Usage,
            format!(
                "no {} account named {account:?} is configured{}; add it with `oauth-mux enroll {} --account {account} --confirm-enroll`",
                harness.name(),
                wanted.map(|w| format!(" in provider {w}")).unwrap_or_default(),
                harness.name()
            ),
        )
        .into()),
        many => Err(Failure::new(
            ExitCode::Usage,
            format!(
                "several providers hold an account {account:?} ({}); name one with --provider",
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
        .into()),
    }
}

/// Forget the dead records of the account (a revoked token, an unreadable credential): the
/// login repaired them. Other evidence (a spent quota) stays: a new login does not refill it.
fn clear_dead_records(ctx: &Context, provider: &str, account: &str) -> usize {
    let prefix = format!("{provider}:{account}");
    HealthFile::update(&ctx.dirs.health_file(), |routes| {
        let before = routes.len();
        routes.retain(|key, value| {
            let of_account = key == &prefix || key.starts_with(&format!("{prefix}#"));
            let dead = RouteHealth::from_json(value)
                .is_ok_and(|h| matches!(h.status_at(ctx.now), RouteStatus::Dead { .. }));
            !(of_account && dead)
        });
        before - routes.len()
    })
    .unwrap_or(0)
}

fn render(r: &LoginReport) -> String {
    let c = &r.check.credentials;
    let mut out = if r.ok {
        let mut facts = Vec::new();
        if let Some(auth) = c.auth {
            facts.push(auth.to_owned());
        }
        if let Some(plan) = &c.plan {
            facts.push(format!("plan {plan}"));
        }
        if let Some(at) = c.expires_at {
            facts.push(format!("expires {}", at.strftime("%Y-%m-%d %H:%M UTC")));
        }
        format!(
            "{}:{} now holds usable credentials ({})",
            r.provider,
            r.account,
            facts.join(", ")
        )
    } else {
        format!(
            "{}:{} holds no usable credentials after `{}` (exit {}): {} — {}",
            r.provider,
            r.account,
            r.command,
            r.exit_code
                .map_or_else(|| "by a signal".into(), |c| c.to_string()),
            c.state.label(),
            c.problem.as_deref().unwrap_or("log in again")
        )
    };
    if r.cleared_dead_records > 0 {
        out.push_str(&format!(
            "\ncleared {} dead health record(s) of the account",
            r.cleared_dead_records
        ));
    }
    out + &output::next_block(&r.next_commands)
}
