//! One stay-afloat tick: evaluate, schedule every route, and in execute mode run
//! at most one admitted non-interactive action or queue one handoff for a human.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::execute::{ExecutionResult, execute_action, is_runnable_probe};
use super::next::{Claim, claim_for};
use super::record::{Outcome, RouteEventKind, route_event, scope_of};
use crate::cli::Selectors;
use crate::commands::context::Context;
use crate::commands::evaluate::{Evaluation, RouteReport, evaluate};
use crate::commands::facts::{RouteId, describe_status};
use crate::evidence::append_event;
use crate::model::budget::{Admission, AdmissionVerdict};
use crate::model::event::Event;
use crate::model::health::RouteStatus;
use crate::model::refresh::Writeback;
use crate::model::repair::RouteAction;
use crate::model::schedule::{
    HandoffScope, ScheduleReason, StepRoute, TickStep, choose_step, earliest_wake,
    pending_handoffs, route_schedule,
};
use crate::output;
use crate::store::account_lock::AccountLock;
use crate::store::events::EventLog;
use crate::store::lock::{ExclusiveLock, lock_path_for};

/// How long an execute tick waits for another one to finish.
const EXECUTE_TICK_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The tick JSON format version.
pub const TICK_VERSION: u32 = 1;

/// How many recent events the pending-handoff computation scans.
pub const HANDOFF_SCAN_EVENTS: usize = 10_000;

/// One route as a tick sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TickRoute {
    #[serde(flatten)]
    pub route: RouteId,
    pub status: RouteStatus,
    pub selected: bool,
    pub selectable: bool,
    pub skip_reason: Option<String>,
    pub action: RouteAction,
    pub daemon_probe: Option<AdmissionVerdict>,
    pub daemon_repair: AdmissionVerdict,
    pub writeback: Writeback,
    pub handoff_pending: bool,
    pub next_tick_after: Option<Timestamp>,
    pub schedule_reason: ScheduleReason,
}

/// The earliest wake-up over every route.
#[derive(Debug, Clone, Serialize)]
pub struct TickSummary {
    pub routes_total: usize,
    pub selectable_routes: usize,
    pub next_tick_after: Option<Timestamp>,
    pub next_tick_reason: &'static str,
}

/// The tick report (`stay-afloat`, `daemon tick`, the snapshot file).
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub version: u32,
    pub tick_index: u32,
    pub observed_at: Timestamp,
    pub mode: &'static str,
    pub execution_mode: &'static str,
    pub executed: bool,
    pub handoff_queued: bool,
    pub handoff_pending: bool,
    pub reason: &'static str,
    pub message: String,
    pub profile: Option<String>,
    pub capability: Option<String>,
    pub afloat: bool,
    pub selected: Option<RouteId>,
    pub policy: Admission,
    pub summary: TickSummary,
    pub executions: Vec<ExecutionResult>,
    pub routes: Vec<TickRoute>,
    pub claim: Claim,
    pub spends_provider_calls: bool,
}

/// How a tick runs.
#[derive(Debug, Clone, Copy)]
pub struct TickMode {
    pub execute: bool,
    pub looping: bool,
    pub tick_index: u32,
}

/// What the tick will do (or would do, in plan mode): the core's choice, over the routes.
enum Step<'a> {
    Execute(&'a RouteReport),
    Handoff(&'a RouteReport),
    HandoffPending,
    Nothing,
}

fn choose<'a>(eval: &'a Evaluation, pending: &[HandoffScope]) -> Step<'a> {
    let profile = eval.request.profile.as_deref();
    let routes: Vec<StepRoute> = eval
        .routes
        .iter()
        .map(|r| StepRoute {
            admitted_probe: is_runnable_probe(r) && r.daemon_repair.admitted,
            needs_human: r.action.mediation == Some("user_handoff"),
            scope: scope_of(profile, r),
        })
        .collect();
    match choose_step(&routes, pending) {
        TickStep::Execute(i) => Step::Execute(&eval.routes[i]),
        TickStep::Handoff(i) => Step::Handoff(&eval.routes[i]),
        TickStep::HandoffPending => Step::HandoffPending,
        TickStep::Nothing => Step::Nothing,
    }
}

/// Pending handoffs in the event log, as scopes.
pub fn pending_scopes(ctx: &Context) -> Vec<HandoffScope> {
    let events = EventLog::new(ctx.dirs.events_file())
        .read_recent(HANDOFF_SCAN_EVENTS)
        .unwrap_or_default()
        .events;
    pending_handoffs(&events)
        .into_iter()
        .map(Event::scope)
        .collect()
}

