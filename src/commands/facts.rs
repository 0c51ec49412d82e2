//! Shared, redaction-safe facts about configured accounts and routes, used by
//! several inventory and routing commands (one place, one shape).

use serde::Serialize;

use crate::config::Config;
use crate::config::schema::AccountConfig;
use crate::model::RouteKey;
use crate::model::health::RouteStatus;
use crate::secrets::SecretSpec;

/// The secret backend name and its write capability, read from the config only
/// (no secret is read).
pub fn secret_facts(account: &AccountConfig) -> (String, String) {
    match serde_json::from_value::<SecretSpec>(account.secret.clone()) {
        Ok(spec) => {
            let cap = serde_json::to_value(spec.write_capability())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            (spec.backend.as_str().to_owned(), cap)
        }
        Err(_) => ("invalid".into(), "unsupported".into()),
    }
}

/// The command that logs `provider:account` in again: the provider definition's
/// `repair.login_command` with `{account}` and `{config_dir}` filled in (`None` when the
/// definition has none, or it needs a config dir the account does not have).
pub fn login_command(config: &Config, provider: &str, account: &str) -> Option<String> {
    let pc = config.providers.get(provider)?;
    let template = config
        .definition(&pc.kind)?
        .repair
        .login_command
        .as_deref()?;
    let config_dir = pc
        .accounts
        .get(account)
        .and_then(|a| a.config_dir.as_deref());
    if template.contains("{config_dir}") && config_dir.is_none() {
        return None;
    }
    Some(
        template
            .replace("{account}", account)
            .replace("{provider}", provider)
            .replace("{config_dir}", config_dir.unwrap_or_default()),
    )
}

/// The JSON form of a route key, with its parts as fields.
#[derive(Debug, Clone, Serialize)]
pub struct RouteId {
    pub key: String,
    pub provider: String,
    pub account: String,
    pub capability: Option<String>,
}

impl From<&RouteKey> for RouteId {
    fn from(k: &RouteKey) -> Self {
        RouteId {
            key: k.to_string(),
            provider: k.provider.clone(),
            account: k.account.clone(),
            capability: k.capability.clone(),
        }
    }
}

/// A one-line human description of a route status.
pub fn describe_status(status: &RouteStatus, now: jiff::Timestamp) -> String {
    let until = |t: &jiff::Timestamp| {
        let secs = crate::model::health::seconds_until(now, *t);
        format!(
            "{} (in {})",
            t.strftime("%Y-%m-%d %H:%M:%SZ"),
            human_duration(secs)
        )
    };
    match status {
        RouteStatus::RateLimited { until: t } => format!("rate_limited until {}", until(t)),
        RouteStatus::QuotaExhausted { resets_at, .. } => {
            format!("quota_exhausted until {}", until(resets_at))
        }
        RouteStatus::RevalidationNeeded { reset_at } => format!(
            "revalidation_needed (window reset {})",
            reset_at.strftime("%Y-%m-%d %H:%M:%SZ")
        ),
        RouteStatus::Cooldown { until: t, .. } => format!("cooldown until {}", until(t)),
        RouteStatus::Degraded { reason, retry_at } => {
            format!("{} (retry {})", reason.as_str(), until(retry_at))
        }
        other => other.label().to_owned(),
    }
}

/// `3h 12m`, `45s`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

/// A token outlook in a few words: `expires in 7h 59m, refresh admitted`.
pub fn describe_token(t: &crate::model::refresh::TokenOutlook, now: jiff::Timestamp) -> String {
    use crate::model::refresh::TokenState;
    let when = match (t.state, t.expires_at) {
        (TokenState::NotInspected, _) => "not read".to_owned(),
        (TokenState::NoExpiry, _) => "no expiry".to_owned(),
        (TokenState::Expired, _) => "expired".to_owned(),
        (_, Some(at)) => format!(
            "expires in {}",
            human_duration(now.duration_until(at).as_secs().unsigned_abs())
        ),
        (_, None) => "-".to_owned(),
    };
    let refresh = if t.refresh.admitted {
        "refresh admitted".to_owned()
    } else if t.long_lived {
        "long-lived, no refresh".to_owned()
    } else {
        format!("no refresh: {}", t.refresh.reason)
    };
    format!("{when}, {refresh}")
}
