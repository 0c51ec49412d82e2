//! Route ranking: every candidate's status from recorded evidence, in rank order (capability
//! tier, account priority, profile order). The one election ([`super::election`]) decides
//! over the ranked views; `route select`, `route explain`, `repair-plan`, `stay-afloat`,
//! `env`/`exec` and the proxy all go through both.

use jiff::Timestamp;
use serde::Serialize;

use super::classify::Decision;
use super::health::{RouteHealth, RouteStatus, UsageGauge, effective_status};
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

/// A candidate with its evaluated state, in rank order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteView {
    pub key: RouteKey,
    pub priority: i32,
    pub status: RouteStatus,
    pub runtime: RuntimeReadiness,
    /// Runtime ready and evidence says available.
    pub selectable: bool,
    /// Why the one account to inject (`route select`, `exec`) is not this route; `None`
    /// for the selected route and usable routes ranked after it.
    pub skip_reason: Option<String>,
    pub decision: Decision,
    /// Whether this route belongs to a fallback capability of the degradation chain.
    pub fallback_capability: bool,
    /// The capability tier: 0 for the requested capability, then the chain's order.
    #[serde(skip)]
    pub tier: usize,
    /// An earlier route of the same provider (in this tier) says the provider is degraded.
    #[serde(skip)]
    pub provider_skipped: bool,
    /// The newest usage reading of the route, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageGauge>,
    /// At or above the usage threshold, in a window that has not reset.
    pub hot: bool,
}

impl RouteView {
    /// The first moment at which this view may differ by time alone: its status wakes (a
    /// limit lifts, a quota window resets, a retry time comes), or the usage window that
    /// makes it hot resets. `None` when only new evidence can change it. Before that moment
    /// ranking the same candidates over the same evidence gives this same view.
    pub fn changes_at(&self) -> Option<Timestamp> {
        match (self.status.wakes_at(), self.hot_until()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the usage window that makes this view hot resets, if it is hot and says so.
    fn hot_until(&self) -> Option<Timestamp> {
        self.hot
            .then(|| self.usage.as_ref().and_then(|u| u.resets_at))
            .flatten()
    }

    /// Whether an election reads `other` (the same route at the same moment, over newer
    /// evidence) as it reads this view, now and from now on: the same status (which names its
    /// own next change) and the same hot window. A usage reading that moves the percentage
    /// without crossing the threshold leaves a route's view alike.
    pub fn stays_alike(&self, other: &RouteView) -> bool {
        self.status == other.status
            && self.hot == other.hot
            && self.hot_until() == other.hot_until()
    }
}

/// The first moment at which [`rank`] over the same candidates and evidence may give other
/// views than `routes` (which it returned): until then an election over them stands.
pub fn next_change(routes: &[RouteView]) -> Option<Timestamp> {
    routes.iter().filter_map(RouteView::changes_at).min()
}

/// Usage percentage at or above which an account is "hot" (config
/// `policy.usage_switch_threshold_pct`).
pub const DEFAULT_USAGE_THRESHOLD_PCT: f64 = 95.0;

/// Health lookup by route key (account-level keys included).
pub trait HealthLookup {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth>;
    /// The newest usage reading of a route (by default the recorded one).
    fn usage(&self, key: &RouteKey) -> Option<UsageGauge> {
        self.health(key).and_then(|h| h.usage)
    }
}

impl<F: Fn(&RouteKey) -> Option<RouteHealth>> HealthLookup for F {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth> {
        self(key)
    }
}

/// What ranking needs besides candidates and health.
#[derive(Debug, Clone, Copy)]
pub struct RankPolicy<'a> {
    pub primary_capability: Option<&'a str>,
    pub fallback_chain: &'a [String],
    pub usage_threshold_pct: f64,
}

impl Default for RankPolicy<'_> {
    fn default() -> Self {
        RankPolicy {
            primary_capability: None,
            fallback_chain: &[],
            usage_threshold_pct: DEFAULT_USAGE_THRESHOLD_PCT,
        }
    }
}

/// One route's view, outside any ranking (tier 0, no skip reason): for a route probed
/// explicitly.
pub fn view_of(
    c: &Candidate,
    health: &dyn HealthLookup,
    usage_threshold_pct: f64,
    now: Timestamp,
) -> RouteView {
    let account = health.health(&c.key.account_key());
    let route = if c.key.is_account_level() {
        None
    } else {
        health.health(&c.key)
    };
    let status = if c.key.is_account_level() {
        account
            .as_ref()
            .map_or(RouteStatus::ProbeNeeded, |a| a.status_at(now))
    } else {
        effective_status(account.as_ref(), route.as_ref(), now)
    };
    let usage = health.usage(&c.key);
    let hot = usage.as_ref().is_some_and(|u| {
        u.used_pct >= usage_threshold_pct && u.resets_at.is_none_or(|reset| reset > now)
    });
    RouteView {
        key: c.key.clone(),
        priority: c.priority,
        selectable: c.runtime.is_ready() && status.is_available(),
        decision: status.decision(),
        status,
        runtime: c.runtime.clone(),
        skip_reason: None,
        fallback_capability: false,
        tier: 0,
        provider_skipped: false,
        usage,
        hot,
    }
}

/// Order candidates: by account priority (higher first), keeping the given
/// (profile) order among equal priorities.
pub fn order_candidates(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by_key(|c| std::cmp::Reverse(c.priority));
    candidates
}

/// Evaluate every candidate, in rank order: the requested capability's routes first, then
/// each fallback capability of the chain; within a capability by account priority, then
/// profile order.
pub fn rank(
    candidates: &[Candidate],
    policy: &RankPolicy<'_>,
    health: &dyn HealthLookup,
    now: Timestamp,
) -> Vec<RouteView> {
    let tiers: Vec<Option<&str>> = match policy.primary_capability {
        Some(primary) => std::iter::once(Some(primary))
            .chain(
                policy
                    .fallback_chain
                    .iter()
                    .filter(|c| c.as_str() != primary)
                    .map(|c| Some(c.as_str())),
            )
            .collect(),
        None => vec![None],
    };
    let mut routes = Vec::new();
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
        let mut degraded_providers: Vec<String> = Vec::new();
        for candidate in order_candidates(in_tier) {
            let mut view = view_of(&candidate, health, policy.usage_threshold_pct, now);
            view.tier = tier_index;
            view.fallback_capability = tier_index > 0;
            view.provider_skipped = degraded_providers.contains(&candidate.key.provider);
            if view.decision == Decision::TryNextProvider && !view.provider_skipped {
                degraded_providers.push(candidate.key.provider.clone());
            }
            routes.push(view);
        }
    }
    routes
}

#[cfg(test)]
#[path = "selection_tests.rs"]
mod tests;
