//! Token refresh decisions (docs/refresh.md): whether oauth-mux may refresh an account and
//! write the result back, when a token is due, what to do once the store's lock is held,
//! after a rejection and with a recovery file, and how long to back off. Pure: the I/O
//! (locks, the POST, the atomic write) is in `oauth/`; what a token endpoint's answer means
//! and which fields a grant changes are in `model::grant`.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::budget::RepairOwner;

/// How long before its end a long-lived token (no refresh token, e.g. `claude setup-token`)
/// is announced: a few weeks, so there is time to make a new one.
pub const LONG_LIVED_WARNING: SignedDuration = SignedDuration::from_hours(28 * 24);

/// How long before `expires_at` a token already counts as expired (SPEC §2 timing).
pub const EXPIRY_SKEW: SignedDuration = SignedDuration::from_secs(30);

/// The account's writeback policy: config `accounts.<a>.allow_proactive_refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WritebackPolicy {
    /// Not set: on for stores oauth-mux created (under its data directory), off otherwise.
    Auto,
    /// `true`: the user lets oauth-mux refresh and rewrite this store.
    On,
    /// `false`: never refresh this account.
    Off,
}

impl WritebackPolicy {
    pub fn from_config(allow_proactive_refresh: Option<bool>) -> WritebackPolicy {
        match allow_proactive_refresh {
            None => WritebackPolicy::Auto,
            Some(true) => WritebackPolicy::On,
            Some(false) => WritebackPolicy::Off,
        }
    }
}

/// What the writeback decision is made from: config and the secret spec only.
#[derive(Debug, Clone, Copy)]
pub struct WritebackFacts<'a> {
    pub owner: RepairOwner,
    /// The secret backend's write capability (`replace_file`, `readonly`, …).
    pub capability: &'a str,
    /// The provider definition has a `refresh` block.
    pub provider_refreshes: bool,
    pub policy: WritebackPolicy,
    /// The credential file lies inside oauth-mux's data directory.
    pub store_owned_by_oauth_mux: bool,
}

/// Whether oauth-mux may refresh and persist this account's tokens (SPEC §2 "Writeback").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writeback {
    pub capability: String,
    pub automatic_refresh_admitted: bool,
    pub reason: String,
}

/// The writeback object of an account. oauth-mux refreshes only what it can write back: a
/// refresh whose rotated refresh token is thrown away logs the user out.
pub fn writeback(facts: &WritebackFacts<'_>) -> Writeback {
    let (admitted, reason) = match facts.owner {
        RepairOwner::UpstreamCliLogin => (false, "provider_repair_owned_by_upstream_cli"),
        RepairOwner::ExternalSecretOwner => (false, "provider_repair_owned_by_external_secret"),
        RepairOwner::ManualOnly => (false, "provider_repair_is_manual_only"),
        RepairOwner::OauthMuxRefresh if !facts.provider_refreshes => {
            (false, "provider_defines_no_refresh")
        }
        RepairOwner::OauthMuxRefresh => match facts.capability {
            "replace_file" => match (facts.policy, facts.store_owned_by_oauth_mux) {
                (WritebackPolicy::Off, _) => (false, "writeback_turned_off_in_config"),
                (WritebackPolicy::On, _) => (true, "writeback_turned_on_in_config"),
                (WritebackPolicy::Auto, true) => (true, "store_created_by_oauth_mux"),
                (WritebackPolicy::Auto, false) => (false, "store_not_created_by_oauth_mux"),
            },
            "readonly" => (false, "secret_backend_is_readonly"),
            "command_write" => (false, "command_write_contract_missing"),
            "keychain_write" => (false, "keychain_write_not_implemented"),
            "sops_write" => (false, "sops_write_not_implemented"),
            _ => (false, "secret_backend_writeback_unsupported"),
        },
    };
    Writeback {
        capability: facts.capability.to_owned(),
        automatic_refresh_admitted: admitted,
        reason: reason.to_owned(),
    }
}

/// What is known about an account's stored token, without its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFacts {
    /// An OAuth access token (false: an API key, which never expires or refreshes).
    pub bearer: bool,
    pub expires_at: Option<Timestamp>,
    pub has_refresh_token: bool,
}

/// The token's state at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Valid beyond the refresh margin.
    Valid,
    /// Valid, but inside the refresh margin: a refresh is due.
    Due,
    /// Expired (counting [`EXPIRY_SKEW`] early).
    Expired,
    /// No expiry is recorded (a raw token, an API key).
    NoExpiry,
    /// The credential was not read (a backend inspection does not run, or it failed).
    NotInspected,
}

