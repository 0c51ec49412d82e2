//! Onboarding: `init`, `setup`, `enroll`, the login handoffs (`codex login-device`,
//! `claude login`) and the Codex Max candidate (`codex config-candidate|config-merge`). The
//! config edits themselves are pure (`config::edit`); this module reads, validates and writes.

pub mod candidate;
pub mod enroll;
pub mod init;
pub mod login;
pub mod setup;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::context::Context;
use crate::config::starter::{self, Starter};
use crate::config::{Config, ProviderDefinition, builtin};
use crate::exit::{ExitCode, Failure};
use crate::harness::credentials::{self, CredentialFacts, CredentialState};
use crate::harness::status::HarnessKind;
use crate::model::event::{ConfigEditEvent, Event, EventKind};
use crate::secrets::{SecretBackend, SecretSpec};
use crate::store::config_file;
use crate::util::home::expand_tilde;

/// The onboarding facts and the built-in definition of a harness provider.
pub fn harness_facts(harness: HarnessKind) -> (&'static Starter, &'static ProviderDefinition) {
    let starter = starter::starter(harness.name()).expect("every harness has a starter");
    let def = builtin::all()
        .iter()
        .find(|d| d.name == harness.name())
        .expect("every harness is a built-in provider");
    (starter, def)
}

/// The config file as it is on disk.
pub struct ConfigDoc {
    pub bytes: Vec<u8>,
    pub value: Value,
}

/// Read the config document (`None` when there is none). Text that is not a JSON object is
/// a config error: an edit must never rewrite what it cannot read.
pub fn read_doc(path: &Path) -> anyhow::Result<Option<ConfigDoc>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::new(
                ExitCode::Config,
                format!("cannot read the config {}: {e}", path.display()),
            )
            .into());
        }
    };
    let value: Value = serde_json::from_slice(&bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Failure::new(
                ExitCode::Config,
                format!(
                    "the config {} is not a JSON object; nothing was changed. Fix it first (`oauth-mux config validate`)",
                    path.display()
                ),
            )
        })?;
    Ok(Some(ConfigDoc { bytes, value }))
}

/// Validate a config document before it is written: any error refuses the write, listing
/// every problem with its JSON path.
pub fn check_doc(doc: &Value) -> anyhow::Result<Config> {
    let (config, problems) = crate::config::check_text(&doc.to_string());
    let errors: Vec<String> = problems
        .iter()
        .filter(|p| p.is_error())
        .map(ToString::to_string)
        .collect();
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ => Err(Failure::new(
            ExitCode::Config,
            format!(
                "the changed config would be invalid, so nothing was written:\n  {}",
                errors.join("\n  ")
            ),
        )
        .into()),
    }
}

/// Write `doc` as the config: a new file (never over one another process wrote meanwhile),
/// or a replacement of `previous` with a backup beside it. Appends a `config_edited` event.
/// Returns the backup's path.
pub fn write_doc(
    ctx: &Context,
    previous: Option<&ConfigDoc>,
    doc: &Value,
    mut event: ConfigEditEvent,
) -> anyhow::Result<Option<PathBuf>> {
    let path = &ctx.dirs.config_file;
    let mut text = serde_json::to_string_pretty(doc)?;
    text.push('\n');
    let backup = match previous {
        None => {
            config_file::create_new(path, text.as_bytes()).map_err(|e| {
                Failure::new(
                    ExitCode::Error,
                    format!("cannot write the config {}: {e}", path.display()),
                )
            })?;
            None
        }
        Some(previous) => Some(
            config_file::replace_with_backup(path, &previous.bytes, text.as_bytes(), ctx.now)
                .map_err(|e| {
                    Failure::new(
                        ExitCode::Error,
                        format!(
                            "cannot write the config {} (it is unchanged): {e}",
                            path.display()
                        ),
                    )
                })?,
        ),
    };
    event.backup_kept = backup.is_some();
    crate::evidence::append_event(
        &ctx.dirs,
        &Event::new(ctx.now, EventKind::ConfigEdited(event)),
    );
    Ok(backup)
}

