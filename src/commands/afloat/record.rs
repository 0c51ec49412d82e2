//! The events `repair run` and stay-afloat append to the repair event log. One
//! builder, so every event carries the same route scope fields the pending-handoff
//! rule (`model::schedule::pending_handoffs`) compares.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::commands::evaluate::RouteReport;
use crate::model::schedule::HandoffScope;

/// The outcome of an event and whether it counts as success.
pub struct Outcome<'a> {
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub ok: bool,
    pub executed: bool,
}

/// An event about one route (or, with `route: None`, about the selector scope).
pub fn route_event(
    kind: &str,
    now: Timestamp,
    profile: Option<&str>,
    route: Option<&RouteReport>,
    outcome: &Outcome<'_>,
) -> Value {
    let mut event = json!({
        "ts": now.to_string(),
        "kind": kind,
        "profile": profile,
        "provider": route.map(|r| r.route.provider.clone()),
        "account": route.map(|r| r.route.account.clone()),
        "capability": route.and_then(|r| r.route.capability.clone()),
    });
    if let Some(r) = route {
        let a = &r.action;
        let fields = json!({
            "route": r.route.key,
            "action": a.kind,
            "command": a.command,
            "budget": a.budget,
            "repair_owner": a.repair_owner,
            "agent_safe": !a.interactive && !a.mutating && !a.budget.contacts_provider(),
            "spends_provider_calls": a.budget.contacts_provider(),
            "interactive": a.interactive,
            "mutating": a.mutating,
            "mediation": a.mediation,
            "writeback_capability": r.writeback.capability,
            "automatic_refresh_admitted": r.writeback.automatic_refresh_admitted,
        });
        merge(&mut event, fields);
    }
    merge(
        &mut event,
        json!({
            "outcome": outcome.outcome,
            "reason": outcome.reason,
            "ok": outcome.ok,
            "executed": outcome.executed,
        }),
    );
    event
}

/// A handoff event for an explicit scope (acknowledge/clear by provider and account).
pub fn scope_event(
    kind: &str,
    now: Timestamp,
    scope: &HandoffScope,
    outcome: &Outcome<'_>,
) -> Value {
    json!({
        "ts": now.to_string(),
        "kind": kind,
        "profile": scope.profile,
        "provider": scope.provider,
        "account": scope.account,
        "capability": scope.capability,
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "ok": outcome.ok,
        "executed": outcome.executed,
    })
}

/// The handoff scope of a route in a profile.
pub fn scope_of(profile: Option<&str>, route: &RouteReport) -> HandoffScope {
    HandoffScope {
        profile: profile.map(str::to_owned),
        provider: Some(route.route.provider.clone()),
        account: Some(route.route.account.clone()),
        capability: route.route.capability.clone(),
    }
}

fn merge(into: &mut Value, more: Value) {
    if let (Some(map), Value::Object(extra)) = (into.as_object_mut(), more) {
        map.extend(extra);
    }
}
