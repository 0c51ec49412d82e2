//! The one judgement table: what a classified provider answer means for the request that
//! got it, and what it records about the route. Probes, the session proxy and repair all
//! read it, so a classification means one thing everywhere (docs/routing.md has the table).
//!
//! The table has two columns because a request's origin changes what an answer proves:
//! a probe is oauth-mux's own known-good request, so an unexplained refusal or a provider
//! error is evidence about the route; a harness request may itself be at fault (an unknown
//! 4xx) or meet a passing condition (a 5xx, a windowless 429), which says nothing lasting
//! about the account.

use jiff::Timestamp;
use serde::Serialize;

use super::classify::{Classification, Decision, SHORT_RATE_LIMIT_SECONDS};
use super::liveness::DegradedReason;

/// Who sent the request that was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// oauth-mux's own capability probe (`probe`, `live-qa`, stay-afloat).
    Probe,
    /// A harness's request carried by the session proxy.
    HarnessRequest,
}

/// What to do with the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Use this answer: the harness sees it; a probe is done.
    Deliver,
    /// Transient overload: ask the same account again after a pause (bounded), then deliver.
    RetryInPlace,
    /// Hold the answer back and ask the next account.
    NextAccount,
    /// Hold it back and ask the next account; when none is left, wait for this short limit
    /// to lift and ask again (once per request).
    NextAccountOrWait,
    /// The provider itself is in trouble: other accounts of it would fare no better.
    NextProvider,
}

/// What the answer records in the health store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// Nothing lasting: the answer is about this request, not the account.
    Nothing,
    /// The route's health (`provider:account#capability`).
    Route,
    /// The route's health and the account's (a dead credential is an account fact).
    RouteAndAccount,
}

/// The judgement of one classified answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub class: Classification,
    pub action: Action,
    pub record: Record,
    /// The label frames and outputs show (`success`, `short_rate_limit`,
    /// `windowless_rate_limit`, `quota_exhausted`, …).
    pub label: &'static str,
}

impl Judgement {
    /// When the account's limit lifts, if the provider said.
    pub fn resets_at(&self) -> Option<Timestamp> {
        match self.class {
            Classification::QuotaExhausted { resets_at } => resets_at,
            _ => None,
        }
    }

    /// A short rate limit: worth waiting for when no other account is left.
    pub fn is_short_limit(&self) -> bool {
        self.action == Action::NextAccountOrWait
    }

    /// A refusal that says nothing lasting about the account (a windowless 429): passed on
    /// as the provider sent it when no other account answers.
    pub fn is_request_scoped_refusal(&self) -> bool {
        self.action == Action::NextAccount && self.record == Record::Nothing
    }

    /// The SPEC §2 decision this judgement stands for (what probe outputs report).
    pub fn decision(&self) -> Decision {
        match self.action {
            Action::Deliver if self.class == Classification::Success => Decision::UseThis,
            Action::Deliver => Decision::GiveUp,
            Action::RetryInPlace | Action::NextAccountOrWait => Decision::WaitAndRetry,
            Action::NextAccount => Decision::TryNextAccount,
            Action::NextProvider => Decision::TryNextProvider,
        }
    }
}

/// The table. One row per classification; the origin changes a row only where the comment
/// says why.
pub fn judge(class: &Classification, origin: Origin) -> Judgement {
    use Action::*;
    use Record::*;
    let probe = origin == Origin::Probe;
    let (action, record, label) = match class {
        Classification::Success => (Deliver, Route, "success"),
        // No reset information at all: about this request (the next may pass); a probe
        // records the usual short wait.
        Classification::RateLimited {
            retry_after_s: None,
            ..
        } => (
            NextAccount,
            if probe { Route } else { Nothing },
            "windowless_rate_limit",
        ),
        Classification::RateLimited {
            retry_after_s: Some(s),
            ..
        } if *s <= SHORT_RATE_LIMIT_SECONDS => (NextAccountOrWait, Route, "short_rate_limit"),
        Classification::RateLimited { .. } => (NextAccount, Route, "rate_limited"),
        Classification::QuotaExhausted { .. } => (NextAccount, Route, "quota_exhausted"),
        Classification::Dead { reason } => (NextAccount, RouteAndAccount, reason.as_str()),
        // Transient overload: a harness request is asked again in place (SPEC §8) and the
        // account keeps its record; a probe records it and routing moves to another provider
        // for a minute.
        Classification::ProviderDegraded
        | Classification::Degraded {
            reason: DegradedReason::ProviderDegraded,
        } => {
            if probe {
                (NextProvider, Route, "provider_degraded")
            } else {
                (RetryInPlace, Nothing, "provider_degraded")
            }
        }
        // An unexplained 4xx or an invalid answer: to a harness request most likely the
        // request's own fault, which another account would answer the same way (replaying it
        // would bench every account); to a probe, evidence about the route.
        Classification::Degraded {
            reason: reason @ (DegradedReason::Unknown4xx | DegradedReason::SchemaInvalid),
        } => {
            if probe {
                (NextAccount, Route, reason.as_str())
            } else {
                (Deliver, Nothing, reason.as_str())
            }
        }
        Classification::Degraded { reason } => (NextAccount, Route, reason.as_str()),
        // A status no rule explains (1xx, 3xx): shown as it is; a probe records it.
        Classification::Failure => (Deliver, if probe { Route } else { Nothing }, "failure"),
    };
    Judgement {
        class: class.clone(),
        action,
        record,
        label,
    }
}

#[cfg(test)]
#[path = "judgement_tests.rs"]
mod tests;
