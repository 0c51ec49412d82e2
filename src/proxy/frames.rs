//! Events the proxy reports about a session, for the status artifact. Accounts appear only
//! as config labels; no token, raw account id or path is ever part of a frame.

use std::sync::Arc;

use serde::Serialize;

use super::pool::UsageObservation;

/// One observable proxy event.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProxyFrame {
    /// One upstream exchange on behalf of the harness.
    ProxyTurn {
        account: String,
        method: String,
        path_kind: &'static str,
        status: u16,
        classification: String,
        delivered_to_harness: bool,
    },
    /// The session moved from one account to another.
    Handoff {
        from: Option<String>,
        to: String,
        reason: String,
    },
    /// Usage windows read from a response's headers.
    QuotaObserved {
        account: String,
        windows: Vec<UsageObservation>,
    },
    /// Every account was refused, one of them only for a short while (a stated retry within
    /// a minute): the request waits that out once and asks that account again.
    RateLimitWait { account: String, wait_ms: u64 },
    /// A response first held back (its `proxy_turn` says not delivered) went to the harness
    /// after all, because no other account answered: a windowless 429, passed on as sent.
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
    /// An error event arrived after content had reached the harness: recorded, not replayed.
    StreamErrorAfterContent {
        account: String,
        status: u16,
        classification: String,
    },
    /// A WebSocket upgrade was answered 426 so the harness falls back to HTTP streaming.
    UnsupportedTransport { path_kind: &'static str },
    /// Requests refused before touching any account since the last such frame, by reason
    /// (at most one frame per interval; see `proxy::refusals`).
    RequestsRefused {
        counts: std::collections::BTreeMap<&'static str, u64>,
    },
}

/// Where the proxy sends its frames.
pub type FrameSink = Arc<dyn Fn(ProxyFrame) + Send + Sync>;

/// A sink that drops every frame.
pub fn discard() -> FrameSink {
    Arc::new(|_| {})
}
