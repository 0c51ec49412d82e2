//! The event log views: `daemon events`, `stay-afloat handoffs`, and
//! `stay-afloat handoff ack|clear`.

use serde::Serialize;

use super::record::{Outcome, scope_event};
use super::tick::HANDOFF_SCAN_EVENTS;
use crate::cli::{EventsArgs, HandoffTarget, HandoffsArgs};
use crate::commands::context::Context;
use crate::exit::Failure;
use crate::model::event::{Event, EventKind};
use crate::model::schedule::{HandoffScope, handoff_history, pending_handoffs};
use crate::output;
use crate::store::events::EventLog;

fn log(ctx: &Context) -> EventLog {
    EventLog::new(ctx.dirs.events_file())
}

fn lines(events: &[Event], empty: &str) -> String {
    if events.is_empty() {
        return empty.to_owned();
    }
    events.iter().map(event_line).collect::<Vec<_>>().join("\n")
}

/// One event as a line for a person: time, kind, what it was about, how it ended.
fn event_line(e: &Event) -> String {
    let ts = e.ts.strftime("%Y-%m-%d %H:%M:%S");
    let (kind, about, outcome) = match &e.kind {
        EventKind::Probe(p) => (
            "probe",
            p.route.clone(),
            format!(
                "{}{}",
                p.outcome,
                p.class
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ),
        EventKind::TokenRefresh(t) => (
            "token_refresh",
            t.route.clone(),
            format!(
                "{}{}",
                t.outcome.as_str(),
                t.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        ),
        EventKind::HealthReset {
            key,
            removed,
            outcome,
        } => (
            "health_reset",
            key.clone(),
            format!("{} ({removed} removed)", outcome.outcome),
        ),
        EventKind::LaunchReselect { route, reason } => {
            ("launch_reselect", route.clone(), reason.clone())
        }
        EventKind::Login(l) => (
            "login",
            format!("{}:{}", l.provider, l.account),
            format!("{} (credentials {})", l.outcome.outcome, l.credentials),
        ),
        EventKind::ConfigEdited(c) => (
            "config_edited",
            c.action.clone(),
            if c.changed.is_empty() {
                "nothing changed".to_owned()
            } else {
                c.changed.join(", ")
            },
        ),
        EventKind::RepairRun(r) | EventKind::DaemonExecution(r) | EventKind::DaemonHandoff(r) => {
            let kind = match &e.kind {
                EventKind::RepairRun(_) => "repair_run",
                EventKind::DaemonExecution(_) => "daemon_execution",
                _ => "handoff",
            };
            let about = r.route.as_ref().map_or_else(
                || {
                    [&r.scope.provider, &r.scope.account]
                        .iter()
                        .filter_map(|f| f.as_deref())
                        .collect::<Vec<_>>()
                        .join(":")
                },
                |f| f.route.clone(),
            );
            let reason = r
                .outcome
                .reason
                .as_deref()
                .map(|why| format!(" ({why})"))
                .unwrap_or_default();
            (kind, about, format!("{}{reason}", r.outcome.outcome))
        }
    };
    format!("{ts}  {kind:<16} {about:<28} {outcome}")
}

#[derive(Serialize)]
struct EventsOutput {
    events: Vec<Event>,
    skipped_lines: usize,
}

/// `daemon events [--limit N]`: the last N events, oldest first.
pub fn events(args: &EventsArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let recent = log(&ctx).read_recent(args.limit).map_err(Failure::from)?;
    let out = EventsOutput {
        events: recent.events,
        skipped_lines: recent.skipped_lines,
    };
    output::emit(args.json, &out, |o| lines(&o.events, "no events recorded"))
}

#[derive(Serialize)]
struct HandoffsOutput {
    all: bool,
    pending: usize,
    handoffs: Vec<Event>,
}

/// `stay-afloat handoffs [--all] [--limit N]` (and `daemon handoffs`).
pub fn handoffs(args: &HandoffsArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let events = log(&ctx)
        .read_recent(HANDOFF_SCAN_EVENTS)
        .map_err(Failure::from)?
        .events;
    let pending = pending_handoffs(&events);
    let chosen = if args.all {
        handoff_history(&events)
    } else {
        pending.clone()
    };
    let skip = chosen.len().saturating_sub(args.limit);
    let out = HandoffsOutput {
        all: args.all,
        pending: pending.len(),
        handoffs: chosen.into_iter().skip(skip).cloned().collect(),
    };
    output::emit(args.json, &out, |o| {
        lines(
            &o.handoffs,
            if o.all {
                "no handoffs recorded"
            } else {
                "no pending handoffs recorded"
            },
        )
    })
}

#[derive(Serialize)]
struct HandoffSettleOutput {
    ok: bool,
    action: &'static str,
    outcome: &'static str,
    provider: String,
    account: String,
    profile: Option<String>,
    capability: Option<String>,
    /// Pending handoffs this acknowledged or resolved.
    matched: usize,
    handoff_pending: bool,
    event_recorded: bool,
}

/// `stay-afloat handoff ack|clear`: one event per matching pending handoff (or one
/// for the named scope when none is pending). `ack` keeps it pending; `clear`
/// resolves it.
pub fn settle(target: &HandoffTarget, clear: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let log = log(&ctx);
    let filter = HandoffScope {
        profile: target.profile.clone(),
        provider: Some(target.provider.clone()),
        account: Some(target.account.clone()),
        capability: target.capability.clone(),
    };
    let outcome = if clear {
        "handoff_resolved"
    } else {
        "handoff_acknowledged"
    };
    let events = log
        .read_recent(HANDOFF_SCAN_EVENTS)
        .map_err(Failure::from)?
        .events;
    let matched: Vec<HandoffScope> = pending_handoffs(&events)
        .into_iter()
        .map(Event::scope)
        .filter(|s| s.matches(&filter))
        .collect();
    let scopes = if matched.is_empty() {
        vec![filter.clone()]
    } else {
        matched.clone()
    };
    let mut recorded = true;
    for scope in &scopes {
        let event = scope_event(
            ctx.now,
            scope,
            &Outcome {
                outcome,
                reason: Some(if clear {
                    "resolved_by_user"
                } else {
                    "acknowledged_by_user"
                }),
                ok: true,
                executed: false,
            },
        );
        recorded &= log.record(&event).is_ok();
    }
    let after = log
        .read_recent(HANDOFF_SCAN_EVENTS)
        .map_err(Failure::from)?
        .events;
    let still_pending = pending_handoffs(&after)
        .into_iter()
        .any(|e| e.scope().matches(&filter));
    let out = HandoffSettleOutput {
        ok: recorded,
        action: if clear { "clear" } else { "ack" },
        outcome,
        provider: target.provider.clone(),
        account: target.account.clone(),
        profile: target.profile.clone(),
        capability: target.capability.clone(),
        matched: matched.len(),
        handoff_pending: still_pending,
        event_recorded: recorded,
    };
    output::emit(target.json, &out, |o| {
        format!(
            "{} {}:{} ({} pending handoff{}); still pending: {}",
            o.outcome,
            o.provider,
            o.account,
            o.matched,
            if o.matched == 1 { "" } else { "s" },
            if o.handoff_pending { "yes" } else { "no" }
        )
    })?;
    if recorded {
        Ok(())
    } else {
        Err(Failure::new(
            crate::exit::ExitCode::Error,
            format!(
                "could not append to the event log {}",
                ctx.dirs.events_file().display()
            ),
        )
        .into())
    }
}
