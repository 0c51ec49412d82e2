//! Stay-afloat scheduling: when each route next needs a tick and why, the
//! earliest wake-up of a tick, and which repair handoffs are still pending in
//! the event log. Pure: `now` is a parameter, events are values.

pub use super::event::HandoffScope;
use super::event::{Event, EventKind};
use super::repair::{ActionKind, RouteAction};
use jiff::Timestamp;
use serde::Serialize;

/// Why a route wants (or does not want) the next tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleReason {
    /// The route is usable; nothing to schedule.
    RouteSelectable,
    /// Nothing changes until a known time (rate limit, quota reset, cooldown, retry).
    WaitUntil,
    /// An admitted action (probe, revalidation) can run now.
    ActionDue,
    /// The action exists but background policy does not admit it.
    ActionNotAdmitted,
    /// A human must act (login, provider-side fix, secret configuration).
    AwaitingUser,
    /// Another process holds the account's repair lock.
    RepairInProgress,
    /// A local runtime problem must be fixed first.
    FixRuntime,
    /// No action is known for the route.
    NoAction,
}

impl ScheduleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RouteSelectable => "route_selectable",
            Self::WaitUntil => "wait_until",
            Self::ActionDue => "action_due",
            Self::ActionNotAdmitted => "action_not_admitted",
            Self::AwaitingUser => "awaiting_user",
            Self::RepairInProgress => "repair_in_progress",
            Self::FixRuntime => "fix_runtime",
            Self::NoAction => "no_action",
        }
    }
}

/// When one route next needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouteSchedule {
    /// The earliest time a tick can change something for this route (`None`: no
    /// time-driven change; only new evidence or a human changes it).
    pub next_tick_after: Option<Timestamp>,
    pub schedule_reason: ScheduleReason,
}

/// The schedule of one route from its planned action at `now`. `selectable` is the
/// selection verdict; `admitted` is the background admission of the action.
pub fn route_schedule(
    action: &RouteAction,
    selectable: bool,
    admitted: bool,
    now: Timestamp,
) -> RouteSchedule {
    let at = |next_tick_after, schedule_reason| RouteSchedule {
        next_tick_after,
        schedule_reason,
    };
    if selectable {
        return at(None, ScheduleReason::RouteSelectable);
    }
    match action.kind {
        ActionKind::None => at(None, ScheduleReason::NoAction),
        ActionKind::WaitAndRetry | ActionKind::WaitForQuota | ActionKind::WaitForCooldown => {
            match action.wake_at {
                Some(t) => at(Some(t.max(now)), ScheduleReason::WaitUntil),
                None => at(None, ScheduleReason::NoAction),
            }
        }
        ActionKind::ProbeNeeded | ActionKind::RevalidationNeeded | ActionKind::RefreshToken => {
            if action.command.is_none() {
                at(None, ScheduleReason::NoAction)
            } else if admitted {
                at(Some(now), ScheduleReason::ActionDue)
            } else {
                at(None, ScheduleReason::ActionNotAdmitted)
            }
        }
        ActionKind::Reauth | ActionKind::ManualFix | ActionKind::FixCredential => at(
            action.wake_at.map(|t| t.max(now)),
            ScheduleReason::AwaitingUser,
        ),
        ActionKind::WaitForRepair => at(None, ScheduleReason::RepairInProgress),
        ActionKind::FixRuntime => at(None, ScheduleReason::FixRuntime),
    }
}

/// The earliest wake-up of a tick over its routes, and the reason of the route
/// that sets it (`no_scheduled_wake` when no route has a time).
pub fn earliest_wake(schedules: &[RouteSchedule]) -> (Option<Timestamp>, &'static str) {
    schedules
        .iter()
        .filter_map(|s| s.next_tick_after.map(|t| (t, s.schedule_reason)))
        .min_by_key(|(t, _)| *t)
        .map_or((None, "no_scheduled_wake"), |(t, r)| (Some(t), r.as_str()))
}