/// Run one tick at `ctx.now`.
pub fn run_tick(ctx: &Context, selectors: &Selectors, mode: TickMode) -> anyhow::Result<Tick> {
    let loaded = ctx.config()?;
    // Execute ticks serialize, so two of them never run the same action or queue
    // the same handoff twice.
    let _serialized = if mode.execute {
        Some(
            ExclusiveLock::acquire(
                &lock_path_for(&ctx.dirs.snapshot_file()),
                EXECUTE_TICK_LOCK_WAIT,
            )
            .map_err(crate::exit::Failure::from)?,
        )
    } else {
        None
    };
    let mut eval = evaluate(ctx, &loaded, selectors)?;
    let profile = eval.request.profile.clone();
    let mut pending = pending_scopes(ctx);
    let mut executions = Vec::new();
    let (mut executed, mut handoff_queued) = (false, false);
    let afloat_before = eval.selection.selected.is_some();
    let (reason, mut message) = if afloat_before {
        if mode.execute {
            settle_selectable_handoffs(ctx, &eval, &mut pending);
        }
        (
            "route_selectable",
            "a route is selectable; nothing to do".to_owned(),
        )
    } else {
        match (choose(&eval, &pending), mode.execute) {
            (Step::Execute(r), false) => {
                executions.push(ExecutionResult::planned(r));
                (
                    "action_admitted",
                    format!("would run the admitted probe of {}", r.route.key),
                )
            }
            (Step::Execute(r), true) => {
                let result = run_locked(ctx, &loaded, r, profile.as_deref())?;
                let reason = if result.ok {
                    None
                } else {
                    result.error.as_deref().or(Some("probe_failed"))
                };
                append_event(
                    &ctx.dirs,
                    &route_event(
                        RouteEventKind::DaemonExecution,
                        ctx.now,
                        profile.as_deref(),
                        Some(r),
                        &Outcome {
                            outcome: if result.executed {
                                "executed"
                            } else {
                                "not_executed"
                            },
                            reason,
                            ok: result.ok,
                            executed: result.executed,
                        },
                    ),
                );
                executed = result.executed;
                let message = format!("ran the admitted probe of {}", r.route.key);
                executions.push(result);
                ("executed", message)
            }
            (Step::Handoff(r), false) => (
                "handoff_needed",
                format!(
                    "{} needs a human: {}",
                    r.route.key,
                    r.action.command.as_deref().unwrap_or(&r.action.message)
                ),
            ),
            (Step::Handoff(r), true) => {
                append_event(
                    &ctx.dirs,
                    &route_event(
                        RouteEventKind::DaemonHandoff,
                        ctx.now,
                        profile.as_deref(),
                        Some(r),
                        &Outcome {
                            outcome: "handoff_queued",
                            reason: Some(r.daemon_repair.reason),
                            ok: false,
                            executed: false,
                        },
                    ),
                );
                pending.push(scope_of(profile.as_deref(), r));
                handoff_queued = true;
                (
                    "handoff_queued",
                    format!(
                        "queued a handoff for {}: {}",
                        r.route.key,
                        r.action.command.as_deref().unwrap_or(&r.action.message)
                    ),
                )
            }
            (Step::HandoffPending, _) => (
                "handoff_pending",
                "a handoff is already pending; waiting for a human".to_owned(),
            ),
            (Step::Nothing, _) => (
                "no_admitted_action",
                "no admitted action; waiting for the next wake-up".to_owned(),
            ),
        }
    };
    if executed {
        // Re-read the evidence the action recorded and render the new state.
        eval = evaluate(ctx, &loaded, selectors)?;
        if eval.selection.selected.is_some() {
            message.push_str("; a route is selectable now");
        }
    }
    let routes: Vec<TickRoute> = eval
        .routes
        .iter()
        .map(|r| tick_route(ctx, r, profile.as_deref(), &pending))
        .collect();
    let schedules: Vec<_> = routes
        .iter()
        .map(|r| crate::model::schedule::RouteSchedule {
            next_tick_after: r.next_tick_after,
            schedule_reason: r.schedule_reason,
        })
        .collect();
    let (next_tick_after, next_tick_reason) = earliest_wake(&schedules);
    let provider = eval
        .routes
        .first()
        .map(|r| r.route.provider.clone())
        .unwrap_or_default();
    Ok(Tick {
        version: TICK_VERSION,
        tick_index: mode.tick_index,
        observed_at: ctx.now,
        mode: if mode.looping { "loop" } else { "once" },
        execution_mode: if mode.execute { "execute" } else { "plan" },
        executed,
        handoff_queued,
        handoff_pending: routes.iter().any(|r| r.handoff_pending),
        reason,
        message,
        profile: profile.clone(),
        capability: eval.selection.capability.clone(),
        afloat: eval.selection.selected.is_some(),
        selected: eval.selection.selected.as_ref().map(RouteId::from),
        policy: loaded.config.admission(&provider),
        summary: TickSummary {
            routes_total: routes.len(),
            selectable_routes: routes.iter().filter(|r| r.selectable).count(),
            next_tick_after,
            next_tick_reason,
        },
        executions,
        claim: claim_for(&eval, &loaded.config),
        spends_provider_calls: false,
        routes,
    })
}

