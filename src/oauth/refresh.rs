//! One refresh of one account's store, safe against every other refresher (oauth-mux
//! processes and threads, the provider's own CLI) and against being killed at any step:
//!
//! 1. take the locks (`oauth::locks`), complete a recovery file a killed refresh left;
//! 2. read the store again: adopt a token another process refreshed meanwhile, or stop when
//!    it is no longer due (`model::refresh::decide_under_lock`);
//! 3. POST the refresh grant with the CLI's own body and headers;
//! 4. granted: write the recovery file, then — under the CLI's write lock, and only while the
//!    store still holds the refresh token that was spent (`model::refresh::may_write`) — replace
//!    the store atomically with only the token fields changed; remove the recovery file;
//! 5. rejected: give the CLI's locks back and watch the store briefly for tokens another
//!    refresher got; otherwise record the account dead `refresh_rejected` (the store is left
//!    untouched: its repair is a new login);
//! 6. network trouble or a provider error: nothing changes (exit 204 for a command).
//!
//! Every attempt appends one `token_refresh` event (labels, expiry, a fingerprint of the
//! refresh token used; never a token, path or body).

use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

use super::locks::RefreshLocks;
use super::recovery;
use super::store_file::{self, Snapshot};
use super::target::RefreshTarget;
use super::token_request;
use crate::evidence;
use crate::exit::ExitCode;
use crate::model::classify::Classification;
use crate::model::event::{Event, EventKind, TokenRefreshEvent};
use crate::model::grant::{GrantAnswer, grant_expiry, judge_answer};
use crate::model::health::EvidenceSource;
use crate::model::liveness::DeadReason;
use crate::model::refresh::{
    AfterRejection, RefreshOutcome, RefreshTrigger, UnderLock, after_rejection, decide_under_lock,
    may_write,
};
use crate::secrets::Secret;
use crate::store::paths::Dirs;
use crate::util::fingerprint::short_hash;

/// How long a rejected refresh watches the store for tokens another refresher got (Codex
/// writes its result only after taking `auth.lock`, which the rejected refresh held).
const REJECTION_GRACE: Duration = Duration::from_secs(3);

/// The environment variable that makes a refresh stop at a named step, for the crash tests:
/// `before_post` (locks held, nothing sent), `after_response` (the new tokens are in the
/// recovery file, the store is untouched), `mid_write` (the new store is written to its temp
/// file, not yet renamed). Never set in normal use.
pub const PAUSE_ENV: &str = "OMUX_TEST_REFRESH_PAUSE";

/// What went wrong when a refresh failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The token endpoint could not be reached (or timed out).
    Network,
    /// The token endpoint answered with an error that is not a rejection (5xx, 429, …).
    Provider,
    /// The store could not be read, parsed or written.
    Store,
    /// Another refresher held the locks too long.
    Lock,
}

/// What one refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// `provider:account`.
    pub account: String,
    pub outcome: RefreshOutcome,
    pub trigger: RefreshTrigger,
    /// Set when the outcome is `failed`.
    pub failure: Option<FailureKind>,
    /// The token endpoint's OAuth error code, when it sent one.
    pub oauth_error: Option<String>,
    pub http_status: Option<u16>,
    /// When the access token the store holds afterwards expires.
    pub expires_at: Option<Timestamp>,
    /// What happened, in words (no secret, no path).
    pub message: String,
    /// The store's text afterwards (for a session pool); never serialized.
    #[serde(skip)]
    pub store_text: Option<Secret>,
}

impl RefreshReport {
    /// The exit code of a command whose refresh ended like this.
    pub fn exit_code(&self) -> ExitCode {
        match (self.outcome, self.failure) {
            (RefreshOutcome::Rejected | RefreshOutcome::NotAdmitted, _) => ExitCode::TokenRefresh,
            (RefreshOutcome::Failed, Some(FailureKind::Network | FailureKind::Provider)) => {
                ExitCode::Network
            }
            (RefreshOutcome::Failed, Some(FailureKind::Store)) => ExitCode::SecretRead,
            (RefreshOutcome::Failed, _) => ExitCode::Error,
            _ => ExitCode::Ok,
        }
    }
}

