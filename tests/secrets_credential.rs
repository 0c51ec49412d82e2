//! Credential parsing per provider definition: dot paths, wrapper key, expiry in
//! seconds / milliseconds / expires_in / JWT `exp`, API-key detection, token_type.

use jiff::{SignedDuration, Timestamp};
use oauth_mux::secrets::{
    CredentialFormat, ExpiresAtUnit, Secret, SecretErrorKind, TokenKind, json_path_get,
    parse_credential, redact,
};

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn parse(raw: &str, format: &CredentialFormat) -> oauth_mux::secrets::Credential {
    parse_credential(&Secret::new(raw.to_string()), format, now()).unwrap()
}

/// A JWT with the given payload JSON and a dummy signature (never verified).
fn jwt(payload: &str) -> String {
    fn b64url(bytes: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64url(payload.as_bytes())
    )
}

#[test]
fn default_format_reads_access_and_refresh_tokens() {
    let c = parse(
        r#"{"access_token":"cred-access-canary-01","refresh_token":"cred-refresh-canary-01"}"#,
        &CredentialFormat::default(),
    );
    assert_eq!(c.kind, TokenKind::Bearer);
    assert_eq!(c.access_token.expose(), "cred-access-canary-01");
    assert_eq!(
        c.refresh_token.as_ref().unwrap().expose(),
        "cred-refresh-canary-01"
    );
    assert_eq!(c.expires_at, None);
    assert!(!c.is_expired(now()));
    assert!(redact::is_registered("cred-access-canary-01"));
    assert!(redact::is_registered("cred-refresh-canary-01"));
    let debug = format!("{c:?}");
    assert!(!debug.contains("canary"), "{debug}");
}

#[test]
fn format_deserializes_with_defaults() {
    let f: CredentialFormat = serde_json::from_str("{}").unwrap();
    assert_eq!(f, CredentialFormat::default());
    assert_eq!(f.access_token_path, "access_token");
    assert_eq!(f.refresh_token_path, "refresh_token");
    let f: CredentialFormat = serde_json::from_str(
        r#"{"token_type":"api_key","expires_at_unit":"milliseconds","wrapper_key":"w"}"#,
    )
    .unwrap();
    assert_eq!(f.token_type, Some(TokenKind::ApiKey));
    assert_eq!(f.expires_at_unit, Some(ExpiresAtUnit::Milliseconds));
    assert_eq!(f.access_token_path, "access_token");
}

#[test]
fn wrapper_key_and_dot_paths_claude_shape() {
    let format = CredentialFormat {
        wrapper_key: Some("claudeAiOauth".into()),
        access_token_path: "accessToken".into(),
        refresh_token_path: "refreshToken".into(),
        expires_at_path: Some("expiresAt".into()),
        ..CredentialFormat::default()
    };
    let c = parse(
        r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-wrapcanary","refreshToken":"sk-ant-ort01-wrapcanary","expiresAt":1772370000000}}"#,
        &format,
    );
    assert_eq!(c.access_token.expose(), "sk-ant-oat01-wrapcanary");
    assert_eq!(c.refresh_token.unwrap().expose(), "sk-ant-ort01-wrapcanary");
    // 1772370000000 ms is milliseconds (≥ 1e12).
    assert_eq!(
        c.expires_at,
        Some(Timestamp::from_second(1_772_370_000).unwrap())
    );
}

