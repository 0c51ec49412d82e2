use super::*;
use serde_json::json;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn grant(refresh: Option<&str>) -> Grant {
    Grant {
        access_token: "at-new".into(),
        refresh_token: refresh.map(str::to_owned),
        id_token: Some("id-new".into()),
        expires_in: Some(28_800.0),
        scope: Some("user:inference user:profile".into()),
    }
}

#[test]
fn a_2xx_with_an_access_token_is_a_grant() {
    let body = r#"{"access_token":"a","refresh_token":"r","id_token":"i","expires_in":"3600","scope":"s1 s2"}"#;
    let GrantAnswer::Granted(g) = judge_answer(200, body) else {
        panic!("not granted");
    };
    assert_eq!(g.access_token, "a");
    assert_eq!(g.refresh_token.as_deref(), Some("r"));
    assert_eq!(g.id_token.as_deref(), Some("i"));
    assert_eq!(g.expires_in, Some(3600.0));
    assert_eq!(g.scope.as_deref(), Some("s1 s2"));
    assert_eq!(format!("{g:?}"), "Grant(<redacted>)");
}

#[test]
fn a_2xx_without_an_access_token_changes_nothing() {
    assert_eq!(
        judge_answer(200, "<html>"),
        GrantAnswer::Transient {
            error: Some("unreadable_token_response".into())
        }
    );
    assert!(matches!(
        judge_answer(200, r#"{"access_token":""}"#),
        GrantAnswer::Transient { .. }
    ));
}

#[test]
fn spent_refresh_tokens_are_rejections() {
    let reused = r#"{"error":{"message":"Your refresh token has already been used","type":"invalid_request_error","code":"refresh_token_reused"}}"#;
    for status in [400, 401] {
        assert_eq!(
            judge_answer(status, reused),
            GrantAnswer::Rejected {
                error: "refresh_token_reused".into()
            }
        );
    }
    assert_eq!(
        judge_answer(400, r#"{"error":"invalid_grant","error_description":"x"}"#),
        GrantAnswer::Rejected {
            error: "invalid_grant".into()
        }
    );
    assert_eq!(
        judge_answer(401, "nope"),
        GrantAnswer::Rejected {
            error: "unauthorized".into()
        }
    );
}

#[test]
fn other_failures_are_transient() {
    assert_eq!(
        judge_answer(503, ""),
        GrantAnswer::Transient {
            error: Some("http_503".into())
        }
    );
    assert_eq!(
        judge_answer(429, r#"{"error":"rate_limited"}"#),
        GrantAnswer::Transient {
            error: Some("rate_limited".into())
        }
    );
    assert_eq!(
        judge_answer(400, r#"{"error":"invalid_request"}"#),
        GrantAnswer::Transient {
            error: Some("invalid_request".into())
        }
    );
    // A code that is free text never becomes an event field.
    assert_eq!(
        judge_answer(400, r#"{"error":"token abc was bad"}"#),
        GrantAnswer::Transient {
            error: Some("http_400".into())
        }
    );
}

#[test]
fn codex_grant_writes_tokens_and_last_refresh_and_keeps_everything_else() {
    let doc = json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
        "tokens": {"id_token": "id-old", "access_token": "at-old", "refresh_token": "rt-old",
                   "account_id": "acc", "extra": 1},
        "last_refresh": "2026-01-01T00:00:00Z", "unknown_top": {"kept": true}});
    let fields = WritebackFields {
        wrapper_key: None,
        access_token: "tokens.access_token",
        refresh_token: "tokens.refresh_token",
        id_token: Some("tokens.id_token"),
        expires_at: None,
        expires_at_ms: false,
        scopes: None,
        refreshed_at: Some("last_refresh"),
    };
    let now = t("2026-12-07T00:35:14.5Z");
    let out = apply_grant(&doc, &fields, &grant(Some("rt-new")), None, now).unwrap();
    assert_eq!(
        out,
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
            "tokens": {"id_token": "id-new", "access_token": "at-new", "refresh_token": "rt-new",
                       "account_id": "acc", "extra": 1},
            "last_refresh": "2026-12-07T00:35:14.5Z", "unknown_top": {"kept": true}})
    );
    // Key order is kept too (serde_json preserves it).
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "auth_mode",
            "OPENAI_API_KEY",
            "tokens",
            "last_refresh",
            "unknown_top"
        ]
    );
}

#[test]
fn claude_grant_writes_inside_the_wrapper_and_keeps_the_old_refresh_token_when_none_comes() {
    let doc = json!({"mcpOAuth": {"x": 1}, "claudeAiOauth": {"accessToken": "at-old",
        "refreshToken": "rt-old", "expiresAt": 1, "scopes": ["a"], "subscriptionType": "max",
        "rateLimitTier": "t"}});
    let fields = WritebackFields {
        wrapper_key: Some("claudeAiOauth"),
        access_token: "accessToken",
        refresh_token: "refreshToken",
        id_token: None,
        expires_at: Some("expiresAt"),
        expires_at_ms: true,
        scopes: Some("scopes"),
        refreshed_at: None,
    };
    let now = t("2026-12-07T00:00:00Z");
    let g = grant(None);
    let at = grant_expiry(&g, ExpirySource::ExpiresIn, now).unwrap();
    assert_eq!(at, t("2026-12-07T08:00:00Z"));
    let out = apply_grant(&doc, &fields, &g, Some(at), now).unwrap();
    assert_eq!(
        out,
        json!({"mcpOAuth": {"x": 1}, "claudeAiOauth": {"accessToken": "at-new",
            "refreshToken": "rt-old", "expiresAt": at.as_millisecond(),
            "scopes": ["user:inference", "user:profile"], "subscriptionType": "max",
            "rateLimitTier": "t"}})
    );
}

#[test]
fn jwt_expiry_comes_from_the_access_token() {
    let b64 = |s: &str| crate::util::base64url::encode(s.as_bytes());
    let jwt = format!("{}.{}.s", b64("{}"), b64(r#"{"exp":1900000000}"#));
    let g = Grant {
        access_token: jwt,
        expires_in: Some(10.0),
        ..grant(None)
    };
    assert_eq!(
        grant_expiry(&g, ExpirySource::AccessTokenJwt, t("2026-01-01T00:00:00Z")),
        Some(Timestamp::from_second(1_900_000_000).unwrap())
    );
}

#[test]
fn a_path_through_a_scalar_is_refused() {
    let doc = json!({"tokens": "not an object"});
    let fields = WritebackFields {
        wrapper_key: None,
        access_token: "tokens.access_token",
        refresh_token: "tokens.refresh_token",
        id_token: None,
        expires_at: None,
        expires_at_ms: false,
        scopes: None,
        refreshed_at: None,
    };
    let err = apply_grant(&doc, &fields, &grant(None), None, t("2026-01-01T00:00:00Z"));
    assert!(err.unwrap_err().contains("tokens"));
}
