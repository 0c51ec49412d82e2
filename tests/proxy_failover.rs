//! End-to-end failover behaviour of the session proxy against the loopback fake provider
//! (SPEC §8): the harness never sees a quota error another account can absorb.

mod kit;

use jiff::Timestamp;
use kit::canary;
use kit::proxy_rig::*;
use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::model::health::RouteStatus;
use oauth_mux::proxy::Harness;
use oauth_mux::proxy::frames::Frame;

#[test]
fn codex_quota_on_first_account_is_answered_by_the_second() {
    let rig = Rig::new(
        Harness::Codex,
        &[("one", quota(3600)), ("two", ok("hello from two"))],
    );
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(seen.header("content-type"), Some("text/event-stream"));
    assert!(seen.body.contains("hello from two"));
    assert!(seen.body.contains("response.completed"));
    assert!(
        !seen.body.contains("usage_limit_reached"),
        "harness saw the quota error"
    );
    assert_eq!(rig.calls("one"), 1);
    assert_eq!(rig.calls("two"), 1);

    let Some(RouteStatus::QuotaExhausted {
        resets_at: reset, ..
    }) = rig.status("one")
    else {
        panic!("one not spent: {:?}", rig.status("one"));
    };
    let in_secs = reset.as_second() - Timestamp::now().as_second();
    assert!((3500..=3700).contains(&in_secs), "reset in {in_secs}s");
    assert_eq!(rig.benched("two"), None);

    assert_eq!(
        rig.turns(),
        vec![
            ("one".into(), 429, "quota_exhausted".into(), false),
            ("two".into(), 200, "success".into(), true),
        ]
    );
    assert!(rig.frames().contains(&Frame::Handoff {
        from: Some("one".into()),
        to: "two".into(),
        reason: "quota_exhausted".into(),
    }));

    // The swap: account two's own credential and ChatGPT account id; everything else as sent.
    let h = rig.fake.last_headers(&canary::token("two"));
    let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        get("authorization"),
        Some(format!("Bearer {}", canary::token("two")))
    );
    assert_eq!(get("chatgpt-account-id"), Some(canary::account_id("two")));
    assert_eq!(get("originator").as_deref(), Some("codex_exec"));
    assert_eq!(
        rig.fake.last_body(&canary::token("two")),
        br#"{"model":"gpt-6.1-sol","stream":true,"input":[]}"#
    );

    // Sticky: the next request goes straight to account two.
    let again = codex_turn(&rig);
    assert_eq!(again.status, 200);
    assert_eq!(rig.calls("one"), 1);
    assert_eq!(rig.calls("two"), 2);
    canary::assert_absent("what the harness saw", &seen.all_text());
    canary::assert_absent("what the harness saw", &again.all_text());
    canary::assert_absent("the frames", &rig.frames_json());
}

#[test]
fn claude_quota_fails_over_and_the_oauth_beta_is_ensured() {
    let rig = Rig::new(
        Harness::Claude,
        &[("one", quota(1800)), ("two", ok("claude two"))],
    );
    let seen = claude_turn(&rig);
    assert_eq!(seen.status, 200, "{seen:?}");
    assert!(seen.body.contains("claude two"));
    assert!(seen.body.contains("message_stop"));
    assert!(!seen.body.contains("rate_limit_error"));
    assert_eq!(rig.benched("one"), Some("quota_exhausted"));
    let h = rig.fake.last_headers(&canary::token("two"));
    let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        get("authorization"),
        Some(format!("Bearer {}", canary::token("two")))
    );
    assert_eq!(
        get("x-api-key"),
        None,
        "the harness's x-api-key must not be forwarded"
    );
    assert_eq!(
        get("anthropic-beta").as_deref(),
        Some("claude-code-20250219,context-1m-2025-08-07,oauth-2025-04-20")
    );
    assert_eq!(get("anthropic-version").as_deref(), Some("2023-06-01"));
    canary::assert_absent("what the harness saw", &seen.all_text());
    canary::assert_absent("the frames", &rig.frames_json());
}

#[test]
fn codex_pool_spent_gives_one_clear_error_with_the_earliest_reset() {
    let rig = Rig::new(Harness::Codex, &[("one", quota(7200)), ("two", quota(600))]);
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 429);
    let v: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(v["error"]["type"], "usage_limit_reached");
    let secs = v["error"]["resets_in_seconds"].as_i64().unwrap();
    assert!((500..=600).contains(&secs), "earliest reset in {secs}s");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("oauth-mux route explain --profile test-profile"),
        "{msg}"
    );
    assert!(msg.contains("earliest reset"), "{msg}");
    assert_eq!(rig.calls("one"), 1);
    assert_eq!(rig.calls("two"), 1);
    assert!(rig.frames().iter().any(|f| matches!(
        f,
        Frame::PoolExhausted {
            earliest_reset: Some(_),
            ..
        }
    )));
    // A second request touches no account: both are benched.
    let again = codex_turn(&rig);
    assert_eq!(again.status, 429);
    assert_eq!(rig.calls("one") + rig.calls("two"), 2);
    canary::assert_absent("what the harness saw", &seen.all_text());
}

