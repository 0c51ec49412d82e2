//! The answer to Codex's own usage check (`/backend-api/wham/usage`), rendered from the
//! pool's view.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::pool::UsageView;

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
