//! `codex exec --json` output: JSON lines whose last turn says how the probe
//! went. Turned into evidence for the one classifier: a completed turn is a 200;
//! a usage-limit error keeps the exit status (400) and adds the
//! `usage_limit_reached` marker to the hint (the codex failure rules match it)
//! and, when the output said when the quota resets, a body carrying
//! `error.resets_in_seconds` (the codex rate-limit rules read it). A reset the
//! CLI did not state stays unknown.

use serde_json::{Value, json};

/// What the JSONL stream says.
#[derive(Debug, Clone, PartialEq)]
pub enum CodexVerdict {
    /// `turn.completed` (or `turn/completed` without a failure).
    Completed,
    /// A usage-limit error; `resets_in_s` when the output said.
    UsageLimit { resets_in_s: Option<u64> },
    /// The CLI could not reach the provider (DNS, connect, TLS, a dropped stream): says
    /// nothing about the account.
    Unreachable { message: String },
    /// Another error, with its message.
    Error { message: String },
}

/// Words the Codex CLI uses when it cannot reach the provider at all (observed with 0.169:
/// `Reconnecting... n/5 (…)` retries ending in `workspace routing discovery failed`,
/// `stream disconnected before completion: error sending request for url …`).
const UNREACHABLE_MARKERS: [&str; 9] = [
    "error sending request",
    "stream disconnected",
    "connection failed",
    "connection refused",
    "dns error",
    "failed to lookup address",
    "tls handshake",
    "operation timed out",
    "workspace routing discovery failed",
];

fn is_unreachable(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    UNREACHABLE_MARKERS.iter().any(|m| lower.contains(m))
}

/// Interpret the JSON lines in `output`; `None` when no line is a Codex event. A final
/// error whose words (or whose reconnect attempts) say the provider was never reached is
/// [`CodexVerdict::Unreachable`].
pub fn interpret(output: &str) -> Option<CodexVerdict> {
    let mut verdict = None;
    let mut retried_unreachable = false;
    for line in output.lines() {
        let Ok(value) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        if let Some(v) = event_verdict(&value) {
            if let CodexVerdict::Error { message } = &v
                && message.starts_with("Reconnecting")
                && is_unreachable(message)
            {
                retried_unreachable = true;
            }
            verdict = Some(v);
            if matches!(verdict, Some(CodexVerdict::Completed)) {
                continue;
            }
        }
    }
    match verdict {
        Some(CodexVerdict::Error { message })
            if retried_unreachable || is_unreachable(&message) =>
        {
            Some(CodexVerdict::Unreachable { message })
        }
        other => other,
    }
}

fn event_verdict(value: &Value) -> Option<CodexVerdict> {
    let kind = value
        .get("type")
        .or_else(|| value.get("method"))
        .and_then(Value::as_str)?;
    match kind {
        "turn.completed" => Some(CodexVerdict::Completed),
        "turn/completed" => {
            let failed =
                value.pointer("/params/turn/status").and_then(Value::as_str) == Some("failed");
            if failed {
                let err = value
                    .pointer("/params/turn/error")
                    .cloned()
                    .unwrap_or(Value::Null);
                Some(error_verdict(&err))
            } else {
                Some(CodexVerdict::Completed)
            }
        }
        "error" | "turn.failed" => Some(error_verdict(value)),
        _ => None,
    }
}

