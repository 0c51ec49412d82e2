//! `oauth-mux keepalive`: refresh every selected account whose writeback is admitted and
//! whose token expires within the window, once (`--once`, the default: for cron or a timer)
//! or in a loop; `--print-unit` prints a systemd timer or a launchd agent that runs it.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::context::Context;
use super::facts::human_duration;
use super::keepalive_unit::{self, UnitSpec};
use crate::cli::{KeepaliveArgs, Selectors, UnitKind};
use crate::config::Config;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::model::RouteKey;
use crate::model::refresh::{
    RefreshAdmission, RefreshOutcome, RefreshTrigger, TokenState, backoff, is_due,
};
use crate::oauth::{self, FailureKind};
use crate::output;

/// One account in one pass.
#[derive(Debug, Clone, Serialize)]
struct AccountPass {
    /// `provider:account`.
    account: String,
    provider: String,
    name: String,
    /// The token's state before the pass (`valid`, `due`, `expired`, …).
    token: TokenState,
    expires_at: Option<Timestamp>,
    refresh: RefreshAdmission,
    /// `refreshed`, `adopted`, `not_needed`, `recovered`, `rejected`, `failed`,
    /// `not_admitted`, `not_due`, `no_expiry`, `backing_off`.
    result: &'static str,
    failure: Option<FailureKind>,
    oauth_error: Option<String>,
    /// The expiry after the pass, when a refresh (or adoption) changed it.
    new_expires_at: Option<Timestamp>,
    /// When the next attempt is due (`backing_off`, `failed`).
    retry_at: Option<Timestamp>,
    message: Option<String>,
}

#[derive(Debug, Serialize)]
struct PassReport {
    ok: bool,
    mode: &'static str,
    pass: u32,
    observed_at: Timestamp,
    /// `--within`, when given (else each provider's margin).
    within_seconds: Option<u64>,
    accounts: Vec<AccountPass>,
    refreshed: usize,
    failed: usize,
    next_commands: Vec<String>,
}

impl PassReport {
    fn exit_code(&self) -> ExitCode {
        let has = |result: &str| self.accounts.iter().any(|a| a.result == result);
        let failed_with = |kinds: &[FailureKind]| {
            self.accounts
                .iter()
                .any(|a| a.result == "failed" && a.failure.is_some_and(|f| kinds.contains(&f)))
        };
        if has("rejected") {
            ExitCode::TokenRefresh
        } else if failed_with(&[FailureKind::Network, FailureKind::Provider]) {
            ExitCode::Network
        } else if failed_with(&[FailureKind::Store]) {
            ExitCode::SecretRead
        } else if has("failed") {
            ExitCode::Error
        } else {
            ExitCode::Ok
        }
    }
}

pub fn run(args: &KeepaliveArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    if let Some(kind) = args.print_unit {
        return print_unit(&ctx, kind, args.interval);
    }
    let loaded = ctx.config()?;
    let config = &loaded.config;
    let accounts = selected_accounts(config, &args.selectors)?;
    let mut backoffs: HashMap<String, (u32, Timestamp)> = HashMap::new();
    let mut pass = 0u32;
    loop {
        pass += 1;
        let report = one_pass(&ctx, config, &accounts, args, pass, &mut backoffs);
        let code = report.exit_code();
        if args.loop_ {
            if args.json {
                output::write_stdout(
                    format!(
                        "{}\n",
                        crate::secrets::redact::scrub_json_text(&serde_json::to_string(&report)?)
                    )
                    .as_bytes(),
                );
            } else {
                output::print_text(&render(&report));
            }
        } else {
            output::emit(args.json, &report, render)?;
        }
        let done = !args.loop_ || args.iterations.is_some_and(|n| pass >= n);
        if done {
            return match code {
                ExitCode::Ok => Ok(()),
                code => Err(Quiet(code).into()),
            };
        }
        std::thread::sleep(std::time::Duration::from_secs(args.interval));
    }
}

