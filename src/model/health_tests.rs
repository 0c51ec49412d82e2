use super::*;
use crate::model::liveness::RateLimitWindow;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t("2026-11-22T10:00:00Z")
        .checked_add(SignedDuration::from_secs(secs))
        .unwrap()
}

fn record(class: Classification, when: Timestamp) -> RouteHealth {
    RouteHealth::observe(None, &class, Some(0), EvidenceSource::HttpProbe, when)
}

#[test]
fn success_is_available_and_counts() {
    let r = record(Classification::Success, at(0));
    assert_eq!(r.status_at(at(0)), RouteStatus::Available);
    let r2 = RouteHealth::observe(
        Some(&r),
        &Classification::Success,
        Some(200),
        EvidenceSource::Proxy,
        at(5),
    );
    assert_eq!((r2.successes, r2.failures), (2, 0));
}

#[test]
fn rate_limit_recovers_at_retry_time() {
    let r = record(
        Classification::RateLimited {
            retry_after_s: Some(30),
            window: RateLimitWindow::PerMinute,
        },
        at(0),
    );
    assert_eq!(
        r.status_at(at(10)),
        RouteStatus::RateLimited { until: at(30) }
    );
    assert_eq!(r.status_at(at(10)).decision(), Decision::WaitAndRetry);
    assert_eq!(r.status_at(at(30)), RouteStatus::Available);
}

#[test]
fn windowless_rate_limit_uses_the_default_horizon() {
    let r = record(
        Classification::RateLimited {
            retry_after_s: None,
            window: RateLimitWindow::Unknown,
        },
        at(0),
    );
    assert_eq!(
        r.status_at(at(1)),
        RouteStatus::RateLimited {
            until: at(WINDOWLESS_RATE_LIMIT_S as i64)
        }
    );
}

#[test]
fn quota_never_recovers_by_itself_it_needs_revalidation() {
    let r = record(
        Classification::QuotaExhausted {
            resets_at: Some(at(3600)),
        },
        at(0),
    );
    assert_eq!(
        r.status_at(at(100)),
        RouteStatus::QuotaExhausted {
            resets_at: at(3600),
            reset_known: true
        }
    );
    assert_eq!(r.status_at(at(100)).decision(), Decision::TryNextAccount);
    assert_eq!(
        r.status_at(at(3600)),
        RouteStatus::RevalidationNeeded { reset_at: at(3600) }
    );
    assert!(!r.status_at(at(99_999)).is_available());
}

#[test]
fn quota_with_unknown_reset_assumes_an_hour() {
    let r = record(Classification::QuotaExhausted { resets_at: None }, at(0));
    assert_eq!(
        r.status_at(at(10)),
        RouteStatus::QuotaExhausted {
            resets_at: at(UNKNOWN_QUOTA_RESET_S as i64),
            reset_known: false
        }
    );
}

#[test]
fn provider_degraded_recovers_after_a_minute() {
    let r = record(Classification::ProviderDegraded, at(0));
    assert_eq!(r.status_at(at(59)).decision(), Decision::TryNextProvider);
    assert_eq!(r.status_at(at(60)), RouteStatus::Available);
}

#[test]
fn other_degradations_need_a_reprobe_after_an_hour() {
    let r = record(
        Classification::Degraded {
            reason: DegradedReason::TierInsufficient,
        },
        at(0),
    );
    assert_eq!(
        r.status_at(at(10)),
        RouteStatus::Degraded {
            reason: DegradedReason::TierInsufficient,
            retry_at: at(3600)
        }
    );
    assert_eq!(
        r.status_at(at(3600)),
        RouteStatus::ReprobeNeeded {
            reason: DegradedReason::TierInsufficient
        }
    );
    assert_eq!(r.status_at(at(3600)).label(), "tier_insufficient");
}

#[test]
fn dead_stays_dead_and_keeps_its_since() {
    let r = record(
        Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        at(0),
    );
    let r2 = RouteHealth::observe(
        Some(&r),
        &Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        Some(401),
        EvidenceSource::Proxy,
        at(500),
    );
    assert!(matches!(r2.liveness, Liveness::Dead { since, .. } if since == at(0)));
    assert_eq!(
        r2.status_at(at(10_000_000)),
        RouteStatus::Dead {
            reason: DeadReason::TokenRevoked
        }
    );
    // A success afterwards (e.g. after a repair) makes it live again.
    let r3 = RouteHealth::observe(
        Some(&r2),
        &Classification::Success,
        Some(200),
        EvidenceSource::HttpProbe,
        at(600),
    );
    assert!(r3.status_at(at(600)).is_available());
}

#[test]
fn account_level_state_dominates_route_state() {
    let dead = record(
        Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        at(0),
    );
    let ok = record(Classification::Success, at(0));
    assert_eq!(
        effective_status(Some(&dead), Some(&ok), at(1)).label(),
        "token_revoked"
    );
    assert!(effective_status(Some(&ok), Some(&ok), at(1)).is_available());
    assert_eq!(
        effective_status(Some(&ok), None, at(1)),
        RouteStatus::ProbeNeeded
    );
    assert_eq!(
        effective_status(None, None, at(1)),
        RouteStatus::ProbeNeeded
    );
}

#[test]
fn tolerant_loading_of_stored_records() {
    // Unknown reason, missing optional fields, extra fields: still loads.
    let v = serde_json::json!({
        "liveness": {"state": "degraded", "reason": "future_reason", "since": "2026-11-22T10:00:00Z"},
        "some_future_field": 1
    });
    let r = RouteHealth::from_json(&v).unwrap();
    assert!(matches!(
        r.liveness,
        Liveness::Degraded {
            reason: DegradedReason::Unknown4xx,
            ..
        }
    ));
    // A missing tag is an error the caller turns into probe_needed.
    assert!(RouteHealth::from_json(&serde_json::json!({"liveness": {}})).is_err());
    assert!(RouteHealth::from_json(&serde_json::json!("garbage")).is_err());
}

#[test]
fn records_round_trip() {
    let r = record(
        Classification::QuotaExhausted {
            resets_at: Some(at(60)),
        },
        at(0),
    );
    assert_eq!(RouteHealth::from_json(&r.to_json()).unwrap(), r);
}

#[test]
fn traffic_goes_to_available_routes_and_to_those_awaiting_evidence_only() {
    let when = at(1_000);
    let carries = [
        RouteStatus::Available,
        RouteStatus::ProbeNeeded,
        RouteStatus::RevalidationNeeded { reset_at: when },
        RouteStatus::ReprobeNeeded {
            reason: DegradedReason::TierInsufficient,
        },
    ];
    let holds = [
        RouteStatus::RateLimited { until: when },
        RouteStatus::QuotaExhausted {
            resets_at: when,
            reset_known: true,
        },
        RouteStatus::Cooldown {
            until: when,
            reason: "test".into(),
        },
        RouteStatus::Degraded {
            reason: DegradedReason::TierInsufficient,
            retry_at: when,
        },
        RouteStatus::Dead {
            reason: DeadReason::TokenRevoked,
        },
    ];
    for status in &carries {
        assert!(
            status.may_carry_traffic(),
            "{status:?} should carry traffic"
        );
    }
    assert!(!RouteStatus::Available.awaits_evidence());
    for status in &holds {
        assert!(
            !status.may_carry_traffic(),
            "{status:?} should hold traffic"
        );
        assert!(!status.awaits_evidence(), "{status:?} has a verdict");
    }
}