#[test]
fn wrapper_key_absent_falls_back_to_the_root() {
    let format = CredentialFormat {
        wrapper_key: Some("claudeAiOauth".into()),
        ..CredentialFormat::default()
    };
    let c = parse(r#"{"access_token":"root-level-token-1"}"#, &format);
    assert_eq!(c.access_token.expose(), "root-level-token-1");
}

#[test]
fn expires_at_seconds_milliseconds_and_explicit_unit() {
    let format = |unit| CredentialFormat {
        expires_at_path: Some("tokens.exp".into()),
        expires_at_unit: unit,
        ..CredentialFormat::default()
    };
    let body = |n: &str| format!(r#"{{"access_token":"expiry-token-1","tokens":{{"exp":{n}}}}}"#);
    let at = Timestamp::from_second(1_772_370_000).unwrap();
    assert_eq!(
        parse(&body("1772370000"), &format(None)).expires_at,
        Some(at)
    );
    assert_eq!(
        parse(&body("1772370000000"), &format(None)).expires_at,
        Some(at)
    );
    assert_eq!(
        parse(&body("\"1772370000\""), &format(None)).expires_at,
        Some(at)
    );
    assert_eq!(
        parse(&body("\"2026-03-01T13:00:00Z\""), &format(None)).expires_at,
        Some("2026-03-01T13:00:00Z".parse().unwrap())
    );
    // An explicit unit wins over the magnitude rule.
    assert_eq!(
        parse(
            &body("1772370000"),
            &format(Some(ExpiresAtUnit::Milliseconds))
        )
        .expires_at,
        Some(Timestamp::from_millisecond(1_772_370_000).unwrap())
    );
    let err = parse_credential(&Secret::new(body("\"soon\"")), &format(None), now()).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Parse);
    assert!(
        err.to_string().contains("credential.expires_at_path"),
        "{err}"
    );
}

#[test]
fn expires_in_counts_from_now_and_expiry_has_30s_skew() {
    let format = CredentialFormat {
        expires_in_path: Some("expires_in".into()),
        ..CredentialFormat::default()
    };
    let c = parse(
        r#"{"access_token":"expires-in-token-1","expires_in":3600}"#,
        &format,
    );
    let at = now().checked_add(SignedDuration::from_hours(1)).unwrap();
    assert_eq!(c.expires_at, Some(at));
    assert!(!c.is_expired(at.checked_sub(SignedDuration::from_secs(31)).unwrap()));
    assert!(c.is_expired(at.checked_sub(SignedDuration::from_secs(30)).unwrap()));
}

#[test]
fn expires_at_wins_over_expires_in() {
    let format = CredentialFormat {
        expires_at_path: Some("expires_at".into()),
        expires_in_path: Some("expires_in".into()),
        ..CredentialFormat::default()
    };
    let c = parse(
        r#"{"access_token":"both-expiry-token","expires_at":1772370000,"expires_in":5}"#,
        &format,
    );
    assert_eq!(
        c.expires_at,
        Some(Timestamp::from_second(1_772_370_000).unwrap())
    );
}

#[test]
fn jwt_exp_gives_the_expiry_codex_shape() {
    let token = jwt(r#"{"sub":"user","exp":1772373600}"#);
    let format = CredentialFormat {
        access_token_path: "tokens.access_token".into(),
        refresh_token_path: "tokens.refresh_token".into(),
        expires_from_jwt_path: Some("tokens.access_token".into()),
        identity_claim_path: Some("tokens.account_id".into()),
        ..CredentialFormat::default()
    };
    let body = format!(
        r#"{{"OPENAI_API_KEY":null,"tokens":{{"access_token":"{token}","refresh_token":"rt_jwtcanary0123456789","account_id":"acct-raw-canary-9f8e7d"}}}}"#
    );
    let c = parse(&body, &format);
    assert_eq!(c.kind, TokenKind::Bearer);
    assert_eq!(c.access_token.expose(), token);
    assert_eq!(
        c.expires_at,
        Some(Timestamp::from_second(1_772_373_600).unwrap())
    );
    // Identity: 12 hex of sha256, and the raw id is registered for scrubbing.
    let identity = c.identity.unwrap();
    assert_eq!(identity.len(), 12);
    assert!(identity.chars().all(|ch| ch.is_ascii_hexdigit()));
    assert_ne!(identity, "acct-raw-can");
    assert!(redact::is_registered("acct-raw-canary-9f8e7d"));
    assert!(!redact::scrub("account acct-raw-canary-9f8e7d").contains("acct-raw"));

    let bad = r#"{"tokens":{"access_token":"opaque-not-a-jwt"}}"#;
    let err = parse_credential(&Secret::new(bad.into()), &format, now()).unwrap_err();
    assert!(
        err.to_string().contains("credential.expires_from_jwt_path"),
        "{err}"
    );
    assert!(!err.to_string().contains("opaque-not-a-jwt"), "{err}");
}

#[test]
fn identity_hash_is_stable_sha256_prefix() {
    let format = CredentialFormat {
        identity_claim_path: Some("id".into()),
        ..CredentialFormat::default()
    };
    let c = parse(r#"{"access_token":"identity-token-1","id":"abc"}"#, &format);
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assert_eq!(c.identity.as_deref(), Some("ba7816bf8f01"));
}

#[test]
fn non_json_is_a_trimmed_api_key() {
    let c = parse(
        "  ghp_rawkeycanary0123456789\n",
        &CredentialFormat::default(),
    );
    assert_eq!(c.kind, TokenKind::ApiKey);
    assert_eq!(c.access_token.expose(), "ghp_rawkeycanary0123456789");
    assert!(c.refresh_token.is_none() && c.expires_at.is_none());
    // Text that is not an object (even valid JSON like a string) is a raw key.
    let c = parse("[not-an-object-key]", &CredentialFormat::default());
    assert_eq!(c.kind, TokenKind::ApiKey);
}

#[test]
fn malformed_json_starting_with_brace_is_an_error_without_content() {
    let raw = r#"{"access_token": "malformed-canary-abc123" "#;
    let err = parse_credential(
        &Secret::new(raw.into()),
        &CredentialFormat::default(),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Parse);
    let msg = err.to_string();
    assert!(msg.contains("not valid JSON (line 1, column"), "{msg}");
    assert!(!msg.contains("malformed-canary"), "{msg}");
}

#[test]
fn api_key_path_and_missing_access_token() {
    let format = CredentialFormat {
        api_key_path: Some("OPENAI_API_KEY".into()),
        ..CredentialFormat::default()
    };
    let c = parse(
        r#"{"OPENAI_API_KEY":"sk-proj-apikeycanary0123","access_token":"ignored-token-1"}"#,
        &format,
    );
    assert_eq!(c.kind, TokenKind::ApiKey);
    assert_eq!(c.access_token.expose(), "sk-proj-apikeycanary0123");

    // api_key_path null → fall through to the access token.
    let c = parse(
        r#"{"OPENAI_API_KEY":null,"access_token":"bearer-token-12"}"#,
        &format,
    );
    assert_eq!(c.kind, TokenKind::Bearer);

    // No access token at the path → the whole trimmed input is an API key.
    let raw = r#"{"something":"else-entirely-1"}"#;
    let c = parse(&format!(" {raw}\n"), &CredentialFormat::default());
    assert_eq!(c.kind, TokenKind::ApiKey);
    assert_eq!(c.access_token.expose(), raw);

    // An access token that is not a string is an error naming the field.
    let err = parse_credential(
        &Secret::new(r#"{"access_token":42}"#.into()),
        &CredentialFormat::default(),
        now(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("credential.access_token_path"),
        "{err}"
    );
}

#[test]
fn token_type_overrides_the_kind() {
    let api = CredentialFormat {
        token_type: Some(TokenKind::ApiKey),
        ..CredentialFormat::default()
    };
    let c = parse(r#"{"access_token":"lin_api_forcedcanary01234567"}"#, &api);
    assert_eq!(c.kind, TokenKind::ApiKey);
    assert_eq!(c.access_token.expose(), "lin_api_forcedcanary01234567");

    let bearer = CredentialFormat {
        token_type: Some(TokenKind::Bearer),
        ..CredentialFormat::default()
    };
    let c = parse("figd_rawbearer0123456789", &bearer);
    assert_eq!(c.kind, TokenKind::Bearer);
}

#[test]
fn empty_credential_is_an_error() {
    let err = parse_credential(
        &Secret::new(" \n".into()),
        &CredentialFormat::default(),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
}

#[test]
fn json_path_get_is_public() {
    let v = serde_json::json!({"a":{"b":"c"}});
    assert_eq!(json_path_get(&v, "a.b").and_then(|v| v.as_str()), Some("c"));
}
