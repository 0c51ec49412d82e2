//! Running the one non-interactive action stay-afloat and `repair run` may run:
//! an admitted probe (or revalidation), through the one probe implementation
//! (`probe::run_probe`), which classifies, records the evidence and logs it; or the
//! refresh of an expired token (`oauth::refresh`, which writes it back and logs it).

use serde::Serialize;
use serde_json::Value;

use crate::commands::context::{Context, Loaded};
use crate::commands::evaluate::RouteReport;
use crate::model::RouteKey;
use crate::model::budget::ActionBudget;
use crate::model::repair::ActionKind;
use crate::probe::{ProbeRoute, run_probe};

/// What running one action did.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionResult {
    /// `probe` (revalidation is a probe too) or `refresh`.
    pub phase: &'static str,
    pub provider: String,
    pub account: String,
    pub capability: Option<String>,
    pub action: ActionKind,
    pub command: Option<String>,
    pub budget: ActionBudget,
    pub admitted: bool,
    pub executed: bool,
    /// The action ran and the route came out usable.
    pub ok: bool,
    pub exit_code: Option<i32>,
    /// The probe's own report (selected fields).
    pub probe: Option<Value>,
    /// The refresh's own report, when the action was a token refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_refresh: Option<Value>,
    pub error: Option<String>,
}

impl ExecutionResult {
    /// The planned (not run) execution of a route's action, for plan-mode ticks.
    pub fn planned(route: &RouteReport) -> ExecutionResult {
        ExecutionResult {
            phase: if route.action.kind == ActionKind::RefreshToken {
                "refresh"
            } else {
                "probe"
            },
            provider: route.route.provider.clone(),
            account: route.route.account.clone(),
            capability: route.route.capability.clone(),
            action: route.action.kind,
            command: route.action.command.clone(),
            budget: route.action.budget,
            admitted: route.daemon_repair.admitted,
            executed: false,
            ok: false,
            exit_code: None,
            probe: None,
            token_refresh: None,
            error: None,
        }
    }
}

/// Whether a route's action is one an executor may run without a human: a probe (or
/// revalidation) of a capability, or the refresh of an expired token.
pub fn is_runnable_probe(route: &RouteReport) -> bool {
    let runnable = match route.action.kind {
        ActionKind::ProbeNeeded | ActionKind::RevalidationNeeded => {
            route.route.capability.is_some()
        }
        ActionKind::RefreshToken => true,
        _ => false,
    };
    runnable && route.action.command.is_some() && !route.action.interactive
}

/// Run the route's probe and report what happened. The caller has checked
/// admission (and, for `repair run`, holds the account lock).
pub fn execute_action(
    ctx: &Context,
    loaded: &Loaded,
    route: &RouteReport,
    profile: Option<&str>,
) -> ExecutionResult {
    let mut result = ExecutionResult {
        admitted: true,
        ..ExecutionResult::planned(route)
    };
    let config = &loaded.config;
    let key = RouteKey::new(
        &route.route.provider,
        &route.route.account,
        route.route.capability.as_deref(),
    );
    let provider = config.providers.get(&key.provider);
    let account = provider.and_then(|p| p.accounts.get(&key.account));
    let definition = provider.and_then(|p| config.definition(&p.kind));
    let (Some(provider), Some(account), Some(definition)) = (provider, account, definition) else {
        result.error = Some(format!(
            "{key}: the provider, account or provider definition is no longer configured"
        ));
        return result;
    };
    if route.action.kind == ActionKind::RefreshToken {
        return execute_refresh(ctx, loaded, &key, result);
    }
    let outcome = run_probe(
        &ctx.dirs,
        ProbeRoute {
            key: &key,
            provider,
            account,
            definition,
            profile,
        },
        ctx.now,
    );
    match outcome {
        Ok(o) => {
            result.executed = o.probe_executed;
            result.ok = o.usable();
            if !result.ok {
                result.error = o.message.clone();
            }
            result.probe = serde_json::to_value(&o).ok();
        }
        Err(e) => {
            result.error = Some(format!(
                "{key}: the probe could not record its evidence: {e:#}"
            ));
        }
    }
    result
}

/// Refresh the route's account (the action of an expired token whose writeback is admitted).
fn execute_refresh(
    ctx: &Context,
    loaded: &Loaded,
    key: &RouteKey,
    mut result: ExecutionResult,
) -> ExecutionResult {
    let target = crate::oauth::target_for(
        &loaded.config,
        &ctx.dirs.data_dir,
        &key.provider,
        &key.account,
        &|n| std::env::var(n).ok(),
    );
    match target {
        Err(not) => result.error = Some(format!("{key}: {}", not.message)),
        Ok(target) => {
            let report = crate::oauth::refresh(
                &ctx.dirs,
                &target,
                crate::model::refresh::RefreshTrigger::Keepalive,
                None,
            );
            result.executed = report.http_status.is_some() || report.outcome.ok();
            result.ok = report.outcome.ok();
            result.exit_code = Some(i32::from(report.exit_code().code()));
            if !result.ok {
                result.error = Some(report.message.clone());
            }
            result.token_refresh = serde_json::to_value(&report).ok();
        }
    }
    result
}
