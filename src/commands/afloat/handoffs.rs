//! The event log views: `daemon events`, `stay-afloat handoffs`, and
//! `stay-afloat handoff ack|clear`.

use serde::Serialize;
use serde_json::Value;

use super::record::{Outcome, scope_event};
use super::tick::HANDOFF_SCAN_EVENTS;
use crate::cli::{EventsArgs, HandoffTarget, HandoffsArgs};
use crate::commands::context::Context;
use crate::exit::Failure;
use crate::model::schedule::{HANDOFF_KIND, HandoffScope, handoff_history, pending_handoffs};
use crate::output;
use crate::store::events::EventLog;

fn log(ctx: &Context) -> EventLog {
    EventLog::new(ctx.dirs.events_file())
}

fn lines(events: &[&Value], empty: &str) -> String {
    if events.is_empty() {
        return empty.to_owned();
    }
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Serialize)]
struct EventsOutput {
    events: Vec<Value>,
    skipped_lines: usize,
}

/// `daemon events [--limit N]`: the last N events, oldest first.
pub fn events(args: &EventsArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let tail = log(&ctx).read_tail(args.limit).map_err(Failure::from)?;
    let out = EventsOutput {
        events: tail.events,
        skipped_lines: tail.skipped_lines,
    };
    output::emit(args.json, &out, |o| {
        lines(&o.events.iter().collect::<Vec<_>>(), "no events recorded")
    })
}

#[derive(Serialize)]
struct HandoffsOutput {
    all: bool,
    pending: usize,
    handoffs: Vec<Value>,
}

/// `stay-afloat handoffs [--all] [--limit N]` (and `daemon handoffs`).
pub fn handoffs(args: &HandoffsArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let events = log(&ctx)
        .read_last(HANDOFF_SCAN_EVENTS)
        .map_err(Failure::from)?;
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
            &o.handoffs.iter().collect::<Vec<_>>(),
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
    let events = log.read_last(HANDOFF_SCAN_EVENTS).map_err(Failure::from)?;
    let matched: Vec<HandoffScope> = pending_handoffs(&events)
        .into_iter()
        .map(HandoffScope::of)
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
            HANDOFF_KIND,
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
        recorded &= log.append(&event).is_ok();
    }
    let after = log.read_last(HANDOFF_SCAN_EVENTS).map_err(Failure::from)?;
    let still_pending = pending_handoffs(&after)
        .into_iter()
        .any(|e| HandoffScope::of(e).matches(&filter));
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
