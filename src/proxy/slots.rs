//! The bounded connection slots of one listener. A connection that has not yet shown the
//! session secret is anyone's (any local process can connect), so it holds its slot only
//! on probation: when the slots run out, the oldest such connection is closed to make room,
//! and only connections that have shown the secret (the harness's own) can make a newcomer
//! wait. Anyone on the machine can open connections; no one but the harness can keep them.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The slots of one listener.
pub struct Slots {
    max: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    next_id: u64,
    /// In acceptance order: the first probationary entry is the oldest.
    entries: Vec<Entry>,
}

struct Entry {
    id: u64,
    authenticated: Arc<AtomicBool>,
    /// A handle on the connection's socket, to close it when it is evicted.
    socket: Option<TcpStream>,
}

/// One taken slot, given back when dropped (also on panic).
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    authenticated: Arc<AtomicBool>,
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            held: Mutex::new(Held::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        // Every mutation is a single push or remove: a poisoned lock is still consistent.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a connection just accepted on `socket`: a free one, else the one of the
    /// oldest connection still on probation (closed here). `None` when every slot belongs
    /// to a connection that has shown the secret.
    pub fn admit(self: &Arc<Self>, socket: &TcpStream) -> Option<Slot> {
        let mut held = self.lock();
        if held.entries.len() >= self.max {
            let oldest = held
                .entries
                .iter()
                .position(|e| !e.authenticated.load(Ordering::SeqCst))?;
            let evicted = held.entries.remove(oldest);
            if let Some(socket) = evicted.socket {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        held.next_id += 1;
        let id = held.next_id;
        let authenticated = Arc::new(AtomicBool::new(false));
        held.entries.push(Entry {
            id,
            authenticated: authenticated.clone(),
            socket: socket.try_clone().ok(),
        });
        Some(Slot {
            slots: self.clone(),
            id,
            authenticated,
        })
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.lock().entries.len()
    }
}

impl Slot {
    /// The connection showed the session secret: it keeps its slot from now on.
    pub fn authenticate(&self) {
        self.authenticated.store(true, Ordering::SeqCst);
    }

    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::SeqCst)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.lock();
        if let Some(i) = held.entries.iter().position(|e| e.id == self.id) {
            held.entries.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;

    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn the_oldest_probationary_connection_makes_room_and_authenticated_ones_stay() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let slots = Slots::new(2);
        let (_c1, s1) = pair(&listener);
        let (mut c2, s2) = pair(&listener);
        let (_c3, s3) = pair(&listener);
        let (_c4, s4) = pair(&listener);
        let first = slots.admit(&s1).unwrap();
        first.authenticate();
        let _second = slots.admit(&s2).unwrap();
        // Full: the newcomer takes the slot of the oldest connection on probation (s2),
        // whose socket is closed, never the authenticated one.
        let third = slots.admit(&s3).unwrap();
        assert_eq!(slots.taken(), 2);
        let mut buf = [0u8; 1];
        assert_eq!(
            c2.read(&mut buf).unwrap(),
            0,
            "the evicted connection is closed"
        );
        third.authenticate();
        assert!(
            slots.admit(&s4).is_none(),
            "every slot has shown the secret"
        );
        drop(first);
        assert!(slots.admit(&s4).is_some());
    }

    #[test]
    fn a_slot_is_given_back_even_when_its_thread_panics() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let slots = Slots::new(4);
        let (_client, server) = pair(&listener);
        let slot = slots.admit(&server).unwrap();
        assert_eq!(slots.taken(), 1);
        let joined = std::thread::spawn(move || {
            let _slot = slot;
            panic!("a bad request");
        })
        .join();
        assert!(joined.is_err());
        assert_eq!(slots.taken(), 0);
    }
}
