//! The pool behind a managed session: the model's one classifier and judgement table judge
//! every response, the model's one election orders the accounts, and what a response teaches
//! is written to the health store by a background thread (durable before the session ends,
//! never on the harness's critical path). An in-memory mirror of the store answers `elect`
//! at once. With a [`Renewer`], each account's OAuth token is refreshed ahead of expiry by a
//! background thread (`proxy::renewal`) and once more when it meets a 401.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::thread::Thread;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::pool::{
    AccountId, Credential, Elected, Pool, Renewal, Renewer, ResponseEvidence, ResponseReader,
    UsageView, UsageWindow,
};
use super::renewal::{CredentialSlot, RenewalThread};
use crate::config::ProviderDefinition;
use crate::evidence::{RouteRecords, record_in};
use crate::model::RouteKey;
use crate::model::classify::Classification;
use crate::model::election::{self, Ballot, Purpose};
use crate::model::health::{EvidenceSource, RouteHealth, RouteStatus, UsageGauge};
use crate::model::judgement::{Judgement, Record};
use crate::model::liveness::Liveness;
use crate::model::runtime::RuntimeReadiness;
use crate::model::selection::{
    Candidate, HealthLookup, RankPolicy, RouteView, next_change, rank, view_of,
};
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
    /// `key` as the mirror's map names it.
    key_text: String,
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

/// The session's view of health: the store's records, and usage read from responses that
/// recorded nothing (it steers this session's elections and is never written).
struct SessionHealth<'a> {
    mirror: &'a HashMap<String, RouteHealth>,
    unrecorded: Option<&'a HashMap<String, UsageGauge>>,
    /// The session's members, whose keys' texts name them in both maps (no key is
    /// formatted per lookup: elections run on every request).
    members: &'a [Member],
}

impl SessionHealth<'_> {
    fn text_of<'k>(&'k self, key: &RouteKey) -> std::borrow::Cow<'k, str> {
        match self.members.iter().find(|m| &m.key == key) {
            Some(m) => std::borrow::Cow::Borrowed(m.key_text.as_str()),
            None => std::borrow::Cow::Owned(key.to_string()),
        }
    }
}

impl HealthLookup for SessionHealth<'_> {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth> {
        self.mirror.get(self.text_of(key).as_ref()).cloned()
    }

    fn usage(&self, key: &RouteKey) -> Option<UsageGauge> {
        let key = self.text_of(key);
        let recorded = self.mirror.get(key.as_ref()).and_then(|h| h.usage.clone());
        let unrecorded = self.unrecorded.and_then(|u| u.get(key.as_ref()).cloned());
        recorded
            .into_iter()
            .chain(unrecorded)
            .max_by_key(|g| g.observed_at)
    }
}

/// The last election with nothing excluded (a request's first, so almost every election),
/// kept while it stands: until the pool learns something (its generation moves) or time alone
/// changes a route's standing ([`next_change`]). Asking again then costs a lock, not a ranking.
struct StandingElection {
    generation: u64,
    /// The preferred member (by index), as asked.
    prefer: Option<usize>,
    /// When it was held: a clock that steps back before it asks afresh.
    held_at: Timestamp,
    until: Option<Timestamp>,
    /// The first member and why the preferred one was passed over, if it was.
    outcome: Option<(usize, Option<String>)>,
}

impl StandingElection {
    fn answers(&self, generation: u64, prefer: Option<usize>, now: Timestamp) -> bool {
        self.generation == generation
            && self.prefer == prefer
            && self.held_at <= now
            && self.until.is_none_or(|until| now < until)
    }
}

