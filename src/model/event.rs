//! The repair event log's events (`<state>/repair-events.jsonl`, SPEC §6): one typed enum
//! for every writer and every reader. The field names are the stable on-disk format
//! (docs/routing.md, "Events"); a line a reader cannot read (a newer kind, a torn line) is
//! skipped and counted, never fatal.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::refresh::RefreshOutcome;

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub ts: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn new(ts: Timestamp, kind: EventKind) -> Event {
        Event { ts, kind }
    }

    /// The route scope the event is about (all `None` for events without one).
    pub fn scope(&self) -> HandoffScope {
        match &self.kind {
            EventKind::RepairRun(e)
            | EventKind::DaemonExecution(e)
            | EventKind::DaemonHandoff(e) => e.scope.clone(),
            EventKind::Login(e) => HandoffScope {
                provider: Some(e.provider.clone()),
                account: Some(e.account.clone()),
                ..HandoffScope::default()
            },
            _ => HandoffScope::default(),
        }
    }

    /// How the recorded action ended, for events that record one.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.kind {
            EventKind::RepairRun(e)
            | EventKind::DaemonExecution(e)
            | EventKind::DaemonHandoff(e) => Some(&e.outcome),
            EventKind::HealthReset { outcome, .. } => Some(outcome),
            EventKind::Login(e) => Some(&e.outcome),
            _ => None,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A probe attempt, run or not.
    Probe(ProbeEvent),
    /// A token refresh attempt, or the refusal to make one.
    TokenRefresh(TokenRefreshEvent),
    /// `health --reset KEY` removed records.
    HealthReset {
        key: String,
        removed: usize,
        #[serde(flatten)]
        outcome: Outcome,
    },
    /// `stay-afloat launch` found the elected route stale and elected another.
    LaunchReselect { route: String, reason: String },
    /// `repair run` acted (or declined to) on a route.
    RepairRun(RouteEvent),
    /// A stay-afloat execute tick ran an admitted action.
    DaemonExecution(RouteEvent),
    /// A repair handoff to a human: queued, acknowledged, resolved, or settled by itself.
    DaemonHandoff(RouteEvent),
    /// A login handoff (`codex login-device`, `claude login`) ran the harness's own login
    /// for one account, and what its store held afterwards.
    Login(LoginEvent),
    /// `init`, `setup`, `enroll` or `codex config-merge` wrote the config.
    ConfigEdited(ConfigEditEvent),
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `executed`, `noop`, `handoff_queued`, `route_selectable`, …
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub ok: bool,
    #[serde(default)]
    pub executed: bool,
}

/// The route scope a handoff (and every route event) belongs to: profile, provider,
/// account, capability. Missing fields are `None`, and `None` equals only `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffScope {
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub capability: Option<String>,
}

impl HandoffScope {
    /// Whether this scope matches a filter: every field the filter sets must be equal.
    pub fn matches(&self, filter: &HandoffScope) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        eq(&filter.profile, &self.profile)
            && eq(&filter.provider, &self.provider)
            && eq(&filter.account, &self.account)
            && eq(&filter.capability, &self.capability)
    }
}

/// An event about a route (or, without `route`, about a selector scope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteEvent {
    #[serde(flatten)]
    pub scope: HandoffScope,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteFacts>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What a route event records about the route's repair action (labels, never values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteFacts {
    pub route: String,
    pub action: String,
    #[serde(default)]
    pub command: Option<String>,
    pub budget: String,
    pub repair_owner: String,
    pub agent_safe: bool,
    pub spends_provider_calls: bool,
    pub interactive: bool,
    pub mutating: bool,
    #[serde(default)]
    pub mediation: Option<String>,
    pub writeback_capability: String,
    pub automatic_refresh_admitted: bool,
}

/// One login handoff: which account, the harness command (words, never a path), how the
/// login ended and whether the account's store then held usable credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginEvent {
    pub provider: String,
    pub account: String,
    /// `codex login --device-auth`, `claude auth login`.
    pub command: String,
    /// The login's exit code (`None` when it could not start or a signal ended it).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// What the store held afterwards: `usable`, `missing`, `unreadable`, `expired`, ...
    pub credentials: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One write of the config file by an oauth-mux command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigEditEvent {
    /// `init`, `setup`, `enroll`, `config_merge`.
    pub action: String,
    #[serde(default)]
    pub provider: Option<String>,
    /// The accounts the write added.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Paths of the config that changed (`providers.codex.accounts.max-4`).
    #[serde(default)]
    pub changed: Vec<String>,
    /// Whether the previous config was kept as a backup (a new config has none).
    pub backup_kept: bool,
}

/// One probe attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeEvent {
    pub route: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub class: Option<String>,
    pub budget: String,
    pub spends_provider_calls: bool,
    pub contacts_provider: bool,
    pub outcome: String,
    pub ok: bool,
    #[serde(default)]
    pub message: Option<String>,
}

