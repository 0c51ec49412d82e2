//! Fresh credentials for a session's pool, off the request path: each account's credential
//! sits in a [`CredentialSlot`] the proxy reads per request, and a background thread renews
//! every refreshable account ahead of expiry (the margin is the provider's; see
//! docs/refresh.md) and puts the new credential in its slot. Failures back off
//! exponentially (`model::refresh::backoff`); a rejected account is given up (its 401 then
//! fails over as a dead account).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::pool::{AccountId, Credential, Renewal, Renewer};
use crate::model::refresh::{RefreshTrigger, backoff};

/// After an attempt, the same account is not tried again for this long (a token whose
/// whole lifetime is shorter than the margin must not be refreshed in a tight loop).
const MIN_SPACING: SignedDuration = SignedDuration::from_secs(30);
/// The thread looks again at least this often (a clock that jumps, a store another
/// process refreshed).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// One account's current credential.
pub struct CredentialSlot {
    pub id: AccountId,
    credential: RwLock<Arc<Credential>>,
}

impl CredentialSlot {
    pub fn new(id: AccountId, credential: Credential) -> CredentialSlot {
        CredentialSlot {
            id,
            credential: RwLock::new(Arc::new(credential)),
        }
    }

    /// The credential to use now.
    pub fn get(&self) -> Arc<Credential> {
        self.credential
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Use `credential` from now on.
    pub fn set(&self, credential: Credential) -> Arc<Credential> {
        let fresh = Arc::new(credential);
        *self.credential.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        fresh
    }
}

type Stop = Arc<(Mutex<bool>, Condvar)>;

/// The background renewal thread of one session; stopped and joined when dropped.
pub struct RenewalThread {
    stop: Stop,
    handle: Option<JoinHandle<()>>,
}

impl RenewalThread {
    pub fn start(
        slots: Arc<Vec<CredentialSlot>>,
        renewer: Arc<dyn Renewer>,
    ) -> std::io::Result<RenewalThread> {
        let stop: Stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("omux-token-renewal".into())
            .spawn(move || renew_loop(&slots, renewer.as_ref(), &flag))?;
        Ok(RenewalThread {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for RenewalThread {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn renew_loop(slots: &[CredentialSlot], renewer: &dyn Renewer, stop: &Stop) {
    let mut not_before: HashMap<AccountId, (u32, Timestamp)> = HashMap::new();
    let mut gave_up: HashSet<AccountId> = HashSet::new();
    loop {
        let now = Timestamp::now();
        let mut next: Option<Timestamp> = None;
        for slot in slots {
            if gave_up.contains(&slot.id) {
                continue;
            }
            let Some(due) = renewer.due_at(&slot.id) else {
                continue;
            };
            let after = not_before.get(&slot.id).map(|(_, t)| *t);
            let at = after.map_or(due, |t| due.max(t));
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            let spaced = now.checked_add(MIN_SPACING).unwrap_or(now);
            match renewer.renew(&slot.id, RefreshTrigger::AheadOfExpiry, None) {
                Renewal::Renewed(credential) => {
                    slot.set(credential);
                    not_before.insert(slot.id.clone(), (0, spaced));
                }
                Renewal::Unchanged => {
                    not_before.insert(slot.id.clone(), (0, spaced));
                }
                Renewal::Failed => {
                    let failures = not_before.get(&slot.id).map_or(0, |(n, _)| *n) + 1;
                    let retry = now.checked_add(backoff(failures)).unwrap_or(spaced);
                    not_before.insert(slot.id.clone(), (failures, retry));
                }
                Renewal::GaveUp => {
                    gave_up.insert(slot.id.clone());
                    continue;
                }
            }
            if let Some(due) = renewer.due_at(&slot.id) {
                let at = due.max(not_before[&slot.id].1);
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        let wait = next
            .and_then(|t| Duration::try_from(Timestamp::now().duration_until(t)).ok())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        let (lock, wake) = &**stop;
        let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return;
        }
        let (stopped, _) = wake
            .wait_timeout(stopped, wait)
            .unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A renewer whose account is due once, now, and renews to a key named `renewed-N`.
    struct Counting {
        due: Mutex<Option<Timestamp>>,
        calls: Mutex<u32>,
        outcome: fn(u32) -> Renewal,
    }

    impl Renewer for Counting {
        fn due_at(&self, _: &AccountId) -> Option<Timestamp> {
            *self.due.lock().unwrap()
        }
        fn renew(&self, _: &AccountId, trigger: RefreshTrigger, _: Option<&Credential>) -> Renewal {
            assert_eq!(trigger, RefreshTrigger::AheadOfExpiry);
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            let out = (self.outcome)(*calls);
            if matches!(out, Renewal::Renewed(_)) {
                *self.due.lock().unwrap() = Some(Timestamp::now() + SignedDuration::from_hours(1));
            }
            out
        }
    }

    fn slot() -> Arc<Vec<CredentialSlot>> {
        Arc::new(vec![CredentialSlot::new(
            AccountId("a".into()),
            Credential::ClaudeApiKey {
                api_key: "old".into(),
            },
        )])
    }

    fn key_of(slots: &[CredentialSlot]) -> String {
        match &*slots[0].get() {
            Credential::ClaudeApiKey { api_key } => api_key.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn wait_for(what: impl Fn() -> bool) {
        for _ in 0..200 {
            if what() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out");
    }

    #[test]
    fn a_due_account_is_renewed_in_the_background_once() {
        let slots = slot();
        let renewer = Arc::new(Counting {
            due: Mutex::new(Some(Timestamp::now())),
            calls: Mutex::new(0),
            outcome: |n| {
                Renewal::Renewed(Credential::ClaudeApiKey {
                    api_key: format!("renewed-{n}"),
                })
            },
        });
        let thread = RenewalThread::start(slots.clone(), renewer.clone()).unwrap();
        wait_for(|| key_of(&slots) == "renewed-1");
        std::thread::sleep(Duration::from_millis(100));
        drop(thread);
        assert_eq!(*renewer.calls.lock().unwrap(), 1);
    }

    #[test]
    fn a_failure_backs_off_and_a_rejection_gives_up() {
        for (outcome, want) in [
            (
                (|_| Renewal::Failed) as fn(u32) -> Renewal,
                "a failure is retried after its backoff, not at once",
            ),
            (|_| Renewal::GaveUp, "a given-up account is not asked again"),
        ] {
            let slots = slot();
            let renewer = Arc::new(Counting {
                due: Mutex::new(Some(Timestamp::now())),
                calls: Mutex::new(0),
                outcome,
            });
            let thread = RenewalThread::start(slots.clone(), renewer.clone()).unwrap();
            wait_for(|| *renewer.calls.lock().unwrap() == 1);
            std::thread::sleep(Duration::from_millis(200));
            drop(thread);
            assert_eq!(*renewer.calls.lock().unwrap(), 1, "{want}");
            assert_eq!(key_of(&slots), "old");
        }
    }
}
