//! The pure core: route keys, liveness, the one response classifier, health
//! transitions, budgets and admission, selection. No I/O, no clock reads: every
//! function that needs the time takes `now` as a parameter.

pub mod budget;
pub mod classify;
pub mod election;
pub mod event;
pub mod grant;
pub mod health;
pub mod judgement;
pub mod liveness;
pub mod refresh;
pub mod repair;
pub mod route_key;
pub mod runtime;
pub mod schedule;
pub mod selection;
pub mod session;
pub mod session_pool;
pub mod session_verdict;
pub mod timeline;

pub use classify::{Classification, ClassifierRules, ResponseEvidence, classify_response};
pub use health::{RouteHealth, RouteStatus};
pub use liveness::{Availability, DeadReason, DegradedReason, Liveness, RateLimitWindow};
pub use route_key::RouteKey;
