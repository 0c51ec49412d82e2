//! Local runtime readiness of a route. Runtime failures never record credential
//! liveness: a missing binary says nothing about whether the account works.

use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RuntimeReadiness {
    Ready,
    MissingBinary { binary: String },
    PermissionDenied { what: String },
    UnwritableStore,
    SessionUnavailable { what: String },
    NeedsReauth,
    RepairInProgress { started_at: Option<Timestamp> },
}

impl RuntimeReadiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::MissingBinary { .. } => "missing_binary",
            Self::PermissionDenied { .. } => "permission_denied",
            Self::UnwritableStore => "unwritable_store",
            Self::SessionUnavailable { .. } => "session_unavailable",
            Self::NeedsReauth => "needs_reauth",
            Self::RepairInProgress { .. } => "repair_in_progress",
        }
    }
}
