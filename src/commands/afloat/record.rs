//! The events `repair run` and stay-afloat append to the repair event log. One
//! builder, so every event carries the same route scope fields the pending-handoff
//! rule (`model::schedule::pending_handoffs`) compares.

use jiff::Timestamp;

use crate::commands::evaluate::RouteReport;
use crate::model::event::{self, Event, EventKind, RouteEvent, RouteFacts};
use crate::model::schedule::HandoffScope;

/// The outcome of an event and whether it counts as success.
pub struct Outcome<'a> {
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub ok: bool,
    pub executed: bool,
}

impl Outcome<'_> {
    fn to_event(&self) -> event::Outcome {
        event::Outcome {
            outcome: self.outcome.to_owned(),
            reason: self.reason.map(str::to_owned),
            ok: self.ok,
            executed: self.executed,
        }
    }
}

/// Which route event.
#[derive(Clone, Copy)]
pub enum RouteEventKind {
    RepairRun,
    DaemonExecution,
    DaemonHandoff,
}

fn wrap(kind: RouteEventKind, now: Timestamp, e: RouteEvent) -> Event {
    Event::new(
        now,
        match kind {
            RouteEventKind::RepairRun => EventKind::RepairRun(e),
            RouteEventKind::DaemonExecution => EventKind::DaemonExecution(e),
            RouteEventKind::DaemonHandoff => EventKind::DaemonHandoff(e),
        },
    )
}

/// An event about one route (or, with `route: None`, about the selector scope).
pub fn route_event(
    kind: RouteEventKind,
    now: Timestamp,
    profile: Option<&str>,
    route: Option<&RouteReport>,
    outcome: &Outcome<'_>,
) -> Event {
    let scope = HandoffScope {
        profile: profile.map(str::to_owned),
        provider: route.map(|r| r.route.provider.clone()),
        account: route.map(|r| r.route.account.clone()),
        capability: route.and_then(|r| r.route.capability.clone()),
    };
    let facts = route.map(|r| {
        let a = &r.action;
        RouteFacts {
            route: r.route.key.clone(),
            action: event::label_of(&a.kind),
            command: a.command.clone(),
            budget: event::label_of(&a.budget),
            repair_owner: event::label_of(&a.repair_owner),
            agent_safe: !a.interactive && !a.mutating && !a.budget.contacts_provider(),
            spends_provider_calls: a.budget.contacts_provider(),
            interactive: a.interactive,
            mutating: a.mutating,
            mediation: a.mediation.map(str::to_owned),
            writeback_capability: r.writeback.capability.clone(),
            automatic_refresh_admitted: r.writeback.automatic_refresh_admitted,
        }
    });
    wrap(
        kind,
        now,
        RouteEvent {
            scope,
            route: facts,
            outcome: outcome.to_event(),
        },
    )
}

/// A handoff event for an explicit scope (acknowledge/clear by provider and account).
pub fn scope_event(now: Timestamp, scope: &HandoffScope, outcome: &Outcome<'_>) -> Event {
    wrap(
        RouteEventKind::DaemonHandoff,
        now,
        RouteEvent {
            scope: scope.clone(),
            route: None,
            outcome: outcome.to_event(),
        },
    )
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
