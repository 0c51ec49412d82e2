//! Turning config + selectors into the candidate list that `model::selection`
//! decides over, with each route's local runtime readiness.

use std::path::{Path, PathBuf};

use crate::cli::Selectors;
use crate::config::schema::{AccountConfig, ProviderConfig};
use crate::config::{Config, ProviderDefinition};
use crate::exit::{ExitCode, Failure};
use crate::model::RouteKey;
use crate::model::runtime::RuntimeReadiness;
use crate::model::selection::Candidate;
use crate::store::account_lock;
use crate::store::paths::Dirs;
use crate::util::home::expand_tilde;

/// What selection runs over.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub profile: Option<String>,
    pub candidates: Vec<Candidate>,
    pub primary_capability: Option<String>,
    pub fallback_chain: Vec<String>,
}

/// Build the candidate list for the selectors: a profile's routes in order, or a
/// provider's accounts. Capability aliases resolve to their canonical names.
pub fn gather(config: &Config, sel: &Selectors, dirs: &Dirs) -> Result<RouteRequest, Failure> {
    let profile_name = sel.profile.clone().or_else(|| {
        if sel.provider.is_some() {
            None
        } else {
            config.defaults.profile.clone().or_else(|| {
                (config.profiles.len() == 1)
                    .then(|| config.profiles.keys().next().cloned())
                    .flatten()
            })
        }
    });
    let mut keys: Vec<RouteKey> = Vec::new();
    let mut chain = Vec::new();
    if let Some(name) = &profile_name {
        let profile = config.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
            Failure::new(
                ExitCode::Usage,
                format!(
                    "unknown profile {name:?}; known profiles: {}",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        chain = profile.capability_degradation_chain.clone();
        for spec in &profile.providers {
            let key = RouteKey::parse(spec)
                .map_err(|e| Failure::new(ExitCode::Config, format!("profiles.{name}: {e}")))?;
            keys.push(key);
        }
    } else {
        let provider = sel
            .provider
            .clone()
            .or_else(|| config.defaults.provider.clone())
            .or_else(|| {
                (config.providers.len() == 1)
                    .then(|| config.providers.keys().next().cloned())
                    .flatten()
            });
        let Some(provider) = provider else {
            return Err(Failure::new(
                ExitCode::Usage,
                "choose routes with --profile or --provider (no default profile or provider is configured)",
            ));
        };
        let pc = provider_config(config, &provider)?;
        for account in pc.accounts.keys() {
            keys.push(RouteKey::new(&provider, account, None));
        }
    }
    if let Some(p) = &sel.provider {
        provider_config(config, p)?;
        keys.retain(|k| &k.provider == p);
    }
    if let Some(a) = &sel.account {
        keys.retain(|k| &k.account == a);
        if keys.is_empty() {
            return Err(Failure::new(
                ExitCode::Usage,
                format!(
                    "no route matches --account {a:?}; run `oauth-mux accounts list` to see accounts"
                ),
            ));
        }
    }
    let mut candidates = Vec::new();
    let mut primary = None;
    for mut key in keys {
        let pc = provider_config(config, &key.provider)?;
        let Some(account) = pc.accounts.get(&key.account) else {
            continue;
        };
        let def = config.definition(&pc.kind);
        let wanted = sel
            .capability
            .clone()
            .map(|c| canonical_capability(def, &c));
        match (&key.capability, &wanted) {
            (None, Some(c)) => key.capability = Some(c.clone()),
            (None, None) => {
                key.capability = config.defaults.capability.clone().or_else(|| {
                    def.and_then(|d| d.capabilities.first())
                        .map(|c| c.name.clone())
                });
            }
            _ => {}
        }
        if primary.is_none() {
            primary = wanted;
        }
        let runtime = readiness(dirs, &key, pc, account, def);
        candidates.push(Candidate {
            key,
            priority: account.priority,
            runtime,
        });
    }
    // Without --capability: the configured default capability when routes offer
    // it; else, when the profile has a degradation chain, its first route's
    // capability; else no capability filter (routes in order).
    if primary.is_none() {
        let offered = |c: &String| {
            candidates
                .iter()
                .any(|k| k.key.capability.as_ref() == Some(c))
        };
        primary = config
            .defaults
            .capability
            .clone()
            .filter(offered)
            .or_else(|| {
                (!chain.is_empty())
                    .then(|| candidates.first().and_then(|c| c.key.capability.clone()))
                    .flatten()
            });
    }
    if let Some(wanted) = &primary
        && sel.capability.is_some()
        && !candidates
            .iter()
            .any(|c| c.key.capability.as_ref() == Some(wanted) || chain.contains(wanted))
    {
        let mut have: Vec<String> = candidates
            .iter()
            .filter_map(|c| c.key.capability.clone())
            .collect();
        have.dedup();
        return Err(Failure::new(
            ExitCode::Usage,
            format!(
                "no route has capability {wanted:?}; these routes offer: {}",
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            ),
        ));
    }
    Ok(RouteRequest {
        profile: profile_name,
        candidates,
        primary_capability: primary,
        fallback_chain: chain,
    })
}

fn provider_config<'a>(config: &'a Config, name: &str) -> Result<&'a ProviderConfig, Failure> {
    config.providers.get(name).ok_or_else(|| {
        let known: Vec<&str> = config.providers.keys().map(String::as_str).collect();
        Failure::new(
            ExitCode::Usage,
            format!(
                "unknown provider {name:?}; configured providers: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
        )
    })
}

/// Resolve a capability alias (`max` → `codex-max`).
pub fn canonical_capability(def: Option<&ProviderDefinition>, name: &str) -> String {
    def.and_then(|d| d.capability(name))
        .map_or_else(|| name.to_owned(), |c| c.name.clone())
}

/// Local readiness of one route: repair lock, binaries, the account's config dir
/// and session files. Reads no token values and writes nothing.
pub fn readiness(
    dirs: &Dirs,
    key: &RouteKey,
    pc: &ProviderConfig,
    account: &AccountConfig,
    def: Option<&ProviderDefinition>,
) -> RuntimeReadiness {
    if let Some(holder) = account_lock::probe(dirs, &key.provider, &key.account) {
        return RuntimeReadiness::RepairInProgress {
            started_at: holder.started_at.parse().ok(),
        };
    }
    let Some(def) = def else {
        return RuntimeReadiness::Ready;
    };
    for binary in &def.runtime.required_binaries {
        if find_on_path(binary).is_none() {
            return RuntimeReadiness::MissingBinary {
                binary: binary.clone(),
            };
        }
    }
    if let Some(dir) = account.config_dir.as_deref().map(expand_tilde) {
        if !dir.is_dir() {
            return RuntimeReadiness::SessionUnavailable {
                what: "config_dir".into(),
            };
        }
        let env = pc
            .config_dir_env
            .as_deref()
            .or(def.injection.config_dir_env.as_deref());
        if env.is_some_and(|e| def.runtime.writable_paths.iter().any(|p| p == e))
            && !is_writable(&dir)
        {
            return RuntimeReadiness::UnwritableStore;
        }
        for session in &def.runtime.session_paths {
            if let Some((env_name, rel)) = session.split_once('/')
                && Some(env_name) == env
                && !dir.join(rel).exists()
            {
                return RuntimeReadiness::SessionUnavailable {
                    what: rel.to_owned(),
                };
            }
        }
    }
    RuntimeReadiness::Ready
}

/// The first executable named `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Whether the current user may create files in `dir` (no file is written).
pub fn is_writable(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        dir.metadata().is_ok_and(|m| !m.permissions().readonly())
    }
}
