use super::*;
use crate::model::liveness::{DeadReason, RateLimitWindow};

use Action::*;
use Origin::*;
use Record::*;

fn rate_limited(retry_after_s: Option<u64>) -> Classification {
    Classification::RateLimited {
        retry_after_s,
        window: RateLimitWindow::from_retry_after(retry_after_s),
    }
}

fn degraded(reason: DegradedReason) -> Classification {
    Classification::Degraded { reason }
}

/// One row of the table: the class, then (action, record, decision) for a harness request
/// and for a probe.
fn row(
    class: Classification,
    label: &str,
    harness: (Action, Record, Decision),
    probe: (Action, Record, Decision),
) {
    for (origin, (action, record, decision)) in [(HarnessRequest, harness), (Probe, probe)] {
        let j = judge(&class, origin);
        assert_eq!(
            (j.action, j.record, j.decision(), j.label),
            (action, record, decision, label),
            "{class:?} from {origin:?}"
        );
    }
}

#[test]
fn success_is_delivered_and_recorded() {
    let both = (Deliver, Route, Decision::UseThis);
    row(Classification::Success, "success", both, both);
}

#[test]
fn a_windowless_rate_limit_moves_on_and_records_only_from_a_probe() {
    row(
        rate_limited(None),
        "windowless_rate_limit",
        (NextAccount, Nothing, Decision::TryNextAccount),
        (NextAccount, Route, Decision::TryNextAccount),
    );
    assert!(judge(&rate_limited(None), HarnessRequest).is_request_scoped_refusal());
    assert!(!judge(&rate_limited(None), Probe).is_request_scoped_refusal());
}

#[test]
fn a_short_rate_limit_moves_on_or_is_waited_out() {
    let both = (NextAccountOrWait, Route, Decision::WaitAndRetry);
    row(rate_limited(Some(0)), "short_rate_limit", both, both);
    row(
        rate_limited(Some(SHORT_RATE_LIMIT_SECONDS)),
        "short_rate_limit",
        both,
        both,
    );
    assert!(judge(&rate_limited(Some(30)), HarnessRequest).is_short_limit());
}

#[test]
fn a_long_rate_limit_moves_on() {
    let both = (NextAccount, Route, Decision::TryNextAccount);
    row(
        rate_limited(Some(SHORT_RATE_LIMIT_SECONDS + 1)),
        "rate_limited",
        both,
        both,
    );
}

#[test]
fn a_spent_quota_moves_on_and_keeps_its_reset() {
    let at: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    let class = Classification::QuotaExhausted {
        resets_at: Some(at),
    };
    let both = (NextAccount, Route, Decision::TryNextAccount);
    row(class.clone(), "quota_exhausted", both, both);
    assert_eq!(judge(&class, HarnessRequest).resets_at(), Some(at));
}

#[test]
fn a_dead_credential_moves_on_and_records_the_account() {
    let both = (NextAccount, RouteAndAccount, Decision::TryNextAccount);
    for reason in [
        DeadReason::TokenRevoked,
        DeadReason::AccountDeleted,
        DeadReason::AuthPermanentlyFailed,
        DeadReason::CredentialUnavailable,
    ] {
        row(Classification::Dead { reason }, reason.as_str(), both, both);
    }
}

#[test]
fn provider_trouble_is_retried_in_place_for_a_harness_and_moves_a_probe_to_another_provider() {
    for class in [
        Classification::ProviderDegraded,
        degraded(DegradedReason::ProviderDegraded),
    ] {
        row(
            class,
            "provider_degraded",
            (RetryInPlace, Nothing, Decision::WaitAndRetry),
            (NextProvider, Route, Decision::TryNextProvider),
        );
    }
}

#[test]
fn an_unexplained_4xx_is_the_requests_own_for_a_harness_and_evidence_for_a_probe() {
    for reason in [DegradedReason::Unknown4xx, DegradedReason::SchemaInvalid] {
        row(
            degraded(reason),
            reason.as_str(),
            (Deliver, Nothing, Decision::GiveUp),
            (NextAccount, Route, Decision::TryNextAccount),
        );
    }
}

#[test]
fn account_degradations_move_on() {
    let both = (NextAccount, Route, Decision::TryNextAccount);
    for reason in [
        DegradedReason::TierInsufficient,
        DegradedReason::SubscriptionPaused,
        DegradedReason::ScopeInsufficient,
        DegradedReason::AudienceMismatch,
        DegradedReason::TermsRequired,
        DegradedReason::StepUpRequired,
        DegradedReason::PendingVerification,
    ] {
        row(degraded(reason), reason.as_str(), both, both);
    }
}

#[test]
fn an_unexplained_status_is_shown_as_it_is() {
    row(
        Classification::Failure,
        "failure",
        (Deliver, Nothing, Decision::GiveUp),
        (Deliver, Route, Decision::GiveUp),
    );
}
