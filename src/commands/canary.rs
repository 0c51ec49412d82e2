//! `oauth-mux codex|claude canary`: every account of the harness's profile checked without a
//! provider call: its store, whether its credentials parse and are not expired (with the
//! expiry), the plan and entitlement claims the token carries, and whether the next managed
//! session would use it (the same planning the launch runs, `session_plan`).

use serde::Serialize;

use super::context::Context;
use super::onboard::{AccountCheck, check_account, harness_facts};
use super::session_plan;
use crate::cli::CanaryArgs;
use crate::exit::{ExitCode, Quiet};
use crate::harness::credentials::CredentialState;
use crate::harness::status::HarnessKind;
use crate::model::runtime::RuntimeReadiness;
use crate::output;

#[derive(Serialize)]
struct CanaryReport {
    harness: HarnessKind,
    profile: String,
    ok: bool,
    spends_provider_calls: bool,
    /// A managed session could start now.
    session_start_ready: bool,
    launch_account: Option<String>,
    /// The accounts in the order the next session would try them.
    session_order: Vec<String>,
    accounts: Vec<CanaryAccount>,
    next_commands: Vec<String>,
}

#[derive(Serialize)]
struct CanaryAccount {
    #[serde(flatten)]
    check: AccountCheck,
    runtime: RuntimeReadiness,
    session: SessionUse,
}

/// Whether the next managed session uses the account.
#[derive(Serialize)]
struct SessionUse {
    used: bool,
    /// 1 = the account the session starts on.
    position: Option<usize>,
    /// Why it is not used, when it is not.
    reason: Option<String>,
}

pub fn run(harness: HarnessKind, args: &CanaryArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let (starter, _) = harness_facts(harness);
    let profile = args
        .profile
        .clone()
        .unwrap_or_else(|| starter.default_profile.into());
    let pool = session_plan::plan(&ctx, &loaded, harness, &profile)?;
    let order = pool.account_order();
    let mut accounts: Vec<CanaryAccount> = Vec::new();
    for view in pool.account_views(&loaded.config, harness) {
        let key = &view.key;
        let position = order.iter().position(|a| a == &key.account).map(|i| i + 1);
        let joined = pool
            .members
            .iter()
            .any(|m| m.account.route_key.account == key.account);
        let reason = pool
            .left_out
            .iter()
            .find(|l| l.account == key.account)
            .map(|l| l.reason.clone())
            .or_else(|| {
                (joined && position.is_none())
                    .then(|| format!("in the pool but {} now", view.status.label()))
            });
        accounts.push(CanaryAccount {
            check: check_account(&ctx, &loaded.config, harness, &key.provider, &key.account),
            runtime: view.runtime.clone(),
            session: SessionUse {
                used: position.is_some(),
                position,
                reason,
            },
        });
    }
    let launch_account = pool.plan.as_ref().map(|p| p.launch.account.clone());
    let all_usable = !accounts.is_empty()
        && accounts
            .iter()
            .all(|a| a.check.credentials.state == CredentialState::Usable);
    let mut next: Vec<String> = accounts
        .iter()
        .filter_map(|a| a.check.login_command.clone())
        .collect();
    if accounts.is_empty() {
        next.push(format!("oauth-mux setup {}", harness.name()));
    }
    next.push(format!("oauth-mux {} live-qa", harness.name()));
    let report = CanaryReport {
        harness,
        profile,
        ok: all_usable && launch_account.is_some(),
        spends_provider_calls: false,
        session_start_ready: launch_account.is_some(),
        launch_account,
        session_order: order,
        accounts,
        next_commands: next,
    };
    output::emit(args.json, &report, render)?;
    if report.ok {
        Ok(())
    } else {
        Err(Quiet(ExitCode::Error).into())
    }
}

fn render(r: &CanaryReport) -> String {
    let rows: Vec<Vec<String>> = r
        .accounts
        .iter()
        .map(|a| {
            let c = &a.check.credentials;
            vec![
                format!("{}:{}", a.check.provider, a.check.account),
                if a.check.store_exists {
                    "present".into()
                } else {
                    "missing".into()
                },
                c.state.label().to_owned(),
                c.expires_at
                    .map_or("-".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string()),
                [
                    c.auth.map(str::to_owned),
                    c.plan.clone(),
                    c.rate_limit_tier.clone(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
                match (&a.session.position, &a.session.reason) {
                    (Some(p), _) => format!("#{p}"),
                    (None, Some(why)) => format!("no: {why}"),
                    (None, None) => "no".into(),
                },
            ]
        })
        .collect();
    let mut out = format!(
        "{} canary, profile {} (no provider call)\n\n",
        r.harness.name(),
        r.profile
    );
    out.push_str(&output::table(
        &[
            "ACCOUNT",
            "STORE",
            "CREDENTIALS",
            "EXPIRES",
            "PLAN",
            "SESSION",
        ],
        &rows,
    ));
    out.push_str(&match &r.launch_account {
        Some(a) => format!(
            "\na managed session starts on {a}; order: {}\n",
            r.session_order.join(" → ")
        ),
        None => "\nno account can start a managed session\n".into(),
    });
    out + &output::next_block(&r.next_commands)
}