/// Whether a refresh of this account's token is admitted, and why (or why not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshAdmission {
    pub admitted: bool,
    pub reason: String,
}

/// An account's token as the inventory commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenOutlook {
    pub state: TokenState,
    pub expires_at: Option<Timestamp>,
    /// Seconds until expiry (negative once expired).
    pub expires_in_s: Option<i64>,
    /// A bearer token without a refresh token (`claude setup-token`): it ends, it is not renewed.
    pub long_lived: bool,
    pub refresh: RefreshAdmission,
    /// Something the user should act on before it stops working.
    pub warning: Option<String>,
}

/// Whether a token expiring at `expires_at` counts as expired at `now`.
pub fn is_expired(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|at| now >= at.checked_sub(EXPIRY_SKEW).unwrap_or(at))
}

/// When a refresh ahead of expiry becomes due: `margin` before the end.
pub fn due_at(expires_at: Option<Timestamp>, margin: SignedDuration) -> Option<Timestamp> {
    expires_at.map(|at| at.checked_sub(margin).unwrap_or(at))
}

/// Whether a refresh is due at `now` (the token expires within `margin`).
pub fn is_due(expires_at: Option<Timestamp>, margin: SignedDuration, now: Timestamp) -> bool {
    due_at(expires_at, margin).is_some_and(|due| now >= due)
}

/// Whether this token may be refreshed: the account's writeback is admitted, it is an OAuth
/// token, and it has a refresh token.
pub fn refresh_admission(writeback: &Writeback, token: Option<&TokenFacts>) -> RefreshAdmission {
    let no = |reason: &str| RefreshAdmission {
        admitted: false,
        reason: reason.to_owned(),
    };
    if !writeback.automatic_refresh_admitted {
        return no(&writeback.reason);
    }
    match token {
        None => RefreshAdmission {
            admitted: true,
            reason: writeback.reason.clone(),
        },
        Some(t) if !t.bearer => no("credential_is_an_api_key"),
        Some(t) if !t.has_refresh_token => no("no_refresh_token"),
        Some(_) => RefreshAdmission {
            admitted: true,
            reason: writeback.reason.clone(),
        },
    }
}

/// The outlook of an account's token at `now` (`token` is `None` when it was not read).
pub fn outlook(
    token: Option<&TokenFacts>,
    writeback: &Writeback,
    margin: SignedDuration,
    now: Timestamp,
) -> TokenOutlook {
    let refresh = refresh_admission(writeback, token);
    let Some(t) = token else {
        return TokenOutlook {
            state: TokenState::NotInspected,
            expires_at: None,
            expires_in_s: None,
            long_lived: false,
            refresh,
            warning: None,
        };
    };
    let state = match t.expires_at {
        _ if !t.bearer => TokenState::NoExpiry,
        None => TokenState::NoExpiry,
        at if is_expired(at, now) => TokenState::Expired,
        at if is_due(at, margin, now) => TokenState::Due,
        Some(_) => TokenState::Valid,
    };
    let long_lived = t.bearer && !t.has_refresh_token;
    let warning = match state {
        TokenState::Expired if !refresh.admitted => Some(format!(
            "the access token has expired and oauth-mux may not refresh it ({}); log in again",
            refresh.reason
        )),
        TokenState::NoExpiry if long_lived => Some(
            "a long-lived token (no refresh token) whose end is not recorded: store it with its \
             expiry (e.g. {\"claudeAiOauth\": {\"accessToken\": …, \"expiresAt\": <ms>}}) to be \
             warned before it ends"
                .to_owned(),
        ),
        TokenState::Valid | TokenState::Due
            if long_lived && is_due(t.expires_at, LONG_LIVED_WARNING, now) =>
        {
            Some(
                "this long-lived token (no refresh token) ends within four weeks; make a new one \
                 (e.g. `claude setup-token`) and store it"
                    .to_owned(),
            )
        }
        _ => None,
    };
    TokenOutlook {
        state,
        expires_at: t.expires_at.filter(|_| t.bearer),
        expires_in_s: t
            .expires_at
            .filter(|_| t.bearer)
            .map(|at| now.duration_until(at).as_secs()),
        long_lived,
        refresh,
        warning,
    }
}

/// Why a refresh is attempted. The label goes into events; [`RefreshTrigger::oauth_reason`]
/// into the token request of providers that send one (Codex's `refresh_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTrigger {
    /// A managed session refreshes its pool's accounts ahead of expiry.
    AheadOfExpiry,
    /// A provider answered 401 to a refreshable account.
    Unauthorized,
    /// `oauth-mux keepalive`.
    Keepalive,
    /// A probe found the token expired.
    Probe,
    /// `exec` (or `stay-afloat launch`) found the token of the route it injects expired.
    Inject,
}