#[test]
fn claude_pool_spent_error_carries_unified_reset_headers() {
    let rig = Rig::new(
        Harness::Claude,
        &[("one", quota(900)), ("two", quota(3000))],
    );
    let seen = claude_turn(&rig);
    assert_eq!(seen.status, 429);
    let v: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("oauth-mux route explain --profile test-profile")
    );
    assert_eq!(
        seen.header("anthropic-ratelimit-unified-status"),
        Some("rejected")
    );
    let reset: i64 = seen
        .header("anthropic-ratelimit-unified-reset")
        .unwrap()
        .parse()
        .unwrap();
    let in_secs = reset - Timestamp::now().as_second();
    assert!((800..=900).contains(&in_secs), "{in_secs}");
    assert_eq!(seen.header("x-should-retry"), Some("false"));
}

#[test]
fn error_as_first_event_of_a_200_stream_fails_over() {
    for harness in [Harness::Codex, Harness::Claude] {
        let rig = Rig::new(
            harness,
            &[
                (
                    "one",
                    Behaviour::ErrorFirstEvent {
                        resets_in_seconds: 1200,
                    },
                ),
                ("two", ok("after stream error")),
            ],
        );
        let seen = match harness {
            Harness::Codex => codex_turn(&rig),
            Harness::Claude => claude_turn(&rig),
        };
        assert_eq!(seen.status, 200);
        assert!(
            seen.body.contains("after stream error"),
            "{harness:?}: {seen:?}"
        );
        assert!(
            !seen.body.contains("usage_limit_reached") && !seen.body.contains("rate_limit_error")
        );
        assert!(
            !seen.body.contains("resp_e"),
            "held prelude of the failed stream leaked"
        );
        assert_eq!(rig.calls("two"), 1);
        assert_eq!(rig.benched("one"), Some("quota_exhausted"), "{harness:?}");
        assert_eq!(
            rig.turns()[0],
            ("one".into(), 429, "quota_exhausted".into(), false)
        );
    }
}

#[test]
fn usage_above_threshold_moves_the_next_request() {
    let rig = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::SucceedWithUsage {
                    text: "near the limit".into(),
                    used_percent: 97.0,
                },
            ),
            ("two", ok("fresh")),
        ],
    );
    let first = codex_turn(&rig);
    assert!(
        first.body.contains("near the limit"),
        "the current request is still served"
    );
    assert_eq!(first.header("x-codex-primary-used-percent"), Some("97"));
    let second = codex_turn(&rig);
    assert!(second.body.contains("fresh"));
    assert_eq!(rig.calls("one"), 1);
    assert_eq!(rig.calls("two"), 1);
    assert!(rig.frames().contains(&Frame::Handoff {
        from: Some("one".into()),
        to: "two".into(),
        reason: "usage_threshold".into(),
    }));
    assert!(
        rig.frames()
            .iter()
            .any(|f| matches!(f, Frame::QuotaObserved { account, windows }
        if account == "one" && windows[0].used_percent == 97.0))
    );
    assert_eq!(rig.benched("one"), None, "a warning is not a quota");
}

#[test]
fn anthropic_utilization_above_threshold_moves_the_next_request() {
    let rig = Rig::new(
        Harness::Claude,
        &[
            (
                "one",
                Behaviour::SucceedWithUsage {
                    text: "warm".into(),
                    used_percent: 96.0,
                },
            ),
            ("two", ok("cool")),
        ],
    );
    assert!(claude_turn(&rig).body.contains("warm"));
    assert!(claude_turn(&rig).body.contains("cool"));
}

#[test]
fn request_without_the_session_secret_gets_403_and_touches_no_account() {
    let rig = Rig::new(Harness::Codex, &[("one", ok("x"))]);
    let origin = format!("http://{}", rig.addr());
    for path in [
        "/backend-api/codex/responses",
        "/v1/messages",
        "/",
        "/0000000000000000/backend-api/codex/responses",
    ] {
        let seen = send(
            "POST",
            &format!("{origin}{path}"),
            &[("authorization", "Bearer x")],
            b"{}",
        );
        assert_eq!(seen.status, 403, "{path}");
        canary::assert_absent("what the harness saw", &seen.all_text());
    }
    // Right secret with a trailing extra byte is still wrong.
    let wrong = format!("{}x/backend-api/codex/responses", rig.base());
    assert_eq!(send("POST", &wrong, &[], b"{}").status, 403);
    assert_eq!(rig.fake.total_calls(), 0);
    assert!(rig.health("one").is_none());
}

#[test]
fn once_content_reached_the_harness_there_is_no_replay() {
    let rig = Rig::new(
        Harness::Codex,
        &[("one", Behaviour::ContentThenError), ("two", ok("never"))],
    );
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("partial answer"));
    assert!(
        seen.body.contains("usage_limit_reached"),
        "the late error is the harness's to see"
    );
    assert_eq!(rig.calls("two"), 0);
    assert_eq!(
        rig.turns(),
        vec![("one".into(), 200, "success".into(), true)]
    );
    // The late error is still evidence: recorded (account benched), never replayed.
    assert_eq!(rig.benched("one"), Some("quota_exhausted"));
    assert!(rig.frames().contains(&Frame::StreamErrorAfterContent {
        account: "one".into(),
        status: 429,
        classification: "quota_exhausted".into(),
    }));
    // The next request goes to account two.
    assert!(codex_turn(&rig).body.contains("never"));
}

