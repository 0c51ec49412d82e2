//! How a pool reads one provider response: the model's one classifier (with the provider
//! definition's rules) and the model's judgement table decide what the proxy does, and the
//! definition's `usage_headers` say how much of each usage window is spent. There is one
//! classification and one judgement in the product and in its tests.

use jiff::Timestamp;

use super::fields::Fields;
use crate::config::ProviderDefinition;
use crate::model::classify::{self, Classification, HeaderLookup, UsageScale, classify_response};
use crate::model::judgement::{Judgement, Origin, judge};
pub use crate::model::session::UsageWindow;

/// What the proxy saw from the provider: status, headers and (a bounded prefix of) the body.
/// For an error carried as the first event of a 200 SSE stream, `status` is the HTTP status
/// that error stands for and `body` is the event's JSON.
#[derive(Clone, Debug, Default)]
pub struct ResponseEvidence {
    pub status: u16,
    /// The answer's header fields as received (names lower-cased).
    pub headers: Fields,
    pub body: Vec<u8>,
    /// True when this evidence came from an SSE error event inside a 2xx stream.
    pub from_stream_event: bool,
}

impl ResponseEvidence {
    /// The first value of a header (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.header(name)
    }
}

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

    /// What the proxy does with a response to a harness request (the model's table).
    pub fn judge(&self, evidence: &ResponseEvidence, now: Timestamp) -> Judgement {
        judge(&self.classify(evidence, now), Origin::HarnessRequest)
    }

    /// The usage windows the response reports, per the definition's `usage_headers`.
    pub fn usage(&self, evidence: &ResponseEvidence, now: Timestamp) -> Vec<UsageWindow> {
        self.definition
            .rate_limits
            .usage_headers
            .iter()
            .filter_map(|h| {
                // "NaN" and "inf" parse as numbers; no usage reading is either.
                let number = |text: &str| text.trim().parse::<f64>().ok().filter(|v| v.is_finite());
                let raw = number(evidence.header(&h.used)?)?;
                let used_percent = match h.scale {
                    UsageScale::Percent => raw,
                    UsageScale::Fraction => raw * 100.0,
                };
                let resets_in_seconds = h
                    .reset_after_seconds
                    .as_deref()
                    .and_then(|n| number(evidence.header(n)?))
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
                Some(UsageWindow {
                    window: usage_window_name(&h.used),
                    used_percent,
                    resets_in_seconds,
                    window_minutes,
                })
            })
            .collect()
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
    use crate::model::judgement::{Action, Record};

    fn reader(provider: &str) -> ResponseReader {
        ResponseReader::new(builtin::definition(provider).unwrap())
    }

    fn evidence(status: u16, headers: &[(&str, &str)], body: &str) -> ResponseEvidence {
        ResponseEvidence {
            status,
            headers: Fields::new(headers.iter().map(|(k, v)| (*k, v.as_bytes()))).unwrap(),
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

    /// A usage figure that parses as a float but is no number (it would be stored as
    /// `null` and leave a health record that cannot be read back).
    #[test]
    fn usage_that_is_not_a_finite_number_is_no_reading() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        for bad in ["NaN", "inf", "-infinity"] {
            let ev = evidence(
                200,
                &[
                    ("x-codex-primary-used-percent", bad),
                    ("x-codex-secondary-used-percent", "12"),
                    ("x-codex-secondary-reset-after-seconds", bad),
                ],
                "",
            );
            let u = reader("codex").usage(&ev, now);
            assert_eq!(u.len(), 1, "{bad}");
            assert_eq!(u[0].window, "secondary");
            assert_eq!(u[0].resets_in_seconds, None, "{bad}");
        }
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
        assert_eq!(quota.action, Action::NextAccount);
        assert_eq!(quota.label, "quota_exhausted");
        assert_eq!(quota.record, Record::Route);
        assert_eq!(
            quota.resets_at(),
            Some(Timestamp::from_second(1_000_600).unwrap())
        );
        let windowless = codex.judge(&evidence(429, &[], "{}"), now);
        assert_eq!(windowless.action, Action::NextAccount);
        assert_eq!(windowless.label, "windowless_rate_limit");
        assert_eq!(windowless.record, Record::Nothing);
        let short = codex.judge(&evidence(429, &[("retry-after", "20")], "{}"), now);
        assert_eq!(short.action, Action::NextAccountOrWait);
        assert_eq!(short.label, "short_rate_limit");
        assert_eq!(short.record, Record::Route);
        let long = codex.judge(&evidence(429, &[("retry-after", "600")], "{}"), now);
        assert_eq!(long.label, "rate_limited");
        assert!(!long.is_short_limit());
        let overloaded = reader("claude").judge(&evidence(529, &[], "{}"), now);
        assert_eq!(overloaded.action, Action::RetryInPlace);
        assert_eq!(overloaded.record, Record::Nothing);
        let bad_request = codex.judge(&evidence(404, &[], "{}"), now);
        assert_eq!(bad_request.action, Action::Deliver);
        assert_eq!(bad_request.record, Record::Nothing);
    }
}