fn tick_route(
    ctx: &Context,
    r: &RouteReport,
    profile: Option<&str>,
    pending: &[HandoffScope],
) -> TickRoute {
    let schedule = route_schedule(&r.action, r.selectable, r.daemon_repair.admitted, ctx.now);
    TickRoute {
        route: r.route.clone(),
        status: r.status.clone(),
        selected: r.selected,
        selectable: r.selectable,
        skip_reason: r.skip_reason.clone(),
        action: r.action.clone(),
        daemon_probe: r.daemon_probe.clone(),
        daemon_repair: r.daemon_repair.clone(),
        writeback: r.writeback.clone(),
        handoff_pending: pending.contains(&scope_of(profile, r)),
        next_tick_after: schedule.next_tick_after,
        schedule_reason: schedule.schedule_reason,
    }
}

/// Run a route's action under its account's repair lock; a held lock means another
/// process is repairing the account, and nothing runs.
fn run_locked(
    ctx: &Context,
    loaded: &crate::commands::context::Loaded,
    r: &RouteReport,
    profile: Option<&str>,
) -> anyhow::Result<ExecutionResult> {
    let lock = AccountLock::try_acquire(
        &ctx.dirs,
        &r.route.provider,
        &r.route.account,
        &ctx.now.to_string(),
    )
    .map_err(crate::exit::Failure::from)?;
    Ok(match lock {
        Some(_held) => execute_action(ctx, loaded, r, profile),
        None => ExecutionResult {
            error: Some(
                "repair_in_progress: another oauth-mux process holds the account's repair lock"
                    .into(),
            ),
            ..ExecutionResult::planned(r)
        },
    })
}

/// A pending handoff whose route is selectable again is settled (`route_selectable`).
fn settle_selectable_handoffs(ctx: &Context, eval: &Evaluation, pending: &mut Vec<HandoffScope>) {
    let profile = eval.request.profile.as_deref();
    for r in eval.routes.iter().filter(|r| r.selectable) {
        let scope = scope_of(profile, r);
        if pending.contains(&scope) {
            append_event(
                &ctx.dirs,
                &route_event(
                    RouteEventKind::DaemonHandoff,
                    ctx.now,
                    profile,
                    Some(r),
                    &Outcome {
                        outcome: "route_selectable",
                        reason: None,
                        ok: true,
                        executed: false,
                    },
                ),
            );
            pending.retain(|s| *s != scope);
        }
    }
}

/// Write the tick to the snapshot file (atomic, 0600). Failures warn, never stop the tick.
pub fn write_snapshot(ctx: &Context, tick: &Tick) {
    let path = ctx.dirs.snapshot_file();
    let written = serde_json::to_value(tick).map(|mut v| {
        output::redact_json(&mut v);
        v
    });
    let result = written.map_err(std::io::Error::other).and_then(|v| {
        let mut bytes = serde_json::to_vec_pretty(&v).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        crate::store::atomic::write_atomic(&path, &bytes)
    });
    if let Err(e) = result {
        output::warn(&format!(
            "oauth-mux: warning: could not write the stay-afloat snapshot {}: {e}",
            path.display()
        ));
    }
}

/// The human rendering of a tick.
pub fn render(t: &Tick) -> String {
    let mut out = format!(
        "tick {} ({}, {}) at {}\nafloat: {}{}\n{}\n\n",
        t.tick_index,
        t.mode,
        t.execution_mode,
        t.observed_at.strftime("%Y-%m-%d %H:%M:%SZ"),
        if t.afloat { "yes" } else { "no" },
        t.selected
            .as_ref()
            .map(|s| format!(" (selected {})", s.key))
            .unwrap_or_default(),
        t.message,
    );
    let rows: Vec<Vec<String>> = t
        .routes
        .iter()
        .map(|r| {
            vec![
                r.route.key.clone(),
                describe_status(&r.status, t.observed_at),
                action_label(&r.action),
                r.next_tick_after
                    .map(|n| n.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
                    .unwrap_or_else(|| "-".into()),
                r.schedule_reason.as_str().to_owned()
                    + if r.handoff_pending {
                        " (handoff pending)"
                    } else {
                        ""
                    },
            ]
        })
        .collect();
    out.push_str(&output::table(
        &["ROUTE", "HEALTH", "ACTION", "NEXT TICK", "WHY"],
        &rows,
    ));
    for e in &t.executions {
        out.push_str(&format!(
            "\n{} {}: {}",
            if e.executed { "ran" } else { "would run" },
            e.phase,
            e.command.as_deref().unwrap_or("-")
        ));
        if e.executed {
            out.push_str(if e.ok { " (usable)" } else { " (not usable)" });
        }
        if let Some(err) = &e.error {
            out.push_str(&format!(" — {err}"));
        }
    }
    out.push_str(&format!(
        "\nnext tick after: {} ({})\n",
        t.summary
            .next_tick_after
            .map(|n| n.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_else(|| "-".into()),
        t.summary.next_tick_reason
    ));
    out
}

fn action_label(a: &RouteAction) -> String {
    let kind = serde_json::to_value(a.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match &a.command {
        Some(c) => format!("{kind}: {c}"),
        None => kind,
    }
}

/// The JSON value of a tick (for the loop envelope).
pub fn to_value(t: &Tick) -> Value {
    serde_json::to_value(t).expect("a tick serializes")
}