/// What a stay-afloat tick does when no route is selectable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickStep {
    /// Run the admitted probe of this route (index into the routes given).
    Execute(usize),
    /// Queue a handoff to a human for this route.
    Handoff(usize),
    /// Every route needing a human already has a pending handoff.
    HandoffPending,
    /// Nothing the tick may do.
    Nothing,
}

/// One route, in rank order, as the step choice sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRoute {
    /// Its repair is a non-interactive action (a probe, a token refresh) background work may run.
    pub admitted_probe: bool,
    /// Its repair needs a person (a login, a manual fix).
    pub needs_human: bool,
    pub scope: HandoffScope,
}

/// The first admitted probe wins; else the first route needing a human whose handoff is
/// not pending yet.
pub fn choose_step(routes: &[StepRoute], pending: &[HandoffScope]) -> TickStep {
    if let Some(i) = routes.iter().position(|r| r.admitted_probe) {
        return TickStep::Execute(i);
    }
    let mut any_human = false;
    for (i, r) in routes.iter().enumerate().filter(|(_, r)| r.needs_human) {
        any_human = true;
        if !pending.contains(&r.scope) {
            return TickStep::Handoff(i);
        }
    }
    if any_human {
        TickStep::HandoffPending
    } else {
        TickStep::Nothing
    }
}

/// The event kind of a queued or settled repair handoff.
pub const HANDOFF_KIND: &str = "daemon_handoff";

fn outcome(event: &Event) -> Option<&str> {
    event.outcome().map(|o| o.outcome.as_str())
}

fn is_handoff(event: &Event) -> bool {
    matches!(event.kind, EventKind::DaemonHandoff(_))
}

fn is_queued_handoff(event: &Event) -> bool {
    is_handoff(event) && outcome(event) == Some("handoff_queued")
}

/// Whether an event settles a pending handoff of its own scope: the route became
/// selectable, the handoff was resolved, or a repair for it ran successfully.
/// `handoff_acknowledged` does not settle it.
fn settles(event: &Event) -> bool {
    match outcome(event) {
        Some("route_selectable" | "handoff_resolved") => true,
        Some("executed" | "noop") => event.outcome().is_some_and(|o| o.ok),
        _ => false,
    }
}

/// The handoffs still pending after `events` (oldest first): for each scope, the
/// latest `daemon_handoff`/`handoff_queued` event not followed by a settling event
/// of the same scope. Returned in the order they were queued.
pub fn pending_handoffs(events: &[Event]) -> Vec<&Event> {
    let mut pending: Vec<(HandoffScope, &Event)> = Vec::new();
    for event in events {
        let scope = event.scope();
        if is_queued_handoff(event) {
            pending.retain(|(s, _)| *s != scope);
            pending.push((scope, event));
        } else if settles(event) {
            pending.retain(|(s, _)| *s != scope);
        }
    }
    pending.into_iter().map(|(_, e)| e).collect()
}

