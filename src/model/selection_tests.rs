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

/// Every kind of evidence that changes with time alone (and some that never does), each as
/// one route's record.
fn timed_records() -> Vec<(&'static str, RouteHealth)> {
    use crate::model::liveness::{Availability, DegradedReason, Liveness};
    let at = |class: Classification| {
        RouteHealth::observe(None, &class, Some(0), EvidenceSource::Proxy, now())
    };
    let mut cooldown = at(Classification::Success);
    cooldown.liveness = Liveness::Live {
        availability: Availability::Cooldown {
            until: now() + jiff::SignedDuration::from_secs(90),
            reason: "operator".into(),
        },
    };
    let gauge = |used_pct: f64, resets_in: Option<i64>| UsageGauge {
        used_pct,
        resets_at: resets_in.map(|s| now() + jiff::SignedDuration::from_secs(s)),
        observed_at: now(),
        windows: Vec::new(),
    };
    let with_usage = |mut h: RouteHealth, g: UsageGauge| {
        h.usage = Some(g);
        h
    };
    vec![
        ("success", at(Classification::Success)),
        (
            "rate limited 30 s",
            at(Classification::RateLimited {
                retry_after_s: Some(30),
                window: RateLimitWindow::PerMinute,
            }),
        ),
        (
            "rate limited, windowless",
            at(Classification::RateLimited {
                retry_after_s: None,
                window: RateLimitWindow::Unknown,
            }),
        ),
        ("quota, reset known", at(quota())),
        (
            "quota, reset unknown",
            at(Classification::QuotaExhausted { resets_at: None }),
        ),
        ("provider degraded", at(Classification::ProviderDegraded)),
        (
            "tier insufficient",
            at(Classification::Degraded {
                reason: DegradedReason::TierInsufficient,
            }),
        ),
        (
            "dead",
            at(Classification::Dead {
                reason: DeadReason::TokenRevoked,
            }),
        ),
        ("cooldown", cooldown),
        (
            "hot until its window resets",
            with_usage(at(Classification::Success), gauge(97.0, Some(600))),
        ),
        (
            "hot, no reset stated",
            with_usage(at(Classification::Success), gauge(97.0, None)),
        ),
        (
            "cool usage",
            with_usage(at(Classification::Success), gauge(40.0, Some(600))),
        ),
        (
            "rate limited and hot",
            with_usage(
                at(Classification::RateLimited {
                    retry_after_s: Some(45),
                    window: RateLimitWindow::PerMinute,
                }),
                gauge(99.0, Some(20)),
            ),
        ),
    ]
}

/// `next_change` is what lets the proxy keep an election between requests: before it, ranking
/// the same evidence must give the same views; at it, they must differ (it is not early).
#[test]
fn views_stay_the_same_until_next_change_and_change_at_it() {
    let rank_at = |store: &Store, cands: &[Candidate], t: Timestamp| {
        rank(cands, &RankPolicy::default(), store, t)
    };
    let cands = [cand("toy:a1#cheap", 0)];
    for (what, record) in timed_records() {
        // The record at route level, and at account level (it then dominates the route).
        for key in ["toy:a1#cheap", "toy:a1"] {
            let mut store = Store::new().with("toy:a1#cheap", Classification::Success);
            store.0.insert(key.to_owned(), record.clone());
            let start = rank_at(&store, &cands, now());
            let boundary = next_change(&start);
            let horizon = boundary.unwrap_or(now() + jiff::SignedDuration::from_hours(24 * 400));
            let step =
                (horizon.duration_since(now()) / 97).max(jiff::SignedDuration::from_millis(1));
            let mut t = now();
            while t < horizon {
                assert_eq!(
                    rank_at(&store, &cands, t),
                    start,
                    "{what} at {key}: changed at {t}, before its next change {boundary:?}"
                );
                t += step;
            }
            if let Some(b) = boundary {
                let just_before = b - jiff::SignedDuration::from_nanos(1);
                assert_eq!(
                    rank_at(&store, &cands, just_before),
                    start,
                    "{what} at {key}"
                );
                assert_ne!(
                    rank_at(&store, &cands, b),
                    start,
                    "{what} at {key}: nothing changed at its next change {b}"
                );
            }
        }
    }
    // Several routes: the earliest of their changes.
    let mut store = Store::new();
    let records = timed_records();
    let keys = ["toy:a1#cheap", "toy:a2#cheap", "toy:a3#cheap"];
    for (key, (_, record)) in keys.iter().zip(records.iter().skip(1)) {
        store.0.insert((*key).to_owned(), record.clone());
    }
    let cands: Vec<Candidate> = keys.iter().map(|k| cand(k, 0)).collect();
    let views = rank_at(&store, &cands, now());
    assert_eq!(
        next_change(&views),
        views.iter().filter_map(RouteView::changes_at).min()
    );
    assert_eq!(
        next_change(&views),
        Some(now() + jiff::SignedDuration::from_secs(30)),
        "the 30 s rate limit lifts first"
    );
}

/// Two views that stay alike are ranked alike from then on (what lets the proxy keep its
/// election across a usage reading); views that differ in what an election reads do not.
#[test]
fn views_alike_now_stay_alike_later() {
    let records = timed_records();
    let cands = [cand("toy:a1#cheap", 0)];
    let view_over = |record: &RouteHealth, t: Timestamp| {
        let mut store = Store::new();
        store.0.insert("toy:a1#cheap".to_owned(), record.clone());
        rank(&cands, &RankPolicy::default(), &store, t).remove(0)
    };
    let mut alike_pairs = 0;
    for (what_a, a) in &records {
        for (what_b, b) in &records {
            let (va, vb) = (view_over(a, now()), view_over(b, now()));
            if !va.stays_alike(&vb) {
                continue;
            }
            alike_pairs += 1;
            for hours in [0, 1, 2, 5, 24, 24 * 400] {
                let t = now() + jiff::SignedDuration::from_hours(hours);
                let (la, lb) = (view_over(a, t), view_over(b, t));
                assert!(
                    la.status == lb.status && la.hot == lb.hot,
                    "{what_a} and {what_b} alike now, apart {hours} h later"
                );
            }
        }
    }
    // Beyond each record with itself: success and cool usage, two cool readings.
    assert!(alike_pairs > records.len(), "{alike_pairs}");
    let hot = records
        .iter()
        .find(|(w, _)| *w == "hot until its window resets");
    let cool = records.iter().find(|(w, _)| *w == "cool usage");
    let (hot, cool) = (&hot.unwrap().1, &cool.unwrap().1);
    assert!(!view_over(hot, now()).stays_alike(&view_over(cool, now())));
}