/// A [`Pool`] over the model's classifier and selection and the durable health store.
pub struct DurablePool {
    profile: String,
    reader: ResponseReader,
    threshold_percent: f64,
    /// The capability tiers the launcher ranked with (requested capability, then the
    /// profile's degradation chain), so the pool orders routes as `route explain` does.
    primary_capability: Option<String>,
    fallback_chain: Vec<String>,
    members: Vec<Member>,
    /// The members as the election's candidates (same order), made once.
    candidates: Vec<Candidate>,
    /// Each member's current credential (same order as `members`).
    slots: Arc<Vec<CredentialSlot>>,
    renewer: Option<Arc<dyn Renewer>>,
    /// Declared after `slots`: dropped (stopped and joined) with the pool.
    renewal: Option<RenewalThread>,
    /// The store as this session knows it (loaded once, updated on every record).
    mirror: Mutex<HashMap<String, RouteHealth>>,
    /// Usage read from responses that record nothing (a windowless 429), by route key:
    /// it steers this session's elections and is never written.
    unrecorded_usage: Mutex<HashMap<String, UsageGauge>>,
    /// False until the first such reading: elections skip that lock until then.
    any_unrecorded_usage: AtomicBool,
    /// Moves after every change of `mirror` or `unrecorded_usage`.
    generation: AtomicU64,
    standing: Mutex<Option<StandingElection>>,
    writer: Mutex<Option<(Inbox, JoinHandle<()>)>>,
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
        let slots = Arc::new(
            accounts
                .iter()
                .map(|a| {
                    CredentialSlot::new(AccountId(a.label.as_str().into()), a.credential.clone())
                })
                .collect(),
        );
        let members: Vec<Member> = accounts
            .into_iter()
            .map(|a| Member {
                id: AccountId(a.label.into()),
                key_text: a.route_key.to_string(),
                key: a.route_key,
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
        let candidates = members
            .iter()
            .map(|m| Candidate {
                key: m.key.clone(),
                priority: m.priority,
                runtime: RuntimeReadiness::Ready,
            })
            .collect();
        Ok(DurablePool {
            profile: profile.to_string(),
            reader: ResponseReader::new(definition),
            threshold_percent,
            primary_capability: None,
            fallback_chain: Vec::new(),
            members,
            candidates,
            slots,
            renewer: None,
            renewal: None,
            mirror: Mutex::new(mirror),
            unrecorded_usage: Mutex::new(HashMap::new()),
            any_unrecorded_usage: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            standing: Mutex::new(None),
            writer: Mutex::new(Some((
                Inbox {
                    tx,
                    writer: handle.thread().clone(),
                },
                handle,
            ))),
            write_errors,
        })
    }

    /// Rank with the launcher's capability tiers (the requested capability, then the
    /// profile's degradation chain), as `route explain` does.
    pub fn with_tiers(mut self, primary: Option<String>, chain: Vec<String>) -> Self {
        self.primary_capability = primary;
        self.fallback_chain = chain;
        self
    }

    /// Keep the accounts' tokens fresh with `renewer`: a background thread refreshes each
    /// ahead of expiry, and a 401 gets one refresh before the account is failed over.
    pub fn with_renewer(mut self, renewer: Arc<dyn Renewer>) -> anyhow::Result<Self> {
        self.renewal = Some(RenewalThread::start(self.slots.clone(), renewer.clone())?);
        self.renewer = Some(renewer);
        Ok(self)
    }

    /// Errors the background writer met (empty when every fact reached the store).
    pub fn write_errors(&self) -> Vec<String> {
        self.write_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn index_of(&self, id: &AccountId) -> Option<usize> {
        self.members.iter().position(|m| &m.id == id)
    }

    fn member(&self, id: &AccountId) -> Option<&Member> {
        self.index_of(id).map(|i| &self.members[i])
    }

    fn mirror(&self) -> std::sync::MutexGuard<'_, HashMap<String, RouteHealth>> {
        self.mirror.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session's routes in rank order, as the model sees them now: the mirror's health
    /// with each route's newest usage reading.
    fn views(&self, now: Timestamp) -> Vec<RouteView> {
        let mirror = self.mirror();
        let unrecorded = self.unrecorded_if_any();
        let lookup = self.lookup(&mirror, unrecorded.as_deref());
        let policy = RankPolicy {
            primary_capability: self.primary_capability.as_deref(),
            fallback_chain: &self.fallback_chain,
            usage_threshold_pct: self.threshold_percent,
        };
        rank(&self.candidates, &policy, &lookup, now)
    }

    /// The unrecorded usage readings, locked, once there are any (elections skip that lock
    /// until the first). Taken after the mirror's lock, never before it.
    fn unrecorded_if_any(&self) -> Option<std::sync::MutexGuard<'_, HashMap<String, UsageGauge>>> {
        self.any_unrecorded_usage.load(Ordering::Acquire).then(|| {
            self.unrecorded_usage
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        })
    }

    fn lookup<'a>(
        &'a self,
        mirror: &'a HashMap<String, RouteHealth>,
        unrecorded: Option<&'a HashMap<String, UsageGauge>>,
    ) -> SessionHealth<'a> {
        SessionHealth {
            mirror,
            unrecorded,
            members: &self.members,
        }
    }

    /// Member `i`'s route as an election sees it over these maps.
    fn member_view(
        &self,
        i: usize,
        mirror: &HashMap<String, RouteHealth>,
        unrecorded: Option<&HashMap<String, UsageGauge>>,
        now: Timestamp,
    ) -> RouteView {
        let lookup = self.lookup(mirror, unrecorded);
        view_of(&self.candidates[i], &lookup, self.threshold_percent, now)
    }

    fn index_of_key(&self, key: &RouteKey) -> Option<usize> {
        self.members.iter().position(|m| &m.key == key)
    }

    fn keys_of(&self, ids: &[AccountId]) -> Vec<RouteKey> {
        ids.iter()
            .filter_map(|id| self.member(id).map(|m| m.key.clone()))
            .collect()
    }

    fn elected(&self, i: usize, passed_over: Option<String>) -> Elected {
        let m = &self.members[i];
        Elected {
            account: m.id.clone(),
            credential: self.slots[i].get(),
            upstream: m.upstream.clone(),
            passed_over,
        }
    }

    fn standing(&self) -> std::sync::MutexGuard<'_, Option<StandingElection>> {
        self.standing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The model's election over `views`: the first member, and why the preferred one was
    /// passed over if it was.
    fn hold_election(
        &self,
        views: &[RouteView],
        prefer: Option<usize>,
        exclude: &[AccountId],
    ) -> Option<(usize, Option<String>)> {
        let prefer = prefer.map(|i| &self.members[i].key);
        let exclude = self.keys_of(exclude);
        let election = election::elect(
            views,
            &Ballot {
                purpose: Purpose::Session,
                prefer,
                exclude: &exclude,
            },
        );
        let first = election.first()?;
        let passed_over = prefer.filter(|p| *p != first).map(|p| {
            election
                .reason_for(p)
                .unwrap_or("not_selectable")
                .to_owned()
        });
        Some((self.index_of_key(first)?, passed_over))
    }

    /// Something the elections read changed: a standing election no longer stands.
    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// A change to one member's route ends the standing election unless an election reads the
    /// route as before (most usage readings: the percentage moves, the threshold is not crossed).
    /// Called with the locks of the change held, after it.
    fn changed_unless_alike(&self, before: &RouteView, after: &RouteView) {
        if !before.stays_alike(after) {
            self.changed();
        }
    }

    /// How many times what the elections read has changed (for tests of the standing election).
    #[cfg(test)]
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn send(&self, op: WriteOp) {
        if let Some((inbox, _)) = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            inbox.post(op);
        }
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
        let prefer = prefer.and_then(|p| self.index_of(p));
        // Read before the ranking: a change that lands meanwhile moves it past what is kept.
        let generation = self.generation.load(Ordering::Acquire);
        let may_stand = exclude.is_empty();
        let stands = may_stand
            .then(|| {
                let standing = self.standing();
                let standing = standing.as_ref()?;
                standing
                    .answers(generation, prefer, now)
                    .then(|| standing.outcome.clone())
            })
            .flatten();
        if let Some(outcome) = stands {
            let (i, passed_over) = outcome?;
            return Some(self.elected(i, passed_over));
        }
        let views = self.views(now);
        let outcome = self.hold_election(&views, prefer, exclude);
        if may_stand {
            *self.standing() = Some(StandingElection {
                generation,
                prefer,
                held_at: now,
                until: next_change(&views),
                outcome: outcome.clone(),
            });
        }
        let (i, passed_over) = outcome?;
        Some(self.elected(i, passed_over))
    }

    fn reader(&self) -> &ResponseReader {
        &self.reader
    }

    fn record(
        &self,
        account: &AccountId,
        evidence: &ResponseEvidence,
        judgement: &Judgement,
        usage: &[UsageWindow],
        now: Timestamp,
    ) {
        let Some(i) = self.index_of(account) else {
            return;
        };
        let member = &self.members[i];
        let class = &judgement.class;
        // Transient overload, the request's own errors and a windowless 429 (request-scoped:
        // the next request may well pass) say nothing lasting about the account.
        let gauge = UsageGauge::from_windows(usage, now);
        if judgement.record == Record::Nothing {
            // Nothing lasting to write, but the usage it reports still steers this
            // session's next election.
            if let Some(gauge) = gauge {
                // Locked in the elections' order: the mirror first.
                let mirror = self.mirror();
                let mut unrecorded = self
                    .unrecorded_usage
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let before = self.member_view(i, &mirror, Some(&unrecorded), now);
                unrecorded.insert(member.key_text.clone(), gauge);
                self.any_unrecorded_usage.store(true, Ordering::Release);
                let after = self.member_view(i, &mirror, Some(&unrecorded), now);
                self.changed_unless_alike(&before, &after);
            }
            return;
        }
        {
            let mut mirror = self.mirror();
            let prev = mirror.get(&member.key_text);
            // A success on a route whose last evidence was a success changes nothing worth a
            // write, unless it brings a usage reading. (A route that recovered by itself from
            // a rate limit is available too, but its record still names the limit.) The
            // common case, so it is decided before anything is copied.
            let unchanged = matches!(class, Classification::Success)
                && gauge.is_none()
                && prev.is_some_and(|p| {
                    p.last_class.as_deref() == Some(class.label())
                        && p.status_at(now) == RouteStatus::Available
                });
            if unchanged {
                return;
            }
            let before = {
                let unrecorded = self.unrecorded_if_any();
                self.member_view(i, &mirror, unrecorded.as_deref(), now)
            };
            let prev = prev.cloned();
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
            mirror.insert(member.key_text.clone(), next);
            if judgement.record == Record::RouteAndAccount {
                let ak = member.key.account_key();
                let prev = mirror.get(&ak.to_string()).cloned();
                let next = RouteHealth::observe(
                    prev.as_ref(),
                    class,
                    Some(evidence.status),
                    EvidenceSource::Proxy,
                    now,
                );
                mirror.insert(ak.to_string(), next);
                // Every route of the account may read it: elections start afresh.
                self.changed();
            } else {
                let unrecorded = self.unrecorded_if_any();
                let after = self.member_view(i, &mirror, unrecorded.as_deref(), now);
                self.changed_unless_alike(&before, &after);
            }
        }
        self.send(WriteOp::Observe {
            key: member.key.clone(),
            class: class.clone(),
            status: evidence.status,
            usage: gauge,
            now,
        });
    }

    fn earliest_reset(&self, now: Timestamp) -> Option<Timestamp> {
        election::earliest_return(&self.views(now))
    }

    fn short_limit(&self, exclude: &[AccountId], now: Timestamp) -> Option<(Timestamp, AccountId)> {
        let (at, key) = election::first_to_lift(&self.views(now), &self.keys_of(exclude), now)?;
        Some((at, self.members[self.index_of_key(&key)?].id.clone()))
    }

    fn usage_view(&self, now: Timestamp) -> UsageView {
        let views = self.views(now);
        let election = election::elect(&views, &Ballot::new(Purpose::Session));
        match election
            .first()
            .and_then(|k| views.iter().find(|v| &v.key == k))
        {
            Some(view) => UsageView {
                primary_used_percent: view.usage.as_ref().map(|g| g.used_pct),
                primary_resets_at: view.usage.as_ref().and_then(|g| g.resets_at),
                any_selectable: true,
                ..UsageView::default()
            },
            None => UsageView {
                earliest_reset: election::earliest_return(&views),
                ..UsageView::default()
            },
        }
    }

    fn flush(&self) {
        let (ack_tx, ack_rx) = mpsc::channel();
        self.send(WriteOp::Flush(ack_tx));
        let _ = ack_rx.recv();
    }

    fn renew_unauthorized(
        &self,
        account: &AccountId,
        used: &Credential,
    ) -> Option<Arc<Credential>> {
        let renewer = self.renewer.as_ref()?;
        let slot = self.slots.iter().find(|s| &s.id == account)?;
        // Another request renewed it already: use that.
        let current = slot.get();
        if current.secret() != used.secret() {
            return Some(current);
        }
        match renewer.renew(
            account,
            crate::model::refresh::RefreshTrigger::Unauthorized,
            Some(used),
        ) {
            Renewal::Renewed(credential) if credential.secret() != used.secret() => {
                Some(slot.set(credential))
            }
            _ => None,
        }
    }
}

