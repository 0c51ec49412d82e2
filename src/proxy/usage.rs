//! Provider usage headers read on every response, and the answer to Codex's own usage
//! check (`/backend-api/wham/usage`) rendered from the pool's view.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::pool::{ResponseEvidence, UsageObservation, UsageView};

/// Read Codex (`x-codex-primary-*`, `x-codex-secondary-*`) and Anthropic
/// (`anthropic-ratelimit-unified-<window>-utilization`) usage headers.
pub fn observe_usage(evidence: &ResponseEvidence) -> Vec<UsageObservation> {
    let mut out = Vec::new();
    for window in ["primary", "secondary"] {
        let used = evidence
            .header(&format!("x-codex-{window}-used-percent"))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(used_percent) = used {
            out.push(UsageObservation {
                window: window.to_string(),
                used_percent,
                resets_in_seconds: evidence
                    .header(&format!("x-codex-{window}-reset-after-seconds"))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(|s| s.max(0.0) as u64),
                window_minutes: evidence
                    .header(&format!("x-codex-{window}-window-minutes"))
                    .and_then(|v| v.trim().parse().ok()),
            });
        }
    }
    let now = Timestamp::now().as_second();
    for (name, value) in &evidence.headers {
        let Some(window) = name
            .strip_prefix("anthropic-ratelimit-unified-")
            .and_then(|rest| rest.strip_suffix("-utilization"))
        else {
            continue;
        };
        let Ok(raw) = value.trim().parse::<f64>() else {
            continue;
        };
        // Anthropic reports a fraction (0.0–1.0).
        let used_percent = if raw <= 1.0 { raw * 100.0 } else { raw };
        let resets_in_seconds = evidence
            .header(&format!("anthropic-ratelimit-unified-{window}-reset"))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|epoch| (epoch - now).max(0) as u64);
        out.push(UsageObservation {
            window: match window {
                "5h" => "five_hour".to_string(),
                "7d" => "seven_day".to_string(),
                other => other.to_string(),
            },
            used_percent,
            resets_in_seconds,
            window_minutes: None,
        });
    }
    out
}

/// The body of a `wham/usage` answer: the account the pool would use next, so Codex never
/// refuses to send because the account it believes it is on is spent.
pub fn wham_usage_body(view: &UsageView, now: Timestamp) -> Value {
    let window = |used: Option<f64>, resets: Option<Timestamp>, seconds: u64| {
        let reset_at = resets.map(|t| t.as_second());
        json!({
            "used_percent": used.unwrap_or(0.0).round() as i64,
            "limit_window_seconds": seconds,
            "reset_after_seconds": reset_at.map(|r| (r - now.as_second()).max(0)).unwrap_or(0),
            "reset_at": reset_at.unwrap_or(now.as_second()),
        })
    };
    if !view.any_selectable {
        let reset = view.earliest_reset;
        return json!({
            "plan_type": "unknown",
            "rate_limit": {
                "allowed": false,
                "limit_reached": true,
                "primary_window": window(Some(100.0), reset, 18_000),
                "secondary_window": Value::Null,
            },
        });
    }
    json!({
        "plan_type": "unknown",
        "rate_limit": {
            "allowed": true,
            "limit_reached": false,
            "primary_window": window(view.primary_used_percent, view.primary_resets_at, 18_000),
            "secondary_window": window(view.secondary_used_percent, view.secondary_resets_at, 604_800),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_codex_and_anthropic_headers() {
        let ev = ResponseEvidence {
            status: 200,
            headers: vec![
                ("x-codex-primary-used-percent".into(), "96.5".into()),
                ("x-codex-primary-reset-after-seconds".into(), "120".into()),
                (
                    "anthropic-ratelimit-unified-5h-utilization".into(),
                    "0.5".into(),
                ),
            ],
            ..Default::default()
        };
        let u = observe_usage(&ev);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].window, "primary");
        assert_eq!(u[0].used_percent, 96.5);
        assert_eq!(u[0].resets_in_seconds, Some(120));
        assert_eq!(u[1].window, "five_hour");
        assert_eq!(u[1].used_percent, 50.0);
    }

    #[test]
    fn usage_body_says_allowed_while_any_account_is_selectable() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let v = wham_usage_body(
            &UsageView {
                any_selectable: true,
                primary_used_percent: Some(10.0),
                ..Default::default()
            },
            now,
        );
        assert_eq!(v["rate_limit"]["limit_reached"], false);
        assert_eq!(v["rate_limit"]["primary_window"]["used_percent"], 10);
        let spent = wham_usage_body(&UsageView::default(), now);
        assert_eq!(spent["rate_limit"]["limit_reached"], true);
    }
}
