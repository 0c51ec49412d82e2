//! The pool behind a managed session: the model's one classifier judges every response,
//! the model's selection orders the accounts, and what a response teaches is written to the
//! health store by a background thread (durable before the session ends, never on the
//! harness's critical path). An in-memory mirror of the store answers `elect` at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use jiff::Timestamp;

use super::pool::{
    AccountId, Credential, Elected, Judgement, Pool, ResponseEvidence, UsageObservation, UsageView,
    is_short_wait,
};
use super::verdict::ResponseReader;
use crate::config::ProviderDefinition;
use crate::model::RouteKey;
use crate::model::classify::{Classification, add_seconds};
use crate::model::health::{EvidenceSource, RouteHealth, RouteStatus, UsageGauge};
use crate::model::liveness::Liveness;
use crate::model::runtime::RuntimeReadiness;
use crate::model::selection::{Candidate, select};
use crate::store::health_file::HealthFile;
use crate::store::paths::Dirs;

/// One account of a managed session, as the launcher resolved it from config and secrets.
#[derive(Clone, Debug)]
pub struct PoolAccount {
    /// The config's account name (shown in frames and tables).
    pub label: String,
    /// The route this session uses on the account (`provider:account#capability`).
    pub route_key: RouteKey,
    pub credential: Credential,
    /// The account's upstream origin, if it differs from the session's.
    pub upstream: Option<String>,
    /// Higher first (the config's account priority).
    pub priority: i32,
}

struct Member {
    id: AccountId,
    key: RouteKey,
    credential: Arc<Credential>,
    upstream: Option<String>,
    priority: i32,
}

enum WriteOp {
    Observe {
        key: RouteKey,
        class: Classification,
        status: u16,
        usage: Option<UsageGauge>,
        now: Timestamp,
    },
    Flush(Sender<()>),
}

/// A [`Pool`] over the model's classifier and selection and the durable health store.
pub struct DurablePool {
    profile: String,
    reader: ResponseReader,
    threshold_percent: f64,
    members: Vec<Member>,
    /// The store as this session knows it (loaded once, updated on every record).
    mirror: Mutex<HashMap<String, RouteHealth>>,
    /// Usage read from responses that record nothing (a windowless 429), by route key:
    /// it steers this session's elections and is never written.
    unrecorded_usage: Mutex<HashMap<String, UsageGauge>>,
    /// False until the first such reading: elections skip that lock until then.
    any_unrecorded_usage: AtomicBool,
    writer: Mutex<Option<(Sender<WriteOp>, JoinHandle<()>)>>,
    /// Store write failures (reported once at the end; never on the request path).
    write_errors: Arc<Mutex<Vec<String>>>,
}

impl DurablePool {
    /// Build the pool. `threshold_percent` is the usage above which the next request moves
    /// to another account (config `policy.usage_switch_threshold_pct`, default 95).
    pub fn new(
        profile: &str,
        definition: ProviderDefinition,
        accounts: Vec<PoolAccount>,
        dirs: Dirs,
        threshold_percent: f64,
    ) -> anyhow::Result<Self> {
        let store = HealthFile::load(&dirs.health_file())?;
        let mirror = store
            .routes()
            .iter()
            .filter_map(|(k, v)| RouteHealth::from_json(v).ok().map(|h| (k.clone(), h)))
            .collect();
        let members = accounts
            .into_iter()
            .map(|a| Member {
                id: AccountId(a.label),
                key: a.route_key,
                credential: Arc::new(a.credential),
                upstream: a.upstream,
                priority: a.priority,
            })
            .collect();
        let (tx, rx) = mpsc::channel();
        let write_errors = Arc::new(Mutex::new(Vec::new()));
        let errors = write_errors.clone();
        let handle = std::thread::Builder::new()
            .name("omux-health-writer".into())
            .spawn(move || write_loop(&dirs, rx, &errors))?;
        Ok(DurablePool {
            profile: profile.to_string(),
            reader: ResponseReader::new(definition),
            threshold_percent,
            members,
            mirror: Mutex::new(mirror),
            unrecorded_usage: Mutex::new(HashMap::new()),
            any_unrecorded_usage: AtomicBool::new(false),
            writer: Mutex::new(Some((tx, handle))),
            write_errors,
        })
    }

