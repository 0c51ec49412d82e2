//! The accept loop and the per-connection request loop (keep-alive, pipelining in order,
//! bounded connection slots, the session-secret gate, the checks of what may be forwarded).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::abandon;
use super::framing::{BodyFraming, ClientConn, ConnStream, body_framing};
use super::refusals::RefusalReason;
use super::replies;
use super::response::write_local;
use super::session::{ClientRequest, Session, harness_of};
use super::slots::{Slot, Slots};
use super::target::{self, TargetRefusal};

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
/// listener (see [`Slots`]: a connection that has not shown the secret yields its slot to a
/// newcomer). With `tls`, each connection is served behind TLS.
pub fn accept_loop(
    listener: TcpListener,
    session: Arc<Session>,
    secret: Arc<str>,
    stop: Arc<AtomicBool>,
    max: usize,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let slots = Slots::new(max);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        // The first request (and the TLS handshake) must be in within this, counted from
        // acceptance: until then the connection may be anyone's.
        let deadline = Instant::now() + session.config.limits.first_request_timeout;
        let Some(slot) = slots.admit(&stream) else {
            // Every slot carries the harness's own connections. Plain HTTP gets a 503; a
            // TLS client gets no plaintext, only a closed connection.
            if tls.is_none() {
                let reply = replies::proxy_error(harness_of(&session), 503, "too many connections");
                let _ = write_local(&mut stream, &reply, false);
            }
            continue;
        };
        let (session, secret) = (session.clone(), secret.clone());
        let tls = tls.clone();
        let spawned = std::thread::Builder::new()
            .name("omux-proxy-conn".into())
            .stack_size(1024 * 1024)
            .spawn(move || {
                let _ = stream.set_nodelay(true);
                match tls {
                    None => handle_connection(stream, &session, &secret, &slot, deadline),
                    Some(config) => {
                        let Ok(mut conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        if super::tls::handshake(&mut conn, &mut stream, deadline).is_err() {
                            return;
                        }
                        let tls_stream = rustls::StreamOwned::new(conn, stream);
                        handle_connection(tls_stream, &session, &secret, &slot, deadline);
                    }
                }
            });
        // When the spawn fails, the closure (its stream and slot) is dropped, which frees the
        // slot; so does a panic inside the connection thread.
        let _ = spawned;
    }
}

fn handle_connection<S: ConnStream>(
    stream: S,
    session: &Session,
    secret: &str,
    slot: &Slot,
    first_deadline: Instant,
) {
    let limits = session.config.limits.clone();
    let harness = harness_of(session);
    let mut conn = ClientConn::new(stream);
    // Declared after `conn`, so dropped first: the watch never outlives the socket.
    let _watch = conn.stream.socket().map(abandon::watch_connection);
    loop {
        let head = if slot.is_authenticated() {
            conn.read_head(&limits)
        } else {
            conn.read_first_head(&limits, first_deadline)
        };
        let head = match head {
            Ok(head) => head,
            Err(e) => {
                if let Some(status) = e.status() {
                    session.refuse(RefusalReason::MalformedRequest);
                    let reply = replies::proxy_error(harness, status, e.message());
                    let _ = write_local(&mut conn.stream, &reply, false);
                }
                return;
            }
        };
        let Some(path) = strip_secret(head.target(), secret).map(str::to_string) else {
            session.refuse(RefusalReason::MissingSessionSecret);
            let _ = write_local(&mut conn.stream, &replies::forbidden(), false);
            return;
        };
        slot.authenticate();
        if let Err(refusal) = target::check(head.method(), &path, &session.config.requests) {
            session.refuse(refusal.reason());
            let mut reply = replies::proxy_error(harness, refusal.status(), refusal.message());
            if refusal == TargetRefusal::Method {
                let allow = session.config.requests.methods.join(", ");
                reply.headers.push(("allow".into(), allow.into_bytes()));
            }
            // The body was not read: the connection's framing ends here.
            let _ = write_local(&mut conn.stream, &reply, false);
            return;
        }
        let framing = match body_framing(&head) {
            Ok(f) => f,
            Err(e) => {
                session.refuse(RefusalReason::MalformedRequest);
                let reply = replies::proxy_error(harness, e.status().unwrap_or(400), e.message());
                let _ = write_local(&mut conn.stream, &reply, false);
                return;
            }
        };
        if head.expects_continue() {
            if let BodyFraming::Length(n) = framing
                && n > limits.max_body_bytes as u64
            {
                session.refuse(RefusalReason::MalformedRequest);
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
                    session.refuse(RefusalReason::MalformedRequest);
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
