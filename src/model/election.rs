//! The one election: given the ranked route views (see [`super::selection::rank`]), which
//! routes a purpose may use and in which order, with a reason for every route passed over.
//! `route select`, `exec`, `env`, `stay-afloat launch` (inject one account into a child),
//! the session proxy (a managed session that can fail over), `route explain`, `repair-plan`
//! and stay-afloat all call [`elect`]; docs/routing.md states the rules.
//!
//! The rules, per purpose:
//! - **Inject** (one account for a child that cannot fail over): only routes whose recorded
//!   evidence says *available* (SPEC §1: no evidence, no selection), whose runtime is ready,
//!   and whose provider is not degraded.
//! - **Session** (a proxy that fails over on every answer): also routes that *await
//!   evidence* (never probed, a quota reset to confirm, a degradation to re-check): the
//!   session's request is the probe, its answer is recorded, and a refusal moves the request
//!   to the next account before the harness sees it. Available routes come before those.
//! - Both: capability tiers first (the profile's degradation chain), then routes below the
//!   usage threshold before routes at or above it ("hot": a usage gauge the provider reported
//!   whose window has not reset), then the rank order (account priority, then profile order).
//!   A session's current account (`prefer`) goes first among its equals, so a session stays
//!   where its prompt cache is until evidence says otherwise.

use jiff::Timestamp;
use serde::Serialize;

use super::classify::SHORT_RATE_LIMIT_SECONDS;
use super::health::RouteStatus;
use super::route_key::RouteKey;
use super::selection::{Candidate, HealthLookup, RankPolicy, RouteView, rank};

pub use super::selection::DEFAULT_USAGE_THRESHOLD_PCT;

/// What the elected route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// One account injected into a child process (`route select`, `exec`, `env`, `launch`).
    Inject,
    /// A managed session's proxy, which can fail over.
    Session,
}

/// The election's parameters besides the routes.
#[derive(Debug, Clone, Copy)]
pub struct Ballot<'a> {
    pub purpose: Purpose,
    /// The session's current route, kept first among its equals.
    pub prefer: Option<&'a RouteKey>,
    /// Routes this request already asked.
    pub exclude: &'a [RouteKey],
}

impl Ballot<'_> {
    pub fn new(purpose: Purpose) -> Ballot<'static> {
        Ballot {
            purpose,
            prefer: None,
            exclude: &[],
        }
    }
}

/// A route that was not elected first, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassedOver {
    pub route: RouteKey,
    pub reason: String,
}

/// The outcome: the usable routes in the order they would be tried, and a reason for each
/// route that could not be used or was ranked ahead of the first one but passed over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Election {
    pub order: Vec<RouteKey>,
    pub passed_over: Vec<PassedOver>,
}

impl Election {
    pub fn first(&self) -> Option<&RouteKey> {
        self.order.first()
    }

    /// Why `key` was passed over, if it was.
    pub fn reason_for(&self, key: &RouteKey) -> Option<&str> {
        self.passed_over
            .iter()
            .find(|p| &p.route == key)
            .map(|p| p.reason.as_str())
    }
}

/// Why a route may not be used for this ballot (`None`: it may).
fn ineligible(view: &RouteView, ballot: &Ballot<'_>) -> Option<String> {
    if ballot.exclude.contains(&view.key) {
        return Some("already_tried".into());
    }
    if !view.runtime.is_ready() {
        return Some(view.runtime.label().into());
    }
    match ballot.purpose {
        Purpose::Inject if view.provider_skipped => Some("provider_degraded".into()),
        Purpose::Inject if !view.status.is_available() => Some(view.status.label().into()),
        Purpose::Session if !view.status.may_carry_traffic() => Some(view.status.label().into()),
        _ => None,
    }
}