impl Drop for DurablePool {
    fn drop(&mut self) {
        if let Some((inbox, handle)) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            inbox.close();
            let _ = handle.join();
        }
    }
}

/// Observations a failed write keeps for the next one (a store that stays unwritable, a
/// full disk, keeps the newest this many rather than growing without end).
const MAX_UNWRITTEN: usize = 4096;

/// How long the writer gathers observations after the first one before it writes them all.
/// Other processes see an observation at most this much later; a flush does not wait.
const GATHER: Duration = Duration::from_millis(100);

/// The writer's inbox. An observation posted while the writer gathers waits there without
/// waking it (with usage on every answer, a wake-up per answer cost the proxy a context
/// switch per request); a flush, or the inbox closing, wakes it.
struct Inbox {
    tx: Sender<WriteOp>,
    writer: Thread,
}

impl Inbox {
    fn post(&self, op: WriteOp) {
        let wake = matches!(op, WriteOp::Flush(_));
        let _ = self.tx.send(op);
        if wake {
            self.writer.unpark();
        }
    }

    /// No more posts: the writer writes what it has and ends.
    fn close(self) {
        drop(self.tx);
        self.writer.unpark();
    }
}

/// `first` and what follows it within `window` (or up to a flush, which ends the wait, or
/// the inbox closing). Sleeps through the window; [`Inbox`] wakes it for a flush.
fn gather(first: WriteOp, rx: &Receiver<WriteOp>, window: Duration) -> Vec<WriteOp> {
    let until = Instant::now() + window;
    let mut ops = vec![first];
    let mut flushed = matches!(ops[0], WriteOp::Flush(_));
    loop {
        loop {
            match rx.try_recv() {
                Ok(op) => {
                    flushed |= matches!(op, WriteOp::Flush(_));
                    ops.push(op);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return ops,
            }
        }
        let left = until.saturating_duration_since(Instant::now());
        if flushed || left.is_zero() {
            return ops;
        }
        std::thread::park_timeout(left);
    }
}

/// The background writer: applies observations to the store in arrival order, everything
/// gathered in one write of the store (a busy session, or one whose provider reports usage on
/// every answer, would otherwise rewrite the file, and sync it to disk, once per answer and
/// fall behind), and answers a flush once what came before it is written. A write that fails (the store's
/// lock held past its timeout, a file it cannot understand, a full disk) records the error
/// and keeps its observations for the next write, so a failure loses none of them from the
/// file once the store can be written again.
fn write_loop(dirs: &Dirs, rx: Receiver<WriteOp>, errors: &Mutex<Vec<String>>) {
    let mut unwritten: Vec<WriteOp> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut flushes = Vec::new();
        let mut observations = std::mem::take(&mut unwritten);
        for op in gather(first, &rx, GATHER) {
            match op {
                WriteOp::Flush(_) => flushes.push(op),
                observe => observations.push(observe),
            }
        }
        if !observations.is_empty() {
            let written = HealthFile::update(&dirs.health_file(), |routes| {
                let mut records = RouteRecords::new(routes);
                for op in &observations {
                    let WriteOp::Observe {
                        key,
                        class,
                        status,
                        usage,
                        now,
                    } = op
                    else {
                        continue;
                    };
                    let mut health = record_in(
                        &mut records,
                        key,
                        class,
                        Some(*status),
                        EvidenceSource::Proxy,
                        *now,
                    );
                    if let Some(gauge) = usage {
                        health.usage = Some(gauge.clone());
                        records.set(key.to_string(), health);
                    }
                }
                records.finish();
            });
            if let Err(e) = written {
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(e.to_string());
                let excess = observations.len().saturating_sub(MAX_UNWRITTEN);
                observations.drain(..excess);
                unwritten = observations;
            }
        }
        for op in flushes {
            if let WriteOp::Flush(ack) = op {
                let _ = ack.send(());
            }
        }
    }
}

