//! Recorded route health and its transitions, and the effective status of a route
//! at a given time (SPEC §2 "Timing").

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::classify::{Classification, Decision, add_seconds};
use super::liveness::{Availability, DeadReason, DegradedReason, Liveness};

/// Seconds a `provider_degraded` route waits before it is tried again.
pub const PROVIDER_DEGRADED_RETRY_S: u64 = 60;
/// Seconds other degradations wait before a re-probe is due.
pub const DEGRADED_RETRY_S: u64 = 3600;
/// Seconds a rate limit without a horizon is assumed to last.
pub const WINDOWLESS_RATE_LIMIT_S: u64 = 30;
/// Seconds a spent quota without a known reset is assumed to last before it
/// needs revalidation.
pub const UNKNOWN_QUOTA_RESET_S: u64 = 3600;

/// Where a piece of evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    HttpProbe,
    CommandProbe,
    Proxy,
    CredentialValidation,
    /// The token endpoint's answer to a refresh (a rejected refresh token).
    TokenRefresh,
    Manual,
    #[serde(other)]
    Unknown,
}

/// A usage gauge observed on a response (for proactive switching): the fullest window's
/// share, and every window the provider reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageGauge {
    pub used_pct: f64,
    #[serde(default)]
    pub resets_at: Option<Timestamp>,
    pub observed_at: Timestamp,
    /// Each window as reported (Codex primary/secondary, Anthropic five_hour/seven_day).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowReading>,
}

/// One usage window as last reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReading {
    /// `primary`, `secondary`, `five_hour`, `seven_day`, …
    pub window: String,
    pub used_pct: f64,
    #[serde(default)]
    pub resets_at: Option<Timestamp>,
    #[serde(default)]
    pub window_minutes: Option<u64>,
}

impl UsageGauge {
    /// The gauge of the windows one response reported at `now` (`None` when it reported
    /// none): the fullest window steers elections, all of them are kept for `status`.
    pub fn from_windows(
        windows: &[crate::model::session::UsageWindow],
        now: Timestamp,
    ) -> Option<UsageGauge> {
        let resets = |w: &crate::model::session::UsageWindow| {
            w.resets_in_seconds.map(|s| add_seconds(now, s))
        };
        let fullest = windows
            .iter()
            .max_by(|a, b| a.used_percent.total_cmp(&b.used_percent))?;
        Some(UsageGauge {
            used_pct: fullest.used_percent,
            resets_at: resets(fullest),
            observed_at: now,
            windows: windows
                .iter()
                .map(|w| WindowReading {
                    window: w.window.clone(),
                    used_pct: w.used_percent,
                    resets_at: resets(w),
                    window_minutes: w.window_minutes,
                })
                .collect(),
        })
    }
}

/// What the health store keeps for one route key. Every field but `liveness` is
/// optional on disk, and unknown enum values fall back (see `liveness.rs`), so an
/// older or newer store still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteHealth {
    pub liveness: Liveness,
    #[serde(default)]
    pub observed_at: Option<Timestamp>,
    #[serde(default)]
    pub source: Option<EvidenceSource>,
    #[serde(default)]
    pub last_status: Option<u16>,
    #[serde(default)]
    pub last_class: Option<String>,
    #[serde(default)]
    pub successes: u64,
    #[serde(default)]
    pub failures: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageGauge>,
}

