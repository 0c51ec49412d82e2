//! What the fake provider sends: the Codex and Anthropic wire shapes of every scripted
//! [`Behaviour`], the Codex side calls, and verbatim answers.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use super::{Behaviour, Shared};

/// The wire protocol a model request speaks, by its path.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Wire {
    Codex,
    Anthropic,
}

/// The small answer of the latency benchmarks.
fn small_json() -> serde_json::Value {
    json!({"id": "resp_small", "status": "completed", "output_text": "ok"})
}

/// The usage headers a provider sends with (nearly) every answer: `used_percent` of the
/// 5-hour window, resetting in an hour.
fn usage_headers(wire: Wire, used_percent: f64) -> Vec<(&'static str, String)> {
    match wire {
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
    }
}

pub(super) fn write_json(
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

/// Answer one model request with the behaviour scripted for its credential.
pub(super) fn behave(
    out: &mut TcpStream,
    wire: Wire,
    behaviour: Behaviour,
    cred: &str,
    shared: &Shared,
) -> bool {
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
            succeed(out, wire, &text, &usage_headers(wire, used_percent))
        }
        Behaviour::SmallJson => write_json(out, 200, &[], &small_json()),
        Behaviour::SmallJsonWithUsage { used_percent } => {
            write_json(out, 200, &usage_headers(wire, used_percent), &small_json())
        }
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
        } => raw(out, status, &headers, &body),
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

/// The answer to a model request whose credential no script names.
pub(super) fn unknown_credential(out: &mut TcpStream, wire: Wire) -> bool {
    match wire {
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
    }
}

/// The Codex CLI's side calls (account check, model list, settings), or `None` for any
/// other path. The account check names `accounts` (the ChatGPT account ids the fake knows)
/// after its own `fake-account`.
pub(super) fn side_call(path: &str, accounts: &[String]) -> Option<serde_json::Value> {
    Some(match path {
        "/backend-api/wham/accounts/check" => {
            let mut ids = vec!["fake-account".to_owned()];
            ids.extend(accounts.iter().cloned());
            let list: Vec<serde_json::Value> = ids
                .iter()
                .map(|id| {
                    json!({"id": id, "structure": "personal",
                        "workspace_backend_origin": "NO_CONSTRAINT",
                        "account_routing_override": "NO_CONSTRAINT"})
                })
                .collect();
            json!({"accounts": list, "account_ordering": ids,
                "default_account_id": ids.last()})
        }
        "/backend-api/codex/models" => json!({"models": []}),
        "/backend-api/wham/settings/user" => json!({}),
        _ => return None,
    })
}

/// Exactly `status`, `headers` and `body`; the fake frames the body itself, so framing
/// headers among `headers` are dropped.
pub(super) fn raw(
    out: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> bool {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
        crate::proxy::framing::reason_phrase(status),
        body.len()
    );
    for (n, v) in headers {
        if !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding")
        {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    out.write_all(&bytes).is_ok()
}

/// The answer to a `CONNECT`: the tunnel is open.
pub(super) fn connection_established(out: &mut TcpStream) -> bool {
    out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_ok()
}
