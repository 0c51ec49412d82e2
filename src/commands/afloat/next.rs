//! `stay-afloat next`: what to run next, without spending anything — the exec argv
//! of the selected route, or the repair a human or the daemon must do first.

use serde::Serialize;

use super::execute::is_runnable_probe;
use crate::cli::Selectors;
use crate::commands::context::Context;
use crate::commands::evaluate::{Evaluation, RouteReport, evaluate};
use crate::commands::facts::RouteId;
use crate::config::Config;
use crate::exit::{ExitCode, Quiet};
use crate::model::budget::AdmissionVerdict;
use crate::model::repair::ActionKind;
use crate::output;

/// The placeholder for the user's command in argv suggestions.
const COMMAND_PLACEHOLDER: &str = "<command>";

/// What oauth-mux can promise a launcher about failover.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub claim_version: u32,
    /// `prepared_fallback` (a route is ready) or `mediation_required` (a repair first).
    pub level: &'static str,
    pub max_supported_level: &'static str,
    pub current_process_hotswap: bool,
    pub per_request_muxing: bool,
    /// Another selectable route stands behind the selected one.
    pub prepared_fallback: bool,
    pub launch_argv: Vec<String>,
}

/// The claim for an evaluation.
pub fn claim_for(eval: &Evaluation, _config: &Config) -> Claim {
    let ready = eval.selection.selected.is_some();
    let mut launch = vec![
        "oauth-mux".to_owned(),
        "stay-afloat".into(),
        "launch".into(),
    ];
    if let Some(p) = &eval.request.profile {
        launch.extend(["--profile".into(), p.clone()]);
    }
    if let Some(c) = &eval.request.primary_capability {
        launch.extend(["--capability".into(), c.clone()]);
    }
    launch.extend(["--".into(), COMMAND_PLACEHOLDER.into()]);
    Claim {
        claim_version: 1,
        level: if ready {
            "prepared_fallback"
        } else {
            "mediation_required"
        },
        max_supported_level: "prepared_fallback",
        current_process_hotswap: false,
        per_request_muxing: false,
        prepared_fallback: eval.routes.iter().filter(|r| r.selectable).count() > 1,
        launch_argv: launch,
    }
}

/// The exec argv for a route.
pub fn exec_argv(route: &RouteId) -> Vec<String> {
    let mut argv = vec![
        "oauth-mux".to_owned(),
        "exec".into(),
        "--provider".into(),
        route.provider.clone(),
        "--account".into(),
        route.account.clone(),
    ];
    if let Some(c) = &route.capability {
        argv.extend(["--capability".into(), c.clone()]);
    }
    argv.extend(["--".into(), COMMAND_PLACEHOLDER.into()]);
    argv
}

/// The next thing to do.
#[derive(Debug, Clone, Serialize)]
pub struct NextAction {
    /// `exec` (a route is ready) or `repair`.
    pub kind: &'static str,
    #[serde(flatten)]
    pub route: Option<RouteId>,
    /// The repair action kind (`probe_needed`, `reauth`, …) for `repair`.
    pub action: Option<ActionKind>,
    pub command: Option<String>,
    pub diagnostic_command: Option<String>,
    pub interactive: bool,
    pub mediation: Option<&'static str>,
    pub daemon_repair: Option<AdmissionVerdict>,
    pub message: String,
}

#[derive(Serialize)]
struct NextOutput {
    action: &'static str,
    ok: bool,
    ready_for_exec: bool,
    profile: Option<String>,
    capability: Option<String>,
    selected: Option<RouteId>,
    next_action: NextAction,
    exec_argv: Option<Vec<String>>,
    claim: Claim,
    spends_provider_calls: bool,
}

/// The repair that most helps: the first route with a command, preferring one
/// that runs without a human.
fn repair_route(eval: &Evaluation) -> Option<&RouteReport> {
    eval.routes
        .iter()
        .find(|r| is_runnable_probe(r) && r.daemon_repair.admitted)
        .or_else(|| eval.routes.iter().find(|r| r.action.command.is_some()))
        .or_else(|| eval.routes.first())
}

/// `stay-afloat next`. Exits 201 when no route is ready (still printing the JSON).
pub fn run(selectors: &Selectors, json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let eval = evaluate(&ctx, &loaded, selectors)?;
    let selected = eval.selected();
    let next_action = match selected {
        Some(s) => {
            let argv = exec_argv(&s.route);
            NextAction {
                kind: "exec",
                route: Some(s.route.clone()),
                action: None,
                command: Some(argv.join(" ")),
                diagnostic_command: None,
                interactive: false,
                mediation: None,
                daemon_repair: None,
                message: format!("{} is ready; run your command through exec", s.route.key),
            }
        }
        None => {
            let r = repair_route(&eval);
            NextAction {
                kind: "repair",
                route: r.map(|r| r.route.clone()),
                action: r.map(|r| r.action.kind),
                command: r.and_then(|r| r.action.command.clone()),
                diagnostic_command: r.and_then(|r| r.action.diagnostic_command.clone()),
                interactive: r.is_some_and(|r| r.action.interactive),
                mediation: r.and_then(|r| r.action.mediation),
                daemon_repair: r.map(|r| r.daemon_repair.clone()),
                message: r.map_or_else(
                    || "no routes matched the selectors".to_owned(),
                    |r| r.action.message.clone(),
                ),
            }
        }
    };
    let out = NextOutput {
        action: "next",
        ok: selected.is_some(),
        ready_for_exec: selected.is_some(),
        profile: eval.request.profile.clone(),
        capability: eval.selection.capability.clone(),
        selected: selected.map(|s| s.route.clone()),
        exec_argv: selected.map(|s| exec_argv(&s.route)),
        claim: claim_for(&eval, &loaded.config),
        next_action,
        spends_provider_calls: false,
    };
    output::emit(json, &out, |o| {
        let mut text = format!(
            "ready_for_exec: {}\nnext_action: {}",
            o.ready_for_exec,
            match (o.next_action.kind, o.next_action.action) {
                ("exec", _) => "exec".to_owned(),
                (_, Some(a)) => serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                _ => "repair".to_owned(),
            }
        );
        if let Some(r) = &o.next_action.route {
            text.push_str(&format!("\nroute: {}", r.key));
        }
        if let Some(c) = &o.next_action.command {
            text.push_str(&format!("\ncommand: {c}"));
        }
        text.push_str(&format!("\n{}\n", o.next_action.message));
        text
    })?;
    if out.ready_for_exec {
        Ok(())
    } else {
        Err(Quiet(ExitCode::NoneSelectable).into())
    }
}
