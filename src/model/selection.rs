//! Route selection: the one function that decides which route to use and why
//! every other route was skipped. `route select`, `route explain`, `repair-plan`,
//! `stay-afloat`, `env`/`exec` and the proxy all ask it.

use jiff::Timestamp;
use serde::Serialize;

use super::classify::Decision;
use super::health::{RouteHealth, RouteStatus, effective_status};
use super::route_key::RouteKey;
use super::runtime::RuntimeReadiness;

/// One route that may be selected, in preference order.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub key: RouteKey,
    /// Account priority (higher first).
    pub priority: i32,
    pub runtime: RuntimeReadiness,
}

/// A candidate with its evaluated state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteView {
    pub key: RouteKey,
    pub priority: i32,
    pub status: RouteStatus,
    pub runtime: RuntimeReadiness,
    pub selectable: bool,
    /// Why the route was not selected (`None` for the selected route and for
    /// selectable routes ranked after it).
    pub skip_reason: Option<String>,
    pub decision: Decision,
    /// Whether this route belongs to a fallback capability of the degradation chain.
    pub fallback_capability: bool,
}

/// The result of selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    pub selected: Option<RouteKey>,
    /// The capability that was served (differs from the requested one when the
    /// degradation chain was used).
    pub capability: Option<String>,
    pub routes: Vec<RouteView>,
}

/// Health lookup by route key (account-level keys included).
pub trait HealthLookup {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth>;
}

impl<F: Fn(&RouteKey) -> Option<RouteHealth>> HealthLookup for F {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth> {
        self(key)
    }
}

/// A route's view outside the ranking (no skip reason): for routes listed after
/// the selection, or probed explicitly.
pub fn unranked_view(
    c: &Candidate,
    health: &dyn HealthLookup,
    now: Timestamp,
    fallback_capability: bool,
) -> RouteView {
    let account = health.health(&c.key.account_key());
    let route = health.health(&c.key);
    let status = effective_status(account.as_ref(), route.as_ref(), now);
    RouteView {
        key: c.key.clone(),
        priority: c.priority,
        selectable: c.runtime.is_ready() && status.is_available(),
        decision: status.decision(),
        status,
        runtime: c.runtime.clone(),
        skip_reason: None,
        fallback_capability,
    }
}

/// Order candidates: by account priority (higher first), keeping the given
/// (profile) order among equal priorities.
pub fn order_candidates(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by_key(|c| std::cmp::Reverse(c.priority));
    candidates
}

/// Evaluate every candidate and pick the first selectable one. Candidates of the
/// primary capability come first; `fallback_chain` capabilities are tried, in
/// order, only when no primary route is selectable.
pub fn select(
    candidates: &[Candidate],
    primary_capability: Option<&str>,
    fallback_chain: &[String],
    health: &dyn HealthLookup,
    now: Timestamp,
) -> Selection {
    let tiers: Vec<Option<&str>> = match primary_capability {
        Some(primary) => std::iter::once(Some(primary))
            .chain(
                fallback_chain
                    .iter()
                    .filter(|c| c.as_str() != primary)
                    .map(|c| Some(c.as_str())),
            )
            .collect(),
        None => vec![None],
    };
    let mut routes = Vec::new();
    let mut selected: Option<(RouteKey, Option<String>)> = None;
    for (tier_index, tier) in tiers.iter().enumerate() {
        let in_tier: Vec<Candidate> = candidates
            .iter()
            .filter(|c| {
                tier.is_none()
                    || c.key.capability.as_deref() == *tier
                    || (tier_index == 0 && c.key.capability.is_none())
            })
            .cloned()
            .collect();
        let mut provider_skipped: Vec<String> = Vec::new();
        for candidate in order_candidates(in_tier) {
            let account = health.health(&candidate.key.account_key());
            let route = if candidate.key.is_account_level() {
                None
            } else {
                health.health(&candidate.key)
            };
            let status = if candidate.key.is_account_level() {
                account
                    .as_ref()
                    .map_or(RouteStatus::ProbeNeeded, |a| a.status_at(now))
            } else {
                effective_status(account.as_ref(), route.as_ref(), now)
            };
            let selectable = candidate.runtime.is_ready() && status.is_available();
            let decision = status.decision();
            let skip_reason = if selected.is_some() {
                None
            } else if provider_skipped.contains(&candidate.key.provider) {
                Some("provider_degraded".to_owned())
            } else if !candidate.runtime.is_ready() {
                Some(candidate.runtime.label().to_owned())
            } else if !status.is_available() {
                Some(status.label().to_owned())
            } else {
                None
            };
            if decision == Decision::TryNextProvider
                && !provider_skipped.contains(&candidate.key.provider)
            {
                provider_skipped.push(candidate.key.provider.clone());
            }
            if selected.is_none() && skip_reason.is_none() && selectable {
                selected = Some((candidate.key.clone(), tier.map(str::to_owned)));
            }
            routes.push(RouteView {
                key: candidate.key,
                priority: candidate.priority,
                status,
                runtime: candidate.runtime,
                selectable,
                skip_reason,
                decision,
                fallback_capability: tier_index > 0,
            });
        }
        if selected.is_some() {
            // Still show the remaining fallback routes, unranked, for explain.
            for later in &tiers[tier_index + 1..] {
                for c in candidates
                    .iter()
                    .filter(|c| c.key.capability.as_deref() == *later)
                {
                    routes.push(unranked_view(c, health, now, true));
                }
            }
            break;
        }
    }
    let (selected, capability) = match selected {
        Some((key, cap)) => (Some(key), cap),
        None => (None, primary_capability.map(str::to_owned)),
    };
    Selection {
        selected,
        capability,
        routes,
    }
}

#[cfg(test)]
#[path = "selection_tests.rs"]
mod tests;