impl RefreshTrigger {
    pub fn label(self) -> &'static str {
        match self {
            Self::AheadOfExpiry => "ahead_of_expiry",
            Self::Unauthorized => "unauthorized",
            Self::Keepalive => "keepalive",
            Self::Probe => "probe",
            Self::Inject => "inject",
        }
    }

    /// The reason Codex CLI itself sends for such a refresh.
    pub fn oauth_reason(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized_recovery",
            Self::Keepalive => "scheduled",
            Self::AheadOfExpiry | Self::Probe | Self::Inject => "proactive_expiry",
        }
    }

    /// A 401 forces the refresh even when the clock says the token is still good.
    pub fn forced(self) -> bool {
        self == Self::Unauthorized
    }
}

/// What to do once the store's locks are held and the store was read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnderLock {
    /// Another process refreshed meanwhile (the access token changed): use its tokens.
    AdoptNewer,
    /// The token is no longer due (e.g. the caller's view was older): nothing to do.
    NotNeeded,
    /// POST the refresh grant.
    Refresh,
}

/// Decide under the lock. `seen` is the fingerprint of the access token the caller decided
/// on; `stored` the one the store holds now.
pub fn decide_under_lock(
    seen: &str,
    stored: &str,
    stored_expires_at: Option<Timestamp>,
    margin: SignedDuration,
    trigger: RefreshTrigger,
    now: Timestamp,
) -> UnderLock {
    if seen != stored {
        UnderLock::AdoptNewer
    } else if trigger.forced() || is_due(stored_expires_at, margin, now) {
        UnderLock::Refresh
    } else {
        UnderLock::NotNeeded
    }
}

/// After the token endpoint rejected the refresh token: if the store now holds another
/// refresh token, someone else refreshed (adopt it); if it still holds the one that was
/// rejected, the account needs a new login.
pub fn after_rejection(used_refresh: &str, stored_refresh: Option<&str>) -> AfterRejection {
    match stored_refresh {
        Some(stored) if stored != used_refresh => AfterRejection::AdoptNewer,
        _ => AfterRejection::LoginNeeded,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRejection {
    AdoptNewer,
    LoginNeeded,
}

/// Whether new tokens may replace the store's: only while it still holds the refresh token
/// that was spent for them (a compare-and-set; anything else means another writer won). The
/// same rule completes (or discards) a recovery file a killed refresh left.
pub fn may_write(used_refresh: &str, stored_refresh: Option<&str>) -> bool {
    stored_refresh == Some(used_refresh)
}

/// The wait before the next attempt after `failures` transient failures in a row (network,
/// 5xx): 30 s, doubling, at most 30 minutes.
pub fn backoff(failures: u32) -> SignedDuration {
    let secs = 30u64.saturating_mul(1u64 << failures.saturating_sub(1).min(10));
    SignedDuration::from_secs(secs.min(30 * 60) as i64)
}

/// Whether a successful refresh clears a recorded liveness: a dead token (revoked, or its
/// refresh rejected) is an account fact the new token refutes; everything else (quota, rate
/// limits, degradations) is about the account's use, not its token, and stays.
pub fn refresh_clears(liveness: &super::liveness::Liveness) -> bool {
    use super::liveness::{DeadReason, Liveness};
    matches!(
        liveness,
        Liveness::Dead {
            reason: DeadReason::TokenRevoked | DeadReason::RefreshRejected,
            ..
        }
    )
}

/// What one refresh attempt came to (the `outcome` of a `token_refresh` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshOutcome {
    /// New tokens were received and written back.
    Refreshed,
    /// Another process had refreshed already; its tokens are used.
    Adopted,
    /// The token was not due (checked again under the lock).
    NotNeeded,
    /// oauth-mux may not refresh this account (no writeback, no refresh token).
    NotAdmitted,
    /// The token endpoint rejected the refresh token: log in again.
    Rejected,
    /// Network trouble or a provider error: nothing changed, retried later.
    Failed,
    /// A recovery file left by a killed refresh was written to the store.
    Recovered,
}

impl RefreshOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refreshed => "refreshed",
            Self::Adopted => "adopted",
            Self::NotNeeded => "not_needed",
            Self::NotAdmitted => "not_admitted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Recovered => "recovered",
        }
    }

    /// The account has a usable token afterwards.
    pub fn ok(self) -> bool {
        matches!(
            self,
            Self::Refreshed | Self::Adopted | Self::NotNeeded | Self::Recovered
        )
    }
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
