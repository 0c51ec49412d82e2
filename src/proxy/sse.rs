//! Reading the opening of an SSE stream: is the first meaningful event content (deliver),
//! or an error wearing a 200 (fail over like the HTTP error it stands for)?

use serde_json::{Value, json};

/// Events that carry no content and may precede an error event.
const PRELUDE_EVENTS: &[&str] = &[
    "response.created",
    "response.in_progress",
    "codex.rate_limits",
    "codex.response.metadata",
    "message_start",
    "ping",
];

/// What the held opening of a stream says so far.
#[derive(Clone, Debug, PartialEq)]
pub enum Opening {
    /// Only prelude events (or an incomplete event) so far.
    Undecided,
    /// A content event arrived: deliver the stream.
    Content,
    /// The stream opens with an error event, equivalent to `status` with `body`.
    Error { status: u16, body: Vec<u8> },
}

/// Scan the complete events at the start of `held`.
pub fn scan_opening(held: &[u8]) -> Opening {
    let mut rest = held;
    while let Some((event, after)) = next_event(rest) {
        rest = after;
        let (name, data) = parse_event(event);
        let parsed: Option<Value> = serde_json::from_str(&data).ok();
        let data_type = parsed
            .as_ref()
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = if name.is_empty() {
            data_type.as_str()
        } else {
            name.as_str()
        };
        if kind.is_empty() && data.trim().is_empty() {
            continue; // comment, retry: or keep-alive
        }
        if PRELUDE_EVENTS.contains(&kind) {
            continue;
        }
        if kind == "error" || kind == "response.failed" {
            return stream_error(kind, parsed.unwrap_or(Value::Null));
        }
        return Opening::Content;
    }
    Opening::Undecided
}

/// Watches a stream that is already being delivered for an error event, so the account's
/// health can be recorded. It never causes a replay: content has reached the harness.
#[derive(Debug, Default)]
pub struct LateErrorSniffer {
    tail: Vec<u8>,
    found: Option<(u16, Vec<u8>)>,
}

impl LateErrorSniffer {
    /// Bound on a partial event kept between chunks.
    const MAX_TAIL: usize = 64 * 1024;

    /// Feed the next delivered bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found.is_some() {
            return;
        }
        self.tail.extend_from_slice(chunk);
        let mut consumed = 0;
        while let Some((event, rest)) = next_event(&self.tail[consumed..]) {
            let len = self.tail.len() - consumed - rest.len();
            if contains(event, b"error") || contains(event, b"failed") {
                let (name, data) = parse_event(event);
                let parsed: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                let kind = if name.is_empty() {
                    parsed
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                } else {
                    name
                };
                if (kind == "error" || kind == "response.failed")
                    && let Opening::Error { status, body } = stream_error(&kind, parsed)
                {
                    self.found = Some((status, body));
                    self.tail.clear();
                    return;
                }
            }
            consumed += len;
        }
        self.tail.drain(..consumed);
        if self.tail.len() > Self::MAX_TAIL {
            self.tail.clear();
        }
    }

    /// The HTTP status and body the late error event stands for, if one was seen.
    pub fn found(&self) -> Option<&(u16, Vec<u8>)> {
        self.found.as_ref()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Split the first complete event (ended by a blank line) off `buf`.
fn next_event(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some((&buf[..i], &buf[i + 2..]));
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some((&buf[..i], &buf[i + 3..]));
            }
        }
        i += 1;
    }
    None
}

fn parse_event(event: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(event);
    let mut name = String::new();
    let mut data = String::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (name, data)
}

/// Turn an in-stream error event into the HTTP error it stands for.
fn stream_error(kind: &str, data: Value) -> Opening {
    // The error object: Anthropic/Codex `error` events carry `error`; Codex
    // `response.failed` carries `response.error`.
    let mut error = if kind == "response.failed" {
        data.pointer("/response/error")
            .cloned()
            .unwrap_or(Value::Null)
    } else {
        data.get("error").cloned().unwrap_or_else(|| data.clone())
    };
    if !error.is_object() {
        error = json!({});
    }
    let code = ["type", "code"]
        .iter()
        .filter_map(|k| error.get(k).and_then(Value::as_str))
        .find(|s| *s != "error")
        .unwrap_or("")
        .to_string();
    if error.get("type").and_then(Value::as_str).is_none() && !code.is_empty() {
        error["type"] = Value::String(code.clone());
    }
    let status = status_for_error_code(&code);
    let body = if data.get("type").and_then(Value::as_str) == Some("error")
        && data.get("error").is_some()
    {
        // Anthropic shape, kept as the provider sent it.
        data
    } else {
        json!({ "error": error })
    };
    Opening::Error {
        status,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// The HTTP status a provider error code stands for.
pub fn status_for_error_code(code: &str) -> u16 {
    match code {
        "usage_limit_reached"
        | "usage_not_included"
        | "rate_limit_exceeded"
        | "rate_limit_error"
        | "insufficient_quota" => 429,
        "overloaded_error" | "server_is_overloaded" | "slow_down" => 529,
        "authentication_error" | "token_invalidated" | "invalid_api_key" | "token_expired" => 401,
        "permission_error" => 403,
        "api_error" | "server_error" | "internal_error" | "service_unavailable_error" => 500,
        _ => 400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prelude_then_content() {
        let s = b"event: response.created\ndata: {\"type\":\"response.created\"}\n\n";
        assert_eq!(scan_opening(s), Opening::Undecided);
        let mut s2 = s.to_vec();
        s2.extend_from_slice(b"event: response.output_item.added\ndata: {}\n\n");
        assert_eq!(scan_opening(&s2), Opening::Content);
        assert_eq!(
            scan_opening(b"event: response.output_item.added\ndata: {}"),
            Opening::Undecided
        );
    }

    #[test]
    fn codex_failed_usage_limit_is_a_429() {
        let s = b"event: response.created\r\ndata: {}\r\n\r\nevent: response.failed\r\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"usage_limit_reached\",\"message\":\"m\",\"resets_in_seconds\":60}}}\r\n\r\n";
        let Opening::Error { status, body } = scan_opening(s) else {
            panic!("not an error")
        };
        assert_eq!(status, 429);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["type"], "usage_limit_reached");
        assert_eq!(v["error"]["resets_in_seconds"], 60);
    }

    #[test]
    fn anthropic_error_event_keeps_its_shape() {
        let s = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let Opening::Error { status, body } = scan_opening(s) else {
            panic!("not an error")
        };
        assert_eq!(status, 529);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["type"], "error");
    }

    #[test]
    fn late_error_sniffer_finds_an_error_split_across_chunks() {
        let mut s = LateErrorSniffer::default();
        s.feed(b"event: response.output_text.delta\ndata: {\"delta\":\"an error in prose\"}\n\nevent: err");
        assert!(s.found().is_none());
        s.feed(b"or\ndata: {\"type\":\"error\",\"error\":{\"type\":\"usage_limit_reached\",\"resets_in_seconds\":9}}\n\n");
        let (status, body) = s.found().unwrap();
        assert_eq!(*status, 429);
        assert!(String::from_utf8_lossy(body).contains("resets_in_seconds"));
    }

    #[test]
    fn anthropic_content_block_is_content() {
        let s = b"event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\nevent: content_block_start\ndata: {}\n\n";
        assert_eq!(scan_opening(s), Opening::Content);
    }
}
