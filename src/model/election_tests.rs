use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::model::classify::Classification;
use crate::model::health::{EvidenceSource, RouteHealth, UsageGauge};
use crate::model::liveness::DeadReason;
use crate::model::runtime::RuntimeReadiness;
use crate::model::selection::{Candidate, HealthLookup, RankPolicy, rank};

fn now() -> Timestamp {
    "2026-12-07T10:00:00Z".parse().unwrap()
}

fn key(s: &str) -> RouteKey {
    RouteKey::parse(s).unwrap()
}

/// A profile of routes in preference order, with recorded health.
#[derive(Default)]
struct Pool {
    candidates: Vec<Candidate>,
    health: HashMap<String, RouteHealth>,
}

impl HealthLookup for Pool {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth> {
        self.health.get(&key.to_string()).cloned()
    }
}

impl Pool {
    fn route(mut self, k: &str) -> Self {
        self.candidates.push(Candidate {
            key: key(k),
            priority: 0,
            runtime: RuntimeReadiness::Ready,
        });
        self
    }
    fn observed(mut self, k: &str, class: Classification) -> Self {
        let prev = self.health.get(k).cloned();
        let h = RouteHealth::observe(
            prev.as_ref(),
            &class,
            Some(200),
            EvidenceSource::Proxy,
            now(),
        );
        self.health.insert(k.into(), h);
        self
    }
    fn live(self, k: &str) -> Self {
        self.observed(k, Classification::Success)
    }
    fn used(mut self, k: &str, pct: f64, resets_in: Option<i64>) -> Self {
        let h = self.health.get_mut(k).expect("observe the route first");
        h.usage = Some(UsageGauge {
            used_pct: pct,
            resets_at: resets_in.map(|s| now() + SignedDuration::from_secs(s)),
            observed_at: now(),
            windows: Vec::new(),
        });
        self
    }
    fn runtime(mut self, k: &str, runtime: RuntimeReadiness) -> Self {
        self.candidates
            .iter_mut()
            .find(|c| c.key == key(k))
            .unwrap()
            .runtime = runtime;
        self
    }
    fn views(&self) -> Vec<crate::model::selection::RouteView> {
        rank(&self.candidates, &RankPolicy::default(), self, now())
    }
    fn elect(&self, purpose: Purpose) -> Election {
        elect(&self.views(), &Ballot::new(purpose))
    }
    fn order(&self, purpose: Purpose) -> Vec<String> {
        self.elect(purpose)
            .order
            .iter()
            .map(|k| k.account.clone())
            .collect()
    }
}

fn quota() -> Classification {
    Classification::QuotaExhausted {
        resets_at: Some(now() + SignedDuration::from_hours(2)),
    }
}

fn dead() -> Classification {
    Classification::Dead {
        reason: DeadReason::TokenRevoked,
    }
}

fn three() -> Pool {
    Pool::default()
        .route("codex:a#m")
        .route("codex:b#m")
        .route("codex:c#m")
}

#[test]
fn all_live_follows_the_profile_order_for_both_purposes() {
    let p = three()
        .live("codex:a#m")
        .live("codex:b#m")
        .live("codex:c#m");
    assert_eq!(p.order(Purpose::Inject), ["a", "b", "c"]);
    assert_eq!(p.order(Purpose::Session), ["a", "b", "c"]);
    assert!(p.elect(Purpose::Inject).passed_over.is_empty());
}

#[test]
fn a_spent_account_is_passed_over_with_its_status() {
    let p = three()
        .observed("codex:a#m", quota())
        .live("codex:b#m")
        .live("codex:c#m");
    for purpose in [Purpose::Inject, Purpose::Session] {
        let e = p.elect(purpose);
        assert_eq!(p.order(purpose), ["b", "c"]);
        assert_eq!(e.reason_for(&key("codex:a#m")), Some("quota_exhausted"));
    }
}

#[test]
fn unprobed_accounts_are_never_injected_but_a_session_tries_them_after_live_ones() {
    let p = three().live("codex:c#m");
    assert_eq!(p.order(Purpose::Inject), ["c"]);
    let inject = p.elect(Purpose::Inject);
    assert_eq!(inject.reason_for(&key("codex:a#m")), Some("probe_needed"));
    assert_eq!(p.order(Purpose::Session), ["c", "a", "b"]);
    let session = p.elect(Purpose::Session);
    // a and b were ranked ahead of c and passed over for the live one.
    assert_eq!(session.reason_for(&key("codex:a#m")), Some("probe_needed"));
    assert_eq!(session.reason_for(&key("codex:c#m")), None);
}

#[test]
fn with_no_evidence_at_all_a_session_starts_in_profile_order_and_nothing_is_injected() {
    let p = three();
    assert!(p.order(Purpose::Inject).is_empty());
    assert_eq!(p.order(Purpose::Session), ["a", "b", "c"]);
}

#[test]
fn hot_accounts_go_last_for_both_purposes() {
    let p = three()
        .live("codex:a#m")
        .used("codex:a#m", 97.0, Some(600))
        .live("codex:b#m")
        .live("codex:c#m");
    for purpose in [Purpose::Inject, Purpose::Session] {
        assert_eq!(p.order(purpose), ["b", "c", "a"], "{purpose:?}");
        assert_eq!(
            p.elect(purpose).reason_for(&key("codex:a#m")),
            Some("usage_threshold")
        );
    }
}

