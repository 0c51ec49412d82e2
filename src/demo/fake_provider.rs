//! A loopback fake provider speaking the Codex (ChatGPT backend and `/v1/responses`) and
//! Anthropic (`/v1/messages`) wire shapes recorded in harness-facts.md. Each account's
//! behaviour is scripted by the credential it receives (bearer token or `x-api-key`), and
//! every call is counted, so tests and `oauth-mux demo` can see exactly what reached it.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;

use crate::proxy::framing::{ClientConn, Limits, RequestHead, body_framing};

/// How the fake provider answers one account's model requests.
#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    /// A complete successful SSE stream whose text is `text`.
    Succeed { text: String },
    /// Success, with usage headers reporting `used_percent` of the 5-hour window.
    SucceedWithUsage { text: String, used_percent: f64 },
    /// A small non-streaming 200 JSON answer (for latency benchmarks).
    SmallJson,
    /// The provider's real quota error, resetting in `resets_in_seconds`.
    QuotaExhausted { resets_in_seconds: u64 },
    /// A 429 with no reset information at all (request-scoped).
    WindowlessRateLimit,
    /// A 200 SSE stream whose first event is the quota error.
    ErrorFirstEvent { resets_in_seconds: u64 },
    /// `failures` answers of `status` (529 or 5xx), then success.
    Transient { status: u16, failures: u32 },
    /// `failures` short rate limits (429 with `retry-after`), then success.
    ShortRateLimit {
        retry_after_seconds: u64,
        failures: u32,
    },
    /// 401: the token is no longer valid.
    Unauthorized,
    /// A slow SSE stream: `events` content events `interval_ms` apart.
    SlowStream { events: u32, interval_ms: u64 },
    /// A stream that delivers content, then fails with a quota error event.
    ContentThenError,
    /// Nothing for `millis`, then a successful stream (an upstream that hangs).
    Stall { millis: u64 },
    /// A 429's status line and headers, then nothing for `millis` before its body.
    StallBody { millis: u64 },
    /// Exactly this status, headers and body (bytes untouched, e.g. gzip).
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

#[derive(Default)]
struct State {
    model_calls: HashMap<String, u32>,
    side_calls: u32,
    scripted_calls: HashMap<String, u32>,
    last_headers: HashMap<String, Vec<(String, String)>>,
    last_body: HashMap<String, Vec<u8>>,
    released_streams: u32,
    completed_streams: u32,
}

/// A running fake provider on 127.0.0.1.
pub struct FakeProvider {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    state: Arc<Mutex<State>>,
}

struct Shared {
    script: HashMap<String, Behaviour>,
    state: Arc<Mutex<State>>,
}

impl Shared {
    /// Count a call of a fail-then-succeed behaviour; true while the credential's calls are
    /// still within its first `failures`.
    fn nth_failing_call(&self, cred: String, failures: u32) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let n = s.scripted_calls.entry(cred).or_default();
        *n += 1;
        *n <= failures
    }
}