/// One token refresh attempt (or the refusal to make one): labels, times and a short
/// fingerprint of the refresh token used; never a token, a path or a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRefreshEvent {
    /// `provider:account`.
    pub route: String,
    pub outcome: RefreshOutcome,
    pub ok: bool,
    /// Why: the admission reason when not admitted, else what decided the outcome.
    #[serde(default)]
    pub reason: Option<String>,
    /// What asked for the refresh (`ahead_of_expiry`, `unauthorized`, `keepalive`, `probe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Whether the account's writeback admits a refresh.
    #[serde(default)]
    pub admitted: bool,
    /// The token endpoint's OAuth error code (`refresh_token_reused`, `invalid_grant`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_error: Option<String>,
    /// The HTTP status of the token endpoint's answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The expiry of the access token the account has afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_expires_at: Option<Timestamp>,
    /// `model::refresh` fingerprint (12 hex digits of SHA-256) of the refresh token used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_hash: Option<String>,
}

impl TokenRefreshEvent {
    /// An event for `route` with `outcome` (and `ok` from it); the rest is filled in by
    /// the caller.
    pub fn new(route: impl Into<String>, outcome: RefreshOutcome, admitted: bool) -> Self {
        TokenRefreshEvent {
            route: route.into(),
            outcome,
            ok: outcome.ok(),
            reason: None,
            trigger: None,
            admitted,
            oauth_error: None,
            http_status: None,
            new_expires_at: None,
            refresh_token_hash: None,
        }
    }
}

/// The snake_case label an enum serializes to (`spend_provider`, `probe_needed`), for
/// events that record labels.
pub fn label_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-12-07T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn route_events_keep_the_flat_on_disk_shape() {
        let event = Event::new(
            at(),
            EventKind::DaemonHandoff(RouteEvent {
                scope: HandoffScope {
                    profile: Some("p".into()),
                    provider: Some("codex".into()),
                    account: Some("a1".into()),
                    capability: None,
                },
                route: None,
                outcome: Outcome {
                    outcome: "handoff_queued".into(),
                    reason: Some("interactive".into()),
                    ok: false,
                    executed: false,
                },
            }),
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ts": "2026-12-07T10:00:00Z", "kind": "daemon_handoff",
                "profile": "p", "provider": "codex", "account": "a1", "capability": null,
                "outcome": "handoff_queued", "reason": "interactive", "ok": false,
                "executed": false})
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.scope().account.as_deref(), Some("a1"));
    }

    #[test]
    fn token_refresh_events_read_the_old_shape_and_write_the_new_one() {
        let old = serde_json::json!({"ts": "2026-12-07T10:00:00Z", "kind": "token_refresh",
            "route": "codex:a", "outcome": "not_admitted", "ok": false,
            "reason": "token_expired_refresh_not_admitted"});
        let back: Event = serde_json::from_value(old).unwrap();
        let EventKind::TokenRefresh(e) = &back.kind else {
            panic!("{back:?}");
        };
        assert_eq!(
            (e.outcome, e.admitted),
            (RefreshOutcome::NotAdmitted, false)
        );
        let mut e = TokenRefreshEvent::new("claude:b", RefreshOutcome::Refreshed, true);
        e.trigger = Some("keepalive".into());
        e.refresh_token_hash = Some("0123456789ab".into());
        e.new_expires_at = Some(at());
        let json = serde_json::to_value(Event::new(at(), EventKind::TokenRefresh(e))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ts": "2026-12-07T10:00:00Z", "kind": "token_refresh",
                "route": "claude:b", "outcome": "refreshed", "ok": true, "reason": null,
                "trigger": "keepalive", "admitted": true,
                "new_expires_at": "2026-12-07T10:00:00Z", "refresh_token_hash": "0123456789ab"})
        );
    }

    #[test]
    fn login_events_are_flat_and_carry_no_path() {
        let event = Event::new(
            at(),
            EventKind::Login(LoginEvent {
                provider: "codex".into(),
                account: "max-1".into(),
                command: "codex login --device-auth".into(),
                exit_code: Some(0),
                credentials: "usable".into(),
                outcome: Outcome {
                    outcome: "logged_in".into(),
                    reason: None,
                    ok: true,
                    executed: true,
                },
            }),
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ts": "2026-12-07T10:00:00Z", "kind": "login",
                "provider": "codex", "account": "max-1", "command": "codex login --device-auth",
                "exit_code": 0, "credentials": "usable", "outcome": "logged_in", "reason": null,
                "ok": true, "executed": true})
        );
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
        assert_eq!(event.scope().account.as_deref(), Some("max-1"));
    }

    #[test]
    fn an_unknown_kind_does_not_parse_and_is_left_to_the_reader_to_skip() {
        let line = serde_json::json!({"ts": "2026-12-07T10:00:00Z", "kind": "from_the_future"});
        assert!(serde_json::from_value::<Event>(line).is_err());
    }
}
