//! Which routes a managed session's pool holds and which one the harness starts on. The
//! session election ([`super::election`]) orders the routes; this keeps those whose
//! credential the harness can use, and the pool elects among them for every request.
//!
//! Rules (docs/routing.md):
//! - A route joins when its runtime is ready, it is not dead, and its credential can be read
//!   and used by the harness. A route that is only *temporarily* out (a spent quota, a rate
//!   limit, a degradation with a retry time) joins too: it comes back during a long session.
//! - The session starts on the first route of the session order that joined. When none did,
//!   nothing starts (every account is spent, dead or unusable).
//! - A session speaks one authentication family (a ChatGPT login or an API key, an OAuth
//!   token or an API key): routes that authenticate differently from the launch route stay
//!   out.

use serde::Serialize;

use super::health::RouteStatus;
use super::route_key::RouteKey;
use super::selection::RouteView;

/// An account left out of the pool, and why (one entry per account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub account: String,
    pub reason: String,
}

/// The pool of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPlan<A> {
    /// Routes in rank order, with how each authenticates.
    pub members: Vec<(RouteKey, A)>,
    /// The route the harness starts on.
    pub launch: RouteKey,
}

/// Plan the pool over `routes` (rank order) given the session election's `order`.
/// `credential` reads a route's credential and says how it authenticates, or why it cannot
/// be used; it is asked only for routes that could join.
pub fn plan_pool<A: Copy + PartialEq>(
    routes: &[RouteView],
    order: &[RouteKey],
    mut credential: impl FnMut(&RouteKey) -> Result<A, String>,
) -> (Option<PoolPlan<A>>, Vec<LeftOut>) {
    let mut left_out: Vec<LeftOut> = Vec::new();
    let mut leave = |key: &RouteKey, reason: String| {
        if !left_out.iter().any(|l| l.account == key.account) {
            left_out.push(LeftOut {
                account: key.account.clone(),
                reason,
            });
        }
    };
    let mut joined: Vec<(RouteKey, A)> = Vec::new();
    for view in routes {
        if !view.runtime.is_ready() {
            leave(&view.key, view.runtime.label().to_owned());
        } else if matches!(view.status, RouteStatus::Dead { .. }) {
            leave(&view.key, view.status.label().to_owned());
        } else {
            match credential(&view.key) {
                Ok(auth) => joined.push((view.key.clone(), auth)),
                Err(why) => leave(&view.key, why),
            }
        }
    }
    let Some((launch, launch_auth)) = order
        .iter()
        .find_map(|k| joined.iter().find(|(j, _)| j == k).cloned())
    else {
        // Nothing can start now: say why each joined route is out.
        for (key, _) in &joined {
            if let Some(view) = routes.iter().find(|v| &v.key == key) {
                leave(key, view.status.label().to_owned());
            }
        }
        return (None, left_out);
    };
    let mut members = Vec::new();
    for (key, auth) in joined {
        if auth == launch_auth {
            members.push((key, auth));
        } else {
            leave(
                &key,
                format!("it authenticates differently from {}", launch.account),
            );
        }
    }
    (Some(PoolPlan { members, launch }), left_out)
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::model::classify::Classification;
    use crate::model::election::{Ballot, Purpose, elect};
    use crate::model::health::{EvidenceSource, RouteHealth};
    use crate::model::liveness::DeadReason;
    use crate::model::runtime::RuntimeReadiness;
    use crate::model::selection::{Candidate, RankPolicy, rank};

    fn now() -> Timestamp {
        "2026-12-07T10:00:00Z".parse().unwrap()
    }

    fn views(records: &[(&str, Classification)], keys: &[&str]) -> Vec<RouteView> {
        let store: std::collections::HashMap<String, RouteHealth> = records
            .iter()
            .map(|(k, c)| {
                let h = RouteHealth::observe(None, c, Some(200), EvidenceSource::Proxy, now());
                ((*k).to_owned(), h)
            })
            .collect();
        let candidates: Vec<Candidate> = keys
            .iter()
            .map(|k| Candidate {
                key: RouteKey::parse(k).unwrap(),
                priority: 0,
                runtime: RuntimeReadiness::Ready,
            })
            .collect();
        let lookup = |k: &RouteKey| store.get(&k.to_string()).cloned();
        rank(&candidates, &RankPolicy::default(), &lookup, now())
    }

    fn plan(
        routes: &[RouteView],
        auth: impl Fn(&str) -> Result<u8, String>,
    ) -> (Option<PoolPlan<u8>>, Vec<LeftOut>) {
        let order = elect(routes, &Ballot::new(Purpose::Session)).order;
        plan_pool(routes, &order, |k| auth(&k.account))
    }

    fn accounts(p: &PoolPlan<u8>) -> Vec<&str> {
        p.members.iter().map(|(k, _)| k.account.as_str()).collect()
    }

    #[test]
    fn a_spent_account_joins_the_pool_and_the_session_starts_on_a_live_one() {
        let spent = Classification::QuotaExhausted {
            resets_at: Some(now() + SignedDuration::from_hours(2)),
        };
        let routes = views(
            &[("c:a", spent), ("c:b", Classification::Success)],
            &["c:a", "c:b"],
        );
        let (plan, left_out) = plan(&routes, |_| Ok(1));
        let plan = plan.unwrap();
        assert_eq!(plan.launch.account, "b");
        assert_eq!(accounts(&plan), ["a", "b"]);
        assert!(left_out.is_empty());
    }

    #[test]
    fn dead_and_unreadable_accounts_stay_out_with_one_reason_each() {
        let dead = Classification::Dead {
            reason: DeadReason::TokenRevoked,
        };
        let routes = views(&[("c:a", dead)], &["c:a", "c:b", "c:c", "c:b#other"]);
        let (plan, left_out) = plan(&routes, |a| {
            if a == "b" {
                Err("secret: not found".into())
            } else {
                Ok(1)
            }
        });
        assert_eq!(plan.unwrap().launch.account, "c");
        assert_eq!(
            left_out,
            [
                LeftOut {
                    account: "a".into(),
                    reason: "token_revoked".into()
                },
                LeftOut {
                    account: "b".into(),
                    reason: "secret: not found".into()
                },
            ]
        );
    }

    #[test]
    fn only_routes_that_authenticate_like_the_launch_route_stay() {
        let routes = views(&[], &["c:a", "c:b", "c:c"]);
        let (plan, left_out) = plan(&routes, |a| Ok(if a == "b" { 2 } else { 1 }));
        assert_eq!(accounts(&plan.unwrap()), ["a", "c"]);
        assert_eq!(left_out[0].account, "b");
        assert!(left_out[0].reason.contains("differently from a"));
    }

    #[test]
    fn nothing_starts_when_every_account_is_spent() {
        let spent = || Classification::QuotaExhausted {
            resets_at: Some(now() + SignedDuration::from_hours(2)),
        };
        let routes = views(&[("c:a", spent()), ("c:b", spent())], &["c:a", "c:b"]);
        let (plan, left_out) = plan(&routes, |_| Ok(1));
        assert!(plan.is_none());
        assert_eq!(left_out.len(), 2);
        assert!(left_out.iter().all(|l| l.reason == "quota_exhausted"));
    }
}