#[test]
fn dead_token_fails_over() {
    let rig = Rig::new(
        Harness::Codex,
        &[("one", Behaviour::Unauthorized), ("two", ok("alive"))],
    );
    let seen = codex_turn(&rig);
    assert!(seen.body.contains("alive"));
    assert_eq!(rig.benched("one"), Some("token_revoked"));
}

#[test]
fn websocket_upgrade_gets_426_and_no_upstream_call() {
    let rig = Rig::new(Harness::Codex, &[("one", ok("x"))]);
    let seen = send(
        "GET",
        &format!("{}/backend-api/codex/responses", rig.base()),
        &[
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("openai-beta", "responses_websockets=2026-02-06"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        b"",
    );
    assert_eq!(seen.status, 426);
    let v: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(v["error"]["type"], "oauth_mux_unsupported_transport");
    assert_eq!(rig.fake.total_calls(), 0);
    assert!(rig.frames().contains(&Frame::UnsupportedTransport {
        path_kind: "responses".into()
    }));
}

#[test]
fn codex_usage_check_is_answered_from_the_pool() {
    let rig = Rig::new(Harness::Codex, &[("one", quota(60)), ("two", ok("x"))]);
    let seen = send(
        "GET",
        &format!("{}/backend-api/wham/usage", rig.base()),
        &[("authorization", "Bearer p")],
        b"",
    );
    assert_eq!(seen.status, 200);
    let v: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(v["rate_limit"]["limit_reached"], false);
    assert_eq!(rig.fake.total_calls(), 0);
}

#[test]
fn side_calls_are_pinned_and_swapped() {
    let rig = Rig::new(Harness::Codex, &[("one", ok("x"))]);
    let seen = send(
        "GET",
        &format!(
            "{}/backend-api/codex/models?client_version=0.169.0",
            rig.base()
        ),
        &[("authorization", "Bearer p")],
        b"",
    );
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body, r#"{"models":[]}"#);
    let check = send(
        "GET",
        &format!("{}/backend-api/wham/accounts/check", rig.base()),
        &[],
        b"",
    );
    assert_eq!(check.status, 200);
    // Answered locally with the placeholder account the harness was given.
    assert!(
        check
            .body
            .contains("\"default_account_id\":\"omux-placeholder-account\""),
        "{}",
        check.body
    );
    assert_eq!(
        rig.fake.total_calls(),
        1,
        "only the models call reached the provider"
    );
    assert!(rig.health("one").is_none(), "side calls record no health");
}

#[test]
fn compressed_bodies_pass_untouched_both_ways() {
    // A gzip member ("hello\n") the proxy must neither decode nor re-encode.
    let gz: Vec<u8> = vec![
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
    ];
    let rig = Rig::new(
        Harness::Codex,
        &[(
            "one",
            Behaviour::Raw {
                status: 200,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("content-encoding".into(), "gzip".into()),
                ],
                body: gz.clone(),
            },
        )],
    );
    let zstd_like: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let mut b = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/backend-api/codex/responses", rig.base()))
        .header("content-encoding", "zstd")
        .header("accept-encoding", "identity");
    b = b.header("content-type", "application/json");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    let resp = agent.run(b.body(zstd_like.clone()).unwrap()).unwrap();
    assert_eq!(resp.headers().get("content-encoding").unwrap(), "gzip");
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_body().into_reader(), &mut got).unwrap();
    assert_eq!(got, gz, "response bytes altered");
    assert_eq!(
        rig.fake.last_body(&canary::token("one")),
        zstd_like,
        "request bytes altered"
    );
    let h = rig.fake.last_headers(&canary::token("one"));
    assert!(h.contains(&("content-encoding".into(), "zstd".into())));
}

#[test]
fn turn_state_is_dropped_only_when_the_account_changes() {
    let rig = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::SucceedWithUsage {
                    text: "one".into(),
                    used_percent: 99.0,
                },
            ),
            ("two", ok("two")),
        ],
    );
    let turn = |state: &str| {
        send(
            "POST",
            &format!("{}/backend-api/codex/responses", rig.base()),
            &[
                ("authorization", "Bearer p"),
                ("x-codex-turn-state", state),
                ("content-type", "application/json"),
            ],
            b"{}",
        )
    };
    let has_state = |label: &str| {
        rig.fake
            .last_headers(&canary::token(label))
            .iter()
            .any(|(n, _)| n == "x-codex-turn-state")
    };
    assert!(turn("from-nowhere").body.contains("one"));
    assert!(!has_state("one"), "no account issued this turn state yet");
    // Usage above the threshold moves the next request to account two: state from one is dropped.
    assert!(turn("issued-by-one").body.contains("two"));
    assert!(!has_state("two"));
    // Same account again: the turn state it issued is forwarded.
    assert!(turn("issued-by-two").body.contains("two"));
    assert!(has_state("two"));
}