/// Stop here when the crash tests ask (see [`PAUSE_ENV`]).
fn pause_point(step: &str) {
    if std::env::var(PAUSE_ENV).is_ok_and(|v| v == step) {
        eprintln!("oauth-mux: paused at {step} ({PAUSE_ENV})");
        std::thread::sleep(Duration::from_secs(300));
    }
}

/// Refresh `target` now. `seen_access` is the fingerprint (`util::fingerprint`) of the access
/// token the caller decided on: when the store holds another one, it is adopted. `None`: the
/// caller has no view; only whether the stored token is due decides.
pub fn refresh(
    dirs: &Dirs,
    target: &RefreshTarget,
    trigger: RefreshTrigger,
    seen_access: Option<&str>,
) -> RefreshReport {
    let mut run = Run {
        dirs,
        target,
        report: RefreshReport {
            account: target.key.to_string(),
            outcome: RefreshOutcome::Failed,
            trigger,
            failure: None,
            oauth_error: None,
            http_status: None,
            expires_at: None,
            message: String::new(),
            store_text: None,
        },
        used_refresh_hash: None,
    };
    run.go(seen_access);
    run.log();
    run.report
}

/// What became of a pending write.
enum Written {
    /// The store holds the new tokens (read back).
    Done(Snapshot),
    /// The store no longer holds the refresh token they were bought with: another writer won.
    StoreMovedOn(Snapshot),
    Failed(FailureKind, String),
}

struct Run<'a> {
    dirs: &'a Dirs,
    target: &'a RefreshTarget,
    report: RefreshReport,
    used_refresh_hash: Option<String>,
}

