//! `oauth-mux route select|explain` and `oauth-mux repair-plan`: no spend.

use serde::Serialize;

use super::context::Context;
use super::evaluate::{Evaluation, RouteReport, evaluate};
use super::facts::{RouteId, describe_status};
use crate::cli::Selectors;
use crate::exit::{ExitCode, Quiet};
use crate::output;

#[derive(Serialize)]
struct RouteOutput<'a> {
    action: &'static str,
    ok: bool,
    profile: Option<&'a str>,
    capability: Option<&'a str>,
    requested_capability: Option<&'a str>,
    /// The route `route select`, `exec`, `env` and `stay-afloat launch` would inject.
    selected: Option<RouteId>,
    /// The order in which a managed session (`oauth-mux codex|claude`) would try the routes.
    session_order: Vec<RouteId>,
    /// Whether any route's provider carries managed sessions (for the human rendering).
    #[serde(skip)]
    managed_sessions: bool,
    routes: &'a [RouteReport],
    policy: crate::model::budget::Admission,
    spends_provider_calls: bool,
    next_commands: Vec<String>,
}

/// `route select` (explain = false) or `route explain` (explain = true).
pub fn run(selectors: &Selectors, json: bool, explain: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let eval = evaluate(&ctx, &loaded, selectors)?;
    let ok = eval.selection.selected.is_some();
    let provider = eval
        .routes
        .first()
        .map(|r| r.route.provider.clone())
        .unwrap_or_default();
    let out = RouteOutput {
        action: if explain { "explain" } else { "select" },
        ok,
        profile: eval.request.profile.as_deref(),
        capability: eval.selection.capability.as_deref(),
        requested_capability: eval.request.primary_capability.as_deref(),
        selected: eval.selection.selected.as_ref().map(RouteId::from),
        session_order: eval
            .selection
            .session_order
            .iter()
            .filter(|k| has_managed_sessions(&loaded.config, k))
            .map(RouteId::from)
            .collect(),
        managed_sessions: eval
            .selection
            .routes
            .iter()
            .any(|v| has_managed_sessions(&loaded.config, &v.key)),
        routes: &eval.routes,
        policy: loaded.config.admission(&provider),
        spends_provider_calls: false,
        next_commands: next_commands(
            &eval,
            if explain {
                "oauth-mux route explain"
            } else {
                "oauth-mux route select"
            },
        ),
    };
    output::emit(json, &out, |o| render(o, &ctx, explain))?;
    if ok {
        Ok(())
    } else {
        Err(Quiet(ExitCode::NoneSelectable).into())
    }
}

/// Whether the route's provider can carry a managed session (its definition names a harness
/// upstream: Codex, Claude Code).
fn has_managed_sessions(config: &crate::config::Config, key: &crate::model::RouteKey) -> bool {
    config
        .providers
        .get(&key.provider)
        .and_then(|pc| config.definition(&pc.kind))
        .is_some_and(|def| def.upstream.is_some())
}

/// The commands to run next, never the command that is running (`this`).
fn next_commands(eval: &Evaluation, this: &str) -> Vec<String> {
    let mut next = Vec::new();
    if let Some(sel) = eval.selected() {
        let mut exec = format!(
            "oauth-mux exec --provider {} --account {}",
            sel.route.provider, sel.route.account
        );
        if let Some(c) = &sel.route.capability {
            exec.push_str(&format!(" --capability {c}"));
        }
        next.push(exec + " -- <command>");
    }
    for r in eval.routes.iter().filter(|r| !r.selected) {
        if let Some(c) = &r.action.command
            && !next.contains(c)
        {
            next.push(c.clone());
        }
    }
    if eval.selected().is_none() {
        next.push("oauth-mux repair-plan".into());
    }
    next.retain(|c| c != this);
    next
}

fn render(o: &RouteOutput<'_>, ctx: &Context, explain: bool) -> String {
    let mut out = String::new();
    match &o.selected {
        Some(s) => out.push_str(&format!("selected: {}\n", s.key)),
        None => out.push_str("selected: none — no route is selectable\n"),
    }
    if let (Some(req), Some(cap)) = (o.requested_capability, o.capability)
        && req != cap
    {
        out.push_str(&format!(
            "(capability {req} had no selectable route; degraded to {cap})\n"
        ));
    }
    if explain && o.managed_sessions {
        let order: Vec<&str> = o.session_order.iter().map(|r| r.key.as_str()).collect();
        out.push_str(&format!(
            "managed session order: {}\n",
            if order.is_empty() {
                "none — no account can start a session".to_owned()
            } else {
                order.join(" → ")
            }
        ));
    }
    if explain || o.selected.is_none() {
        out.push('\n');
        out.push_str(&route_table(o.routes, ctx));
    }
    if explain {
        out.push_str(&token_lines(o.routes, ctx));
    }
    out + &output::next_block(&o.next_commands)
}

