//! Repair planning: for each route, the one action that would make it usable
//! again, with the exact command, its budget and whether a human must act.

use jiff::Timestamp;
use serde::Serialize;

use super::budget::{ActionBudget, RepairOwner};
use super::health::RouteStatus;
use super::liveness::{DeadReason, DegradedReason};
use super::route_key::RouteKey;
use super::runtime::RuntimeReadiness;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// The route is usable; nothing to do.
    None,
    /// A local problem (binary, store, permissions) must be fixed first.
    FixRuntime,
    /// Another process is repairing this account; wait for it.
    WaitForRepair,
    /// No evidence yet: run the probe.
    ProbeNeeded,
    /// The quota window has reset: a probe must confirm it.
    RevalidationNeeded,
    WaitAndRetry,
    WaitForQuota,
    WaitForCooldown,
    /// A human must log in again.
    Reauth,
    /// The credential could not be read: fix the secret configuration.
    FixCredential,
    /// The access token has expired and oauth-mux may refresh it: run the refresh.
    RefreshToken,
    /// A provider-side condition (plan, terms, verification) a human must settle.
    ManualFix,
}

/// The repair action for one route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteAction {
    pub kind: ActionKind,
    /// The command that performs the repair, when there is one.
    pub command: Option<String>,
    /// A no-spend command that shows more about the problem.
    pub diagnostic_command: Option<String>,
    pub budget: ActionBudget,
    pub mutating: bool,
    pub interactive: bool,
    /// `user_handoff` when a human must act.
    pub mediation: Option<&'static str>,
    pub repair_owner: RepairOwner,
    /// When waiting is the repair, when the wait ends.
    pub wake_at: Option<Timestamp>,
    pub message: String,
}

/// What the planner needs to know about a route's provider.
#[derive(Debug, Clone)]
pub struct RepairContext<'a> {
    pub owner: RepairOwner,
    /// The provider's login command, with `{account}`/`{config_dir}` filled in.
    pub login_command: Option<&'a str>,
    /// The budget of the route's probe, if it has one.
    pub probe_budget: Option<ActionBudget>,
    /// The account's token, when it was read (`None`: not inspected).
    pub token: Option<TokenRepair<'a>>,
}

/// What the planner knows about an account's token (no value, only its state).
#[derive(Debug, Clone, Copy)]
pub struct TokenRepair<'a> {
    /// The access token has expired (counting the 30 s skew).
    pub expired: bool,
    /// oauth-mux may refresh it (`model::refresh::refresh_admission`).
    pub refresh_admitted: bool,
    /// Why it may not, when it may not.
    pub refresh_reason: &'a str,
}

/// The command that refreshes one account's token now.
pub fn refresh_command(key: &RouteKey) -> String {
    format!(
        "oauth-mux keepalive --once --provider {} --account {}",
        key.provider, key.account
    )
}

/// The command that probes one route (with `--confirm-spend` when it costs).
pub fn probe_command(key: &RouteKey, budget: Option<ActionBudget>) -> String {
    let mut cmd = format!(
        "oauth-mux probe --provider {} --account {}",
        key.provider, key.account
    );
    if let Some(c) = &key.capability {
        cmd.push_str(&format!(" --capability {c}"));
    }
    if budget == Some(ActionBudget::SpendProvider) {
        cmd.push_str(" --confirm-spend");
    }
    cmd
}

/// The account's local runtime check (runtime readiness is an account fact: one command
/// for all its routes).
fn runtime_command(key: &RouteKey) -> String {
    format!(
        "oauth-mux doctor runtime --provider {} --account {}",
        key.provider, key.account
    )
}