/// Whether a recorded route is currently dead at account level (for callers that report).
pub fn is_dead(health: &RouteHealth) -> bool {
    matches!(health.liveness, Liveness::Dead { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::classify::Classification;
    use crate::model::judgement::Judgement;

    fn pool(state: &std::path::Path) -> DurablePool {
        let home = state.to_string_lossy().into_owned();
        let dirs = Dirs::resolve(&|name| {
            matches!(name, "OMUX_STATE_DIR" | "HOME" | "OMUX_CONFIG_DIR").then(|| home.clone())
        })
        .unwrap();
        let account = |label: &str, priority| PoolAccount {
            label: label.into(),
            route_key: RouteKey::new("codex", label, Some("codex-max")),
            credential: Credential::CodexApiKey {
                api_key: format!("sk-{label}"),
            },
            upstream: None,
            priority,
        };
        let definition = crate::config::builtin::definition("codex").unwrap();
        let accounts = vec![account("one", 100), account("two", 90)];
        DurablePool::new("p", definition, accounts, dirs, 95.0).unwrap()
    }

    fn success_with_usage(pool: &DurablePool, account: &AccountId, pct: f64, now: Timestamp) {
        let evidence = ResponseEvidence {
            status: 200,
            ..Default::default()
        };
        let usage = [UsageWindow {
            window: "primary".into(),
            used_percent: pct,
            resets_in_seconds: Some(3600),
            window_minutes: Some(300),
        }];
        let judgement: Judgement = pool.judge(account, &evidence, now);
        assert_eq!(judgement.class, Classification::Success);
        pool.record(account, &evidence, &judgement, &usage, now);
    }

    /// Observations that wait for the writer go to the store together, none lost, in order.
    #[test]
    fn every_observation_reaches_the_store_in_order_however_many_wait() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path());
        let one = AccountId("one".into());
        let now = Timestamp::now();
        for i in 0..300 {
            success_with_usage(&pool, &one, f64::from(i % 90), now);
        }
        pool.flush();
        let store = HealthFile::load(&dir.path().join("health.json")).unwrap();
        let health = RouteHealth::from_json(&store.routes()["codex:one#codex-max"]).unwrap();
        assert_eq!(health.successes, 300);
        assert_eq!(health.usage.map(|u| u.used_pct), Some(f64::from(299 % 90)));
        assert!(pool.write_errors().is_empty());
    }

    /// The writer gathers what comes within its window after the first observation, and a
    /// flush ends the wait.
    #[test]
    fn the_writer_gathers_what_follows_until_its_window_ends_or_a_flush_comes() {
        let observation = |pct: f64| WriteOp::Observe {
            key: RouteKey::new("codex", "one", Some("codex-max")),
            class: Classification::Success,
            status: 200,
            usage: Some(UsageGauge {
                used_pct: pct,
                resets_at: None,
                observed_at: Timestamp::now(),
                windows: Vec::new(),
            }),
            now: Timestamp::now(),
        };
        let (tx, rx) = mpsc::channel();
        let inbox = Inbox {
            tx,
            writer: std::thread::current(),
        };
        let (ack, _acked) = mpsc::channel();
        let (flushed, flush_seen) = mpsc::channel();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            inbox.post(observation(2.0));
            std::thread::sleep(Duration::from_millis(20));
            inbox.post(WriteOp::Flush(ack));
            // Sent once the flush ended the gathering: left for the next one.
            flush_seen.recv().unwrap();
            inbox.post(observation(3.0));
        });
        let ops = gather(observation(1.0), &rx, Duration::from_secs(600));
        flushed.send(()).unwrap();
        sender.join().unwrap();
        let kinds: Vec<&str> = ops
            .iter()
            .map(|op| match op {
                WriteOp::Observe { .. } => "observe",
                WriteOp::Flush(_) => "flush",
            })
            .collect();
        assert_eq!(kinds, ["observe", "observe", "flush"]);
        assert_eq!(rx.try_iter().count(), 1, "the later observation waits");
    }

    /// A pool dropped while its writer gathers: the writer ends at once with what it has.
    #[test]
    fn the_inbox_closing_ends_the_gathering() {
        let (tx, rx) = mpsc::channel();
        let inbox = Inbox {
            tx,
            writer: std::thread::current(),
        };
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            inbox.close();
        });
        let first = WriteOp::Observe {
            key: RouteKey::new("codex", "one", Some("codex-max")),
            class: Classification::Success,
            status: 200,
            usage: None,
            now: Timestamp::now(),
        };
        let ops = gather(first, &rx, Duration::from_secs(600));
        closer.join().unwrap();
        assert_eq!(ops.len(), 1);
    }

    /// A write that fails keeps its observations: the next write, once the store can be
    /// written again, brings them in with its own.
    #[test]
    fn observations_a_failed_write_held_reach_the_store_with_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path());
        let one = AccountId("one".into());
        let store_path = dir.path().join("health.json");
        std::fs::write(&store_path, "{ not json").unwrap();
        let now = Timestamp::now();
        success_with_usage(&pool, &one, 10.0, now);
        success_with_usage(&pool, &one, 20.0, now);
        pool.flush();
        assert!(
            !pool.write_errors().is_empty(),
            "the unreadable store fails the write"
        );
        assert_eq!(std::fs::read_to_string(&store_path).unwrap(), "{ not json");
        std::fs::remove_file(&store_path).unwrap();
        success_with_usage(&pool, &one, 30.0, now);
        pool.flush();
        let store = HealthFile::load(&store_path).unwrap();
        let health = RouteHealth::from_json(&store.routes()["codex:one#codex-max"]).unwrap();
        assert_eq!(
            health.successes, 3,
            "the two held observations and the new one"
        );
        assert_eq!(health.usage.map(|u| u.used_pct), Some(30.0));
    }

    /// Real providers report usage on nearly every answer: a reading that leaves the route
    /// as an election sees it keeps the standing election; one that crosses the threshold
    /// ends it (and moves the next election).
    #[test]
    fn a_usage_reading_ends_the_standing_election_only_when_it_crosses_the_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path());
        let (one, two) = (AccountId("one".into()), AccountId("two".into()));
        let now = Timestamp::now();
        success_with_usage(&pool, &two, 10.0, now);
        success_with_usage(&pool, &one, 40.0, now);
        let first = pool.generation();
        assert_eq!(pool.elect(Some(&one), &[], now).unwrap().account, one);
        for pct in [41.0, 55.5, 94.9] {
            success_with_usage(&pool, &one, pct, now);
            assert_eq!(pool.generation(), first, "{pct}% read as before");
            assert_eq!(pool.elect(Some(&one), &[], now).unwrap().account, one);
        }
        success_with_usage(&pool, &one, 97.0, now);
        assert!(pool.generation() > first, "97% makes the route hot");
        let moved = pool.elect(Some(&one), &[], now).unwrap();
        assert_eq!(moved.account, two);
        assert_eq!(moved.passed_over.as_deref(), Some("usage_threshold"));
    }
}
