//! Typed liveness of a route (SPEC §2): live with an availability, degraded, or dead.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Liveness as recorded from evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Liveness {
    Live {
        availability: Availability,
    },
    Degraded {
        reason: DegradedReason,
        since: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<Timestamp>,
    },
    Dead {
        reason: DeadReason,
        since: Timestamp,
    },
}

/// How available a live route is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Availability {
    Available,
    RateLimited {
        #[serde(default)]
        retry_after_s: Option<u64>,
        limited_at: Timestamp,
        #[serde(default)]
        window: RateLimitWindow,
    },
    QuotaExhausted {
        #[serde(default)]
        window_resets_at: Option<Timestamp>,
        #[serde(default)]
        usage_pct: Option<f64>,
        exhausted_at: Timestamp,
    },
    Cooldown {
        until: Timestamp,
        #[serde(default)]
        reason: String,
    },
}

/// The window a rate limit belongs to, judged from its retry horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitWindow {
    PerMinute,
    PerHour,
    PerDay,
    #[default]
    #[serde(other)]
    Unknown,
}

impl RateLimitWindow {
    /// The window implied by a retry horizon in seconds.
    pub fn from_retry_after(seconds: Option<u64>) -> Self {
        match seconds {
            None => Self::Unknown,
            Some(s) if s <= 60 => Self::PerMinute,
            Some(s) if s <= 3600 => Self::PerHour,
            Some(_) => Self::PerDay,
        }
    }
}

/// Why a route is degraded. An unknown value read from disk becomes `unknown_4xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DegradedReason {
    TierInsufficient,
    SubscriptionPaused,
    ProviderDegraded,
    ScopeInsufficient,
    AudienceMismatch,
    SchemaInvalid,
    TermsRequired,
    StepUpRequired,
    PendingVerification,
    #[serde(rename = "unknown_4xx", other)]
    Unknown4xx,
}

impl DegradedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TierInsufficient => "tier_insufficient",
            Self::SubscriptionPaused => "subscription_paused",
            Self::ProviderDegraded => "provider_degraded",
            Self::ScopeInsufficient => "scope_insufficient",
            Self::AudienceMismatch => "audience_mismatch",
            Self::SchemaInvalid => "schema_invalid",
            Self::TermsRequired => "terms_required",
            Self::StepUpRequired => "step_up_required",
            Self::PendingVerification => "pending_verification",
            Self::Unknown4xx => "unknown_4xx",
        }
    }

    /// Transient degradations recover by themselves after their retry time;
    /// the others stay blocked until a new probe says otherwise.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::ProviderDegraded)
    }
}

/// Why a route (or account) is dead. An unknown value read from disk becomes
/// `auth_permanently_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadReason {
    TokenRevoked,
    AccountDeleted,
    CredentialUnavailable,
    /// The token endpoint rejected the account's refresh token (spent, expired, revoked):
    /// a new login is the repair.
    RefreshRejected,
    #[serde(other)]
    AuthPermanentlyFailed,
}

impl DeadReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenRevoked => "token_revoked",
            Self::AccountDeleted => "account_deleted",
            Self::AuthPermanentlyFailed => "auth_permanently_failed",
            Self::CredentialUnavailable => "credential_unavailable",
            Self::RefreshRejected => "refresh_rejected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_fall_back() {
        let r: DegradedReason = serde_json::from_str("\"brand_new_reason\"").unwrap();
        assert_eq!(r, DegradedReason::Unknown4xx);
        let d: DeadReason = serde_json::from_str("\"who_knows\"").unwrap();
        assert_eq!(d, DeadReason::AuthPermanentlyFailed);
        let w: RateLimitWindow = serde_json::from_str("\"per_fortnight\"").unwrap();
        assert_eq!(w, RateLimitWindow::Unknown);
    }

    #[test]
    fn reasons_serialize_to_their_spec_names() {
        assert_eq!(
            serde_json::to_string(&DegradedReason::Unknown4xx).unwrap(),
            "\"unknown_4xx\""
        );
        assert_eq!(DegradedReason::Unknown4xx.as_str(), "unknown_4xx");
        assert_eq!(
            serde_json::to_string(&DeadReason::TokenRevoked).unwrap(),
            "\"token_revoked\""
        );
    }

    #[test]
    fn window_follows_the_retry_horizon() {
        assert_eq!(
            RateLimitWindow::from_retry_after(Some(30)),
            RateLimitWindow::PerMinute
        );
        assert_eq!(
            RateLimitWindow::from_retry_after(Some(600)),
            RateLimitWindow::PerHour
        );
        assert_eq!(
            RateLimitWindow::from_retry_after(Some(7200)),
            RateLimitWindow::PerDay
        );
        assert_eq!(
            RateLimitWindow::from_retry_after(None),
            RateLimitWindow::Unknown
        );
    }

    #[test]
    fn liveness_json_shape_is_tagged() {
        let l = Liveness::Live {
            availability: Availability::Available,
        };
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            serde_json::json!({"state":"live","availability":{"state":"available"}})
        );
    }
}