    /// Errors the background writer met (empty when every fact reached the store).
    pub fn write_errors(&self) -> Vec<String> {
        self.write_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn member(&self, id: &AccountId) -> Option<&Member> {
        self.members.iter().find(|m| &m.id == id)
    }

    fn mirror(&self) -> std::sync::MutexGuard<'_, HashMap<String, RouteHealth>> {
        self.mirror.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest usage reading of a route, wherever it was kept.
    fn gauge(&self, key: &RouteKey) -> Option<UsageGauge> {
        let key = key.to_string();
        let recorded = self.mirror().get(&key).and_then(|h| h.usage.clone());
        let unrecorded = if self.any_unrecorded_usage.load(Ordering::Acquire) {
            self.unrecorded_usage
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
        } else {
            None
        };
        recorded
            .into_iter()
            .chain(unrecorded)
            .max_by_key(|g| g.observed_at)
    }

    fn used_percent(&self, key: &RouteKey, now: Timestamp) -> Option<f64> {
        let gauge = self.gauge(key)?;
        // A gauge whose window has reset says nothing any more.
        match gauge.resets_at {
            Some(reset) if reset <= now => None,
            _ => Some(gauge.used_pct),
        }
    }

    /// Statuses in selection order: the model's `select` over this session's routes.
    fn ranked(&self, now: Timestamp) -> Vec<(usize, RouteStatus)> {
        let candidates: Vec<Candidate> = self
            .members
            .iter()
            .map(|m| Candidate {
                key: m.key.clone(),
                priority: m.priority,
                runtime: RuntimeReadiness::Ready,
            })
            .collect();
        let selection = {
            let mirror = self.mirror();
            let lookup = |k: &RouteKey| mirror.get(&k.to_string()).cloned();
            select(&candidates, None, &[], &lookup, now)
        };
        selection
            .routes
            .into_iter()
            .filter_map(|view| {
                let i = self.members.iter().position(|m| m.key == view.key)?;
                Some((i, view.status))
            })
            .collect()
    }

    fn elected(&self, i: usize, passed_over: Option<&'static str>) -> Elected {
        let m = &self.members[i];
        Elected {
            account: m.id.clone(),
            credential: m.credential.clone(),
            upstream: m.upstream.clone(),
            passed_over,
        }
    }

    fn send(&self, op: WriteOp) {
        if let Some((tx, _)) = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(op);
        }
    }
}

/// The tier a proxied request may still try a route in: 0 when available, 1 when it
/// awaits evidence (the request itself is the probe, and its outcome is recorded).
fn triable(status: &RouteStatus) -> Option<u8> {
    if status.is_available() {
        Some(0)
    } else if status.awaits_evidence() {
        Some(1)
    } else {
        None
    }
}

impl Pool for DurablePool {
    fn profile(&self) -> &str {
        &self.profile
    }

    fn elect(
        &self,
        prefer: Option<&AccountId>,
        exclude: &[AccountId],
        now: Timestamp,
    ) -> Option<Elected> {
        let ranked = self.ranked(now);
        let mut options: Vec<(u8, bool, usize)> = ranked
            .iter()
            .filter(|(i, _)| !exclude.contains(&self.members[*i].id))
            .filter_map(|(i, status)| {
                let tier = triable(status)?;
                let hot = self
                    .used_percent(&self.members[*i].key, now)
                    .is_some_and(|u| u >= self.threshold_percent);
                Some((tier, hot, *i))
            })
            .collect();
        let mut passed_over = None;
        if let Some(p) = prefer {
            match options.iter().find(|(_, _, i)| &self.members[*i].id == p) {
                Some((_, false, i)) => return Some(self.elected(*i, None)),
                Some(_) => passed_over = Some("usage_threshold"),
                None => passed_over = Some("not_selectable"),
            }
        }
        // Cool before hot, available before evidence-less, then selection order.
        options.sort_by_key(|(tier, hot, _)| (*hot, *tier));
        options
            .first()
            .map(|(_, _, i)| self.elected(*i, passed_over))
    }

    fn reader(&self) -> &ResponseReader {
        &self.reader
    }

