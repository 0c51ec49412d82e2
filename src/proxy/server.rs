//! The accept loop and the per-connection request loop (keep-alive, pipelining in order,
//! a bound on concurrent connections, the session-secret gate).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::frames::Frame;
use super::framing::{BodyFraming, ClientConn, ConnStream, body_framing};
use super::replies;
use super::response::write_local;
use super::session::{ClientRequest, Session, harness_of};

/// Strip `/<secret>` from a request target. Constant-time in the secret's bytes.
pub fn strip_secret<'a>(target: &'a str, secret: &str) -> Option<&'a str> {
    let rest = target.strip_prefix('/')?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (given, after) = rest.split_at(end);
    if !constant_time_eq(given.as_bytes(), secret.as_bytes()) {
        return None;
    }
    if after.is_empty() {
        Some("/")
    } else if after.starts_with('?') {
        None
    } else {
        Some(after)
    }
}

/// Compare without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Accept connections until `stop` is set; one thread per connection, at most `max` per
/// listener. With `tls`, each connection is served behind TLS.
pub fn accept_loop(
    listener: TcpListener,
    session: Arc<Session>,
    secret: Arc<str>,
    stop: Arc<AtomicBool>,
    max: usize,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        if active.load(Ordering::SeqCst) >= max {
            let reply = replies::proxy_error(harness_of(&session), 503, "too many connections");
            let _ = write_local(&mut stream, &reply, false);
            continue;
        }
        let slot = ConnectionSlot::take(&active);
        let (session, secret) = (session.clone(), secret.clone());
        let tls = tls.clone();
        let spawned = std::thread::Builder::new()
            .name("omux-proxy-conn".into())
            .stack_size(1024 * 1024)
            .spawn(move || {
                let _ = stream.set_nodelay(true);
                match tls {
                    None => handle_connection(stream, &session, &secret),
                    Some(config) => {
                        if let Ok(conn) = rustls::ServerConnection::new(config) {
                            let tls_stream = rustls::StreamOwned::new(conn, stream);
                            handle_connection(tls_stream, &session, &secret);
                        }
                    }
                }
                drop(slot);
            });
        // When the spawn fails, the closure (its stream and slot) is dropped, which frees the
        // slot; so does a panic inside the connection thread.
        let _ = spawned;
    }
}

/// One of the bounded connection slots, given back when dropped (also on panic).
struct ConnectionSlot(Arc<AtomicUsize>);

impl ConnectionSlot {
    fn take(active: &Arc<AtomicUsize>) -> ConnectionSlot {
        active.fetch_add(1, Ordering::SeqCst);
        ConnectionSlot(active.clone())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle_connection<S: ConnStream>(stream: S, session: &Session, secret: &str) {
    let limits = session.config.limits.clone();
    let harness = harness_of(session);
    let mut conn = ClientConn::new(stream);
    loop {
        let head = match conn.read_head(&limits) {
            Ok(head) => head,
            Err(e) => {
                if let Some(status) = e.status() {
                    let reply = replies::proxy_error(harness, status, e.message());
                    let _ = write_local(&mut conn.stream, &reply, false);
                }
                return;
            }
        };
        let Some(path) = strip_secret(&head.target, secret).map(str::to_string) else {
            (session.frames)(Frame::Refused {
                reason: "missing_session_secret".into(),
            });
            let _ = write_local(&mut conn.stream, &replies::forbidden(), false);
            return;
        };
        let framing = match body_framing(&head) {
            Ok(f) => f,
            Err(e) => {
                let reply = replies::proxy_error(harness, e.status().unwrap_or(400), e.message());
                let _ = write_local(&mut conn.stream, &reply, false);
                return;
            }
        };
        if head.expects_continue() {
            if let BodyFraming::Length(n) = framing
                && n > limits.max_body_bytes as u64
            {
                let reply = replies::proxy_error(
                    harness,
                    413,
                    "request body larger than the proxy's replay buffer",
                );
                let _ = write_local(&mut conn.stream, &reply, false);
                return;
            }
            if conn
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
        let body = match conn.read_body(framing, &limits) {
            Ok(body) => body,
            Err(e) => {
                if let Some(status) = e.status() {
                    let reply = replies::proxy_error(harness, status, e.message());
                    let _ = write_local(&mut conn.stream, &reply, false);
                }
                return;
            }
        };
        let keep_alive = head.keep_alive();
        let request = ClientRequest { head, path, body };
        if !session.serve(&mut conn.stream, request, keep_alive) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_slot_is_given_back_even_when_its_thread_panics() {
        let active = Arc::new(AtomicUsize::new(0));
        let slot = ConnectionSlot::take(&active);
        assert_eq!(active.load(Ordering::SeqCst), 1);
        let joined = std::thread::spawn(move || {
            let _slot = slot;
            panic!("a bad request");
        })
        .join();
        assert!(joined.is_err());
        assert_eq!(active.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn secret_prefix() {
        let s = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            strip_secret(&format!("/{s}/v1/messages?beta=true"), s),
            Some("/v1/messages?beta=true")
        );
        assert_eq!(strip_secret(&format!("/{s}"), s), Some("/"));
        assert_eq!(strip_secret("/v1/messages", s), None);
        assert_eq!(strip_secret(&format!("/{s}x/v1"), s), None);
        assert_eq!(strip_secret("*", s), None);
        assert_eq!(strip_secret(&format!("http://127.0.0.1/{s}/v1"), s), None);
    }
}