impl RouteHealth {
    /// Parse a stored record. `Err` carries a reason; callers treat the route as
    /// having no usable evidence and keep the raw record untouched.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        Self::deserialize(value).map_err(|e| e.to_string())
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("route health serializes")
    }

    /// The record after one classified observation.
    pub fn observe(
        prev: Option<&RouteHealth>,
        class: &Classification,
        status: Option<u16>,
        source: EvidenceSource,
        now: Timestamp,
    ) -> RouteHealth {
        let since_if_same = |reason_matches: bool| match prev.map(|p| &p.liveness) {
            Some(Liveness::Degraded { since, .. } | Liveness::Dead { since, .. })
                if reason_matches =>
            {
                *since
            }
            _ => now,
        };
        let liveness = match class {
            Classification::Success => Liveness::Live {
                availability: Availability::Available,
            },
            Classification::RateLimited {
                retry_after_s,
                window,
            } => Liveness::Live {
                availability: Availability::RateLimited {
                    retry_after_s: *retry_after_s,
                    limited_at: now,
                    window: *window,
                },
            },
            Classification::QuotaExhausted { resets_at } => Liveness::Live {
                availability: Availability::QuotaExhausted {
                    window_resets_at: *resets_at,
                    usage_pct: prev.and_then(|p| p.usage.as_ref()).map(|u| u.used_pct),
                    exhausted_at: now,
                },
            },
            Classification::Degraded { reason } => degraded(
                *reason,
                now,
                since_if_same(prev_reason(prev) == Some(reason.as_str())),
            ),
            Classification::ProviderDegraded => degraded(
                DegradedReason::ProviderDegraded,
                now,
                since_if_same(prev_reason(prev) == Some("provider_degraded")),
            ),
            Classification::Failure => degraded(DegradedReason::Unknown4xx, now, now),
            Classification::Dead { reason } => Liveness::Dead {
                reason: *reason,
                since: since_if_same(prev_reason(prev) == Some(reason.as_str())),
            },
        };
        let ok = matches!(class, Classification::Success);
        RouteHealth {
            liveness,
            observed_at: Some(now),
            source: Some(source),
            last_status: status,
            last_class: Some(class.label().to_owned()),
            successes: prev.map_or(0, |p| p.successes) + u64::from(ok),
            failures: prev.map_or(0, |p| p.failures) + u64::from(!ok),
            usage: prev.and_then(|p| p.usage.clone()),
        }
    }

    /// A record for a credential that could not be read at all.
    pub fn credential_unavailable(now: Timestamp) -> RouteHealth {
        RouteHealth::observe(
            None,
            &Classification::Dead {
                reason: DeadReason::CredentialUnavailable,
            },
            None,
            EvidenceSource::CredentialValidation,
            now,
        )
    }

    /// The effective status at `now`: rate limits and transient degradations
    /// recover by themselves; spent quotas need revalidation after their reset;
    /// other degradations need a new probe after their retry time; dead stays dead.
    pub fn status_at(&self, now: Timestamp) -> RouteStatus {
        match &self.liveness {
            Liveness::Live { availability } => match availability {
                Availability::Available => RouteStatus::Available,
                Availability::RateLimited {
                    retry_after_s,
                    limited_at,
                    ..
                } => {
                    let until = add_seconds(
                        *limited_at,
                        retry_after_s.unwrap_or(WINDOWLESS_RATE_LIMIT_S),
                    );
                    if now >= until {
                        RouteStatus::Available
                    } else {
                        RouteStatus::RateLimited { until }
                    }
                }
                Availability::QuotaExhausted {
                    window_resets_at,
                    exhausted_at,
                    ..
                } => {
                    let reset_known = window_resets_at.is_some();
                    let resets_at = window_resets_at
                        .unwrap_or_else(|| add_seconds(*exhausted_at, UNKNOWN_QUOTA_RESET_S));
                    if now >= resets_at {
                        RouteStatus::RevalidationNeeded {
                            reset_at: resets_at,
                        }
                    } else {
                        RouteStatus::QuotaExhausted {
                            resets_at,
                            reset_known,
                        }
                    }
                }
                Availability::Cooldown { until, reason } => {
                    if now >= *until {
                        RouteStatus::Available
                    } else {
                        RouteStatus::Cooldown {
                            until: *until,
                            reason: reason.clone(),
                        }
                    }
                }
            },
            Liveness::Degraded {
                reason,
                since,
                retry_at,
            } => {
                let default_wait = if reason.is_transient() {
                    PROVIDER_DEGRADED_RETRY_S
                } else {
                    DEGRADED_RETRY_S
                };
                let retry_at = retry_at.unwrap_or_else(|| add_seconds(*since, default_wait));
                match (now >= retry_at, reason.is_transient()) {
                    (false, _) => RouteStatus::Degraded {
                        reason: *reason,
                        retry_at,
                    },
                    (true, true) => RouteStatus::Available,
                    (true, false) => RouteStatus::ReprobeNeeded { reason: *reason },
                }
            }
            Liveness::Dead { reason, .. } => RouteStatus::Dead { reason: *reason },
        }
    }
}

