//! Responses the proxy writes itself, each in the shape the harness understands.

use jiff::Timestamp;
use serde_json::json;

use super::Harness;

/// A complete response produced locally.
#[derive(Clone, Debug)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

fn json_reply(status: u16, body: serde_json::Value) -> LocalReply {
    LocalReply {
        status,
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// The command that explains (and leads to repairing) a profile's routes.
pub fn repair_command(profile: &str) -> String {
    format!("oauth-mux route explain --profile {profile}")
}

/// 403 for a request without the session secret. Says nothing about accounts.
pub fn forbidden() -> LocalReply {
    json_reply(
        403,
        json!({"error": {
            "type": "oauth_mux_forbidden",
            "message": "this oauth-mux session proxy only serves the harness it launched",
        }}),
    )
}

/// 426 for a WebSocket upgrade: Codex then falls back to POST + SSE at once.
pub fn websocket_refused() -> LocalReply {
    let mut reply = json_reply(
        426,
        json!({"error": {
            "type": "oauth_mux_unsupported_transport",
            "code": "websocket_not_supported",
            "message": "oauth-mux carries HTTP streaming only; fall back to POST with SSE",
        }}),
    );
    reply.headers.push(("upgrade".into(), b"HTTP/1.1".to_vec()));
    reply
}

/// A framing or transport error from the proxy itself, in the harness's error shape.
pub fn proxy_error(harness: Harness, status: u16, message: &str) -> LocalReply {
    match harness {
        Harness::Claude => json_reply(
            status,
            json!({"type": "error", "error": {"type": "api_error", "message": format!("oauth-mux: {message}")}}),
        ),
        Harness::Codex => json_reply(
            status,
            json!({"error": {"type": "oauth_mux_proxy_error", "message": format!("oauth-mux: {message}")}}),
        ),
    }
}

/// The one clear error when every account of the profile is spent: the provider's own
/// rate-limit shape, the earliest reset, and the repair command.
pub fn pool_exhausted(
    harness: Harness,
    profile: &str,
    earliest_reset: Option<Timestamp>,
    now: Timestamp,
) -> LocalReply {
    let repair = repair_command(profile);
    let resets_in = earliest_reset.map(|t| (t.as_second() - now.as_second()).max(0));
    let when = match earliest_reset {
        Some(t) => format!("the earliest reset is {t}"),
        None => "no reset time is known".to_string(),
    };
    let message = format!(
        "oauth-mux: every account in profile `{profile}` is spent; {when}. Run `{repair}` to see each account and how to repair it."
    );
    let mut reply = match harness {
        Harness::Codex => json_reply(
            429,
            json!({"error": {
                "type": "usage_limit_reached",
                "message": message,
                "resets_at": earliest_reset.map(|t| t.as_second()),
                "resets_in_seconds": resets_in,
                "repair_command": repair,
            }}),
        ),
        Harness::Claude => json_reply(
            429,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": message}}),
        ),
    };
    if let Some(secs) = resets_in {
        reply
            .headers
            .push(("retry-after".into(), secs.to_string().into_bytes()));
    }
    if harness == Harness::Claude {
        // Tell the Anthropic SDK not to retry a spent pool, and Claude Code when it resets.
        reply
            .headers
            .push(("x-should-retry".into(), b"false".to_vec()));
        reply.headers.push((
            "anthropic-ratelimit-unified-status".into(),
            b"rejected".to_vec(),
        ));
        if let Some(t) = earliest_reset {
            reply.headers.push((
                "anthropic-ratelimit-unified-reset".into(),
                t.as_second().to_string().into_bytes(),
            ));
        }
        // The window that ran out, which Claude Code needs to say "You've hit your session
        // limit · resets …" (without it: "Server is temporarily limiting requests"). A
        // five-hour window cannot reset more than five hours ahead; a later reset is the
        // weekly one.
        let claim = match resets_in {
            Some(secs) if secs > FIVE_HOURS_S => "seven_day",
            _ => "five_hour",
        };
        reply.headers.push((
            "anthropic-ratelimit-unified-representative-claim".into(),
            claim.as_bytes().to_vec(),
        ));
    }
    reply
}

/// The length of Anthropic's session window.
const FIVE_HOURS_S: i64 = 5 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_shapes_carry_reset_and_repair() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let reset = Timestamp::from_second(1_800_003_600).unwrap();
        let codex = pool_exhausted(Harness::Codex, "codex-max", Some(reset), now);
        assert_eq!(codex.status, 429);
        let v: serde_json::Value = serde_json::from_slice(&codex.body).unwrap();
        assert_eq!(v["error"]["type"], "usage_limit_reached");
        assert_eq!(v["error"]["resets_in_seconds"], 3600);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("oauth-mux route explain --profile codex-max")
        );
        let claude = pool_exhausted(Harness::Claude, "claude", Some(reset), now);
        let v: serde_json::Value = serde_json::from_slice(&claude.body).unwrap();
        assert_eq!(v["error"]["type"], "rate_limit_error");
        let header = |reply: &LocalReply, name: &str| {
            reply
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(
            header(&claude, "anthropic-ratelimit-unified-reset").as_deref(),
            Some("1800003600")
        );
        assert_eq!(
            header(&claude, "anthropic-ratelimit-unified-representative-claim").as_deref(),
            Some("five_hour")
        );
        let weekly = Timestamp::from_second(1_800_000_000 + 3 * 86_400).unwrap();
        let claude = pool_exhausted(Harness::Claude, "claude", Some(weekly), now);
        assert_eq!(
            header(&claude, "anthropic-ratelimit-unified-representative-claim").as_deref(),
            Some("seven_day")
        );
    }
}