impl Run<'_> {
    fn fail(&mut self, kind: FailureKind, message: String) {
        self.report.outcome = RefreshOutcome::Failed;
        self.report.failure = Some(kind);
        self.report.message = message;
    }

    fn settle(&mut self, outcome: RefreshOutcome, snapshot: Snapshot, message: &str) {
        self.report.outcome = outcome;
        self.report.expires_at = snapshot.credential.expires_at;
        self.report.store_text = Some(snapshot.text);
        self.report.message = message.to_owned();
    }

    fn read(&mut self) -> Option<Snapshot> {
        match store_file::read(
            &self.target.store,
            &self.target.definition,
            Timestamp::now(),
        ) {
            Ok(s) => Some(s),
            Err(problem) => {
                self.fail(
                    FailureKind::Store,
                    format!("{}: {problem}", self.target.key),
                );
                None
            }
        }
    }

    fn go(&mut self, seen_access: Option<&str>) {
        let target = self.target;
        let protocol = target
            .definition
            .refresh
            .as_ref()
            .map(|r| r.lock_protocol)
            .unwrap_or_default();
        let mut locks = match RefreshLocks::acquire(protocol, &self.dirs.runtime_dir, &target.store)
        {
            Ok(l) => l,
            Err(problem) => {
                return self.fail(FailureKind::Lock, format!("{}: {problem}", target.key));
            }
        };
        let recovered = self.complete_recovery(&locks, protocol);
        let Some(snapshot) = self.read() else { return };
        let seen = seen_access.map_or_else(|| snapshot.access_fingerprint(), str::to_owned);
        let decision = decide_under_lock(
            &seen,
            &snapshot.access_fingerprint(),
            snapshot.credential.expires_at,
            target.margin,
            self.report.trigger,
            Timestamp::now(),
        );
        match decision {
            UnderLock::AdoptNewer | UnderLock::NotNeeded if recovered => {
                return self.settle(
                    RefreshOutcome::Recovered,
                    snapshot,
                    "completed the write of tokens a killed refresh had received",
                );
            }
            UnderLock::AdoptNewer => {
                return self.settle(
                    RefreshOutcome::Adopted,
                    snapshot,
                    "another process had refreshed the token; using it",
                );
            }
            UnderLock::NotNeeded => {
                return self.settle(
                    RefreshOutcome::NotNeeded,
                    snapshot,
                    "the token is not due for a refresh",
                );
            }
            UnderLock::Refresh => {}
        }
        let Some(used) = snapshot.refresh_token().map(str::to_owned) else {
            self.report.outcome = RefreshOutcome::NotAdmitted;
            self.report.expires_at = snapshot.credential.expires_at;
            self.report.message = format!(
                "{}: the store holds no refresh token; log in again",
                target.key
            );
            return;
        };
        self.used_refresh_hash = Some(short_hash(&used));
        pause_point("before_post");
        let response = match token_request::post(
            &target.definition,
            &target.token_url,
            &used,
            self.report.trigger,
        ) {
            Ok(r) => r,
            Err(problem) => {
                return self.fail(
                    FailureKind::Network,
                    format!("{}: {}", target.key, problem.0),
                );
            }
        };
        self.report.http_status = Some(response.status);
        match judge_answer(response.status, response.body.expose()) {
            GrantAnswer::Granted(grant) => {
                for token in [
                    Some(&grant.access_token),
                    grant.refresh_token.as_ref(),
                    grant.id_token.as_ref(),
                ]
                .into_iter()
                .flatten()
                {
                    crate::secrets::redact::register(token);
                }
                let now = Timestamp::now();
                let expiry_source = target
                    .definition
                    .refresh
                    .as_ref()
                    .map(|r| r.expiry)
                    .unwrap_or(crate::model::grant::ExpirySource::ExpiresIn);
                let expires_at = grant_expiry(&grant, expiry_source, now);
                let rfile = recovery::path_for(&self.dirs.state_dir, &target.store);
                if let Err(e) = recovery::save(&rfile, &used, &grant, expires_at, now) {
                    // Without the recovery file a crash now would lose the rotated token;
                    // carry on (the store write follows at once) but say so.
                    crate::output::warn(&format!(
                        "oauth-mux: warning: could not write the refresh recovery file ({})",
                        e.kind()
                    ));
                }
                pause_point("after_response");
                let pending = recovery::Pending {
                    used_refresh_token_hash: short_hash(&used),
                    grant,
                    expires_at,
                    received_at: now,
                };
                match self.write_pending(&locks, protocol, &pending, &rfile) {
                    Written::Done(after) => {
                        self.settle(RefreshOutcome::Refreshed, after, "refreshed")
                    }
                    Written::StoreMovedOn(current) => self.settle(
                        RefreshOutcome::Adopted,
                        current,
                        "another process wrote newer tokens meanwhile; using them",
                    ),
                    Written::Failed(kind, why) => self.fail(
                        kind,
                        format!(
                            "{}: {why}; the new tokens wait in the recovery file",
                            target.key
                        ),
                    ),
                }
            }
            GrantAnswer::Rejected { error } => {
                self.report.oauth_error = Some(error.clone());
                locks.release_cli();
                self.after_rejection(&used, &error);
            }
            GrantAnswer::Transient { error } => {
                self.report.oauth_error = error.clone();
                self.fail(
                    FailureKind::Provider,
                    format!(
                        "{}: the token endpoint answered {} ({}); nothing changed, try again later",
                        target.key,
                        response.status,
                        error.as_deref().unwrap_or("no error code")
                    ),
                );
            }
        }
    }

    /// Write `pending` (tokens bought with the refresh token it names) into the store, under
    /// the CLI's write lock and only while the store still holds that refresh token; the
    /// recovery file goes once the store has them, or once the store moved on without them.
    fn write_pending(
        &mut self,
        locks: &RefreshLocks,
        protocol: crate::config::provider_def::LockProtocol,
        pending: &recovery::Pending,
        rfile: &std::path::Path,
    ) -> Written {
        let target = self.target;
        let now = Timestamp::now();
        let _write = match locks.write_lock(protocol, &target.store) {
            Ok(w) => w,
            Err(problem) => return Written::Failed(FailureKind::Lock, problem.to_string()),
        };
        let read = |def| store_file::read(&target.store, def, now);
        let current = match read(&target.definition) {
            Ok(c) => c,
            Err(problem) => return Written::Failed(FailureKind::Store, problem.to_string()),
        };
        let stored = current.refresh_token().map(short_hash);
        if !may_write(&pending.used_refresh_token_hash, stored.as_deref()) {
            recovery::remove(rfile);
            return Written::StoreMovedOn(current);
        }
        let written = store_file::render_with_grant(
            &current,
            &target.definition,
            &pending.grant,
            pending.expires_at,
            pending.received_at,
        )
        .and_then(|text| {
            store_file::replace(&target.store, &text, current.mode, &mut || {
                pause_point("mid_write")
            })
        })
        .and_then(|()| read(&target.definition));
        match written {
            Ok(after) => {
                recovery::remove(rfile);
                Written::Done(after)
            }
            Err(problem) => Written::Failed(FailureKind::Store, problem.to_string()),
        }
    }

    fn after_rejection(&mut self, used: &str, error: &str) {
        let target = self.target;
        let started = Instant::now();
        loop {
            let Some(snapshot) = self.read() else { return };
            if after_rejection(used, snapshot.refresh_token()) == AfterRejection::AdoptNewer {
                return self.settle(
                    RefreshOutcome::Adopted,
                    snapshot,
                    "another process had refreshed the token; using it",
                );
            }
            if started.elapsed() >= REJECTION_GRACE {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.report.outcome = RefreshOutcome::Rejected;
        self.report.message = format!(
            "{}: the token endpoint rejected the refresh token ({error}); the store is left as it \
             was; log in again (`oauth-mux repair-plan --provider {} --account {}` shows how)",
            target.key, target.key.provider, target.key.account
        );
        let class = Classification::Dead {
            reason: DeadReason::RefreshRejected,
        };
        if let Err(e) = evidence::record(
            self.dirs,
            &target.key,
            &class,
            self.report.http_status,
            EvidenceSource::TokenRefresh,
            Timestamp::now(),
        ) {
            crate::output::warn(&format!(
                "oauth-mux: warning: could not record the rejected refresh: {e}"
            ));
        }
    }

    /// Complete (or discard) the recovery file of a killed refresh; true when completed.
    fn complete_recovery(
        &mut self,
        locks: &RefreshLocks,
        protocol: crate::config::provider_def::LockProtocol,
    ) -> bool {
        let target = self.target;
        let rfile = recovery::path_for(&self.dirs.state_dir, &target.store);
        // Only lock holders write these, so temp files beside them are left by killed writers.
        let _ = crate::store::atomic::remove_stale_temps(&target.store);
        let _ = crate::store::atomic::remove_stale_temps(&rfile);
        let Some(pending) = recovery::load(&rfile) else {
            return false;
        };
        match self.write_pending(locks, protocol, &pending, &rfile) {
            Written::Done(_) => {
                self.used_refresh_hash = Some(pending.used_refresh_token_hash);
                true
            }
            Written::StoreMovedOn(_) | Written::Failed(..) => false,
        }
    }

    /// Append the `token_refresh` event and, after a success, clear the dead records the new
    /// token refutes.
    fn log(&self) {
        let r = &self.report;
        if matches!(
            r.outcome,
            RefreshOutcome::Refreshed | RefreshOutcome::Adopted | RefreshOutcome::Recovered
        ) && let Err(e) = evidence::clear_refuted_by_refresh(self.dirs, &self.target.key)
        {
            crate::output::warn(&format!(
                "oauth-mux: warning: could not clear the account's dead records: {e}"
            ));
        }
        let mut event = TokenRefreshEvent::new(r.account.clone(), r.outcome, true);
        event.trigger = Some(r.trigger.label().to_owned());
        event.reason = r
            .failure
            .map(|f| crate::model::event::label_of(&f))
            .or_else(|| {
                (r.outcome == RefreshOutcome::NotAdmitted).then(|| "no_refresh_token".into())
            });
        event.oauth_error = r.oauth_error.clone();
        event.http_status = r.http_status;
        event.new_expires_at = r.expires_at.filter(|_| r.outcome.ok());
        event.refresh_token_hash = self.used_refresh_hash.clone();
        evidence::append_event(
            self.dirs,
            &Event::new(Timestamp::now(), EventKind::TokenRefresh(event)),
        );
    }
}

/// The `token_refresh` event of a refresh that was not admitted (nothing was attempted).
pub fn log_not_admitted(dirs: &Dirs, account: &str, trigger: RefreshTrigger, reason: &str) {
    let mut event = TokenRefreshEvent::new(account, RefreshOutcome::NotAdmitted, false);
    event.trigger = Some(trigger.label().to_owned());
    event.reason = Some(reason.to_owned());
    evidence::append_event(
        dirs,
        &Event::new(Timestamp::now(), EventKind::TokenRefresh(event)),
    );
}
