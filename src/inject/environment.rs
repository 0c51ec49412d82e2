//! What a child process gets for one selected route: the account's config-dir
//! variable (its own dir, or a private temp dir holding the rendered credential
//! template), `direct_env` token variables, and the `OMUX_ACTIVE_*` breadcrumbs.

use std::ffi::OsString;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::credential_dir::PrivateCredentialDir;
use crate::config::Config;
use crate::config::ProviderDefinition;
use crate::config::schema::{AccountConfig, ProviderConfig};
use crate::exit::{ExitCode, Failure};
use crate::model::RouteKey;
use crate::secrets::{Credential, ExpiresAtUnit, SecretError, SecretSpec, parse_credential};
use crate::store::paths::Dirs;

/// A variable set in the child but never printed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Withheld {
    pub name: String,
    pub reason: &'static str,
}

/// The variables `env` may print (no token material) and those it must not.
#[derive(Debug, Clone, Serialize)]
pub struct PrintablePlan {
    pub exports: Vec<(String, String)>,
    pub withheld: Vec<Withheld>,
}

/// The full child environment for `exec`. Holds the private credential dir (if
/// any): dropping it removes the dir.
pub struct ChildEnvironment {
    /// Inherited variables the child must not see: every one a configured secret backend
    /// reads (a route's own injected variables are set again by `vars`).
    pub remove: Vec<String>,
    pub vars: Vec<(String, OsString)>,
    pub credential_dir: Option<PrivateCredentialDir>,
}

/// Why a route could not be injected; each maps to an exit code.
#[derive(Debug)]
pub enum InjectError {
    /// The secret could not be read or parsed (exit 202).
    SecretUnavailable {
        key: RouteKey,
        error: Box<SecretError>,
    },
    /// The token is expired, counting 30 s early, and could not be refreshed (exit 203).
    Expired {
        key: RouteKey,
        expired_at: Timestamp,
    },
    /// Config or I/O trouble (exit 200 or 1).
    Other(Failure),
}

impl fmt::Display for InjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretUnavailable { key, error } => write!(
                f,
                "cannot inject {key}: the account's secret could not be used: {error}"
            ),
            Self::Expired { key, expired_at } => write!(
                f,
                "cannot inject {key}: its token expired at {} (tokens count as expired 30 s early) and oauth-mux could not refresh it (`oauth-mux keepalive --once --provider {} --account {}` says why); otherwise log in again for this account (`oauth-mux route explain --provider {} --account {}` shows the repair command), then retry",
                expired_at.strftime("%Y-%m-%d %H:%M:%SZ"),
                key.provider,
                key.account,
                key.provider,
                key.account
            ),
            Self::Other(failure) => f.write_str(&failure.message),
        }
    }
}

impl From<InjectError> for Failure {
    fn from(err: InjectError) -> Failure {
        let code = match &err {
            InjectError::SecretUnavailable { .. } => ExitCode::SecretRead,
            InjectError::Expired { .. } => ExitCode::TokenRefresh,
            InjectError::Other(f) => f.code,
        };
        Failure::new(code, err.to_string())
    }
}

/// The configured pieces of one route.
struct Target<'a> {
    key: &'a RouteKey,
    account: &'a AccountConfig,
    def: &'a ProviderDefinition,
    config_dir_env: Option<String>,
}

