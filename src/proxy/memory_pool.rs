//! An in-memory [`Pool`]: accounts in priority order, health kept in memory. Used by tests
//! of the wire path; managed sessions use the durable pool and the health store. Both read
//! responses through the same [`ResponseReader`] (the model's one classifier).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::pool::{
    AccountId, Credential, Elected, Judgement, Pool, ResponseEvidence, UsageObservation, UsageView,
    is_short_wait,
};
use super::verdict::ResponseReader;
use crate::config::ProviderDefinition;
use crate::model::classify::{Classification, add_seconds};

/// One account of a [`MemoryPool`].
#[derive(Clone, Debug)]
pub struct MemoryAccount {
    pub label: String,
    pub credential: Credential,
    pub upstream: Option<String>,
}

/// What the pool knows about one account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountState {
    /// Classification that benched the account, if any.
    pub benched: Option<String>,
    /// When the bench lifts by itself (a rate limit's stated time); `None` keeps it.
    pub benched_until: Option<Timestamp>,
    pub resets_at: Option<Timestamp>,
    /// Highest used percent over the windows last observed.
    pub used_percent: Option<f64>,
    /// Every classification recorded, in order.
    pub recorded: Vec<String>,
}

/// Accounts in priority order with in-memory health.
pub struct MemoryPool {
    profile: String,
    reader: ResponseReader,
    threshold_percent: f64,
    accounts: Vec<(AccountId, Arc<Credential>, Option<String>)>,
    state: Mutex<HashMap<AccountId, AccountState>>,
}

impl MemoryPool {
    /// A pool over `accounts` (first = most preferred) of the provider `definition`;
    /// `threshold_percent` is the usage above which the next request moves to another account.
    pub fn new(
        profile: &str,
        definition: ProviderDefinition,
        accounts: Vec<MemoryAccount>,
        threshold_percent: f64,
    ) -> Self {
        MemoryPool {
            profile: profile.to_string(),
            reader: ResponseReader::new(definition),
            threshold_percent,
            accounts: accounts
                .into_iter()
                .map(|a| (AccountId(a.label), Arc::new(a.credential), a.upstream))
                .collect(),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// A copy of one account's state.
    pub fn state_of(&self, label: &str) -> AccountState {
        self.lock()
            .get(&AccountId(label.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, AccountState>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn candidates(&self, exclude: &[AccountId], now: Timestamp) -> Vec<(usize, Option<f64>)> {
        let state = self.lock();
        self.accounts
            .iter()
            .enumerate()
            .filter(|(_, (id, _, _))| !exclude.contains(id))
            .filter_map(|(i, (id, _, _))| {
                let s = state.get(id);
                let benched = s.is_some_and(|s| {
                    s.benched.is_some() && s.benched_until.is_none_or(|until| until > now)
                });
                if benched {
                    None
                } else {
                    Some((i, s.and_then(|s| s.used_percent)))
                }
            })
            .collect()
    }

    fn elected(&self, i: usize, passed_over: Option<&'static str>) -> Elected {
        let (id, cred, upstream) = &self.accounts[i];
        Elected {
            account: id.clone(),
            credential: cred.clone(),
            upstream: upstream.clone(),
            passed_over,
        }
    }
}

impl Pool for MemoryPool {
    fn profile(&self) -> &str {
        &self.profile
    }

    fn elect(
        &self,
        prefer: Option<&AccountId>,
        exclude: &[AccountId],
        now: Timestamp,
    ) -> Option<Elected> {
        let candidates = self.candidates(exclude, now);
        let below = |u: &Option<f64>| u.is_none_or(|u| u < self.threshold_percent);
        let mut passed_over = None;
        if let Some(p) = prefer {
            match candidates.iter().find(|(i, _)| &self.accounts[*i].0 == p) {
                Some((i, u)) if below(u) => return Some(self.elected(*i, None)),
                Some(_) => passed_over = Some("usage_threshold"),
                None => passed_over = Some("not_selectable"),
            }
        }
        candidates
            .iter()
            .find(|(_, u)| below(u))
            .or(candidates.first())
            .map(|(i, _)| self.elected(*i, passed_over))
    }

    fn reader(&self) -> &ResponseReader {
        &self.reader
    }

    fn record(
        &self,
        account: &AccountId,
        _evidence: &ResponseEvidence,
        judgement: &Judgement,
        usage: &[UsageObservation],
        now: Timestamp,
    ) {
        let mut state = self.lock();
        let s = state.entry(account.clone()).or_default();
        s.recorded.push(judgement.classification.clone());
        if judgement.benches_account {
            s.benched = Some(judgement.classification.clone());
            // A rate limit lifts by itself at its stated time (as in route health).
            s.benched_until = match judgement.class {
                Classification::RateLimited {
                    retry_after_s: Some(secs),
                    ..
                } => Some(add_seconds(now, secs)),
                _ => None,
            };
            s.resets_at = judgement.resets_at;
        }
        if let Some(max) = usage.iter().map(|u| u.used_percent).reduce(f64::max) {
            s.used_percent = Some(max);
        }
    }

    fn earliest_reset(&self, _now: Timestamp) -> Option<Timestamp> {
        self.lock().values().filter_map(|s| s.resets_at).min()
    }

    fn short_limit(&self, exclude: &[AccountId], now: Timestamp) -> Option<(Timestamp, AccountId)> {
        let state = self.lock();
        self.accounts
            .iter()
            .filter(|(id, _, _)| !exclude.contains(id))
            .filter_map(|(id, _, _)| {
                let at = match state.get(id) {
                    Some(s) if s.benched.is_some() => match s.benched_until {
                        Some(until) if until <= now => now,
                        Some(until) if is_short_wait(until, now) => until,
                        _ => return None,
                    },
                    _ => now,
                };
                Some((at, id.clone()))
            })
            .min_by_key(|(at, _)| *at)
    }

    fn usage_view(&self, now: Timestamp) -> UsageView {
        match self.elect(None, &[], now) {
            Some(e) => UsageView {
                primary_used_percent: self.state_of(&e.account.0).used_percent,
                any_selectable: true,
                ..UsageView::default()
            },
            None => UsageView {
                earliest_reset: self.earliest_reset(now),
                ..UsageView::default()
            },
        }
    }

    fn flush(&self) {}
}
