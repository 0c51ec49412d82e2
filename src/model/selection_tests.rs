use std::collections::HashMap;

use super::*;
use crate::model::classify::Classification;
use crate::model::election::{Selection, select};
use crate::model::health::EvidenceSource;
use crate::model::liveness::{DeadReason, RateLimitWindow};

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

/// `select` with a capability and chain and the default usage threshold.
fn sel(
    candidates: &[Candidate],
    primary_capability: Option<&str>,
    fallback_chain: &[String],
    health: &dyn HealthLookup,
    now: Timestamp,
) -> Selection {
    let policy = RankPolicy {
        primary_capability,
        fallback_chain,
        ..RankPolicy::default()
    };
    select(candidates, &policy, health, now)
}

fn cand(key: &str, priority: i32) -> Candidate {
    Candidate {
        key: RouteKey::parse(key).unwrap(),
        priority,
        runtime: RuntimeReadiness::Ready,
    }
}

struct Store(HashMap<String, RouteHealth>);

impl Store {
    fn new() -> Self {
        Store(HashMap::new())
    }
    fn with(mut self, key: &str, class: Classification) -> Self {
        let r = RouteHealth::observe(None, &class, Some(0), EvidenceSource::HttpProbe, now());
        self.0.insert(key.to_owned(), r);
        self
    }
}

impl HealthLookup for Store {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth> {
        self.0.get(&key.to_string()).cloned()
    }
}

fn quota() -> Classification {
    Classification::QuotaExhausted {
        resets_at: Some(now() + jiff::SignedDuration::from_hours(1)),
    }
}

#[test]
fn no_evidence_means_probe_needed_and_nothing_selected() {
    let s = sel(
        &[cand("toy:a1#cheap", 20), cand("toy:a2#cheap", 10)],
        Some("cheap"),
        &[],
        &Store::new(),
        now(),
    );
    assert_eq!(s.selected, None);
    assert!(
        s.routes
            .iter()
            .all(|r| r.skip_reason.as_deref() == Some("probe_needed"))
    );
}

#[test]
fn falls_back_on_quota_to_the_next_account() {
    let store = Store::new()
        .with("toy:a1#expensive", quota())
        .with("toy:a2#expensive", Classification::Success);
    let s = sel(
        &[cand("toy:a1#expensive", 20), cand("toy:a2#expensive", 10)],
        Some("expensive"),
        &[],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().to_string(), "toy:a2#expensive");
    assert_eq!(s.routes[0].skip_reason.as_deref(), Some("quota_exhausted"));
}

#[test]
fn capability_isolation() {
    let store = Store::new()
        .with("toy:a1#expensive", quota())
        .with("toy:a1#cheap", Classification::Success)
        .with("toy:a2#cheap", Classification::Success);
    let s = sel(
        &[cand("toy:a1#cheap", 20), cand("toy:a2#cheap", 10)],
        Some("cheap"),
        &[],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().to_string(), "toy:a1#cheap");
}

#[test]
fn priority_orders_and_profile_order_breaks_ties() {
    let store = Store::new()
        .with("p:low#c", Classification::Success)
        .with("p:high#c", Classification::Success)
        .with("p:tie2#c", Classification::Success)
        .with("p:tie1#c", Classification::Success);
    let s = sel(
        &[cand("p:low#c", 1), cand("p:high#c", 9)],
        Some("c"),
        &[],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().account, "high");
    let s = sel(
        &[cand("p:tie2#c", 5), cand("p:tie1#c", 5)],
        Some("c"),
        &[],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().account, "tie2");
}

#[test]
fn account_level_dead_dominates() {
    let store = Store::new()
        .with(
            "p:a",
            Classification::Dead {
                reason: DeadReason::TokenRevoked,
            },
        )
        .with("p:a#c", Classification::Success)
        .with("p:b#c", Classification::Success);
    let s = sel(
        &[cand("p:a#c", 2), cand("p:b#c", 1)],
        Some("c"),
        &[],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().account, "b");
    assert_eq!(s.routes[0].skip_reason.as_deref(), Some("token_revoked"));
}

#[test]
fn provider_degraded_skips_the_rest_of_that_provider() {
    let store = Store::new()
        .with("x:a#c", Classification::ProviderDegraded)
        .with("x:b#c", Classification::Success)
        .with("y:a#c", Classification::Success);
    let s = sel(
        &[cand("x:a#c", 3), cand("x:b#c", 2), cand("y:a#c", 1)],
        Some("c"),
        &[],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().provider, "y");
    assert_eq!(
        s.routes[1].skip_reason.as_deref(),
        Some("provider_degraded")
    );
}

#[test]
fn runtime_not_ready_is_skipped_without_touching_health() {
    let store = Store::new()
        .with("p:a#c", Classification::Success)
        .with("p:b#c", Classification::Success);
    let mut a = cand("p:a#c", 2);
    a.runtime = RuntimeReadiness::RepairInProgress { started_at: None };
    let s = sel(&[a, cand("p:b#c", 1)], Some("c"), &[], &store, now());
    assert_eq!(s.selected.unwrap().account, "b");
    assert_eq!(
        s.routes[0].skip_reason.as_deref(),
        Some("repair_in_progress")
    );
    assert!(s.routes[0].status.is_available());
}

#[test]
fn degradation_chain_is_tried_in_order() {
    let store = Store::new()
        .with("codex:m1#codex-max", quota())
        .with("codex:m2#codex-max", quota())
        .with("codex:m1#codex-mini", Classification::Success);
    let cands = [
        cand("codex:m1#codex-max", 30),
        cand("codex:m1#codex-mini", 30),
        cand("codex:m2#codex-max", 20),
    ];
    let s = sel(
        &cands,
        Some("codex-max"),
        &["codex-mini".to_owned()],
        &store,
        now(),
    );
    assert_eq!(s.selected.unwrap().to_string(), "codex:m1#codex-mini");
    assert_eq!(s.capability.as_deref(), Some("codex-mini"));
    assert!(s.routes.iter().any(|r| r.fallback_capability));
}

#[test]
fn short_rate_limit_waits() {
    let store = Store::new().with(
        "p:a#c",
        Classification::RateLimited {
            retry_after_s: Some(10),
            window: RateLimitWindow::PerMinute,
        },
    );
    let s = sel(&[cand("p:a#c", 1)], Some("c"), &[], &store, now());
    assert_eq!(s.routes[0].decision, Decision::WaitAndRetry);
    assert_eq!(s.selected, None);
}

#[test]
fn revalidation_needed_after_reset() {
    let store = Store::new().with("p:a#c", quota());
    let later = now() + jiff::SignedDuration::from_hours(2);
    let s = sel(&[cand("p:a#c", 1)], Some("c"), &[], &store, later);
    assert_eq!(
        s.routes[0].skip_reason.as_deref(),
        Some("revalidation_needed")
    );
}
