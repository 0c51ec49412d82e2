//! How a pool reads one provider response: the model's one classifier (with the provider
//! definition's rules) decides what the proxy does, and the definition's `usage_headers`
//! say how much of each usage window is spent. Every pool (durable or in-memory) reads
//! responses through a [`ResponseReader`], so there is one classification in the product
//! and in its tests.

use jiff::Timestamp;

use super::pool::{Action, Judgement, ResponseEvidence, UsageObservation};
use crate::config::ProviderDefinition;
use crate::model::classify::{self, Classification, Decision, UsageScale, classify_response};
use crate::model::liveness::DegradedReason;

/// Reads responses of one provider.
#[derive(Clone, Debug)]
pub struct ResponseReader {
    definition: ProviderDefinition,
}

impl ResponseReader {
    pub fn new(definition: ProviderDefinition) -> Self {
        ResponseReader { definition }
    }

    /// The model's classification of a response.
    pub fn classify(&self, evidence: &ResponseEvidence, now: Timestamp) -> Classification {
        let body = String::from_utf8_lossy(&evidence.body);
        let ev = classify::ResponseEvidence::new(evidence.status, &evidence.headers, &body);
        classify_response(self.definition.classifier_rules(), &ev, now)
    }

    /// What the proxy does with a response.
    pub fn judge(&self, evidence: &ResponseEvidence, now: Timestamp) -> Judgement {
        judgement_for(&self.classify(evidence, now))
    }

    /// The usage windows the response reports, per the definition's `usage_headers`.
    pub fn usage(&self, evidence: &ResponseEvidence, now: Timestamp) -> Vec<UsageObservation> {
        self.definition
            .rate_limits
            .usage_headers
            .iter()
            .filter_map(|h| {
                let raw: f64 = evidence.header(&h.used)?.trim().parse().ok()?;
                let used_percent = match h.scale {
                    UsageScale::Percent => raw,
                    UsageScale::Fraction => raw * 100.0,
                };
                let resets_in_seconds = h
                    .reset_after_seconds
                    .as_deref()
                    .and_then(|n| evidence.header(n)?.trim().parse::<f64>().ok())
                    .map(|s| s.max(0.0) as u64)
                    .or_else(|| {
                        let at: i64 = evidence
                            .header(h.reset_at.as_deref()?)?
                            .trim()
                            .parse()
                            .ok()?;
                        Some(at.saturating_sub(now.as_second()).max(0) as u64)
                    });
                let window_minutes = h
                    .window_minutes
                    .as_deref()
                    .and_then(|n| evidence.header(n)?.trim().parse().ok());
                Some(UsageObservation {
                    window: usage_window_name(&h.used),
                    used_percent,
                    resets_in_seconds,
                    window_minutes,
                })
            })
            .collect()
    }
}

/// What the proxy does with a classification.
pub fn judgement_for(class: &Classification) -> Judgement {
    let (action, benches, resets_at, label) = match class {
        Classification::Success => (Action::Deliver, false, None, class.label()),
        Classification::RateLimited {
            retry_after_s: None,
            ..
        } => (Action::TryNextAccount, false, None, "windowless_rate_limit"),
        // A stated retry within a minute: benched that long, waited out if nothing else is left.
        Classification::RateLimited { .. } if class.decision() == Decision::WaitAndRetry => {
            (Action::TryNextAccount, true, None, "short_rate_limit")
        }
        Classification::RateLimited { .. } => (Action::TryNextAccount, true, None, class.label()),
        Classification::QuotaExhausted { resets_at } => {
            (Action::TryNextAccount, true, *resets_at, class.label())
        }
        Classification::Dead { .. } => (Action::TryNextAccount, true, None, class.label()),
        Classification::ProviderDegraded => (Action::RetryInPlace, false, None, class.label()),
        Classification::Degraded { reason } => match reason {
            DegradedReason::ProviderDegraded => (Action::RetryInPlace, false, None, class.label()),
            // The request's own fault, not the account's: show it, bench nothing.
            DegradedReason::Unknown4xx | DegradedReason::SchemaInvalid => {
                (Action::Deliver, false, None, class.label())
            }
            _ => (Action::TryNextAccount, true, None, class.label()),
        },
        Classification::Failure => (Action::Deliver, false, None, class.label()),
    };
    Judgement {
        action,
        classification: label.to_string(),
        resets_at,
        benches_account: benches,
        class: class.clone(),
    }
}