/// Every handoff event (queued, acknowledged, resolved) in order, for `--all`.
pub fn handoff_history(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| is_handoff(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::budget::{ActionBudget, RepairOwner};
    use serde_json::{Value, json};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn now() -> Timestamp {
        t("2026-11-22T10:00:00Z")
    }

    fn action(kind: ActionKind, wake_at: Option<Timestamp>, command: bool) -> RouteAction {
        RouteAction {
            kind,
            command: command.then(|| "oauth-mux probe --provider toy --account a1".into()),
            diagnostic_command: None,
            budget: ActionBudget::FreeCommand,
            mutating: false,
            interactive: matches!(kind, ActionKind::Reauth | ActionKind::ManualFix),
            mediation: None,
            repair_owner: RepairOwner::ManualOnly,
            wake_at,
            message: String::new(),
        }
    }

    #[test]
    fn selectable_routes_schedule_nothing() {
        let s = route_schedule(&action(ActionKind::None, None, false), true, true, now());
        assert_eq!(s.next_tick_after, None);
        assert_eq!(s.schedule_reason, ScheduleReason::RouteSelectable);
    }

    #[test]
    fn waits_wake_at_their_time_never_in_the_past() {
        let reset = t("2026-11-22T12:00:00Z");
        for kind in [
            ActionKind::WaitForQuota,
            ActionKind::WaitAndRetry,
            ActionKind::WaitForCooldown,
        ] {
            let s = route_schedule(&action(kind, Some(reset), false), false, true, now());
            assert_eq!(s.next_tick_after, Some(reset), "{kind:?}");
            assert_eq!(s.schedule_reason, ScheduleReason::WaitUntil);
        }
        let past = t("2026-11-22T09:00:00Z");
        let s = route_schedule(
            &action(ActionKind::WaitAndRetry, Some(past), false),
            false,
            true,
            now(),
        );
        assert_eq!(s.next_tick_after, Some(now()));
    }

    #[test]
    fn probes_are_due_now_only_when_admitted() {
        for kind in [ActionKind::ProbeNeeded, ActionKind::RevalidationNeeded] {
            let due = route_schedule(&action(kind, None, true), false, true, now());
            assert_eq!(
                (due.next_tick_after, due.schedule_reason),
                (Some(now()), ScheduleReason::ActionDue)
            );
            let refused = route_schedule(&action(kind, None, true), false, false, now());
            assert_eq!(
                (refused.next_tick_after, refused.schedule_reason),
                (None, ScheduleReason::ActionNotAdmitted)
            );
            let no_probe = route_schedule(&action(kind, None, false), false, true, now());
            assert_eq!(no_probe.schedule_reason, ScheduleReason::NoAction);
        }
    }

    #[test]
    fn human_runtime_and_lock_actions() {
        let s = route_schedule(&action(ActionKind::Reauth, None, true), false, false, now());
        assert_eq!(
            (s.next_tick_after, s.schedule_reason),
            (None, ScheduleReason::AwaitingUser)
        );
        let retry = t("2026-11-22T11:00:00Z");
        let s = route_schedule(
            &action(ActionKind::ManualFix, Some(retry), false),
            false,
            false,
            now(),
        );
        assert_eq!(s.next_tick_after, Some(retry));
        let s = route_schedule(
            &action(ActionKind::WaitForRepair, None, false),
            false,
            true,
            now(),
        );
        assert_eq!(s.schedule_reason, ScheduleReason::RepairInProgress);
        let s = route_schedule(
            &action(ActionKind::FixRuntime, None, false),
            false,
            true,
            now(),
        );
        assert_eq!(s.schedule_reason, ScheduleReason::FixRuntime);
        assert_eq!(ScheduleReason::AwaitingUser.as_str(), "awaiting_user");
        assert_eq!(
            serde_json::to_value(ScheduleReason::WaitUntil).unwrap(),
            json!("wait_until")
        );
    }

    #[test]
    fn earliest_wake_picks_the_minimum_and_its_reason() {
        let a = RouteSchedule {
            next_tick_after: Some(t("2026-11-22T12:00:00Z")),
            schedule_reason: ScheduleReason::WaitUntil,
        };
        let b = RouteSchedule {
            next_tick_after: Some(now()),
            schedule_reason: ScheduleReason::ActionDue,
        };
        let c = RouteSchedule {
            next_tick_after: None,
            schedule_reason: ScheduleReason::AwaitingUser,
        };
        assert_eq!(earliest_wake(&[a, b, c]), (Some(now()), "action_due"));
        assert_eq!(earliest_wake(&[a, c]), (a.next_tick_after, "wait_until"));
        assert_eq!(earliest_wake(&[c]), (None, "no_scheduled_wake"));
        assert_eq!(earliest_wake(&[]), (None, "no_scheduled_wake"));
    }

    fn step_route(account: &str, admitted_probe: bool, needs_human: bool) -> StepRoute {
        StepRoute {
            admitted_probe,
            needs_human,
            scope: HandoffScope {
                account: Some(account.into()),
                ..HandoffScope::default()
            },
        }
    }

    #[test]
    fn a_tick_runs_the_first_admitted_probe_else_hands_the_first_unhandled_human_repair_off() {
        let routes = [
            step_route("a1", false, true),
            step_route("a2", true, false),
            step_route("a3", false, true),
        ];
        assert_eq!(choose_step(&routes, &[]), TickStep::Execute(1));
        let humans = [routes[0].clone(), routes[2].clone()];
        assert_eq!(choose_step(&humans, &[]), TickStep::Handoff(0));
        assert_eq!(
            choose_step(&humans, &[humans[0].scope.clone()]),
            TickStep::Handoff(1)
        );
        let all_pending = [humans[0].scope.clone(), humans[1].scope.clone()];
        assert_eq!(choose_step(&humans, &all_pending), TickStep::HandoffPending);
        assert_eq!(
            choose_step(&[step_route("a1", false, false)], &[]),
            TickStep::Nothing
        );
    }

    fn ev_json(kind: &str, outcome: &str, account: &str, ok: bool) -> Value {
        json!({"ts": "2026-11-22T10:00:00Z", "kind": kind, "outcome": outcome,
               "profile": "p", "provider": "toy", "account": account,
               "capability": "cheap", "ok": ok})
    }

    fn ev(kind: &str, outcome: &str, account: &str, ok: bool) -> Event {
        serde_json::from_value(ev_json(kind, outcome, account, ok)).unwrap()
    }

    #[test]
    fn queued_handoffs_stay_pending_through_acknowledgement() {
        let events = vec![
            ev(HANDOFF_KIND, "handoff_queued", "a1", false),
            ev(HANDOFF_KIND, "handoff_acknowledged", "a1", true),
        ];
        let pending = pending_handoffs(&events);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].outcome().unwrap().outcome, "handoff_queued");
    }

    #[test]
    fn resolution_selectability_and_successful_repairs_settle_handoffs() {
        for settling in [
            ev(HANDOFF_KIND, "handoff_resolved", "a1", true),
            ev(HANDOFF_KIND, "route_selectable", "a1", true),
            ev("repair_run", "executed", "a1", true),
            ev("daemon_execution", "executed", "a1", true),
            ev("repair_run", "noop", "a1", true),
        ] {
            let events = vec![ev(HANDOFF_KIND, "handoff_queued", "a1", false), settling];
            assert!(pending_handoffs(&events).is_empty(), "{events:?}");
        }
        // A failed execution does not settle it, nor does another route's event.
        for other in [
            ev("repair_run", "executed", "a1", false),
            ev(HANDOFF_KIND, "handoff_resolved", "a2", true),
            ev("repair_run", "confirmation_required", "a1", false),
        ] {
            let events = vec![ev(HANDOFF_KIND, "handoff_queued", "a1", false), other];
            assert_eq!(pending_handoffs(&events).len(), 1, "{events:?}");
        }
    }

    #[test]
    fn scopes_compare_null_aware_and_requeue_after_clear() {
        let mut no_profile = ev_json(HANDOFF_KIND, "handoff_resolved", "a1", true);
        no_profile["profile"] = Value::Null;
        let no_profile: Event = serde_json::from_value(no_profile).unwrap();
        let events = vec![ev(HANDOFF_KIND, "handoff_queued", "a1", false), no_profile];
        assert_eq!(pending_handoffs(&events).len(), 1, "null != \"p\"");

        let events = vec![
            ev(HANDOFF_KIND, "handoff_queued", "a1", false),
            ev(HANDOFF_KIND, "handoff_queued", "a2", false),
            ev(HANDOFF_KIND, "handoff_resolved", "a1", true),
            ev(HANDOFF_KIND, "handoff_queued", "a1", false),
        ];
        let pending = pending_handoffs(&events);
        let accounts: Vec<String> = pending.iter().map(|e| e.scope().account.unwrap()).collect();
        assert_eq!(accounts, ["a2", "a1"]);
        assert_eq!(handoff_history(&events).len(), 4);
    }

    #[test]
    fn filters_match_on_the_fields_they_set() {
        let scope = ev(HANDOFF_KIND, "handoff_queued", "a1", false).scope();
        let filter = HandoffScope {
            profile: None,
            provider: Some("toy".into()),
            account: Some("a1".into()),
            capability: None,
        };
        assert!(scope.matches(&filter));
        let other = HandoffScope {
            account: Some("a2".into()),
            ..filter
        };
        assert!(!scope.matches(&other));
    }
}
