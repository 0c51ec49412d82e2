//! Recording evidence: classified observations into the health store, and
//! events into the event log. Probes, repairs and the proxy all record here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use crate::model::RouteKey;
use crate::model::classify::Classification;
use crate::model::event::Event;
use crate::model::health::{EvidenceSource, RouteHealth};
use crate::model::judgement::{Origin, Record, judge};
use crate::store::StoreError;
use crate::store::events::EventLog;
use crate::store::health_file::HealthFile;
use crate::store::paths::Dirs;

/// Record one classified observation for a route. A dead credential is an
/// account-level fact, so it is also recorded on the account key.
pub fn record(
    dirs: &Dirs,
    key: &RouteKey,
    class: &Classification,
    status: Option<u16>,
    source: EvidenceSource,
    now: Timestamp,
) -> Result<RouteHealth, StoreError> {
    HealthFile::update(&dirs.health_file(), |routes| {
        let mut records = RouteRecords::new(routes);
        let recorded = record_in(&mut records, key, class, status, source, now);
        records.finish();
        recorded
    })
}

/// The route records of a health file open for update, each decoded when first read and
/// encoded once by [`RouteRecords::finish`]: a writer that records many observations of the
/// same few routes in one update (the proxy's health writer, with a usage reading on nearly
/// every answer) pays one decode and one encode per route, not per observation.
pub struct RouteRecords<'a> {
    routes: &'a mut BTreeMap<String, serde_json::Value>,
    /// Read so far; `None` for a route with no record (or one that cannot be read, which
    /// the next observation replaces).
    decoded: HashMap<String, Option<RouteHealth>>,
    changed: BTreeSet<String>,
}

impl<'a> RouteRecords<'a> {
    pub fn new(routes: &'a mut BTreeMap<String, serde_json::Value>) -> Self {
        RouteRecords {
            routes,
            decoded: HashMap::new(),
            changed: BTreeSet::new(),
        }
    }

    pub fn get(&mut self, key: &str) -> Option<&RouteHealth> {
        if !self.decoded.contains_key(key) {
            let health = self
                .routes
                .get(key)
                .and_then(|v| RouteHealth::from_json(v).ok());
            self.decoded.insert(key.to_owned(), health);
        }
        self.decoded.get(key)?.as_ref()
    }

    pub fn set(&mut self, key: String, health: RouteHealth) {
        self.changed.insert(key.clone());
        self.decoded.insert(key, Some(health));
    }

    /// Write every record set back into the routes.
    pub fn finish(self) {
        for key in self.changed {
            if let Some(Some(health)) = self.decoded.get(&key) {
                self.routes.insert(key, health.to_json());
            }
        }
    }
}

/// [`record`] into the route records of a health file already open for update (for callers
/// that record several observations in one write).
pub fn record_in(
    records: &mut RouteRecords<'_>,
    key: &RouteKey,
    class: &Classification,
    status: Option<u16>,
    source: EvidenceSource,
    now: Timestamp,
) -> RouteHealth {
    let write = |records: &mut RouteRecords<'_>, k: &RouteKey| {
        let ks = k.to_string();
        let next = RouteHealth::observe(records.get(&ks), class, status, source, now);
        records.set(ks, next.clone());
        next
    };
    let recorded = write(records, key);
    if key.is_account_level() {
        return recorded;
    }
    let account_key = key.account_key();
    let account_dead = records
        .get(&account_key.to_string())
        .is_some_and(|r| matches!(r.liveness, crate::model::Liveness::Dead { .. }));
    // A dead credential is an account fact (the judgement table); a working route
    // proves the account's credential works again.
    if judge(class, Origin::Probe).record == Record::RouteAndAccount
        || (account_dead && matches!(class, Classification::Success))
    {
        write(records, &account_key);
    }
    recorded
}

/// After a successful refresh of `account` (an account-level key): remove the records of the
/// account and its routes that the new token refutes (`model::refresh::refresh_clears`), so
/// they await evidence again instead of staying dead. Returns how many were removed.
pub fn clear_refuted_by_refresh(dirs: &Dirs, account: &RouteKey) -> Result<usize, StoreError> {
    let own = account.to_string();
    let routes_prefix = format!("{own}#");
    HealthFile::update(&dirs.health_file(), |routes| {
        let refuted: Vec<String> = routes
            .iter()
            .filter(|(k, _)| **k == own || k.starts_with(&routes_prefix))
            .filter(|(_, v)| {
                RouteHealth::from_json(v)
                    .is_ok_and(|h| crate::model::refresh::refresh_clears(&h.liveness))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &refuted {
            routes.remove(k);
        }
        refuted.len()
    })
}

/// Append an event to the repair event log; failures are reported on stderr but
/// never stop the command (the event log is evidence, not state).
pub fn append_event(dirs: &Dirs, event: &Event) {
    if let Err(e) = EventLog::new(dirs.events_file()).record(event) {
        crate::output::warn(&format!(
            "oauth-mux: warning: could not append to the event log: {e}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::liveness::DeadReason;

    fn observations() -> Vec<(RouteKey, Classification, u16)> {
        let route = RouteKey::new("codex", "one", Some("codex-max"));
        let other = RouteKey::new("codex", "two", Some("codex-max"));
        let at = |s: i64| Timestamp::from_second(1_000_000 + s).unwrap();
        vec![
            (route.clone(), Classification::Success, 200),
            (
                route.clone(),
                Classification::QuotaExhausted {
                    resets_at: Some(at(3600)),
                },
                429,
            ),
            (other.clone(), Classification::Success, 200),
            (
                route.clone(),
                Classification::Dead {
                    reason: DeadReason::TokenRevoked,
                },
                401,
            ),
            (route.clone(), Classification::Success, 200),
            (other, Classification::Failure, 500),
            (route, Classification::Success, 200),
        ]
    }

    /// Many observations in one update end in exactly the records that one update per
    /// observation (a decode and an encode each) writes, and a record no observation touched
    /// stays as it was, even one that cannot be read.
    #[test]
    fn a_batch_of_observations_records_what_one_at_a_time_records() {
        let untouched = serde_json::json!({"not": "a route record"});
        let start: BTreeMap<String, serde_json::Value> = [
            ("codex:zzz#codex-max".to_string(), untouched.clone()),
            ("codex:two#codex-max".to_string(), untouched.clone()),
        ]
        .into();
        let record = |records: &mut RouteRecords<'_>, n: usize| {
            let (key, class, status) = &observations()[n];
            let now = Timestamp::from_second(1_000_000 + n as i64).unwrap();
            record_in(
                records,
                key,
                class,
                Some(*status),
                EvidenceSource::Proxy,
                now,
            );
        };
        let count = observations().len();

        let mut one_at_a_time = start.clone();
        for n in 0..count {
            let mut records = RouteRecords::new(&mut one_at_a_time);
            record(&mut records, n);
            records.finish();
        }

        let mut batched = start.clone();
        let mut records = RouteRecords::new(&mut batched);
        for n in 0..count {
            record(&mut records, n);
        }
        records.finish();

        assert_eq!(batched, one_at_a_time);
        assert_eq!(batched["codex:zzz#codex-max"], untouched);
        assert_ne!(
            batched["codex:two#codex-max"], untouched,
            "replaced by its observations"
        );
        assert!(
            batched.contains_key("codex:one"),
            "the 401 reached the account key"
        );
        assert_eq!(batched.len(), 4);
    }
}