#[test]
fn a_hot_account_is_still_used_when_every_account_is_hot() {
    let p = Pool::default()
        .route("codex:a#m")
        .route("codex:b#m")
        .live("codex:a#m")
        .used("codex:a#m", 99.0, Some(600))
        .live("codex:b#m")
        .used("codex:b#m", 96.0, Some(600));
    assert_eq!(p.order(Purpose::Inject), ["a", "b"]);
}

#[test]
fn a_gauge_whose_window_reset_says_nothing() {
    let p = three()
        .live("codex:a#m")
        .used("codex:a#m", 99.0, Some(-5))
        .live("codex:b#m")
        .live("codex:c#m");
    assert_eq!(p.order(Purpose::Session), ["a", "b", "c"]);
}

#[test]
fn a_cool_unprobed_account_comes_before_a_hot_live_one_in_a_session_only() {
    let p = Pool::default()
        .route("codex:a#m")
        .route("codex:b#m")
        .live("codex:a#m")
        .used("codex:a#m", 98.0, None);
    assert_eq!(p.order(Purpose::Session), ["b", "a"]);
    assert_eq!(p.order(Purpose::Inject), ["a"]);
}

#[test]
fn dead_accounts_and_unready_runtimes_are_never_used() {
    let p = three()
        .observed("codex:a#m", dead())
        .live("codex:b#m")
        .live("codex:c#m")
        .runtime(
            "codex:b#m",
            RuntimeReadiness::MissingBinary {
                binary: "codex".into(),
            },
        );
    for purpose in [Purpose::Inject, Purpose::Session] {
        let e = p.elect(purpose);
        assert_eq!(p.order(purpose), ["c"]);
        assert_eq!(e.reason_for(&key("codex:a#m")), Some("token_revoked"));
        assert_eq!(e.reason_for(&key("codex:b#m")), Some("missing_binary"));
    }
}

#[test]
fn every_account_spent_elects_nobody() {
    let p = three()
        .observed("codex:a#m", quota())
        .observed("codex:b#m", quota())
        .observed("codex:c#m", dead());
    for purpose in [Purpose::Inject, Purpose::Session] {
        let e = p.elect(purpose);
        assert!(e.order.is_empty());
        assert_eq!(e.passed_over.len(), 3);
    }
}

#[test]
fn a_session_stays_on_its_account_and_never_asks_an_excluded_one_again() {
    let p = three()
        .live("codex:a#m")
        .live("codex:b#m")
        .live("codex:c#m");
    let views = p.views();
    let b = key("codex:b#m");
    let sticky = elect(
        &views,
        &Ballot {
            purpose: Purpose::Session,
            prefer: Some(&b),
            exclude: &[],
        },
    );
    assert_eq!(sticky.first(), Some(&b));
    assert_eq!(
        sticky.reason_for(&key("codex:a#m")),
        Some("session_stays_on_its_account")
    );
    let moved = elect(
        &views,
        &Ballot {
            purpose: Purpose::Session,
            prefer: Some(&b),
            exclude: std::slice::from_ref(&b),
        },
    );
    assert_eq!(moved.first(), Some(&key("codex:a#m")));
    assert_eq!(moved.reason_for(&b), Some("already_tried"));
}

#[test]
fn a_sticky_account_over_the_threshold_gives_way_to_a_cool_one() {
    let p = three()
        .live("codex:a#m")
        .live("codex:b#m")
        .used("codex:b#m", 96.0, Some(900))
        .live("codex:c#m");
    let b = key("codex:b#m");
    let e = elect(
        &p.views(),
        &Ballot {
            purpose: Purpose::Session,
            prefer: Some(&b),
            exclude: &[],
        },
    );
    assert_eq!(e.first(), Some(&key("codex:a#m")));
}

#[test]
fn a_degraded_provider_skips_its_later_routes_for_injection_only() {
    let p = Pool::default()
        .route("codex:a#m")
        .route("codex:b#m")
        .observed("codex:a#m", Classification::ProviderDegraded)
        .live("codex:b#m");
    let inject = p.elect(Purpose::Inject);
    assert!(inject.order.is_empty());
    assert_eq!(
        inject.reason_for(&key("codex:b#m")),
        Some("provider_degraded")
    );
    assert_eq!(p.order(Purpose::Session), ["b"]);
}

#[test]
fn select_names_the_injected_route_and_the_session_order() {
    let p = three().observed("codex:a#m", quota()).live("codex:c#m");
    let s = select(&p.candidates, &RankPolicy::default(), &p, now());
    assert_eq!(s.selected, Some(key("codex:c#m")));
    assert_eq!(
        s.session_order,
        vec![key("codex:c#m"), key("codex:b#m")],
        "live c first, then unprobed b; spent a never"
    );
    let why: Vec<Option<&str>> = s.routes.iter().map(|r| r.skip_reason.as_deref()).collect();
    assert_eq!(why, [Some("quota_exhausted"), Some("probe_needed"), None]);
}
