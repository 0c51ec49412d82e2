//! Which account a refresh is about and everything it needs from config: the store file,
//! the token endpoint (with its overrides), the margin, and the writeback decision.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;

use crate::config::Config;
use crate::config::ProviderDefinition;
use crate::config::schema::{AccountConfig, ProviderConfig};
use crate::model::RouteKey;
use crate::model::budget::RepairOwner;
use crate::model::refresh::{Writeback, WritebackFacts, WritebackPolicy, writeback};
use crate::secrets::{SecretBackend, SecretSpec};
use crate::util::home::expand_tilde;

/// One account oauth-mux may refresh.
#[derive(Debug, Clone)]
pub struct RefreshTarget {
    /// `provider:account`.
    pub key: RouteKey,
    pub definition: ProviderDefinition,
    /// The credential file (a `file` secret, or the credential file in `config_dir`).
    pub store: PathBuf,
    /// The token endpoint after the config and environment overrides.
    pub token_url: String,
    /// Refresh this long before expiry.
    pub margin: SignedDuration,
    pub writeback: Writeback,
}

/// The writeback object of an account (SPEC §2), from config alone: nothing is read.
pub fn account_writeback(
    config: &Config,
    provider: &str,
    account: &AccountConfig,
    data_dir: &Path,
) -> Writeback {
    let def = config
        .providers
        .get(provider)
        .and_then(|p| config.definition(&p.kind));
    writeback_of(def, account, data_dir)
}

/// [`account_writeback`] from the account's own parts.
pub fn writeback_of(
    def: Option<&ProviderDefinition>,
    account: &AccountConfig,
    data_dir: &Path,
) -> Writeback {
    let filename = def.map_or("", |d| d.injection.credential_filename.as_str());
    let spec = account.secret_spec(filename).ok();
    let capability = spec.as_ref().map_or("unsupported".to_owned(), |s| {
        crate::model::event::label_of(&s.write_capability())
    });
    writeback(&WritebackFacts {
        owner: def.map_or(RepairOwner::ManualOnly, |d| d.repair.owner),
        capability: &capability,
        provider_refreshes: def.is_some_and(|d| d.refresh.is_some()),
        policy: WritebackPolicy::from_config(account.allow_proactive_refresh),
        store_owned_by_oauth_mux: spec
            .as_ref()
            .and_then(store_path)
            .is_some_and(|p| p.starts_with(data_dir)),
    })
}

/// The file a `file` secret reads (`~` expanded); `None` for other backends.
pub fn store_path(spec: &SecretSpec) -> Option<PathBuf> {
    (spec.backend == SecretBackend::File)
        .then(|| spec.path.as_deref().map(expand_tilde))
        .flatten()
}

/// Why an account cannot be refreshed, from config alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRefreshable {
    /// A stable reason (`store_not_created_by_oauth_mux`, `provider_defines_no_refresh`, …).
    pub reason: String,
    /// What to do about it, in words.
    pub message: String,
}

/// The refresh target of `provider`/`account`, or why there is none. `env` reads the
/// environment (the definition's `token_endpoint_env`).
pub fn target_for(
    config: &Config,
    data_dir: &Path,
    provider: &str,
    account: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RefreshTarget, NotRefreshable> {
    let no = |message: String| NotRefreshable {
        reason: "not_configured".to_owned(),
        message,
    };
    let pc: &ProviderConfig = config
        .providers
        .get(provider)
        .ok_or_else(|| no(format!("provider {provider:?} is not configured")))?;
    let ac = pc.accounts.get(account).ok_or_else(|| {
        no(format!(
            "account {account:?} is not configured under providers.{provider}.accounts"
        ))
    })?;
    let def = config.definition(&pc.kind).ok_or_else(|| {
        no(format!(
            "providers.{provider}.kind names no provider definition"
        ))
    })?;
    target_of(
        &AccountParts {
            provider,
            provider_config: pc,
            account,
            account_config: ac,
            definition: def,
        },
        data_dir,
        env,
    )
}

/// An account's configured parts.
#[derive(Debug, Clone, Copy)]
pub struct AccountParts<'a> {
    pub provider: &'a str,
    pub provider_config: &'a ProviderConfig,
    pub account: &'a str,
    pub account_config: &'a AccountConfig,
    pub definition: &'a ProviderDefinition,
}