fn degraded(reason: DegradedReason, now: Timestamp, since: Timestamp) -> Liveness {
    let wait = if reason.is_transient() {
        PROVIDER_DEGRADED_RETRY_S
    } else {
        DEGRADED_RETRY_S
    };
    Liveness::Degraded {
        reason,
        since,
        retry_at: Some(add_seconds(now, wait)),
    }
}

fn prev_reason(prev: Option<&RouteHealth>) -> Option<&'static str> {
    match prev.map(|p| &p.liveness) {
        Some(Liveness::Degraded { reason, .. }) => Some(reason.as_str()),
        Some(Liveness::Dead { reason, .. }) => Some(reason.as_str()),
        _ => None,
    }
}

/// The effective state of a route at a given time, derived from evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RouteStatus {
    Available,
    /// No evidence recorded yet (or the record could not be read).
    ProbeNeeded,
    RateLimited {
        until: Timestamp,
    },
    QuotaExhausted {
        resets_at: Timestamp,
        reset_known: bool,
    },
    /// The quota window has reset; a probe must confirm before the route is used.
    RevalidationNeeded {
        reset_at: Timestamp,
    },
    Cooldown {
        until: Timestamp,
        reason: String,
    },
    Degraded {
        reason: DegradedReason,
        retry_at: Timestamp,
    },
    /// A non-transient degradation whose retry time has passed: probe again.
    ReprobeNeeded {
        reason: DegradedReason,
    },
    Dead {
        reason: DeadReason,
    },
}

impl RouteStatus {
    /// The short label used in tables and JSON (`available`, `quota_exhausted`…).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::ProbeNeeded => "probe_needed",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExhausted { .. } => "quota_exhausted",
            Self::RevalidationNeeded { .. } => "revalidation_needed",
            Self::Cooldown { .. } => "cooldown",
            Self::Degraded { reason, .. } | Self::ReprobeNeeded { reason } => reason.as_str(),
            Self::Dead { reason } => reason.as_str(),
        }
    }

    pub fn is_available(&self) -> bool {
        matches!(self, Self::Available)
    }

    /// True when the route awaits evidence (none yet, a reset to confirm, a degradation to
    /// re-check) rather than carrying a known verdict: a probe, or a real request whose
    /// outcome is recorded, settles it.
    pub fn awaits_evidence(&self) -> bool {
        matches!(
            self,
            Self::ProbeNeeded | Self::RevalidationNeeded { .. } | Self::ReprobeNeeded { .. }
        )
    }

    /// True when traffic may be sent: available, or awaiting evidence.
    pub fn may_carry_traffic(&self) -> bool {
        self.is_available() || self.awaits_evidence()
    }

    /// When this status changes by itself, if it does.
    pub fn wakes_at(&self) -> Option<Timestamp> {
        match self {
            Self::RateLimited { until } | Self::Cooldown { until, .. } => Some(*until),
            Self::QuotaExhausted { resets_at, .. } => Some(*resets_at),
            Self::Degraded { retry_at, .. } => Some(*retry_at),
            _ => None,
        }
    }

    pub fn decision(&self) -> Decision {
        match self {
            Self::Available => Decision::UseThis,
            Self::RateLimited { .. } | Self::Cooldown { .. } => Decision::WaitAndRetry,
            Self::Degraded { reason, .. } if reason.is_transient() => Decision::TryNextProvider,
            _ => Decision::TryNextAccount,
        }
    }
}

/// The effective status of a route given its account-level and route-level records:
/// account-level state that is not `available` dominates every route of the account;
/// a route without evidence needs a probe.
pub fn effective_status(
    account: Option<&RouteHealth>,
    route: Option<&RouteHealth>,
    now: Timestamp,
) -> RouteStatus {
    if let Some(account_status) = account.map(|a| a.status_at(now))
        && !account_status.is_available()
    {
        return account_status;
    }
    route.map_or(RouteStatus::ProbeNeeded, |r| r.status_at(now))
}

/// Seconds between two timestamps, clamped at zero.
pub fn seconds_until(now: Timestamp, then: Timestamp) -> u64 {
    let d: SignedDuration = then.duration_since(now);
    d.as_secs().max(0) as u64
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
