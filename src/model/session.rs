//! The managed-session record (SPEC §8): the frames a session's status artifact holds, one
//! type for the proxy that writes them and for `status-latest` that reads them. Frames name
//! accounts by their config label only; no token, raw account id, session id or path.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Format version of the artifact's lines.
pub const FRAME_VERSION: u32 = 1;

/// Which harness a session ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HarnessKind {
    Codex,
    Claude,
}

impl HarnessKind {
    /// The command name (`codex` / `claude`), also the artifact file-name prefix.
    pub fn name(self) -> &'static str {
        match self {
            HarnessKind::Codex => "codex",
            HarnessKind::Claude => "claude",
        }
    }
}

/// One usage window the provider reported in its headers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageWindow {
    /// `primary`, `secondary`, `five_hour`, `seven_day`, …
    pub window: String,
    pub used_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_in_seconds: Option<u64>,
    /// The window's length, when the provider states it (Codex does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u64>,
}

/// One event of a managed session: what the proxy and the launcher write and what
/// `status-latest` reads. Field names are the stable artifact format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Frame {
    /// The launcher elected `account` and started the harness through the proxy.
    SessionStarted {
        harness: HarnessKind,
        oauth_mux_version: String,
        profile: String,
        account: String,
        /// Accounts of the profile the pool may use, in preference order (labels).
        pool: Vec<String>,
        /// `chatgpt` or `api_key` (Codex), `oauth` or `api_key` (Claude).
        auth_kind: String,
        /// `overlay` (oauth-mux-owned CODEX_HOME) or `environment` (Claude env only).
        child_config: String,
        side_traffic_disabled: bool,
        isolated_config: bool,
    },
    /// One upstream exchange on behalf of the harness.
    ProxyTurn {
        account: String,
        #[serde(default)]
        method: String,
        #[serde(default)]
        path_kind: Cow<'static, str>,
        status: u16,
        classification: String,
        delivered_to_harness: bool,
    },
    /// Usage windows read from a response's headers.
    QuotaObserved {
        account: String,
        windows: Vec<UsageWindow>,
    },
    /// The session moved from one account to another (`from` is None for the first election
    /// inside the proxy).
    Handoff {
        from: Option<String>,
        to: String,
        reason: String,
    },
    /// Every account refused the request, one only briefly (a stated retry within a minute):
    /// the proxy waited `wait_ms` and asked that account again.
    RateLimitWait { account: String, wait_ms: u64 },
    /// An error event arrived after content had reached the harness: recorded, not replayed.
    StreamErrorAfterContent {
        account: String,
        status: u16,
        classification: String,
    },
    /// A response first held back went to the harness after all (no other account answered).
    HeldResponseDelivered {
        account: String,
        status: u16,
        classification: String,
    },
    /// Every account of the profile was spent; the harness got one clear error.
    PoolExhausted {
        earliest_reset: Option<String>,
        repair_command: String,
    },
    /// A WebSocket upgrade was answered 426 so the harness fell back to HTTP streaming.
    UnsupportedTransport { path_kind: Cow<'static, str> },
    /// An account's token was refreshed during the session because it met a 401 (the
    /// answer was held back and the request asked the same account again).
    TokenRefresh {
        account: String,
        /// `unauthorized`.
        trigger: Cow<'static, str>,
    },
    /// One request refused before touching any account (artifacts written before refusals
    /// were summarized).
    Refused { reason: Cow<'static, str> },
    /// Requests refused before touching any account since the previous such frame, by
    /// reason (at most one frame per interval; see `proxy::refusals`).
    RequestsRefused {
        counts: std::collections::BTreeMap<Cow<'static, str>, u64>,
    },
    /// The harness exited. `signal` is set when it was killed by one.
    SessionEnded {
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
}

/// One line of the artifact: a frame with its version and time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    /// RFC 3339 UTC time the frame was written.
    pub ts: String,
    #[serde(flatten)]
    pub frame: Frame,
}

/// The parsed content of one artifact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Artifact {
    /// File name only.
    pub name: String,
    pub records: Vec<Record>,
    /// Lines that did not parse (a torn last line after a crash, or a newer format).
    pub skipped_lines: usize,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One frame of every kind (for tests that must cover them all).
    pub(crate) fn one_of_each() -> Vec<Frame> {
        vec![
            Frame::SessionStarted {
                harness: HarnessKind::Codex,
                oauth_mux_version: "0.0.0".into(),
                profile: "p".into(),
                account: "a".into(),
                pool: vec!["a".into(), "b".into()],
                auth_kind: "chatgpt".into(),
                child_config: "overlay".into(),
                side_traffic_disabled: true,
                isolated_config: false,
            },
            Frame::SessionEnded {
                exit_code: 3,
                signal: Some(15),
            },
            Frame::ProxyTurn {
                account: "a".into(),
                method: "POST".into(),
                path_kind: "responses".into(),
                status: 200,
                classification: "success".into(),
                delivered_to_harness: true,
            },
            Frame::Handoff {
                from: Some("a".into()),
                to: "b".into(),
                reason: "quota_exhausted".into(),
            },
            Frame::QuotaObserved {
                account: "a".into(),
                windows: vec![UsageWindow {
                    window: "primary".into(),
                    used_percent: 42.5,
                    resets_in_seconds: Some(60),
                    window_minutes: Some(300),
                }],
            },
            Frame::UnsupportedTransport {
                path_kind: "responses".into(),
            },
            Frame::Refused {
                reason: "missing_session_secret".into(),
            },
            Frame::RequestsRefused {
                counts: [
                    ("missing_session_secret".into(), 3),
                    ("path_not_allowed".into(), 1),
                ]
                .into(),
            },
            Frame::RateLimitWait {
                account: "a".into(),
                wait_ms: 900,
            },
            Frame::StreamErrorAfterContent {
                account: "a".into(),
                status: 429,
                classification: "quota_exhausted".into(),
            },
            Frame::HeldResponseDelivered {
                account: "a".into(),
                status: 429,
                classification: "windowless_rate_limit".into(),
            },
            Frame::PoolExhausted {
                earliest_reset: None,
                repair_command: "oauth-mux route explain --profile p".into(),
            },
            Frame::TokenRefresh {
                account: "a".into(),
                trigger: "unauthorized".into(),
            },
        ]
    }

    #[test]
    fn every_frame_reads_back_as_written() {
        let frames = one_of_each();
        for frame in &frames {
            // A new kind must be added above (this match stops compiling until it is).
            match frame {
                Frame::SessionStarted { .. }
                | Frame::SessionEnded { .. }
                | Frame::ProxyTurn { .. }
                | Frame::Handoff { .. }
                | Frame::QuotaObserved { .. }
                | Frame::RateLimitWait { .. }
                | Frame::HeldResponseDelivered { .. }
                | Frame::PoolExhausted { .. }
                | Frame::StreamErrorAfterContent { .. }
                | Frame::UnsupportedTransport { .. }
                | Frame::Refused { .. }
                | Frame::RequestsRefused { .. }
                | Frame::TokenRefresh { .. } => {}
            }
            let written = serde_json::to_value(frame).unwrap();
            let read: Frame = serde_json::from_value(written.clone())
                .unwrap_or_else(|e| panic!("{frame:?} is not readable: {e}"));
            assert_eq!(
                serde_json::to_value(&read).unwrap(),
                written,
                "{frame:?} reads back differently"
            );
        }
    }
}