fn error_verdict(value: &Value) -> CodexVerdict {
    let err = value.get("error").unwrap_or(value);
    let message = err
        .get("message")
        .or_else(|| value.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    // The message itself is often a JSON document from the backend.
    let inner: Option<Value> = serde_json::from_str(message.trim()).ok();
    let inner_err = inner.as_ref().map(|v| v.get("error").unwrap_or(v));
    let type_is_usage = [Some(err), inner_err]
        .into_iter()
        .flatten()
        .any(|e| e.get("type").and_then(Value::as_str) == Some("usage_limit_reached"));
    let lower = message.to_ascii_lowercase();
    let text_is_usage = lower.contains("usage_limit_reached")
        || lower.contains("usage limit")
        || lower.contains("purchase more credits");
    if type_is_usage || text_is_usage {
        let resets_in_s = [Some(err), inner_err].into_iter().flatten().find_map(|e| {
            e.get("resets_in_seconds")
                .or_else(|| e.get("retry_after_s"))
                .and_then(Value::as_u64)
        });
        return CodexVerdict::UsageLimit { resets_in_s };
    }
    CodexVerdict::Error { message }
}

/// How a verdict changes the evidence handed to the classifier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodexEvidence {
    /// Replaces the exit-mapped status.
    pub status: Option<u16>,
    /// Replaces the body the rate-limit rules read.
    pub body: Option<String>,
    /// Appended to the hint the failure rules match.
    pub hint_marker: Option<&'static str>,
}

/// The evidence changes for a verdict.
pub fn evidence(verdict: &CodexVerdict) -> CodexEvidence {
    match verdict {
        CodexVerdict::Completed => CodexEvidence {
            status: Some(200),
            ..Default::default()
        },
        CodexVerdict::UsageLimit { resets_in_s } => CodexEvidence {
            status: None,
            body: resets_in_s.map(|s| {
                json!({"error": {"type": "usage_limit_reached", "resets_in_seconds": s}})
                    .to_string()
            }),
            hint_marker: Some("usage_limit_reached"),
        },
        CodexVerdict::Error { .. } | CodexVerdict::Unreachable { .. } => CodexEvidence::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_turn_is_success() {
        let out = "{\"type\":\"thread.started\"}\n{\"type\":\"turn.completed\",\"usage\":{}}\n";
        assert_eq!(interpret(out), Some(CodexVerdict::Completed));
    }

    #[test]
    fn usage_limit_error_is_quota_with_reset() {
        let out = r#"{"type":"error","message":"{\"error\":{\"type\":\"usage_limit_reached\",\"resets_in_seconds\":1234}}"}"#;
        assert_eq!(
            interpret(out),
            Some(CodexVerdict::UsageLimit {
                resets_in_s: Some(1234)
            })
        );
        let out = r#"{"type":"turn.failed","error":{"message":"You've hit your usage limit. Try again later."}}"#;
        assert_eq!(
            interpret(out),
            Some(CodexVerdict::UsageLimit { resets_in_s: None })
        );
        let ev = evidence(&CodexVerdict::UsageLimit { resets_in_s: None });
        assert_eq!(ev.status, None);
        assert_eq!(ev.body, None);
        assert_eq!(ev.hint_marker, Some("usage_limit_reached"));
        let ev = evidence(&CodexVerdict::UsageLimit {
            resets_in_s: Some(60),
        });
        assert!(ev.body.unwrap().contains("\"resets_in_seconds\":60"));
    }

    #[test]
    fn a_provider_never_reached_is_unreachable_not_an_account_verdict() {
        // What Codex 0.169 printed here with no route to chatgpt.com.
        let out = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 2/5 (workspace routing discovery failed)"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Falling back from WebSockets to HTTPS transport. workspace routing discovery failed"}}
{"type":"error","message":"Reconnecting... 5/5 (workspace routing discovery failed)"}
{"type":"error","message":"workspace routing discovery failed"}
{"type":"turn.failed","error":{"message":"workspace routing discovery failed"}}"#;
        assert!(matches!(
            interpret(out),
            Some(CodexVerdict::Unreachable { .. })
        ));
        let out = r#"{"type":"turn.failed","error":{"message":"stream disconnected before completion: error sending request for url (https://chatgpt.com/backend-api/codex/responses)"}}"#;
        assert!(matches!(
            interpret(out),
            Some(CodexVerdict::Unreachable { .. })
        ));
    }

    #[test]
    fn other_errors_keep_their_message() {
        let out = r#"{"type":"error","message":"model is not supported"}"#;
        assert_eq!(
            interpret(out),
            Some(CodexVerdict::Error {
                message: "model is not supported".into()
            })
        );
        assert_eq!(interpret("plain text"), None);
    }
}