/// The accounts the selectors name, in config order: a profile's accounts (each once), or
/// every account of every (or the selected) provider.
fn selected_accounts(config: &Config, sel: &Selectors) -> Result<Vec<RouteKey>, Failure> {
    let usage = |m: String| Failure::new(ExitCode::Usage, m);
    if sel.capability.is_some() {
        return Err(usage(
            "keepalive refreshes accounts' tokens, and a token serves every capability of its \
             account: select with --profile, --provider or --account instead of --capability"
                .to_owned(),
        ));
    }
    let mut keys: Vec<RouteKey> = Vec::new();
    if let Some(name) = &sel.profile {
        let profile = config.profiles.get(name).ok_or_else(|| {
            usage(format!(
                "unknown profile {name:?}; run `oauth-mux discover --json` to list profiles"
            ))
        })?;
        for spec in &profile.providers {
            let key = RouteKey::parse(spec)
                .map_err(|e| Failure::new(ExitCode::Config, format!("profiles.{name}: {e}")))?
                .account_key();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    } else {
        for (pname, pc) in &config.providers {
            for aname in pc.accounts.keys() {
                keys.push(RouteKey::new(pname, aname, None));
            }
        }
    }
    if let Some(p) = &sel.provider {
        if !config.providers.contains_key(p) {
            return Err(usage(format!(
                "unknown provider {p:?}; run `oauth-mux accounts list` to see providers"
            )));
        }
        keys.retain(|k| &k.provider == p);
    }
    if let Some(a) = &sel.account {
        keys.retain(|k| &k.account == a);
        if keys.is_empty() {
            return Err(usage(format!(
                "no account {a:?} among the selected ones; run `oauth-mux accounts list`"
            )));
        }
    }
    Ok(keys)
}

fn one_pass(
    ctx: &Context,
    config: &Config,
    accounts: &[RouteKey],
    args: &KeepaliveArgs,
    pass: u32,
    backoffs: &mut HashMap<String, (u32, Timestamp)>,
) -> PassReport {
    let now = Timestamp::now();
    let env = |name: &str| std::env::var(name).ok();
    let mut out = Vec::new();
    for key in accounts {
        let Some(account) = config
            .providers
            .get(&key.provider)
            .and_then(|p| p.accounts.get(&key.account))
        else {
            continue;
        };
        let outlook = oauth::inspect::account_outlook(
            config,
            &ctx.dirs,
            &key.provider,
            &key.account,
            account,
            now,
        );
        let mut row = AccountPass {
            account: key.to_string(),
            provider: key.provider.clone(),
            name: key.account.clone(),
            token: outlook.state,
            expires_at: outlook.expires_at,
            refresh: outlook.refresh.clone(),
            result: "not_due",
            failure: None,
            oauth_error: None,
            new_expires_at: None,
            retry_at: None,
            message: outlook.warning.clone(),
        };
        let wanted = matches!(outlook.state, TokenState::Due | TokenState::Expired);
        if !outlook.refresh.admitted {
            row.result = "not_admitted";
            if wanted {
                oauth::log_not_admitted(
                    &ctx.dirs,
                    &row.account,
                    RefreshTrigger::Keepalive,
                    &outlook.refresh.reason,
                );
            }
            out.push(row);
            continue;
        }
        let mut target = match oauth::target_for(
            config,
            &ctx.dirs.data_dir,
            &key.provider,
            &key.account,
            &env,
        ) {
            Ok(t) => t,
            Err(not) => {
                row.result = "not_admitted";
                row.refresh = RefreshAdmission {
                    admitted: false,
                    reason: not.reason.clone(),
                };
                row.message = Some(not.message);
                out.push(row);
                continue;
            }
        };
        if let Some(within) = args.within {
            target.margin = SignedDuration::from_secs(within.min(i64::MAX as u64) as i64);
        }
        let inspected = outlook.state != TokenState::NotInspected;
        if inspected && !is_due(outlook.expires_at, target.margin, now) {
            if outlook.expires_at.is_none() {
                row.result = "no_expiry";
            }
            out.push(row);
            continue;
        }
        if let Some((_, until)) = backoffs.get(&row.account)
            && now < *until
        {
            row.result = "backing_off";
            row.retry_at = Some(*until);
            out.push(row);
            continue;
        }
        let report = oauth::refresh(&ctx.dirs, &target, RefreshTrigger::Keepalive, None);
        row.result = report.outcome.as_str();
        row.failure = report.failure;
        row.oauth_error = report.oauth_error.clone();
        row.new_expires_at = report.expires_at.filter(|_| report.outcome.ok());
        // The report names the account; the row does already.
        let prefix = format!("{}: ", row.account);
        row.message = Some(
            report
                .message
                .strip_prefix(&prefix)
                .unwrap_or(&report.message)
                .to_owned(),
        )
        .filter(|m| !m.is_empty());
        if report.outcome == RefreshOutcome::Failed {
            let failures = backoffs.get(&row.account).map_or(0, |(n, _)| *n) + 1;
            let until = now.checked_add(backoff(failures)).unwrap_or(now);
            backoffs.insert(row.account.clone(), (failures, until));
            row.retry_at = Some(until);
        } else {
            backoffs.remove(&row.account);
        }
        out.push(row);
    }
    let refreshed = out
        .iter()
        .filter(|a| matches!(a.result, "refreshed" | "recovered"))
        .count();
    let failed = out
        .iter()
        .filter(|a| matches!(a.result, "failed" | "rejected"))
        .count();
    let mut next_commands = Vec::new();
    for a in out.iter().filter(|a| a.result == "rejected") {
        next_commands.push(format!(
            "oauth-mux repair-plan --provider {} --account {}",
            a.provider, a.name
        ));
    }
    if out.iter().any(|a| {
        a.result == "not_admitted" && matches!(a.token, TokenState::Due | TokenState::Expired)
    }) {
        next_commands.push("oauth-mux accounts list".into());
    }
    let mut report = PassReport {
        ok: false,
        mode: if args.loop_ { "loop" } else { "once" },
        pass,
        observed_at: now,
        within_seconds: args.within,
        accounts: out,
        refreshed,
        failed,
        next_commands,
    };
    report.ok = report.exit_code() == ExitCode::Ok;
    report
}

fn render(r: &PassReport) -> String {
    if r.accounts.is_empty() {
        return "no accounts selected".into();
    }
    let now = r.observed_at;
    let when = |t: Option<Timestamp>| match t {
        Some(t) if t > now => format!(
            "{} (in {})",
            t.strftime("%Y-%m-%d %H:%M:%SZ"),
            human_duration(now.duration_until(t).as_secs().unsigned_abs())
        ),
        Some(t) => format!("{} (expired)", t.strftime("%Y-%m-%d %H:%M:%SZ")),
        None => "-".into(),
    };
    let rows: Vec<Vec<String>> = r
        .accounts
        .iter()
        .map(|a| {
            vec![
                a.account.clone(),
                when(a.expires_at),
                if a.refresh.admitted {
                    "admitted".into()
                } else {
                    format!("no: {}", a.refresh.reason)
                },
                match a.new_expires_at {
                    Some(t) if a.result == "refreshed" || a.result == "recovered" => {
                        format!("{} (now {})", a.result, when(Some(t)))
                    }
                    _ => a.result.to_owned(),
                },
            ]
        })
        .collect();
    let mut text = output::table(&["ACCOUNT", "EXPIRES", "REFRESH", "RESULT"], &rows);
    for a in &r.accounts {
        if let Some(m) = &a.message
            && !matches!(a.result, "refreshed" | "not_needed" | "adopted")
        {
            text.push_str(&format!("\n{}: {m}", a.account));
        }
    }
    text + &output::next_block(&r.next_commands)
}

fn print_unit(ctx: &Context, kind: UnitKind, interval: u64) -> anyhow::Result<()> {
    let exe = std::env::current_exe().map_err(|e| {
        Failure::new(
            ExitCode::Error,
            format!("cannot tell where the oauth-mux binary is ({e}); write the unit by hand"),
        )
    })?;
    let spec = UnitSpec {
        exe: &exe,
        interval_seconds: interval,
        env: vec![
            ("OMUX_CONFIG", ctx.dirs.config_file.display().to_string()),
            ("OMUX_STATE_DIR", ctx.dirs.state_dir.display().to_string()),
            (
                "OMUX_RUNTIME_DIR",
                ctx.dirs.runtime_dir.display().to_string(),
            ),
        ],
    };
    let text = match kind {
        UnitKind::Systemd => keepalive_unit::systemd(&spec),
        UnitKind::Launchd => keepalive_unit::launchd(&spec),
    };
    output::print_text(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_codes_follow_the_worst_result() {
        use super::*;
        let row = |result: &'static str, failure| AccountPass {
            account: "p:a".into(),
            provider: "p".into(),
            name: "a".into(),
            token: TokenState::Due,
            expires_at: None,
            refresh: RefreshAdmission {
                admitted: true,
                reason: String::new(),
            },
            result,
            failure,
            oauth_error: None,
            new_expires_at: None,
            retry_at: None,
            message: None,
        };
        let report = |rows| PassReport {
            ok: true,
            mode: "once",
            pass: 1,
            observed_at: Timestamp::UNIX_EPOCH,
            within_seconds: None,
            accounts: rows,
            refreshed: 0,
            failed: 0,
            next_commands: vec![],
        };
        let net = Some(FailureKind::Network);
        assert_eq!(
            report(vec![row("refreshed", None)]).exit_code(),
            ExitCode::Ok
        );
        assert_eq!(
            report(vec![row("failed", net)]).exit_code(),
            ExitCode::Network
        );
        assert_eq!(
            report(vec![row("failed", net), row("rejected", None)]).exit_code(),
            ExitCode::TokenRefresh
        );
        assert_eq!(
            report(vec![row("failed", Some(FailureKind::Store))]).exit_code(),
            ExitCode::SecretRead
        );
        assert_eq!(
            report(vec![row("not_admitted", None)]).exit_code(),
            ExitCode::Ok
        );
    }
}
