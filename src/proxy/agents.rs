//! One upstream `ureq` agent per connection thread, so the request path takes no shared lock.
//!
//! A `ureq` agent keeps its idle upstream connections in a pool behind one mutex, locked at
//! every checkout and every return. Shared by all of a session's connection threads, that
//! lock was where most of the proxy's futex wake-ups came from (docs/performance.md). Here
//! each thread that sends a request takes an agent of its own from the session's stock on
//! its first request and keeps it until the thread ends; then the agent, with its idle
//! upstream connections (TLS sessions included), goes back to the stock for the next
//! connection thread. The stock is locked once per harness connection, not per request, and
//! keeps at most `max_idle` agents: a burst of connections does not leave a crowd of idle
//! upstream connections behind.
//!
//! Every agent shares one connector chain ([`SharedConnector`]), so the TLS client
//! configuration (root certificates included) is built once per session, not per agent.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use ureq::Agent;
use ureq::unversioned::transport::{ConnectionDetails, Connector, Transport};

/// A connector chain shared by several agents.
pub struct SharedConnector<C>(pub Arc<C>);

impl<C> fmt::Debug for SharedConnector<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedConnector")
    }
}

impl<In: Transport, C: Connector<In>> Connector<In> for SharedConnector<C> {
    type Out = C::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.0.connect(details, chained)
    }
}

type Stock = Mutex<Vec<Agent>>;

/// The agents of one session: those idle in the stock, and how to make another.
pub struct Agents {
    /// Tells this session's agents apart from another session's on the same thread.
    id: u64,
    stock: Arc<Stock>,
    max_idle: usize,
    make: Box<dyn Fn() -> Agent + Send + Sync>,
}

/// The agent a thread holds, returned to its session's stock when the thread ends.
struct Held {
    session: u64,
    agent: Agent,
    home: Weak<Stock>,
    max_idle: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(home) = self.home.upgrade() else {
            return;
        };
        let mut stock = home.lock().unwrap_or_else(|e| e.into_inner());
        if stock.len() < self.max_idle {
            stock.push(self.agent.clone());
        }
    }
}

thread_local! {
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Agents {
    /// Agents made by `make`; at most `max_idle` wait in the stock.
    pub fn new(max_idle: usize, make: impl Fn() -> Agent + Send + Sync + 'static) -> Agents {
        Agents {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            stock: Arc::new(Mutex::new(Vec::new())),
            max_idle,
            make: Box::new(make),
        }
    }

    /// Run `f` with the current thread's agent for this session (taken from the stock, or
    /// made, on the thread's first request).
    pub fn with_agent<T>(&self, f: impl FnOnce(&Agent) -> T) -> T {
        let agent = HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(h) = held.iter().find(|h| h.session == self.id) {
                return h.agent.clone();
            }
            let agent = self
                .stock
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .unwrap_or_else(|| (self.make)());
            held.push(Held {
                session: self.id,
                agent: agent.clone(),
                home: Arc::downgrade(&self.stock),
                max_idle: self.max_idle,
            });
            agent
        });
        // `Agent` is a handle (its parts behind `Arc`s): the clone shares the pool. The
        // borrow of HELD is over before `f` runs, so `f` may send again.
        f(&agent)
    }

    /// Agents waiting in the stock.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.stock.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_agent_and_returns_it_when_it_ends() {
        let made = Arc::new(AtomicU64::new(0));
        let counter = made.clone();
        let agents = Arc::new(Agents::new(1, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Agent::new_with_defaults()
        }));
        let run = |agents: Arc<Agents>| {
            std::thread::spawn(move || {
                agents.with_agent(|_| ());
                agents.with_agent(|_| ());
            })
            .join()
            .unwrap()
        };
        run(agents.clone());
        assert_eq!(
            made.load(Ordering::SeqCst),
            1,
            "one agent for both requests"
        );
        assert_eq!(agents.idle(), 1, "back in the stock when the thread ended");
        run(agents.clone());
        assert_eq!(made.load(Ordering::SeqCst), 1, "the next thread reuses it");
        // Two threads at once need two agents; the stock keeps only one of them.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let both: Vec<_> = (0..2)
            .map(|_| {
                let (agents, barrier) = (agents.clone(), barrier.clone());
                std::thread::spawn(move || {
                    agents.with_agent(|_| ());
                    barrier.wait();
                })
            })
            .collect();
        for t in both {
            t.join().unwrap();
        }
        assert_eq!(made.load(Ordering::SeqCst), 2);
        assert_eq!(agents.idle(), 1, "at most max_idle agents wait");
    }
}
