//! The one response classifier (SPEC §2). Probes, `route explain` and the proxy all
//! call [`classify_response`], so what `route explain` predicts is what the proxy does.
//!
//! Order: the provider definition's failure rules (first match wins), then 2xx
//! success, then status defaults: 429 → rate limited or quota exhausted (by retry
//! horizon, body markers, or a provider's "unified" rejected status), 401 → dead,
//! 403 → degraded by hint words, 5xx → provider degraded, other 4xx → unknown_4xx.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::liveness::{DeadReason, DegradedReason, RateLimitWindow};

/// A response's header fields as the classifier reads them: each caller keeps its fields as
/// it has them (the proxy as received, in one buffer; probes as a list of owned pairs), with
/// no copy made for the classifier.
pub trait HeaderLookup {
    /// The first value of the field `name` (matched case-insensitively), trimmed; `None`
    /// when there is no such field or its value is not text.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderLookup for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        header_value(self, name)
    }
}

/// What a provider answered, as the classifier sees it.
#[derive(Clone, Copy)]
pub struct ResponseEvidence<'a> {
    pub status: u16,
    /// Response headers; names are matched case-insensitively.
    pub headers: &'a dyn HeaderLookup,
    /// A bounded prefix of the body (lossy UTF-8 is fine).
    pub body: &'a str,
    /// The text failure rules match against; `None` means the body.
    pub hint: Option<&'a str>,
}

impl<'a> ResponseEvidence<'a> {
    pub fn new(status: u16, headers: &'a dyn HeaderLookup, body: &'a str) -> Self {
        Self {
            status,
            headers,
            body,
            hint: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.header(name)
    }

    fn hint_text(&self) -> &'a str {
        self.hint.unwrap_or(self.body)
    }
}

/// Case-insensitive header lookup.
pub fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The verdict on one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Classification {
    Success,
    RateLimited {
        /// `None` for a windowless limit (no reset information at all).
        retry_after_s: Option<u64>,
        window: RateLimitWindow,
    },
    QuotaExhausted {
        /// When the quota window resets, if the provider said.
        resets_at: Option<Timestamp>,
    },
    Degraded {
        reason: DegradedReason,
    },
    Dead {
        reason: DeadReason,
    },
    ProviderDegraded,
    Failure,
}

/// What to do next with a route after a classification (SPEC §2 "Decision").
/// A rate limit whose stated retry is at most this far away is waited out rather than
/// handed to the next account.
pub const SHORT_RATE_LIMIT_SECONDS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    UseThis,
    TryNextAccount,
    TryNextProvider,
    WaitAndRetry,
    GiveUp,
}

impl Classification {
    /// The short name used in JSON and tables (`quota_exhausted`, `tier_insufficient`…).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExhausted { .. } => "quota_exhausted",
            Self::Degraded { reason } => reason.as_str(),
            Self::Dead { reason } => reason.as_str(),
            Self::ProviderDegraded => "provider_degraded",
            Self::Failure => "failure",
        }
    }

    /// A windowless 429: the provider gave no reset information at all.
    pub fn is_windowless_rate_limit(&self) -> bool {
        matches!(
            self,
            Self::RateLimited {
                retry_after_s: None,
                ..
            }
        )
    }
}

/// The class a failure rule assigns. Accepts the original's tagged-union JSON
/// (`{"success":{}}`, `{"degraded":"tier_insufficient"}`) and plain strings
/// (`"quota_exhausted"`).
#[derive(Debug, Clone, PartialEq)]
pub enum RuleClass {
    Success,
    RateLimited,
    QuotaExhausted,
    Degraded(DegradedReason),
    Dead(DeadReason),
    ProviderDegraded,
    Failure,
}

