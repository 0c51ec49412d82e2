//! What inventory commands show about an account's token (`accounts list`, `route explain`,
//! `doctor runtime`): its expiry and whether a refresh is admitted, or why not. The
//! credential is read only where that is free and silent (a file or an environment
//! variable); a command, keychain, sops or age backend is never run for a listing.

use jiff::{SignedDuration, Timestamp};

use super::target::account_writeback;
use crate::config::Config;
use crate::config::schema::AccountConfig;
use crate::model::refresh::{TokenFacts, TokenOutlook, outlook};
use crate::secrets::{SecretBackend, TokenKind, parse_credential, read_secret};
use crate::store::paths::Dirs;

/// The default margin when a definition has no `refresh` block (only shown, never used).
const DEFAULT_MARGIN: SignedDuration = SignedDuration::from_hours(1);

/// The token outlook of `provider`/`account` at `now`.
pub fn account_outlook(
    config: &Config,
    dirs: &Dirs,
    provider: &str,
    account_name: &str,
    account: &AccountConfig,
    now: Timestamp,
) -> TokenOutlook {
    let pc = config.providers.get(provider);
    let def = pc.and_then(|p| config.definition(&p.kind));
    let writeback = account_writeback(config, provider, account, &dirs.data_dir);
    let margin = pc
        .and_then(|p| p.refresh_margin_seconds)
        .or_else(|| {
            def.and_then(|d| d.refresh.as_ref())
                .map(|r| r.margin_seconds)
        })
        .map_or(DEFAULT_MARGIN, |s| {
            SignedDuration::from_secs(s.min(i64::MAX as u64) as i64)
        });
    let facts = def.and_then(|def| {
        let spec = account
            .secret_spec(&def.injection.credential_filename)
            .ok()?;
        if !matches!(spec.backend, SecretBackend::File | SecretBackend::Env) {
            return None;
        }
        let field = format!("providers.{provider}.accounts.{account_name}.secret");
        let raw = read_secret(&spec, &field).ok()?;
        let credential = parse_credential(&raw, &def.credential, now).ok()?;
        Some(TokenFacts {
            bearer: credential.kind == TokenKind::Bearer,
            expires_at: credential.expires_at,
            has_refresh_token: credential.refresh_token.is_some(),
        })
    });
    outlook(facts.as_ref(), &writeback, margin, now)
}