/// [`target_for`] from the account's own parts.
pub fn target_of(
    parts: &AccountParts<'_>,
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RefreshTarget, NotRefreshable> {
    let (provider, account) = (parts.provider, parts.account);
    let (pc, ac, def) = (
        parts.provider_config,
        parts.account_config,
        parts.definition,
    );
    let no = |reason: &str, message: String| NotRefreshable {
        reason: reason.to_owned(),
        message,
    };
    let wb = writeback_of(Some(def), ac, data_dir);
    if !wb.automatic_refresh_admitted {
        return Err(no(
            &wb.reason,
            not_admitted_message(provider, account, &wb.reason),
        ));
    }
    let refresh = def
        .refresh
        .as_ref()
        .expect("admitted writeback has a refresh block");
    let spec = ac
        .secret_spec(&def.injection.credential_filename)
        .map_err(|why| no("secret_unusable", why))?;
    let store = store_path(&spec).ok_or_else(|| {
        no(
            "secret_backend_writeback_unsupported",
            "the account's secret is not a file".into(),
        )
    })?;
    let env_value = refresh
        .token_endpoint_env
        .as_deref()
        .and_then(|name| env(name).map(|v| (name, v)));
    let token_url = pick_token_url(
        ac.token_url.as_deref(),
        env_value.as_ref().map(|(n, v)| (*n, v.as_str())),
        pc.token_url.as_deref(),
        def.token_endpoint(),
    )
    .map_err(|why| no("token_url_invalid", why))?;
    let margin = SignedDuration::from_secs(
        pc.refresh_margin_seconds
            .unwrap_or(refresh.margin_seconds)
            .min(i64::MAX as u64) as i64,
    );
    Ok(RefreshTarget {
        key: RouteKey::new(provider, account, None),
        definition: def.clone(),
        store,
        token_url,
        margin,
        writeback: wb,
    })
}

/// What a user does about a writeback reason.
pub fn not_admitted_message(provider: &str, account: &str, reason: &str) -> String {
    let field = format!("providers.{provider}.accounts.{account}.allow_proactive_refresh");
    match reason {
        "store_not_created_by_oauth_mux" => format!(
            "oauth-mux refreshes only stores it created unless you allow it: set {field} to true \
             (it then rewrites the token fields of that store, keeping everything else)"
        ),
        "writeback_turned_off_in_config" => {
            format!("refresh is turned off for this account ({field} is false)")
        }
        "provider_defines_no_refresh" => {
            "the provider definition has no `refresh` block; tokens are renewed by logging in again"
                .into()
        }
        other => format!("oauth-mux may not write refreshed tokens back ({other})"),
    }
}

/// The token endpoint by precedence: the account's `token_url`, the definition's
/// environment variable, the provider's `token_url`, the definition's endpoint. `Err`
/// names the source of an unusable value.
pub fn pick_token_url(
    account: Option<&str>,
    env: Option<(&str, &str)>,
    provider: Option<&str>,
    definition: Option<&str>,
) -> Result<String, String> {
    let candidates = [
        ("the account's `token_url` in config".to_owned(), account),
        (
            env.map_or("environment".to_owned(), |(n, _)| n.to_owned()),
            env.map(|(_, v)| v),
        ),
        ("the provider's `token_url` in config".to_owned(), provider),
        (
            "the provider definition's token endpoint".to_owned(),
            definition,
        ),
    ];
    let (source, url) = candidates
        .into_iter()
        .find_map(|(s, v)| v.map(str::trim).filter(|v| !v.is_empty()).map(|v| (s, v)))
        .ok_or("the provider definition names no token endpoint")?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("{source}: {url:?} is not an http(s) URL"));
    }
    if url.contains('@') {
        return Err(format!(
            "{source}: the token URL must not carry credentials"
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_precedence_is_account_env_provider_definition() {
        let def = Some("https://def.example/token");
        assert_eq!(
            pick_token_url(None, None, None, def).unwrap(),
            "https://def.example/token"
        );
        assert_eq!(
            pick_token_url(None, None, Some("http://p/t"), def).unwrap(),
            "http://p/t"
        );
        assert_eq!(
            pick_token_url(
                None,
                Some(("OMUX_X", "http://e/t")),
                Some("http://p/t"),
                def
            )
            .unwrap(),
            "http://e/t"
        );
        assert_eq!(
            pick_token_url(
                Some("http://a/t"),
                Some(("OMUX_X", "http://e/t")),
                None,
                def
            )
            .unwrap(),
            "http://a/t"
        );
        let err = pick_token_url(None, Some(("OMUX_X", "ftp://e")), None, def).unwrap_err();
        assert!(err.starts_with("OMUX_X:"), "{err}");
        assert!(pick_token_url(None, None, None, None).is_err());
    }
}