impl Serialize for RuleClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value = match self {
            Self::Success => serde_json::json!({"success": {}}),
            Self::RateLimited => serde_json::json!({"rate_limited": {}}),
            Self::QuotaExhausted => serde_json::json!({"quota_exhausted": {}}),
            Self::Degraded(r) => serde_json::json!({"degraded": r.as_str()}),
            Self::Dead(r) => serde_json::json!({"dead": r.as_str()}),
            Self::ProviderDegraded => serde_json::json!({"provider_degraded": {}}),
            Self::Failure => serde_json::json!({"failure": {}}),
        };
        value.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RuleClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        let (tag, arg) = match &value {
            serde_json::Value::String(s) => (s.as_str(), None),
            serde_json::Value::Object(map) if map.len() == 1 => {
                let (k, v) = map.iter().next().expect("one entry");
                (k.as_str(), Some(v))
            }
            _ => return Err(D::Error::custom(RULE_CLASS_HELP)),
        };
        let reason_str =
            |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        Ok(match tag {
            "success" => Self::Success,
            "rate_limited" => Self::RateLimited,
            "quota_exhausted" => Self::QuotaExhausted,
            "provider_degraded" => Self::ProviderDegraded,
            "failure" => Self::Failure,
            "degraded" => {
                let r = reason_str(arg).ok_or_else(|| D::Error::custom("`degraded` needs a reason string, e.g. {\"degraded\":\"tier_insufficient\"}"))?;
                Self::Degraded(parse_known(&r, DEGRADED_REASONS).map_err(D::Error::custom)?)
            }
            "dead" => {
                let r = reason_str(arg).ok_or_else(|| {
                    D::Error::custom(
                        "`dead` needs a reason string, e.g. {\"dead\":\"token_revoked\"}",
                    )
                })?;
                Self::Dead(parse_known(&r, DEAD_REASONS).map_err(D::Error::custom)?)
            }
            _ => {
                // The class is config text: never quoted back (it may be misplaced secret).
                return Err(D::Error::custom(format!(
                    "unknown class; {RULE_CLASS_HELP}"
                )));
            }
        })
    }
}

const RULE_CLASS_HELP: &str = "a failure rule class is one of \"success\", \"rate_limited\", \"quota_exhausted\", \"provider_degraded\", \"failure\", {\"degraded\": REASON} or {\"dead\": REASON}";

const DEGRADED_REASONS: &[&str] = &[
    "tier_insufficient",
    "subscription_paused",
    "provider_degraded",
    "scope_insufficient",
    "audience_mismatch",
    "schema_invalid",
    "terms_required",
    "step_up_required",
    "pending_verification",
    "unknown_4xx",
];
const DEAD_REASONS: &[&str] = &[
    "token_revoked",
    "account_deleted",
    "auth_permanently_failed",
    "credential_unavailable",
];

/// Strict parse of a reason named in a config (unlike the tolerant store loader,
/// a typo in a provider definition is an error, not a silent fallback).
fn parse_known<T: serde::de::DeserializeOwned>(name: &str, known: &[&str]) -> Result<T, String> {
    if !known.contains(&name) {
        return Err(format!(
            "unknown reason; expected one of {}",
            known.join(", ")
        ));
    }
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|e| e.to_string())
}

/// One failure rule of a provider definition: every matcher present must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailureRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_min: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_max: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_gte: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_lt: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint_equals: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint_contains: Option<String>,
    pub class: Option<RuleClass>,
}

impl FailureRule {
    pub fn has_matcher(&self) -> bool {
        self.status.is_some()
            || self.status_min.is_some()
            || self.status_max.is_some()
            || self.retry_after_gte.is_some()
            || self.retry_after_lt.is_some()
            || self.hint_equals.is_some()
            || self.hint_contains.is_some()
    }

    fn matches(&self, status: u16, retry_after: Option<u64>, hint: &str) -> bool {
        if !self.has_matcher() {
            return false;
        }
        if self.status.is_some_and(|s| s != status)
            || self.status_min.is_some_and(|m| status < m)
            || self.status_max.is_some_and(|m| status > m)
        {
            return false;
        }
        if self.retry_after_gte.is_some() || self.retry_after_lt.is_some() {
            let Some(ra) = retry_after else { return false };
            if self.retry_after_gte.is_some_and(|g| ra < g)
                || self.retry_after_lt.is_some_and(|l| ra >= l)
            {
                return false;
            }
        }
        if let Some(eq) = &self.hint_equals
            && !hint.trim().eq_ignore_ascii_case(eq.trim())
        {
            return false;
        }
        if let Some(needle) = &self.hint_contains
            && !contains_ignore_case(hint, needle)
        {
            return false;
        }
        true
    }
}