/// Create an account store (0700, parents too) when missing; `true` when it was created.
pub fn ensure_store(dir: &Path) -> anyhow::Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    crate::util::private_fs::ensure_private_dir(dir).map_err(|e| {
        Failure::new(
            ExitCode::Error,
            format!("cannot create the account store {}: {e}", dir.display()),
        )
    })?;
    Ok(true)
}

/// A path for people: `~/…` under the home directory.
pub fn shown_path(path: &Path) -> String {
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if !home.as_os_str().is_empty() && path.starts_with(&home) => {
            format!("~/{}", path.strip_prefix(&home).unwrap_or(path).display())
        }
        _ => path.display().to_string(),
    }
}

/// One account of a harness provider as setup, canary and the login handoffs show it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountCheck {
    pub provider: String,
    pub account: String,
    /// The account's store (its config dir), `~`-abbreviated.
    pub store: Option<String>,
    pub store_exists: bool,
    pub credentials: CredentialFacts,
    /// The command that logs the account in, when its credentials are not usable.
    pub login_command: Option<String>,
}

/// Check one account: its store and what its credential file holds (read, never printed).
pub fn check_account(
    ctx: &Context,
    config: &Config,
    harness: HarnessKind,
    provider: &str,
    account: &str,
) -> AccountCheck {
    let pc = &config.providers[provider];
    let acct = &pc.accounts[account];
    let def = config.definition(&pc.kind);
    let store = acct.config_dir.as_deref().map(expand_tilde);
    let credentials = match def {
        Some(def) => read_credentials(ctx, harness, def, provider, account, acct),
        None => CredentialFacts::without_credential(
            CredentialState::Unusable,
            Some(format!("provider kind {:?} has no definition", pc.kind)),
        ),
    };
    AccountCheck {
        provider: provider.to_owned(),
        account: account.to_owned(),
        store: store.as_deref().map(shown_path),
        store_exists: store.as_ref().is_some_and(|d| d.is_dir()),
        login_command: (credentials.state != CredentialState::Usable)
            .then(|| super::facts::login_command(config, provider, account))
            .flatten(),
        credentials,
    }
}

fn read_credentials(
    ctx: &Context,
    harness: HarnessKind,
    def: &ProviderDefinition,
    provider: &str,
    account: &str,
    acct: &crate::config::schema::AccountConfig,
) -> CredentialFacts {
    let spec: Option<SecretSpec> = serde_json::from_value(acct.secret.clone()).ok();
    if let Some(spec) = &spec {
        if spec.backend == SecretBackend::Stdin {
            return CredentialFacts::without_credential(
                CredentialState::NotChecked,
                Some("a stdin secret is read only when used".into()),
            );
        }
        if spec.backend == SecretBackend::File
            && spec
                .path
                .as_deref()
                .is_some_and(|p| !expand_tilde(p).exists())
        {
            return CredentialFacts::without_credential(
                CredentialState::Missing,
                Some("the store holds no credential: the account is not logged in".into()),
            );
        }
    }
    let field = format!("providers.{provider}.accounts.{account}.secret");
    match acct.read_secret(&def.injection.credential_filename, &field) {
        Ok(raw) => credentials::inspect(harness, def, &raw, ctx.now),
        Err(why) => CredentialFacts::without_credential(CredentialState::Unreadable, Some(why)),
    }
}

/// The accounts of the harness providers in `config`: (provider, account), config order.
pub fn harness_accounts(config: &Config, harness: HarnessKind) -> Vec<(String, String)> {
    config
        .providers
        .iter()
        .filter(|(_, p)| p.kind == harness.name())
        .flat_map(|(name, p)| p.accounts.keys().map(move |a| (name.clone(), a.clone())))
        .collect()
}