/// Plan the repair of one route.
pub fn plan_action(
    key: &RouteKey,
    status: &RouteStatus,
    runtime: &RuntimeReadiness,
    ctx: &RepairContext<'_>,
) -> RouteAction {
    let base = RouteAction {
        kind: ActionKind::None,
        command: None,
        diagnostic_command: None,
        budget: ActionBudget::FreeLocal,
        mutating: false,
        interactive: false,
        mediation: None,
        repair_owner: ctx.owner,
        wake_at: None,
        message: String::new(),
    };
    let probe_budget = ctx.probe_budget.unwrap_or(ActionBudget::FreeLocal);
    let probe = |kind, message: String| RouteAction {
        kind,
        command: ctx.probe_budget.map(|b| probe_command(key, Some(b))),
        diagnostic_command: Some(format!(
            "oauth-mux route explain --provider {}",
            key.provider
        )),
        budget: probe_budget,
        message,
        ..base.clone()
    };
    let wait = |kind, until: Timestamp, message: String| RouteAction {
        kind,
        wake_at: Some(until),
        diagnostic_command: Some(format!("oauth-mux health --provider {}", key.provider)),
        message,
        ..base.clone()
    };
    let reauth = |message: String| RouteAction {
        kind: ActionKind::Reauth,
        command: Some(ctx.login_command.map(str::to_owned).unwrap_or_else(|| {
            format!(
                "oauth-mux repair run --provider {} --account {} --confirm-repair",
                key.provider, key.account
            )
        })),
        diagnostic_command: Some(runtime_command(key)),
        budget: ActionBudget::Interactive,
        interactive: true,
        mediation: Some("user_handoff"),
        message,
        ..base.clone()
    };
    match runtime {
        RuntimeReadiness::Ready => {}
        RuntimeReadiness::RepairInProgress { .. } => {
            return RouteAction {
                kind: ActionKind::WaitForRepair,
                diagnostic_command: Some(runtime_command(key)),
                message: "another oauth-mux process holds this account's repair lock".into(),
                ..base
            };
        }
        RuntimeReadiness::NeedsReauth => {
            return reauth("the local session needs a new login".into());
        }
        // The account's store, or the credential the harness keeps in it, is missing: the
        // provider's login handoff creates the store and logs the account in.
        RuntimeReadiness::SessionUnavailable { what } if ctx.login_command.is_some() => {
            return reauth(if what == "config_dir" {
                "the account's store does not exist; the login creates it".into()
            } else {
                format!("no {what} in the account's store: the account is not logged in")
            });
        }
        other => {
            return RouteAction {
                kind: ActionKind::FixRuntime,
                diagnostic_command: Some(runtime_command(key)),
                message: format!("local runtime not ready: {}", other.label()),
                ..base
            };
        }
    }
    // An expired token comes before any recorded health: nothing works until it is renewed
    // (a dead account keeps its own repair, a login).
    if let Some(token) = ctx.token
        && token.expired
        && !matches!(status, RouteStatus::Dead { .. })
    {
        if token.refresh_admitted {
            return RouteAction {
                kind: ActionKind::RefreshToken,
                command: Some(refresh_command(key)),
                diagnostic_command: Some(runtime_command(key)),
                budget: ActionBudget::CheapProvider,
                mutating: true,
                message: "the access token has expired; oauth-mux refreshes it and writes it back"
                    .into(),
                ..base
            };
        }
        return reauth(format!(
            "the access token has expired and oauth-mux may not refresh it ({}); log in again",
            token.refresh_reason
        ));
    }
    match status {
        RouteStatus::Available => RouteAction {
            message: "usable".into(),
            ..base
        },
        RouteStatus::ProbeNeeded => probe(
            ActionKind::ProbeNeeded,
            "no evidence recorded yet; probe it".into(),
        ),
        RouteStatus::ReprobeNeeded { reason } => probe(
            ActionKind::ProbeNeeded,
            format!("{} is old; probe again", reason.as_str()),
        ),
        RouteStatus::RevalidationNeeded { .. } => probe(
            ActionKind::RevalidationNeeded,
            "the quota window has reset; a probe must confirm it".into(),
        ),
        RouteStatus::RateLimited { until } => {
            wait(ActionKind::WaitAndRetry, *until, "rate limited".into())
        }
        RouteStatus::QuotaExhausted {
            resets_at,
            reset_known,
        } => wait(
            ActionKind::WaitForQuota,
            *resets_at,
            if *reset_known {
                "quota spent until its window resets".into()
            } else {
                "quota spent; reset time unknown (assumed)".into()
            },
        ),
        RouteStatus::Cooldown { until, reason } => wait(
            ActionKind::WaitForCooldown,
            *until,
            format!("cooling down: {reason}"),
        ),
        RouteStatus::Degraded {
            reason: DegradedReason::ProviderDegraded,
            retry_at,
        } => wait(
            ActionKind::WaitAndRetry,
            *retry_at,
            "the provider is failing (5xx); retried automatically".into(),
        ),
        RouteStatus::Degraded { reason, retry_at } => match reason {
            DegradedReason::ScopeInsufficient
            | DegradedReason::StepUpRequired
            | DegradedReason::AudienceMismatch => RouteAction {
                wake_at: Some(*retry_at),
                ..reauth(format!(
                    "{}: log in again with the needed access",
                    reason.as_str()
                ))
            },
            _ => RouteAction {
                kind: ActionKind::ManualFix,
                wake_at: Some(*retry_at),
                diagnostic_command: Some(probe_command(key, ctx.probe_budget)),
                budget: ActionBudget::Interactive,
                interactive: true,
                mediation: Some("user_handoff"),
                message: format!(
                    "{}: settle it with the provider, then probe again",
                    reason.as_str()
                ),
                ..base
            },
        },
        RouteStatus::Dead {
            reason: DeadReason::CredentialUnavailable,
        } if ctx.login_command.is_some() => reauth(
            "the credential could not be read or used; log in again (or fix the account's secret configuration)"
                .into(),
        ),
        RouteStatus::Dead {
            reason: DeadReason::CredentialUnavailable,
        } => RouteAction {
            kind: ActionKind::FixCredential,
            diagnostic_command: Some(format!(
                "oauth-mux accounts list --provider {}",
                key.provider
            )),
            budget: ActionBudget::Mutating,
            mutating: true,
            mediation: Some("user_handoff"),
            message: "the credential could not be read; fix the account's secret configuration"
                .into(),
            ..base
        },
        RouteStatus::Dead { reason } => reauth(format!("{}: log in again", reason.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::RouteStatus;

    fn key() -> RouteKey {
        RouteKey::parse("codex:max-1#codex-max").unwrap()
    }

    fn ctx(budget: ActionBudget) -> RepairContext<'static> {
        RepairContext {
            owner: RepairOwner::UpstreamCliLogin,
            login_command: Some("CODEX_HOME=~/x codex login"),
            probe_budget: Some(budget),
            token: None,
        }
    }

    fn t() -> Timestamp {
        "2026-11-22T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn probe_needed_carries_the_probe_command_with_spend_flag() {
        let a = plan_action(
            &key(),
            &RouteStatus::ProbeNeeded,
            &RuntimeReadiness::Ready,
            &ctx(ActionBudget::SpendProvider),
        );
        assert_eq!(a.kind, ActionKind::ProbeNeeded);
        assert_eq!(
            a.command.as_deref(),
            Some(
                "oauth-mux probe --provider codex --account max-1 --capability codex-max --confirm-spend"
            )
        );
        assert_eq!(a.budget, ActionBudget::SpendProvider);
    }

    #[test]
    fn dead_token_is_an_interactive_reauth_handoff() {
        let a = plan_action(
            &key(),
            &RouteStatus::Dead {
                reason: DeadReason::TokenRevoked,
            },
            &RuntimeReadiness::Ready,
            &ctx(ActionBudget::SpendProvider),
        );
        assert_eq!(a.kind, ActionKind::Reauth);
        assert!(a.interactive);
        assert_eq!(a.mediation, Some("user_handoff"));
        assert_eq!(a.command.as_deref(), Some("CODEX_HOME=~/x codex login"));
    }

    #[test]
    fn runtime_problems_come_first() {
        let a = plan_action(
            &key(),
            &RouteStatus::Available,
            &RuntimeReadiness::MissingBinary {
                binary: "codex".into(),
            },
            &ctx(ActionBudget::FreeCommand),
        );
        assert_eq!(a.kind, ActionKind::FixRuntime);
        assert!(a.command.is_none());
        assert!(
            a.diagnostic_command
                .unwrap()
                .starts_with("oauth-mux doctor runtime --provider codex")
        );
        let a = plan_action(
            &key(),
            &RouteStatus::Available,
            &RuntimeReadiness::RepairInProgress { started_at: None },
            &ctx(ActionBudget::FreeCommand),
        );
        assert_eq!(a.kind, ActionKind::WaitForRepair);
    }

    #[test]
    fn a_missing_store_or_credential_and_an_unreadable_one_are_repaired_by_the_login() {
        let login = RepairContext {
            owner: RepairOwner::UpstreamCliLogin,
            login_command: Some("oauth-mux codex login-device max-1"),
            probe_budget: Some(ActionBudget::SpendProvider),
            token: None,
        };
        for what in ["config_dir", "auth.json"] {
            let a = plan_action(
                &key(),
                &RouteStatus::ProbeNeeded,
                &RuntimeReadiness::SessionUnavailable { what: what.into() },
                &login,
            );
            assert_eq!(a.kind, ActionKind::Reauth, "{what}");
            assert_eq!(
                a.command.as_deref(),
                Some("oauth-mux codex login-device max-1")
            );
            assert!(a.interactive);
        }
        let unreadable = RouteStatus::Dead {
            reason: DeadReason::CredentialUnavailable,
        };
        let a = plan_action(&key(), &unreadable, &RuntimeReadiness::Ready, &login);
        assert_eq!(a.kind, ActionKind::Reauth);
        let no_login = RepairContext {
            login_command: None,
            ..login
        };
        let a = plan_action(
            &key(),
            &RouteStatus::ProbeNeeded,
            &RuntimeReadiness::SessionUnavailable {
                what: "auth.json".into(),
            },
            &no_login,
        );
        assert_eq!(a.kind, ActionKind::FixRuntime);
        let a = plan_action(&key(), &unreadable, &RuntimeReadiness::Ready, &no_login);
        assert_eq!(a.kind, ActionKind::FixCredential);
    }

    #[test]
    fn waits_carry_their_wake_time() {
        let a = plan_action(
            &key(),
            &RouteStatus::QuotaExhausted {
                resets_at: t(),
                reset_known: true,
            },
            &RuntimeReadiness::Ready,
            &ctx(ActionBudget::FreeCommand),
        );
        assert_eq!((a.kind, a.wake_at), (ActionKind::WaitForQuota, Some(t())));
        let a = plan_action(
            &key(),
            &RouteStatus::RevalidationNeeded { reset_at: t() },
            &RuntimeReadiness::Ready,
            &ctx(ActionBudget::FreeCommand),
        );
        assert_eq!(a.kind, ActionKind::RevalidationNeeded);
        let a = plan_action(
            &key(),
            &RouteStatus::Available,
            &RuntimeReadiness::Ready,
            &ctx(ActionBudget::FreeCommand),
        );
        assert_eq!(a.kind, ActionKind::None);
    }

    #[test]
    fn an_expired_token_is_refreshed_when_admitted_and_a_login_otherwise() {
        let token = |admitted| TokenRepair {
            expired: true,
            refresh_admitted: admitted,
            refresh_reason: "store_not_created_by_oauth_mux",
        };
        let with = |t| RepairContext {
            token: Some(t),
            ..ctx(ActionBudget::SpendProvider)
        };
        let a = plan_action(
            &key(),
            &RouteStatus::Available,
            &RuntimeReadiness::Ready,
            &with(token(true)),
        );
        assert_eq!(a.kind, ActionKind::RefreshToken);
        assert_eq!(
            a.command.as_deref(),
            Some("oauth-mux keepalive --once --provider codex --account max-1")
        );
        assert_eq!(
            (a.budget, a.interactive),
            (ActionBudget::CheapProvider, false)
        );
        let a = plan_action(
            &key(),
            &RouteStatus::ProbeNeeded,
            &RuntimeReadiness::Ready,
            &with(token(false)),
        );
        assert_eq!(a.kind, ActionKind::Reauth);
        assert_eq!(a.command.as_deref(), Some("CODEX_HOME=~/x codex login"));
        assert!(
            a.message.contains("store_not_created_by_oauth_mux"),
            "{}",
            a.message
        );
        // A rejected refresh is a dead account: its repair is the login command.
        let a = plan_action(
            &key(),
            &RouteStatus::Dead {
                reason: DeadReason::RefreshRejected,
            },
            &RuntimeReadiness::Ready,
            &with(token(true)),
        );
        assert_eq!(a.kind, ActionKind::Reauth);
        assert_eq!(a.command.as_deref(), Some("CODEX_HOME=~/x codex login"));
    }
}