/// Where a provider puts rate-limit and quota information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitRules {
    /// Header with the retry horizon (seconds or an HTTP date).
    pub retry_after_header: String,
    /// Header with a reset time: epoch seconds, or a delta like `30`, `1.5s`, `250ms`.
    pub reset_header: Option<String>,
    pub remaining_header: Option<String>,
    pub limit_header: Option<String>,
    /// A 429 whose horizon exceeds this many seconds is a spent quota, not a rate limit.
    pub quota_threshold_seconds: u64,
    /// Body substrings that mark a 429 as a spent quota (e.g. `usage_limit_reached`).
    pub quota_body_markers: Vec<String>,
    /// Dot paths into a JSON body holding seconds until the reset (e.g. `error.resets_in_seconds`).
    pub reset_in_body: Vec<String>,
    /// Dot paths into a JSON body holding the reset as epoch seconds (e.g. `error.resets_at`).
    pub reset_at_body: Vec<String>,
    /// Anthropic-style unified headers: `<prefix>status: rejected` + `<prefix>reset: <epoch>`.
    pub unified_prefix: Option<String>,
    /// Usage gauges read on every response for proactive switching.
    pub usage_headers: Vec<UsageHeader>,
}

impl Default for RateLimitRules {
    fn default() -> Self {
        Self {
            retry_after_header: "retry-after".into(),
            reset_header: None,
            remaining_header: None,
            limit_header: None,
            quota_threshold_seconds: 3600,
            quota_body_markers: Vec::new(),
            reset_in_body: Vec::new(),
            reset_at_body: Vec::new(),
            unified_prefix: None,
            usage_headers: Vec::new(),
        }
    }
}

/// One usage gauge: a header holding how much of a window is used, and optionally
/// headers saying when that window resets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageHeader {
    /// Header holding the used share of the window.
    pub used: String,
    /// `percent` (0–100) or `fraction` (0–1).
    #[serde(default)]
    pub scale: UsageScale,
    /// Header with seconds until the window resets.
    #[serde(default)]
    pub reset_after_seconds: Option<String>,
    /// Header with the reset as epoch seconds.
    #[serde(default)]
    pub reset_at: Option<String>,
    /// Header with the window's length in minutes.
    #[serde(default)]
    pub window_minutes: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageScale {
    #[default]
    Percent,
    Fraction,
}

/// What the classifier needs from a provider definition.
#[derive(Debug, Clone, Copy)]
pub struct ClassifierRules<'a> {
    pub failure_rules: &'a [FailureRule],
    pub rate_limits: &'a RateLimitRules,
}

/// Classify one provider response. Pure: `now` is a parameter.
pub fn classify_response(
    rules: ClassifierRules<'_>,
    ev: &ResponseEvidence<'_>,
    now: Timestamp,
) -> Classification {
    let retry_after = parse_retry_after(ev.header(&rules.rate_limits.retry_after_header), now);
    let hint = ev.hint_text();
    if let Some(rule) = rules
        .failure_rules
        .iter()
        .find(|rule| rule.matches(ev.status, retry_after, hint))
        && let Some(class) = &rule.class
    {
        return from_rule(class, rules.rate_limits, ev, retry_after, now);
    }
    match ev.status {
        200..=299 => Classification::Success,
        429 => classify_429(rules.rate_limits, ev, retry_after, now),
        401 => Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        403 => Classification::Degraded {
            reason: forbidden_reason(hint),
        },
        500..=599 => Classification::ProviderDegraded,
        400..=499 => Classification::Degraded {
            reason: DegradedReason::Unknown4xx,
        },
        _ => Classification::Failure,
    }
}

fn from_rule(
    class: &RuleClass,
    limits: &RateLimitRules,
    ev: &ResponseEvidence<'_>,
    retry_after: Option<u64>,
    now: Timestamp,
) -> Classification {
    match class {
        RuleClass::Success => Classification::Success,
        RuleClass::RateLimited => {
            let horizon = reset_horizon(limits, ev, retry_after, now);
            Classification::RateLimited {
                retry_after_s: horizon,
                window: RateLimitWindow::from_retry_after(horizon),
            }
        }
        RuleClass::QuotaExhausted => {
            let horizon = reset_horizon(limits, ev, retry_after, now);
            Classification::QuotaExhausted {
                resets_at: horizon.map(|s| add_seconds(now, s)),
            }
        }
        RuleClass::Degraded(reason) => Classification::Degraded { reason: *reason },
        RuleClass::Dead(reason) => Classification::Dead { reason: *reason },
        RuleClass::ProviderDegraded => Classification::ProviderDegraded,
        RuleClass::Failure => Classification::Failure,
    }
}