impl<'a> Target<'a> {
    fn resolve(config: &'a Config, key: &'a RouteKey) -> Result<Target<'a>, InjectError> {
        let other = |msg: String| InjectError::Other(Failure::new(ExitCode::Config, msg));
        let pc: &ProviderConfig = config
            .providers
            .get(&key.provider)
            .ok_or_else(|| other(format!("provider {:?} is not configured", key.provider)))?;
        let account = pc.accounts.get(&key.account).ok_or_else(|| {
            other(format!(
                "account {:?} is not configured under providers.{}.accounts",
                key.account, key.provider
            ))
        })?;
        let def = config.definition(&pc.kind).ok_or_else(|| {
            other(format!(
                "providers.{}.kind {:?} names no built-in provider or provider_definitions entry",
                key.provider, pc.kind
            ))
        })?;
        let config_dir_env = pc
            .config_dir_env
            .clone()
            .or_else(|| def.injection.config_dir_env.clone());
        Ok(Target {
            key,
            account,
            def,
            config_dir_env,
        })
    }

    /// Whether the child needs a credential file written for it.
    fn needs_temp_credential(&self) -> bool {
        self.account.config_dir.is_none()
            && self.config_dir_env.is_some()
            && self.def.injection.credential_template.is_some()
    }

    fn breadcrumbs(&self, profile: Option<&str>) -> Vec<(String, String)> {
        let mut out = vec![
            ("OMUX_ACTIVE_PROVIDER".to_owned(), self.key.provider.clone()),
            ("OMUX_ACTIVE_ACCOUNT".to_owned(), self.key.account.clone()),
        ];
        if let Some(c) = &self.key.capability {
            out.push(("OMUX_ACTIVE_CAPABILITY".to_owned(), c.clone()));
        }
        if let Some(p) = profile {
            out.push(("OMUX_ACTIVE_PROFILE".to_owned(), p.to_owned()));
        }
        out
    }

    fn read_credential(&self, now: Timestamp) -> Result<Credential, InjectError> {
        let field = format!(
            "providers.{}.accounts.{}.secret",
            self.key.provider, self.key.account
        );
        let unavailable = |error| InjectError::SecretUnavailable {
            key: self.key.account_key(),
            error: Box::new(error),
        };
        let spec: SecretSpec =
            serde_json::from_value(self.account.secret.clone()).map_err(|_| {
                InjectError::Other(Failure::new(
                    ExitCode::Config,
                    format!("{field} is not a valid secret block; run `oauth-mux config validate`"),
                ))
            })?;
        let raw = crate::secrets::read_secret(&spec, &field).map_err(unavailable)?;
        let credential = parse_credential(&raw, &self.def.credential, now).map_err(unavailable)?;
        if credential.is_expired(now) {
            return Err(InjectError::Expired {
                key: self.key.clone(),
                expired_at: credential.expires_at.unwrap_or(now),
            });
        }
        Ok(credential)
    }
}

/// What `env` prints for `key`: reads no secret. Variables that carry or point at
/// token material are listed as withheld.
pub fn printable_plan(
    config: &Config,
    key: &RouteKey,
    profile: Option<&str>,
) -> Result<PrintablePlan, InjectError> {
    let target = Target::resolve(config, key)?;
    let mut exports = Vec::new();
    let mut withheld = Vec::new();
    if let Some(env) = &target.config_dir_env {
        if let Some(dir) = &target.account.config_dir {
            exports.push((
                env.clone(),
                crate::util::home::expand_tilde(dir).display().to_string(),
            ));
        } else if target.needs_temp_credential() {
            withheld.push(Withheld {
                name: env.clone(),
                reason: "points at a private credential file that exists only while `oauth-mux exec` runs",
            });
        }
    }
    for (name, _) in &target.def.injection.direct_env {
        withheld.push(Withheld {
            name: name.clone(),
            reason: "carries a token; oauth-mux never prints tokens",
        });
    }
    exports.extend(target.breadcrumbs(profile));
    Ok(PrintablePlan { exports, withheld })
}

/// Refresh `key`'s account when its writeback admits it; true when it has a usable token
/// afterwards.
fn refresh_first(config: &Config, key: &RouteKey, dirs: &Dirs) -> bool {
    let env = |name: &str| std::env::var(name).ok();
    crate::oauth::target_for(config, &dirs.data_dir, &key.provider, &key.account, &env).is_ok_and(
        |target| {
            crate::oauth::refresh(
                dirs,
                &target,
                crate::model::refresh::RefreshTrigger::Inject,
                None,
            )
            .outcome
            .ok()
        },
    )
}