fn usage_window_name(header: &str) -> String {
    if header.contains("primary") {
        "primary".into()
    } else if header.contains("secondary") {
        "secondary".into()
    } else if header.contains("-5h-") {
        "five_hour".into()
    } else if header.contains("-7d-") {
        "seven_day".into()
    } else {
        header.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin;

    fn reader(provider: &str) -> ResponseReader {
        ResponseReader::new(builtin::definition(provider).unwrap())
    }

    fn evidence(status: u16, headers: &[(&str, &str)], body: &str) -> ResponseEvidence {
        ResponseEvidence {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn codex_usage_headers_come_from_the_definition() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let ev = evidence(
            200,
            &[
                ("x-codex-primary-used-percent", "96.5"),
                ("x-codex-primary-reset-after-seconds", "120"),
                ("x-codex-primary-window-minutes", "300"),
                ("x-codex-secondary-used-percent", "12"),
            ],
            "",
        );
        let u = reader("codex").usage(&ev, now);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].window, "primary");
        assert_eq!(u[0].used_percent, 96.5);
        assert_eq!(u[0].resets_in_seconds, Some(120));
        assert_eq!(u[0].window_minutes, Some(300));
        assert_eq!(u[1].window, "secondary");
        assert_eq!(u[1].resets_in_seconds, None);
    }

    #[test]
    fn anthropic_utilization_is_a_fraction_with_an_epoch_reset() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let ev = evidence(
            200,
            &[
                ("anthropic-ratelimit-unified-5h-utilization", "0.5"),
                ("anthropic-ratelimit-unified-5h-reset", "1000600"),
            ],
            "",
        );
        let u = reader("claude").usage(&ev, now);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].window, "five_hour");
        assert_eq!(u[0].used_percent, 50.0);
        assert_eq!(u[0].resets_in_seconds, Some(600));
        // A hostile reset far in the past neither overflows nor wraps into the future.
        let hostile = evidence(
            200,
            &[
                ("anthropic-ratelimit-unified-5h-utilization", "0.5"),
                (
                    "anthropic-ratelimit-unified-5h-reset",
                    "-9223372036854775808",
                ),
            ],
            "",
        );
        let u = reader("claude").usage(&hostile, now);
        assert_eq!(u[0].resets_in_seconds, Some(0));
    }

    #[test]
    fn judgements_follow_the_model_classifier() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let codex = reader("codex");
        let quota = codex.judge(
            &evidence(
                429,
                &[],
                r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":600}}"#,
            ),
            now,
        );
        assert_eq!(quota.action, Action::TryNextAccount);
        assert_eq!(quota.classification, "quota_exhausted");
        assert!(quota.benches_account);
        assert_eq!(
            quota.resets_at,
            Some(Timestamp::from_second(1_000_600).unwrap())
        );
        let windowless = codex.judge(&evidence(429, &[], "{}"), now);
        assert_eq!(windowless.action, Action::TryNextAccount);
        assert_eq!(windowless.classification, "windowless_rate_limit");
        assert!(!windowless.benches_account);
        let short = codex.judge(&evidence(429, &[("retry-after", "20")], "{}"), now);
        assert_eq!(short.action, Action::TryNextAccount);
        assert_eq!(short.classification, "short_rate_limit");
        assert!(short.benches_account);
        assert!(short.is_short_limit());
        let long = codex.judge(&evidence(429, &[("retry-after", "600")], "{}"), now);
        assert_eq!(long.classification, "rate_limited");
        assert!(long.benches_account);
        assert!(!long.is_short_limit());
        let overloaded = reader("claude").judge(&evidence(529, &[], "{}"), now);
        assert_eq!(overloaded.action, Action::RetryInPlace);
        assert!(!overloaded.benches_account);
        let bad_request = codex.judge(&evidence(404, &[], "{}"), now);
        assert_eq!(bad_request.action, Action::Deliver);
    }
}