/// One line per account of the routes: its token's expiry and whether a refresh is
/// admitted, or why not (and a warning when it needs attention).
fn token_lines(routes: &[RouteReport], ctx: &Context) -> String {
    let mut out = String::new();
    let mut seen = Vec::new();
    for r in routes {
        let account = format!("{}:{}", r.route.provider, r.route.account);
        if seen.contains(&account) {
            continue;
        }
        out.push_str(&format!(
            "\n  {account}  token {}",
            super::facts::describe_token(&r.token, ctx.now)
        ));
        if let Some(w) = &r.token.warning {
            out.push_str(&format!("\n    {w}"));
        }
        seen.push(account);
    }
    if out.is_empty() {
        out
    } else {
        format!("\ntokens:{out}\n")
    }
}

/// The route table shared by `route explain`, `repair-plan` and `demo`.
pub fn route_table(routes: &[RouteReport], ctx: &Context) -> String {
    let rows: Vec<Vec<String>> = routes
        .iter()
        .map(|r| {
            let mark = if r.selected {
                "→"
            } else if r.selectable {
                "·"
            } else {
                "✗"
            };
            vec![
                format!("{mark} {}", r.route.key),
                describe_status(&r.status, ctx.now),
                r.runtime.label().to_owned(),
                r.skip_reason.clone().unwrap_or_else(|| {
                    if r.selected {
                        "selected".into()
                    } else {
                        "-".into()
                    }
                }),
                repair_cell(&r.action),
            ]
        })
        .collect();
    output::table(&["ROUTE", "HEALTH", "RUNTIME", "WHY", "REPAIR"], &rows)
}

/// What a person does about a route: its repair command, `wait` when time repairs it, `-`
/// when nothing is needed. Inventory commands (`--json` diagnostics) are not repairs; they
/// stay in the JSON as `diagnostic_command`.
pub fn repair_cell(action: &crate::model::repair::RouteAction) -> String {
    use crate::model::repair::ActionKind;
    match action.kind {
        ActionKind::None => "-".into(),
        ActionKind::WaitForQuota
        | ActionKind::WaitAndRetry
        | ActionKind::WaitForCooldown
        | ActionKind::WaitForRepair => "wait".into(),
        _ => action.command.clone().unwrap_or_else(|| "-".into()),
    }
}

#[derive(Serialize)]
struct PlanRoute<'a> {
    #[serde(flatten)]
    route: &'a RouteId,
    status: &'a str,
    action: &'a crate::model::repair::RouteAction,
    daemon_repair: &'a crate::model::budget::AdmissionVerdict,
    writeback: &'a crate::model::refresh::Writeback,
}

#[derive(Serialize)]
struct PlanOutput<'a> {
    profile: Option<&'a str>,
    afloat: bool,
    mutating: bool,
    routes: Vec<PlanRoute<'a>>,
    summary: std::collections::BTreeMap<String, usize>,
    next_commands: Vec<String>,
}

/// `repair-plan`: the repair action of every route; changes nothing.
pub fn repair_plan(selectors: &Selectors, json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let eval = evaluate(&ctx, &loaded, selectors)?;
    let mut summary = std::collections::BTreeMap::new();
    for r in &eval.routes {
        let kind = serde_json::to_value(r.action.kind)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *summary.entry(kind).or_insert(0) += 1;
    }
    let out = PlanOutput {
        profile: eval.request.profile.as_deref(),
        afloat: eval.selection.selected.is_some(),
        mutating: false,
        routes: eval
            .routes
            .iter()
            .map(|r| PlanRoute {
                route: &r.route,
                status: r.status.label(),
                action: &r.action,
                daemon_repair: &r.daemon_repair,
                writeback: &r.writeback,
            })
            .collect(),
        summary,
        next_commands: next_commands(&eval, "oauth-mux repair-plan"),
    };
    output::emit(json, &out, |o| {
        let rows: Vec<Vec<String>> = o
            .routes
            .iter()
            .map(|r| {
                vec![
                    r.route.key.clone(),
                    r.status.to_owned(),
                    serde_json::to_value(r.action.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    repair_cell(r.action),
                    r.action.message.clone(),
                ]
            })
            .collect();
        format!("afloat: {}\n\n", if o.afloat { "yes" } else { "no" })
            + &output::table(&["ROUTE", "STATE", "ACTION", "COMMAND", "WHY"], &rows)
            + &output::next_block(&o.next_commands)
    })
}