    fn record(
        &self,
        account: &AccountId,
        evidence: &ResponseEvidence,
        judgement: &Judgement,
        usage: &[UsageObservation],
        now: Timestamp,
    ) {
        let Some(member) = self.member(account) else {
            return;
        };
        let class = &judgement.class;
        // Transient overload, the request's own errors and a windowless 429 (request-scoped:
        // the next request may well pass) say nothing lasting about the account.
        let gauge = usage
            .iter()
            .max_by(|a, b| a.used_percent.total_cmp(&b.used_percent))
            .map(|u| UsageGauge {
                used_pct: u.used_percent,
                resets_at: u.resets_in_seconds.map(|s| add_seconds(now, s)),
                observed_at: now,
            });
        let key = member.key.clone();
        let worth = judgement.benches_account || matches!(class, Classification::Success);
        if !worth {
            // Nothing lasting to write, but the usage it reports still steers this
            // session's next election.
            if let Some(gauge) = gauge {
                self.unrecorded_usage
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.to_string(), gauge);
                self.any_unrecorded_usage.store(true, Ordering::Release);
            }
            return;
        }
        {
            let mut mirror = self.mirror();
            let prev = mirror.get(&key.to_string()).cloned();
            // A success on a route whose last evidence was a success changes nothing worth a
            // write, unless it brings a usage reading. (A route that recovered by itself from
            // a rate limit is available too, but its record still names the limit.)
            let unchanged = matches!(class, Classification::Success)
                && gauge.is_none()
                && prev.as_ref().is_some_and(|p| {
                    p.last_class.as_deref() == Some(class.label())
                        && p.status_at(now) == RouteStatus::Available
                });
            if unchanged {
                return;
            }
            let mut next = RouteHealth::observe(
                prev.as_ref(),
                class,
                Some(evidence.status),
                EvidenceSource::Proxy,
                now,
            );
            if gauge.is_some() {
                next.usage = gauge.clone();
            }
            mirror.insert(key.to_string(), next);
            if matches!(class, Classification::Dead { .. }) {
                let ak = key.account_key();
                let prev = mirror.get(&ak.to_string()).cloned();
                let next = RouteHealth::observe(
                    prev.as_ref(),
                    class,
                    Some(evidence.status),
                    EvidenceSource::Proxy,
                    now,
                );
                mirror.insert(ak.to_string(), next);
            }
        }
        self.send(WriteOp::Observe {
            key,
            class: class.clone(),
            status: evidence.status,
            usage: gauge,
            now,
        });
    }

    fn earliest_reset(&self, now: Timestamp) -> Option<Timestamp> {
        self.ranked(now)
            .iter()
            .filter_map(|(_, s)| match s {
                RouteStatus::QuotaExhausted { resets_at, .. } => Some(*resets_at),
                RouteStatus::RateLimited { until } => Some(*until),
                _ => None,
            })
            .min()
    }

    fn short_limit(&self, exclude: &[AccountId], now: Timestamp) -> Option<(Timestamp, AccountId)> {
        self.ranked(now)
            .into_iter()
            .filter(|(i, _)| !exclude.contains(&self.members[*i].id))
            .filter_map(|(i, s)| {
                let at = match s {
                    s if s.may_carry_traffic() => now,
                    RouteStatus::RateLimited { until } if is_short_wait(until, now) => until,
                    _ => return None,
                };
                Some((at, self.members[i].id.clone()))
            })
            .min_by_key(|(at, _)| *at)
    }

    fn usage_view(&self, now: Timestamp) -> UsageView {
        match self.elect(None, &[], now) {
            Some(e) => {
                let gauge = self.member(&e.account).and_then(|m| self.gauge(&m.key));
                UsageView {
                    primary_used_percent: gauge.as_ref().map(|g| g.used_pct),
                    primary_resets_at: gauge.and_then(|g| g.resets_at),
                    any_selectable: true,
                    ..UsageView::default()
                }
            }
            None => UsageView {
                earliest_reset: self.earliest_reset(now),
                ..UsageView::default()
            },
        }
    }

    fn flush(&self) {
        let (ack_tx, ack_rx) = mpsc::channel();
        self.send(WriteOp::Flush(ack_tx));
        let _ = ack_rx.recv();
    }
}

impl Drop for DurablePool {
    fn drop(&mut self) {
        if let Some((tx, handle)) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            drop(tx);
            let _ = handle.join();
        }
    }
}

/// The background writer: applies observations to the store in arrival order.
fn write_loop(dirs: &Dirs, rx: Receiver<WriteOp>, errors: &Mutex<Vec<String>>) {
    while let Ok(op) = rx.recv() {
        match op {
            WriteOp::Flush(ack) => {
                let _ = ack.send(());
            }
            WriteOp::Observe {
                key,
                class,
                status,
                usage,
                now,
            } => {
                let mut result = crate::evidence::record(
                    dirs,
                    &key,
                    &class,
                    Some(status),
                    EvidenceSource::Proxy,
                    now,
                )
                .map(|_| ());
                if result.is_ok()
                    && let Some(gauge) = usage
                {
                    result = HealthFile::update(&dirs.health_file(), |routes| {
                        if let Some(mut h) = routes
                            .get(&key.to_string())
                            .and_then(|v| RouteHealth::from_json(v).ok())
                        {
                            h.usage = Some(gauge);
                            routes.insert(key.to_string(), h.to_json());
                        }
                    });
                }
                if let Err(e) = result {
                    errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(e.to_string());
                }
            }
        }
    }
}

/// Whether a recorded route is currently dead at account level (for callers that report).
pub fn is_dead(health: &RouteHealth) -> bool {
    matches!(health.liveness, Liveness::Dead { .. })
}