impl FakeProvider {
    /// Start serving `script` (credential → behaviour). Unknown credentials get 401.
    pub fn start(script: Vec<(String, Behaviour)>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::new(Shared {
            script: script.into_iter().collect(),
            state: state.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let accept = std::thread::Builder::new()
            .name("fake-provider".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = shared.clone();
                    let _ = std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn(move || serve_connection(stream, &shared));
                }
            })?;
        Ok(FakeProvider {
            addr,
            stop,
            accept: Some(accept),
            state,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Model requests received with this credential.
    pub fn calls(&self, credential: &str) -> u32 {
        self.lock()
            .model_calls
            .get(credential)
            .copied()
            .unwrap_or(0)
    }

    /// Every request received (model and side calls, any credential).
    pub fn total_calls(&self) -> u32 {
        let s = self.lock();
        s.model_calls.values().sum::<u32>() + s.side_calls
    }

    /// Headers (lower-case names) of the last model request with this credential.
    pub fn last_headers(&self, credential: &str) -> Vec<(String, String)> {
        self.lock()
            .last_headers
            .get(credential)
            .cloned()
            .unwrap_or_default()
    }

    /// Body bytes of the last model request with this credential.
    pub fn last_body(&self, credential: &str) -> Vec<u8> {
        self.lock()
            .last_body
            .get(credential)
            .cloned()
            .unwrap_or_default()
    }

    /// Slow streams that ended because the reader went away.
    pub fn released_streams(&self) -> u32 {
        self.lock().released_streams
    }

    /// Slow streams that ran to completion.
    pub fn completed_streams(&self) -> u32 {
        self.lock().completed_streams
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = accept.join();
        }
    }
}

fn credential_of(head: &RequestHead) -> String {
    for h in &head.headers {
        let value = String::from_utf8_lossy(&h.value).to_string();
        if h.name.eq_ignore_ascii_case("authorization") {
            return value.strip_prefix("Bearer ").unwrap_or(&value).to_string();
        }
        if h.name.eq_ignore_ascii_case("x-api-key") {
            return value;
        }
    }
    String::from("<none>")
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let limits = Limits::default();
    let mut conn = ClientConn::new(stream);
    loop {
        let Ok(head) = conn.read_head(&limits) else {
            return;
        };
        let Ok(framing) = body_framing(&head) else {
            return;
        };
        let Ok(body) = conn.read_body(framing, &limits) else {
            return;
        };
        let keep = head.keep_alive();
        if head.is_upgrade() {
            // Like a gateway without WebSocket support: Codex then streams over POST + SSE.
            let _ = write_json(
                &mut conn.stream,
                426,
                &[],
                &json!({"error": "upgrade required"}),
            );
            return;
        }
        let path = head.target.split('?').next().unwrap_or("").to_string();
        let ok = match path.as_str() {
            "/backend-api/codex/responses" | "/v1/responses" => {
                model_call(&mut conn.stream, shared, &head, body, Wire::Codex)
            }
            "/v1/messages" => model_call(&mut conn.stream, shared, &head, body, Wire::Anthropic),
            other => {
                shared
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .side_calls += 1;
                let body = match other {
                    "/backend-api/wham/accounts/check" => json!({
                        "accounts": [{"id": "fake-account", "structure": "personal",
                            "workspace_backend_origin": "NO_CONSTRAINT",
                            "account_routing_override": "NO_CONSTRAINT"}],
                        "account_ordering": ["fake-account"],
                        "default_account_id": "fake-account"}),
                    "/backend-api/codex/models" => json!({"models": []}),
                    "/backend-api/wham/settings/user" => json!({}),
                    _ => {
                        let _ = write_json(
                            &mut conn.stream,
                            404,
                            &[],
                            &json!({"error": {"type": "not_found"}}),
                        );
                        continue;
                    }
                };
                write_json(&mut conn.stream, 200, &[], &body)
            }
        };
        if !ok || !keep {
            return;
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Wire {
    Codex,
    Anthropic,
}

fn write_json(
    out: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &serde_json::Value,
) -> bool {
    let body = serde_json::to_vec(body).unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        crate::proxy::framing::reason_phrase(status),
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    out.write_all(&bytes).is_ok()
}

fn sse_head(out: &mut TcpStream, headers: &[(&str, String)]) -> bool {
    let mut head = String::from(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n",
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes()).is_ok()
}

fn sse_event(out: &mut TcpStream, name: &str, data: &serde_json::Value) -> bool {
    let event = format!("event: {name}\ndata: {data}\n\n");
    let chunk = format!("{:x}\r\n{event}\r\n", event.len());
    out.write_all(chunk.as_bytes()).is_ok() && out.flush().is_ok()
}

fn sse_end(out: &mut TcpStream) -> bool {
    out.write_all(b"0\r\n\r\n").is_ok()
}

fn now_epoch() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn model_call(
    out: &mut TcpStream,
    shared: &Shared,
    head: &RequestHead,
    body: Vec<u8>,
    wire: Wire,
) -> bool {
    let cred = credential_of(head);
    let behaviour = {
        let mut s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        *s.model_calls.entry(cred.clone()).or_default() += 1;
        s.last_headers.insert(
            cred.clone(),
            head.headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(&h.value).into_owned(),
                    )
                })
                .collect(),
        );
        s.last_body.insert(cred.clone(), body);
        shared.script.get(&cred).cloned()
    };
    let Some(behaviour) = behaviour else {
        return match wire {
            Wire::Codex => write_json(
                out,
                401,
                &[],
                &json!({"error": {"type": "invalid_request_error", "code": "token_invalidated", "message": "unknown token"}}),
            ),
            Wire::Anthropic => write_json(
                out,
                401,
                &[],
                &json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
            ),
        };
    };
    match behaviour {
        Behaviour::Succeed { text } => succeed(out, wire, &text, &[]),
        Behaviour::Stall { millis } => {
            std::thread::sleep(Duration::from_millis(millis));
            succeed(out, wire, "late", &[])
        }
        Behaviour::StallBody { millis } => {
            let body = br#"{"error":{"type":"rate_limit_exceeded","message":"slow"}}"#;
            let head = format!(
                "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            if out.write_all(head.as_bytes()).is_err() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(millis));
            out.write_all(body).is_ok()
        }
        Behaviour::SucceedWithUsage { text, used_percent } => {
            let headers = match wire {
                Wire::Codex => vec![
                    ("x-codex-primary-used-percent", format!("{used_percent}")),
                    ("x-codex-primary-window-minutes", "300".to_string()),
                    ("x-codex-primary-reset-after-seconds", "3600".to_string()),
                ],
                Wire::Anthropic => vec![
                    (
                        "anthropic-ratelimit-unified-status",
                        "allowed_warning".to_string(),
                    ),
                    (
                        "anthropic-ratelimit-unified-5h-utilization",
                        format!("{}", used_percent / 100.0),
                    ),
                    (
                        "anthropic-ratelimit-unified-5h-reset",
                        format!("{}", now_epoch() + 3600),
                    ),
                ],
            };
            succeed(out, wire, &text, &headers)
        }
        Behaviour::SmallJson => write_json(
            out,
            200,
            &[],
            &json!({"id": "resp_small", "status": "completed", "output_text": "ok"}),
        ),
        Behaviour::QuotaExhausted { resets_in_seconds } => quota(out, wire, resets_in_seconds),
        Behaviour::WindowlessRateLimit => match wire {
            Wire::Codex => write_json(
                out,
                429,
                &[],
                &json!({"error": {"type": "rate_limit_exceeded", "message": "Rate limit reached"}}),
            ),
            Wire::Anthropic => write_json(
                out,
                429,
                &[("x-should-retry", "true".into())],
                &json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Server is temporarily limiting requests"}}),
            ),
        },
        Behaviour::ErrorFirstEvent { resets_in_seconds } => match wire {
            Wire::Codex => {
                sse_head(out, &[])
                    && sse_event(
                        out,
                        "response.created",
                        &json!({"type": "response.created", "response": {"id": "resp_e", "status": "in_progress"}, "sequence_number": 0}),
                    )
                    && sse_event(
                        out,
                        "response.failed",
                        &json!({"type": "response.failed", "sequence_number": 1, "response": {"id": "resp_e", "status": "failed",
                        "error": {"code": "usage_limit_reached", "message": "The usage limit has been reached", "resets_in_seconds": resets_in_seconds}}}),
                    )
                    && sse_end(out)
            }
            Wire::Anthropic => {
                let reset = (now_epoch() + resets_in_seconds as i64).to_string();
                sse_head(
                    out,
                    &[
                        ("anthropic-ratelimit-unified-status", "rejected".into()),
                        ("anthropic-ratelimit-unified-reset", reset),
                    ],
                ) && sse_event(
                    out,
                    "error",
                    &json!({"type": "error", "error": {"type": "rate_limit_error", "message": "This request would exceed your account's rate limit. Please try again later."}}),
                ) && sse_end(out)
            }
        },
        Behaviour::Transient { status, failures } => {
            if shared.nth_failing_call(cred, failures) {
                match wire {
                    Wire::Codex => write_json(
                        out,
                        status,
                        &[],
                        &json!({"error": {"type": "server_error", "message": "try again"}}),
                    ),
                    Wire::Anthropic => write_json(
                        out,
                        status,
                        &[],
                        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                    ),
                }
            } else {
                succeed(out, wire, "recovered", &[])
            }
        }
        Behaviour::ShortRateLimit {
            retry_after_seconds,
            failures,
        } => {
            if shared.nth_failing_call(cred, failures) {
                let retry_after = [("retry-after", retry_after_seconds.to_string())];
                match wire {
                    Wire::Codex => write_json(
                        out,
                        429,
                        &retry_after,
                        &json!({"error": {"type": "rate_limit_exceeded", "message": "Rate limit reached; try again shortly"}}),
                    ),
                    Wire::Anthropic => write_json(
                        out,
                        429,
                        &retry_after,
                        &json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Server is temporarily limiting requests"}}),
                    ),
                }
            } else {
                succeed(out, wire, "after the wait", &[])
            }
        }
        Behaviour::Unauthorized => match wire {
            Wire::Codex => write_json(
                out,
                401,
                &[],
                &json!({"error": {"type": "invalid_request_error", "code": "token_invalidated", "message": "token revoked"}}),
            ),
            Wire::Anthropic => write_json(
                out,
                401,
                &[],
                &json!({"type": "error", "error": {"type": "authentication_error", "message": "OAuth token has expired."}}),
            ),
        },
        Behaviour::ContentThenError => {
            sse_head(out, &[])
                && sse_event(
                    out,
                    "response.output_text.delta",
                    &json!({"type": "response.output_text.delta", "delta": "partial answer", "sequence_number": 0}),
                )
                && sse_event(
                    out,
                    "error",
                    &json!({"type": "error", "error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "resets_in_seconds": 60}}),
                )
                && sse_end(out)
        }
        Behaviour::Raw {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
                crate::proxy::framing::reason_phrase(status),
                body.len()
            );
            for (n, v) in &headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            out.write_all(&bytes).is_ok()
        }
        Behaviour::SlowStream {
            events,
            interval_ms,
        } => {
            let mut ok = sse_head(out, &[]);
            for i in 0..events {
                if !ok {
                    break;
                }
                ok = sse_event(
                    out,
                    "response.output_text.delta",
                    &json!({"type": "response.output_text.delta", "delta": format!("part {i} "), "sequence_number": i}),
                );
                std::thread::sleep(Duration::from_millis(interval_ms));
            }
            ok = ok && sse_end(out);
            let mut s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            if ok {
                s.completed_streams += 1;
            } else {
                s.released_streams += 1;
            }
            ok
        }
    }
}

fn quota(out: &mut TcpStream, wire: Wire, resets_in_seconds: u64) -> bool {
    match wire {
        Wire::Codex => write_json(
            out,
            429,
            &[("x-codex-primary-used-percent", "100".into())],
            &json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus", "resets_in_seconds": resets_in_seconds}}),
        ),
        Wire::Anthropic => {
            let reset = (now_epoch() + resets_in_seconds as i64).to_string();
            write_json(
                out,
                429,
                &[
                    ("retry-after", resets_in_seconds.to_string()),
                    ("anthropic-ratelimit-unified-status", "rejected".into()),
                    ("anthropic-ratelimit-unified-reset", reset.clone()),
                    ("anthropic-ratelimit-unified-5h-status", "rejected".into()),
                    ("anthropic-ratelimit-unified-5h-reset", reset),
                    (
                        "anthropic-ratelimit-unified-representative-claim",
                        "five_hour".into(),
                    ),
                ],
                &json!({"type": "error", "error": {"type": "rate_limit_error", "message": "This request would exceed your account's rate limit. Please try again later."}}),
            )
        }
    }
}

fn succeed(out: &mut TcpStream, wire: Wire, text: &str, headers: &[(&str, String)]) -> bool {
    if !sse_head(out, headers) {
        return false;
    }
    let events: Vec<(&str, serde_json::Value)> = match wire {
        Wire::Codex => {
            let item = |status: &str, content: serde_json::Value| json!({"id": "msg_1", "type": "message", "status": status, "role": "assistant", "content": content});
            let part = json!({"type": "output_text", "text": text, "annotations": []});
            vec![
                ("response.created", json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}})),
                ("response.in_progress", json!({"type": "response.in_progress", "response": {"id": "resp_1", "status": "in_progress"}})),
                ("response.output_item.added", json!({"type": "response.output_item.added", "output_index": 0, "item": item("in_progress", json!([]))})),
                ("response.content_part.added", json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})),
                ("response.output_text.delta", json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text})),
                ("response.output_text.done", json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text})),
                ("response.content_part.done", json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": part.clone()})),
                ("response.output_item.done", json!({"type": "response.output_item.done", "output_index": 0, "item": item("completed", json!([part]))})),
                ("response.completed", json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
                    "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}}})),
            ]
            .into_iter()
            .enumerate()
            .map(|(i, (n, mut v))| {
                v["sequence_number"] = json!(i);
                (n, v)
            })
            .collect()
        }
        Wire::Anthropic => vec![
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-5", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ("ping", json!({"type": "ping"})),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 5}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ],
    };
    for (name, data) in &events {
        if !sse_event(out, name, data) {
            return false;
        }
    }
    sse_end(out)
}
