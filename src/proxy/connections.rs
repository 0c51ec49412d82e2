//! Idle upstream connections, kept by the thread that used them, so the request path takes
//! no shared lock.
//!
//! A thread serving a harness connection sends one request at a time, mostly to one
//! provider host. When an answer was read whole on a connection the provider keeps open,
//! the connection waits on that thread for its next request. When the thread ends (the
//! harness closed its connection), its idle connections, TLS sessions included, go to the
//! session's stock, where the next harness connection's thread finds them: the stock is
//! locked when a thread has no idle connection of its own to the host, not per request.
//!
//! An idle connection is reused only while younger than [`MAX_IDLE_AGE`] and while nothing
//! waits to be read on it (the transport's own check: a provider that closed it, or sent a
//! stray byte, leaves it unfit).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::Transport;

/// An open upstream connection, whatever the chain made of it (TCP, TLS, a tunnel).
pub type Connection = Box<dyn Transport>;

/// How long an idle connection may wait before it is closed instead of reused.
pub const MAX_IDLE_AGE: Duration = Duration::from_secs(90);

/// Idle connections a thread keeps: one per host, two in all (a session talks to one or
/// two hosts).
const IDLE_PER_THREAD: usize = 2;

struct Idle {
    /// `scheme://authority` of the URL the connection was opened for.
    origin: String,
    connection: Connection,
    since: Instant,
}

impl Idle {
    /// The connection and its origin, when it is young enough and still fit for a request.
    fn fit(mut self, now: Instant) -> Option<(Connection, String)> {
        (now.saturating_duration_since(self.since) < MAX_IDLE_AGE && self.connection.is_open())
            .then_some((self.connection, self.origin))
    }
}

type Stock = Mutex<Vec<Idle>>;

/// The idle connections of one session: its stock, and those its threads hold.
pub struct Connections {
    /// Tells this session's connections apart from another session's on the same thread.
    id: u64,
    stock: Arc<Stock>,
    max_stock: usize,
}

/// The idle connections a thread holds for one session, moved to the session's stock when
/// the thread ends.
struct Held {
    session: u64,
    idle: Vec<Idle>,
    home: Weak<Stock>,
    max_stock: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(home) = self.home.upgrade() else {
            return;
        };
        let mut stock = home.lock().unwrap_or_else(|e| e.into_inner());
        for idle in self.idle.drain(..) {
            if stock.len() >= self.max_stock {
                stock.remove(0);
            }
            stock.push(idle);
        }
    }
}

thread_local! {
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Connections {
    /// A session's connections; at most `max_stock` wait in the stock.
    pub fn new(max_stock: usize) -> Connections {
        Connections {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            stock: Arc::new(Mutex::new(Vec::new())),
            max_stock,
        }
    }

    fn with_held<T>(&self, f: impl FnOnce(&mut Held) -> T) -> T {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            let i = match held.iter().position(|h| h.session == self.id) {
                Some(i) => i,
                None => {
                    held.push(Held {
                        session: self.id,
                        idle: Vec::new(),
                        home: Arc::downgrade(&self.stock),
                        max_stock: self.max_stock,
                    });
                    held.len() - 1
                }
            };
            f(&mut held[i])
        })
    }

    /// An idle connection to `origin` fit for a request, with the origin's text to put it
    /// back under: this thread's own, else one from the stock. Unfit ones met on the way are
    /// closed.
    pub fn take(&self, origin: &str) -> Option<(Connection, String)> {
        let now = Instant::now();
        let own = self.with_held(|held| take_from(&mut held.idle, origin, now));
        own.or_else(|| {
            let mut stock = self.stock.lock().unwrap_or_else(|e| e.into_inner());
            take_from(&mut stock, origin, now)
        })
    }

    /// Keep `connection` (its answer read whole, the provider keeping it open) for this
    /// thread's next request to `origin`.
    pub fn put(&self, origin: String, connection: Connection) {
        self.with_held(|held| {
            held.idle.retain(|i| i.origin != origin);
            if held.idle.len() >= IDLE_PER_THREAD {
                held.idle.remove(0);
            }
            held.idle.push(Idle {
                origin,
                connection,
                since: Instant::now(),
            });
        });
    }

    /// Connections waiting in the stock.
    #[cfg(test)]
    fn stocked(&self) -> usize {
        self.stock.lock().unwrap().len()
    }
}

/// The newest fit connection to `origin` in `idle`, closing the unfit ones to it.
fn take_from(idle: &mut Vec<Idle>, origin: &str, now: Instant) -> Option<(Connection, String)> {
    while let Some(i) = idle.iter().rposition(|i| i.origin == origin) {
        if let Some(fit) = idle.remove(i).fit(now) {
            return Some(fit);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::Error;
    use ureq::unversioned::transport::{Buffers, LazyBuffers, NextTimeout};

    /// A transport that is open or not, as told (told apart by its output buffer's size).
    #[derive(Debug)]
    struct Fake {
        open: bool,
        buffers: LazyBuffers,
    }

    impl Transport for Fake {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, _: usize, _: NextTimeout) -> Result<(), Error> {
            Ok(())
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
            Ok(false)
        }
        fn is_open(&mut self) -> bool {
            self.open
        }
    }

    fn fake(tag: usize, open: bool) -> Connection {
        Box::new(Fake {
            open,
            buffers: LazyBuffers::new(16, tag),
        })
    }

    fn tag(c: &mut Connection) -> usize {
        c.buffers().output().len()
    }

    #[test]
    fn a_thread_reuses_its_own_and_leaves_them_to_the_next_thread() {
        let pool = Arc::new(Connections::new(1));
        let p = pool.clone();
        std::thread::spawn(move || {
            assert!(p.take("http://a").is_none(), "nothing idle yet");
            p.put("http://a".into(), fake(1, true));
            let (mut again, origin) = p.take("http://a").expect("its own idle connection");
            assert_eq!(origin, "http://a");
            assert_eq!(tag(&mut again), 1);
            assert!(p.take("http://a").is_none(), "taken, not copied");
            p.put(origin, again);
            p.put("http://b".into(), fake(2, true));
            assert!(p.take("http://c").is_none(), "another host's are not used");
        })
        .join()
        .unwrap();
        assert_eq!(pool.stocked(), 1, "the stock keeps at most max_stock");
        let p = pool.clone();
        std::thread::spawn(move || {
            let (mut next, _) = p.take("http://b").expect("the ended thread's connection");
            assert_eq!(tag(&mut next), 2);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_connection_closed_while_idle_is_not_reused() {
        let pool = Connections::new(4);
        pool.put("http://a".into(), fake(1, false));
        assert!(pool.take("http://a").is_none());
        let mut old = vec![Idle {
            origin: "http://a".into(),
            connection: fake(2, true),
            since: Instant::now(),
        }];
        let later = Instant::now() + MAX_IDLE_AGE;
        assert!(take_from(&mut old, "http://a", later).is_none(), "too old");
        assert!(old.is_empty(), "and closed");
    }
}
