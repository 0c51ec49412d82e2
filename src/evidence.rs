//! Recording evidence: classified observations into the health store, and
//! events into the event log. Probes, repairs and the proxy all record here.

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
        record_in(routes, key, class, status, source, now)
    })
}

/// [`record`] into the routes of a health file already open for update (for callers that
/// record several observations in one write).
pub fn record_in(
    routes: &mut std::collections::BTreeMap<String, serde_json::Value>,
    key: &RouteKey,
    class: &Classification,
    status: Option<u16>,
    source: EvidenceSource,
    now: Timestamp,
) -> RouteHealth {
    let write = |routes: &mut std::collections::BTreeMap<String, serde_json::Value>,
                 k: &RouteKey| {
        let ks = k.to_string();
        let prev = routes.get(&ks).and_then(|v| RouteHealth::from_json(v).ok());
        let next = RouteHealth::observe(prev.as_ref(), class, status, source, now);
        routes.insert(ks, next.to_json());
        next
    };
    let recorded = write(routes, key);
    if key.is_account_level() {
        return recorded;
    }
    let account_key = key.account_key();
    let account_dead = routes
        .get(&account_key.to_string())
        .and_then(|v| RouteHealth::from_json(v).ok())
        .is_some_and(|r| matches!(r.liveness, crate::model::Liveness::Dead { .. }));
    // A dead credential is an account fact (the judgement table); a working route
    // proves the account's credential works again.
    if judge(class, Origin::Probe).record == Record::RouteAndAccount
        || (account_dead && matches!(class, Classification::Success))
    {
        write(routes, &account_key);
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
