//! Fresh tokens for a managed session: at launch, an account whose token is due (or
//! expired) and refreshable is refreshed before it joins the pool; during the session the
//! pool's [`Renewer`] is [`SessionRenewer`], which refreshes through `oauth::refresh` (the
//! real CLIs' locks, the field-preserving write) and turns the refreshed store into the
//! credential the proxy swaps in (`credentials::materialize`).

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

use super::credentials::{self, Unusable};
use super::session::AuthKind;
use super::status::HarnessKind;
use crate::model::refresh::{RefreshOutcome, RefreshTrigger, due_at, is_due};
use crate::oauth::{self, RefreshTarget};
use crate::proxy::pool::{AccountId, Credential, Renewal, Renewer};
use crate::secrets::{self, Secret};
use crate::store::paths::Dirs;
use crate::util::fingerprint::short_hash;

/// An account's credential at launch, refreshed first when it was due.
pub struct Launched {
    pub credential: Credential,
    pub auth: AuthKind,
    /// When its access token expires (`None`: it does not, or it is not known).
    pub expires_at: Option<Timestamp>,
}

/// Whether planning a session's pool refreshes what is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchRefresh {
    /// The launch: refresh a due (or expired) refreshable account before it joins.
    Now,
    /// A report of what the launch would do (`preflight`, `canary`): refresh nothing, count a
    /// refreshable account with an expired token in, as the launch would refresh it.
    Predict,
}

/// Turn an account's stored credential into a pool credential; when its token is due for a
/// refresh (or expired) and `target` says it may be refreshed, refresh it first (`Now`). A
/// refresh that fails leaves a still-valid token in use; an expired one then keeps the
/// account out.
pub fn launch_credential(
    dirs: &Dirs,
    harness: HarnessKind,
    definition: &crate::config::ProviderDefinition,
    target: Option<&RefreshTarget>,
    raw: Secret,
    now: Timestamp,
    mode: LaunchRefresh,
) -> Result<Launched, String> {
    let expires_at = secrets::parse_credential(&raw, &definition.credential, now)
        .ok()
        .filter(|c| c.kind == secrets::TokenKind::Bearer)
        .and_then(|c| c.expires_at);
    if mode == LaunchRefresh::Predict
        && let (Some(_), Some(at)) = (target, expires_at)
        && crate::model::refresh::is_expired(Some(at), now)
    {
        // The launch refreshes it first: judge its shape as of a moment it was still valid.
        let valid_then = at
            .checked_sub(crate::model::refresh::EXPIRY_SKEW * 2)
            .unwrap_or(at);
        return credentials::materialize(harness, definition, &raw, valid_then)
            .map(|(credential, auth)| Launched {
                credential,
                auth,
                expires_at: Some(at),
            })
            .map_err(|why| why.to_string());
    }
    let mut raw = raw;
    let mut expires_at = expires_at;
    let mut refresh_problem = None;
    if let Some(target) = target
        && mode == LaunchRefresh::Now
        && is_due(expires_at, target.margin, now)
    {
        let report = oauth::refresh(dirs, target, RefreshTrigger::AheadOfExpiry, None);
        match (report.outcome, report.store_text) {
            (o, Some(text)) if o.ok() => {
                raw = text;
                expires_at = report.expires_at;
            }
            (RefreshOutcome::Rejected, _) => {
                return Err("its refresh token was rejected; log in again".into());
            }
            _ => refresh_problem = Some(report.message),
        }
    }
    match credentials::materialize(harness, definition, &raw, now) {
        Ok((credential, auth)) => Ok(Launched {
            credential,
            auth,
            expires_at,
        }),
        Err(Unusable::Expired) => Err(match refresh_problem {
            Some(why) => format!("token expired and its refresh failed: {why}"),
            None => "token expired".into(),
        }),
        Err(why) => Err(why.to_string()),
    }
}

struct Entry {
    target: RefreshTarget,
    definition: crate::config::ProviderDefinition,
    state: Mutex<State>,
}

struct State {
    /// Fingerprint of the access token the pool holds.
    fingerprint: String,
    expires_at: Option<Timestamp>,
    gave_up: bool,
}

/// The session pool's renewer: one refresh target per refreshable account.
pub struct SessionRenewer {
    dirs: Dirs,
    harness: HarnessKind,
    accounts: HashMap<AccountId, Entry>,
}

impl SessionRenewer {
    pub fn new(dirs: Dirs, harness: HarnessKind) -> SessionRenewer {
        SessionRenewer {
            dirs,
            harness,
            accounts: HashMap::new(),
        }
    }

    /// Renew `account` (holding `credential`, expiring at `expires_at`) through `target`.
    pub fn add(
        &mut self,
        account: AccountId,
        target: RefreshTarget,
        credential: &Credential,
        expires_at: Option<Timestamp>,
    ) {
        self.accounts.insert(
            account,
            Entry {
                definition: target.definition.clone(),
                target,
                state: Mutex::new(State {
                    fingerprint: short_hash(credential.secret()),
                    expires_at,
                    gave_up: false,
                }),
            },
        );
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

impl Renewer for SessionRenewer {
    fn due_at(&self, account: &AccountId) -> Option<Timestamp> {
        let entry = self.accounts.get(account)?;
        let state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.gave_up {
            return None;
        }
        due_at(state.expires_at, entry.target.margin)
    }

    fn renew(
        &self,
        account: &AccountId,
        trigger: RefreshTrigger,
        used: Option<&Credential>,
    ) -> Renewal {
        let Some(entry) = self.accounts.get(account) else {
            return Renewal::GaveUp;
        };
        let seen = {
            let state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.gave_up {
                return Renewal::GaveUp;
            }
            used.map_or_else(|| state.fingerprint.clone(), |c| short_hash(c.secret()))
        };
        let report = oauth::refresh(&self.dirs, &entry.target, trigger, Some(&seen));
        let mut state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
        match report.outcome {
            RefreshOutcome::Refreshed | RefreshOutcome::Adopted | RefreshOutcome::Recovered => {
                let Some(text) = report.store_text else {
                    return Renewal::Failed;
                };
                match credentials::materialize(
                    self.harness,
                    &entry.definition,
                    &text,
                    Timestamp::now(),
                ) {
                    Ok((credential, _)) => {
                        state.fingerprint = short_hash(credential.secret());
                        state.expires_at = report.expires_at;
                        Renewal::Renewed(credential)
                    }
                    Err(_) => Renewal::Failed,
                }
            }
            RefreshOutcome::NotNeeded => {
                state.expires_at = report.expires_at.or(state.expires_at);
                Renewal::Unchanged
            }
            RefreshOutcome::Rejected | RefreshOutcome::NotAdmitted => {
                state.gave_up = true;
                Renewal::GaveUp
            }
            RefreshOutcome::Failed => Renewal::Failed,
        }
    }
}