fn classify_429(
    limits: &RateLimitRules,
    ev: &ResponseEvidence<'_>,
    retry_after: Option<u64>,
    now: Timestamp,
) -> Classification {
    let horizon = reset_horizon(limits, ev, retry_after, now);
    let unified_rejected = limits.unified_prefix.as_deref().is_some_and(|prefix| {
        ev.header(&format!("{prefix}status"))
            .is_some_and(|v| v.eq_ignore_ascii_case("rejected"))
    });
    let body_says_quota = limits
        .quota_body_markers
        .iter()
        .any(|m| contains_ignore_case(ev.body, m));
    let long = horizon.is_some_and(|s| s > limits.quota_threshold_seconds);
    if unified_rejected || body_says_quota || long {
        Classification::QuotaExhausted {
            resets_at: horizon.map(|s| add_seconds(now, s)),
        }
    } else {
        Classification::RateLimited {
            retry_after_s: horizon,
            window: RateLimitWindow::from_retry_after(horizon),
        }
    }
}

/// Seconds until the limit lifts, from the first source that says: the unified
/// reset header, a reset in the body, `Retry-After`, then the reset header.
/// `Retry-After` beats a generic reset header because providers send it for the
/// limit that was actually hit (GitHub's secondary limits carry the primary
/// window's `x-ratelimit-reset` too).
fn reset_horizon(
    limits: &RateLimitRules,
    ev: &ResponseEvidence<'_>,
    retry_after: Option<u64>,
    now: Timestamp,
) -> Option<u64> {
    let unified = limits
        .unified_prefix
        .as_deref()
        .and_then(|prefix| ev.header(&format!("{prefix}reset")))
        .and_then(|v| epoch_to_horizon(v, now));
    unified
        .or_else(|| body_reset(limits, ev.body, now))
        .or(retry_after)
        .or_else(|| {
            limits
                .reset_header
                .as_deref()
                .and_then(|h| ev.header(h))
                .and_then(|v| parse_reset_value(v, now))
        })
}

fn body_reset(limits: &RateLimitRules, body: &str, now: Timestamp) -> Option<u64> {
    if limits.reset_in_body.is_empty() && limits.reset_at_body.is_empty() {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    let number = |path: &str| {
        crate::util::json_path::get(&json, path)
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
    };
    limits
        .reset_in_body
        .iter()
        .find_map(|p| number(p))
        .filter(|s| *s >= 0.0)
        .map(|s| s.ceil() as u64)
        .or_else(|| {
            limits
                .reset_at_body
                .iter()
                .find_map(|p| number(p))
                .map(|epoch| (epoch as i64 - now.as_second()).max(0) as u64)
        })
}

/// `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: Option<&str>, now: Timestamp) -> Option<u64> {
    let value = value?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs >= 0.0).then(|| secs.ceil() as u64);
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?;
    Some((date.timestamp().as_second() - now.as_second()).max(0) as u64)
}

/// A reset header value: epoch seconds (≥ 1e9) or milliseconds (≥ 1e12), a delta in seconds, or `1.5s`/`250ms`/`2m`.
fn parse_reset_value(value: &str, now: Timestamp) -> Option<u64> {
    let v = value.trim();
    if let Some(horizon) = epoch_to_horizon(v, now) {
        return Some(horizon);
    }
    let (number, unit) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, "s"),
    };
    let n: f64 = number.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs >= 0.0).then(|| secs.ceil() as u64)
}

/// Epoch seconds (≥ 1e9), or epoch milliseconds (≥ 1e12, as Linear's
/// `x-ratelimit-requests-reset` sends), → seconds from `now` (0 if already past).
fn epoch_to_horizon(value: &str, now: Timestamp) -> Option<u64> {
    let mut epoch: f64 = value.trim().parse().ok()?;
    if epoch >= 1e12 {
        epoch = (epoch / 1000.0).ceil();
    }
    (epoch >= 1e9).then(|| (epoch as i64 - now.as_second()).max(0) as u64)
}

fn forbidden_reason(hint: &str) -> DegradedReason {
    let has = |w| contains_ignore_case(hint, w);
    if has("scope") {
        DegradedReason::ScopeInsufficient
    } else if has("step_up") || has("step-up") || has("step up") {
        DegradedReason::StepUpRequired
    } else if has("pending") || has("verification") {
        DegradedReason::PendingVerification
    } else if has("terms") {
        DegradedReason::TermsRequired
    } else {
        DegradedReason::TierInsufficient
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// `now + seconds`, saturating at the far future instead of panicking.
pub fn add_seconds(now: Timestamp, seconds: u64) -> Timestamp {
    let secs = i64::try_from(seconds)
        .unwrap_or(i64::MAX)
        .min(Timestamp::MAX.as_second() - now.as_second());
    now.checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