/// Build the child's environment for `key`, reading the secret when a temp
/// credential file or a `direct_env` variable needs it. An expired token is refreshed
/// first when the account's writeback admits it; otherwise it fails closed, as on an
/// unreadable secret.
pub fn build_child_env(
    config: &Config,
    key: &RouteKey,
    profile: Option<&str>,
    dirs: &Dirs,
    now: Timestamp,
) -> Result<ChildEnvironment, InjectError> {
    let target = Target::resolve(config, key)?;
    let injection = &target.def.injection;
    let needs_secret = target.needs_temp_credential() || !injection.direct_env.is_empty();
    let credential = if needs_secret {
        Some(match target.read_credential(now) {
            // An expired token the account lets oauth-mux refresh is refreshed first.
            Err(InjectError::Expired { .. }) if refresh_first(config, key, dirs) => {
                target.read_credential(Timestamp::now())?
            }
            other => other?,
        })
    } else {
        None
    };
    let mut vars: Vec<(String, OsString)> = Vec::new();
    let mut credential_dir = None;
    if let Some(env) = &target.config_dir_env {
        if let Some(dir) = &target.account.config_dir {
            vars.push((
                env.clone(),
                crate::util::home::expand_tilde(dir).into_os_string(),
            ));
        } else if let (Some(template), Some(cred)) =
            (&injection.credential_template, credential.as_ref())
        {
            let rendered = render_template(template, cred, target.def.credential.expires_at_unit);
            let io_fail = |what: &str, e: std::io::Error| {
                InjectError::Other(Failure::new(
                    ExitCode::Error,
                    format!(
                        "cannot {what} for {key}: {} (check OMUX_RUNTIME_DIR / TMPDIR)",
                        e.kind()
                    ),
                ))
            };
            let dir = PrivateCredentialDir::create_in_runtime_or_tmp(
                &dirs.runtime_dir.join("credentials"),
            )
            .map_err(|e| io_fail("create a private credential dir", e))?;
            dir.write_file(&injection.credential_filename, rendered.as_bytes())
                .map_err(|e| io_fail("write the credential file", e))?;
            vars.push((env.clone(), dir.path().as_os_str().to_owned()));
            credential_dir = Some(dir);
        }
    }
    if let Some(cred) = &credential {
        for (name, which) in &injection.direct_env {
            let value = match which.as_str() {
                "refresh_token" => cred.refresh_token.as_ref().map(|s| s.expose()),
                _ => Some(cred.access_token.expose()),
            };
            if let Some(v) = value {
                vars.push((name.clone(), OsString::from(v)));
            }
        }
    }
    vars.extend(
        target
            .breadcrumbs(profile)
            .into_iter()
            .map(|(k, v)| (k, OsString::from(v))),
    );
    Ok(ChildEnvironment {
        remove: config.secret_environment().into_iter().collect(),
        vars,
        credential_dir,
    })
}

/// Fill `{{access_token}}`, `{{refresh_token}}` (empty when absent) and
/// `{{expires_at}}` (in the definition's expiry unit, seconds by default; empty
/// when unknown). Values are JSON-string-escaped, since templates are JSON.
fn render_template(template: &str, cred: &Credential, unit: Option<ExpiresAtUnit>) -> String {
    let escape = |s: &str| {
        let quoted = serde_json::to_string(s).unwrap_or_default();
        quoted[1..quoted.len().saturating_sub(1)].to_owned()
    };
    let expires = cred
        .expires_at
        .map(|t| match unit {
            Some(ExpiresAtUnit::Milliseconds) => t.as_millisecond().to_string(),
            _ => t.as_second().to_string(),
        })
        .unwrap_or_default();
    template
        .replace("{{access_token}}", &escape(cred.access_token.expose()))
        .replace(
            "{{refresh_token}}",
            &cred
                .refresh_token
                .as_ref()
                .map(|r| escape(r.expose()))
                .unwrap_or_default(),
        )
        .replace("{{expires_at}}", &expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{Secret, TokenKind};

    #[test]
    fn template_renders_tokens_escaped_and_expiry_in_the_unit() {
        let cred = Credential {
            access_token: Secret::new("acc\"ess".into()),
            refresh_token: None,
            expires_at: Some(Timestamp::from_second(1_700_000_000).unwrap()),
            kind: TokenKind::Bearer,
            identity: None,
        };
        let t = r#"{"a":"{{access_token}}","r":"{{refresh_token}}","e":{{expires_at}}}"#;
        assert_eq!(
            render_template(t, &cred, None),
            r#"{"a":"acc\"ess","r":"","e":1700000000}"#
        );
        assert!(
            render_template(t, &cred, Some(ExpiresAtUnit::Milliseconds)).contains("1700000000000")
        );
    }
}