/// Elect over `routes` (in rank order, as [`super::selection::rank`] returns them).
pub fn elect(routes: &[RouteView], ballot: &Ballot<'_>) -> Election {
    let mut passed_over = Vec::new();
    let mut eligible: Vec<(usize, &RouteView)> = Vec::new();
    for (rank, view) in routes.iter().enumerate() {
        match ineligible(view, ballot) {
            Some(reason) => passed_over.push(PassedOver {
                route: view.key.clone(),
                reason,
            }),
            None => eligible.push((rank, view)),
        }
    }
    let preferred = |v: &RouteView| ballot.prefer == Some(&v.key);
    eligible.sort_by_key(|(rank, v)| {
        (
            v.tier,
            v.hot,
            v.status.awaits_evidence(),
            !preferred(v),
            *rank,
        )
    });
    if let Some((first_rank, first)) = eligible.first() {
        // Routes ranked ahead of the first one and usable, yet passed over: say why.
        for (rank, view) in &eligible[1..] {
            let preferred_one = ballot.prefer == Some(&view.key);
            if !preferred_one && (rank > first_rank || view.tier > first.tier) {
                continue;
            }
            let reason = if view.hot && !first.hot {
                "usage_threshold".to_owned()
            } else if view.status.awaits_evidence() && !first.status.awaits_evidence() {
                view.status.label().to_owned()
            } else {
                "session_stays_on_its_account".to_owned()
            };
            passed_over.push(PassedOver {
                route: view.key.clone(),
                reason,
            });
        }
    }
    passed_over.sort_by_key(|p| routes.iter().position(|v| v.key == p.route));
    Election {
        order: eligible.into_iter().map(|(_, v)| v.key.clone()).collect(),
        passed_over,
    }
}

/// The result of selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// The route to inject into a child (the [`Purpose::Inject`] election's first).
    pub selected: Option<RouteKey>,
    /// The capability that was served (differs from the requested one when the
    /// degradation chain was used).
    pub capability: Option<String>,
    pub routes: Vec<RouteView>,
    /// The order in which a managed session would try the routes ([`Purpose::Session`]).
    pub session_order: Vec<RouteKey>,
}

/// Rank the candidates and run both elections: the route to inject (`selected`, with a
/// skip reason on every route passed over) and the order a managed session would use.
pub fn select(
    candidates: &[Candidate],
    policy: &RankPolicy<'_>,
    health: &dyn HealthLookup,
    now: Timestamp,
) -> Selection {
    let mut routes = rank(candidates, policy, health, now);
    let inject = elect(&routes, &Ballot::new(Purpose::Inject));
    let session = elect(&routes, &Ballot::new(Purpose::Session));
    for view in &mut routes {
        view.skip_reason = inject.reason_for(&view.key).map(str::to_owned);
    }
    let selected = inject.first().cloned();
    let capability = match &selected {
        Some(key) => {
            let tier = routes.iter().find(|v| &v.key == key).map(|v| v.tier);
            match tier {
                Some(0) | None => policy.primary_capability.map(str::to_owned),
                Some(_) => key.capability.clone(),
            }
        }
        None => policy.primary_capability.map(str::to_owned),
    };
    Selection {
        selected,
        capability,
        routes,
        session_order: session.order,
    }
}

/// When a request that found no route left may ask again, and which route: `now` for a
/// route that may carry traffic (a limit met by this request has lifted already), else the
/// route whose short rate limit lifts first, if that is at most
/// [`SHORT_RATE_LIMIT_SECONDS`] away. Never a route in `exclude`. Ties go in rank order.
pub fn first_to_lift(
    routes: &[RouteView],
    exclude: &[RouteKey],
    now: Timestamp,
) -> Option<(Timestamp, RouteKey)> {
    routes
        .iter()
        .filter(|v| !exclude.contains(&v.key) && v.runtime.is_ready())
        .filter_map(|v| {
            let at = match v.status {
                ref s if s.may_carry_traffic() => now,
                RouteStatus::RateLimited { until } if is_short_wait(until, now) => until,
                _ => return None,
            };
            Some((at, v.key.clone()))
        })
        .min_by_key(|(at, _)| *at)
}

/// The earliest time a spent or rate-limited route comes back by itself.
pub fn earliest_return(routes: &[RouteView]) -> Option<Timestamp> {
    routes
        .iter()
        .filter_map(|v| match v.status {
            RouteStatus::QuotaExhausted { resets_at, .. } => Some(resets_at),
            RouteStatus::RateLimited { until } => Some(until),
            _ => None,
        })
        .min()
}

/// True when a limit lifting at `until` is short enough to wait for at `now`.
pub fn is_short_wait(until: Timestamp, now: Timestamp) -> bool {
    until > now && until.as_second() - now.as_second() <= SHORT_RATE_LIMIT_SECONDS as i64
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
