use super::*;

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn classify_with(
    rules: &[FailureRule],
    limits: &RateLimitRules,
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Classification {
    let headers = h(headers);
    let ev = ResponseEvidence::new(status, &headers, body);
    classify_response(
        ClassifierRules {
            failure_rules: rules,
            rate_limits: limits,
        },
        &ev,
        now(),
    )
}

fn classify(status: u16, headers: &[(&str, &str)], body: &str) -> Classification {
    classify_with(&[], &RateLimitRules::default(), status, headers, body)
}

fn rule(json: serde_json::Value) -> FailureRule {
    serde_json::from_value(json).unwrap()
}

#[test]
fn success_for_every_2xx() {
    for s in [200, 201, 204, 299] {
        assert_eq!(classify(s, &[], ""), Classification::Success);
    }
}

#[test]
fn short_429_is_a_rate_limit_with_its_window() {
    assert_eq!(
        classify(429, &[("Retry-After", "30")], ""),
        Classification::RateLimited {
            retry_after_s: Some(30),
            window: RateLimitWindow::PerMinute
        }
    );
    assert_eq!(
        classify(429, &[("retry-after", "1800")], ""),
        Classification::RateLimited {
            retry_after_s: Some(1800),
            window: RateLimitWindow::PerHour
        }
    );
}

#[test]
fn long_429_is_a_spent_quota_with_its_reset() {
    let c = classify(429, &[("retry-after", "7200")], "");
    assert_eq!(
        c,
        Classification::QuotaExhausted {
            resets_at: Some(add_seconds(now(), 7200))
        }
    );
    assert_eq!(probe_decision(&c), Decision::TryNextAccount);
}

#[test]
fn quota_threshold_is_per_provider() {
    let limits = RateLimitRules {
        quota_threshold_seconds: 600,
        ..Default::default()
    };
    assert!(matches!(
        classify_with(&[], &limits, 429, &[("retry-after", "900")], ""),
        Classification::QuotaExhausted { .. }
    ));
    assert!(matches!(
        classify_with(&[], &limits, 429, &[("retry-after", "600")], ""),
        Classification::RateLimited { .. }
    ));
}

#[test]
fn windowless_429_has_no_horizon() {
    let c = classify(429, &[], "slow down");
    assert_eq!(
        c,
        Classification::RateLimited {
            retry_after_s: None,
            window: RateLimitWindow::Unknown
        }
    );
    assert!(c.is_windowless_rate_limit());
    assert_eq!(probe_decision(&c), Decision::TryNextAccount);
}

#[test]
fn retry_after_as_http_date() {
    let c = classify(429, &[("retry-after", "Sun, 22 Nov 2026 10:00:45 GMT")], "");
    assert_eq!(
        c,
        Classification::RateLimited {
            retry_after_s: Some(45),
            window: RateLimitWindow::PerMinute
        }
    );
    assert_eq!(probe_decision(&c), Decision::WaitAndRetry);
}

#[test]
fn codex_usage_limit_body_is_quota_with_reset_from_body() {
    let limits = RateLimitRules {
        quota_body_markers: vec!["usage_limit_reached".into()],
        reset_in_body: vec!["error.resets_in_seconds".into()],
        reset_at_body: vec!["error.resets_at".into()],
        ..Default::default()
    };
    let body = r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_in_seconds":120}}"#;
    assert_eq!(
        classify_with(&[], &limits, 429, &[], body),
        Classification::QuotaExhausted {
            resets_at: Some(add_seconds(now(), 120))
        }
    );
    let at = now().as_second() + 5000;
    let body = format!(r#"{{"error":{{"type":"usage_limit_reached","resets_at":{at}}}}}"#);
    assert_eq!(
        classify_with(&[], &limits, 429, &[], &body),
        Classification::QuotaExhausted {
            resets_at: Some(add_seconds(now(), 5000))
        }
    );
    // A plain rate_limit_exceeded is not a quota.
    let body = r#"{"error":{"type":"rate_limit_exceeded"}}"#;
    assert!(matches!(
        classify_with(&[], &limits, 429, &[], body),
        Classification::RateLimited { .. }
    ));
}

#[test]
fn anthropic_unified_rejected_is_quota_until_the_reset() {
    let limits = RateLimitRules {
        unified_prefix: Some("anthropic-ratelimit-unified-".into()),
        ..Default::default()
    };
    let reset = (now().as_second() + 900).to_string();
    let c = classify_with(
        &[],
        &limits,
        429,
        &[
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-reset", &reset),
            ("retry-after", "900"),
        ],
        r#"{"type":"error","error":{"type":"rate_limit_error"}}"#,
    );
    assert_eq!(
        c,
        Classification::QuotaExhausted {
            resets_at: Some(add_seconds(now(), 900))
        }
    );
    // Without the unified status a short 429 stays a rate limit.
    let c = classify_with(&[], &limits, 429, &[("retry-after", "2")], "{}");
    assert_eq!(
        c,
        Classification::RateLimited {
            retry_after_s: Some(2),
            window: RateLimitWindow::PerMinute
        }
    );
}

#[test]
fn reset_header_accepts_deltas_and_epochs() {
    let limits = RateLimitRules {
        reset_header: Some("x-ratelimit-reset".into()),
        ..Default::default()
    };
    assert_eq!(
        classify_with(&[], &limits, 429, &[("x-ratelimit-reset", "1.5s")], ""),
        Classification::RateLimited {
            retry_after_s: Some(2),
            window: RateLimitWindow::PerMinute
        }
    );
    let epoch = (now().as_second() + 4000).to_string();
    assert!(matches!(
        classify_with(&[], &limits, 429, &[("x-ratelimit-reset", &epoch)], ""),
        Classification::QuotaExhausted { .. }
    ));
}

#[test]
fn reset_header_in_epoch_milliseconds() {
    let limits = RateLimitRules {
        reset_header: Some("x-ratelimit-requests-reset".into()),
        ..Default::default()
    };
    let epoch_ms = ((now().as_second() + 45) * 1000 + 250).to_string();
    assert_eq!(
        classify_with(
            &[],
            &limits,
            429,
            &[("x-ratelimit-requests-reset", &epoch_ms)],
            ""
        ),
        Classification::RateLimited {
            retry_after_s: Some(46),
            window: RateLimitWindow::PerMinute
        }
    );
}

#[test]
fn retry_after_beats_a_generic_reset_header() {
    let limits = RateLimitRules {
        reset_header: Some("x-ratelimit-reset".into()),
        ..Default::default()
    };
    let window_reset = (now().as_second() + 3000).to_string();
    assert_eq!(
        classify_with(
            &[],
            &limits,
            429,
            &[("retry-after", "60"), ("x-ratelimit-reset", &window_reset)],
            ""
        ),
        Classification::RateLimited {
            retry_after_s: Some(60),
            window: RateLimitWindow::PerMinute
        }
    );
}

#[test]
fn status_401_is_dead_token_revoked() {
    assert_eq!(
        classify(401, &[], ""),
        Classification::Dead {
            reason: DeadReason::TokenRevoked
        }
    );
}

#[test]
fn status_403_by_hint_words() {
    let cases = [
        ("insufficient_scope", DegradedReason::ScopeInsufficient),
        ("step_up required", DegradedReason::StepUpRequired),
        ("account pending", DegradedReason::PendingVerification),
        (
            "email verification needed",
            DegradedReason::PendingVerification,
        ),
        ("accept the terms", DegradedReason::TermsRequired),
        (
            "your plan does not include this",
            DegradedReason::TierInsufficient,
        ),
    ];
    for (hint, reason) in cases {
        assert_eq!(
            classify(403, &[], hint),
            Classification::Degraded { reason },
            "{hint}"
        );
    }
}

#[test]
fn server_errors_are_provider_degraded_and_switch_provider() {
    for s in [500, 502, 503, 529] {
        let c = classify(s, &[], "");
        assert_eq!(c, Classification::ProviderDegraded);
        assert_eq!(probe_decision(&c), Decision::TryNextProvider);
    }
}

#[test]
fn other_4xx_is_unknown_4xx_and_other_statuses_fail() {
    assert_eq!(
        classify(404, &[], ""),
        Classification::Degraded {
            reason: DegradedReason::Unknown4xx
        }
    );
    assert_eq!(
        classify(418, &[], ""),
        Classification::Degraded {
            reason: DegradedReason::Unknown4xx
        }
    );
    assert_eq!(classify(302, &[], ""), Classification::Failure);
    assert_eq!(probe_decision(&classify(302, &[], "")), Decision::GiveUp);
}

#[test]
fn failure_rules_win_and_first_match_wins() {
    let rules = vec![
        rule(
            serde_json::json!({"status": 200, "hint_contains": "\"errors\"", "class": {"degraded": "unknown_4xx"}}),
        ),
        rule(
            serde_json::json!({"status": 403, "hint_equals": " 0 ", "class": {"rate_limited": {}}}),
        ),
        rule(serde_json::json!({"status": 403, "class": {"degraded": "scope_insufficient"}})),
        rule(
            serde_json::json!({"status_min": 400, "status_max": 400, "hint_contains": "LOGGED IN: FALSE", "class": {"dead": "token_revoked"}}),
        ),
        rule(
            serde_json::json!({"status": 429, "hint_contains": "usage_not_included", "class": {"degraded": "tier_insufficient"}}),
        ),
    ];
    let limits = RateLimitRules::default();
    // A 2xx that a rule matches is not success (GraphQL errors).
    assert_eq!(
        classify_with(&rules, &limits, 200, &[], r#"{"errors":[{"message":"x"}]}"#),
        Classification::Degraded {
            reason: DegradedReason::Unknown4xx
        }
    );
    assert_eq!(
        classify_with(&rules, &limits, 200, &[], r#"{"data":{}}"#),
        Classification::Success
    );
    // hint_equals trims and ignores case; the first match wins over the later 403 rule.
    let c = classify_with(&rules, &limits, 403, &[("retry-after", "20")], "0");
    assert_eq!(
        c,
        Classification::RateLimited {
            retry_after_s: Some(20),
            window: RateLimitWindow::PerMinute
        }
    );
    assert_eq!(
        classify_with(&rules, &limits, 403, &[], "1"),
        Classification::Degraded {
            reason: DegradedReason::ScopeInsufficient
        }
    );
    assert_eq!(
        classify_with(&rules, &limits, 400, &[], "Logged in: false"),
        Classification::Dead {
            reason: DeadReason::TokenRevoked
        }
    );
    assert_eq!(
        classify_with(
            &rules,
            &limits,
            429,
            &[],
            r#"{"error":{"type":"usage_not_included"}}"#
        ),
        Classification::Degraded {
            reason: DegradedReason::TierInsufficient
        }
    );
}

#[test]
fn hint_can_come_from_a_header() {
    let rules = vec![rule(
        serde_json::json!({"status": 401, "hint_contains": "invalid_target", "class": {"degraded": "audience_mismatch"}}),
    )];
    let headers = h(&[("www-authenticate", "Bearer error=\"invalid_target\"")]);
    let mut ev = ResponseEvidence::new(401, &headers, "");
    ev.hint = ev.header("www-authenticate");
    let c = classify_response(
        ClassifierRules {
            failure_rules: &rules,
            rate_limits: &RateLimitRules::default(),
        },
        &ev,
        now(),
    );
    assert_eq!(
        c,
        Classification::Degraded {
            reason: DegradedReason::AudienceMismatch
        }
    );
}

#[test]
fn retry_after_range_matchers() {
    let rules = vec![rule(
        serde_json::json!({"status": 429, "retry_after_gte": 60, "retry_after_lt": 600, "class": "quota_exhausted"}),
    )];
    let limits = RateLimitRules::default();
    assert_eq!(
        classify_with(&rules, &limits, 429, &[("retry-after", "120")], ""),
        Classification::QuotaExhausted {
            resets_at: Some(add_seconds(now(), 120))
        }
    );
    // Outside the range, or without Retry-After, the rule does not match.
    assert!(matches!(
        classify_with(&rules, &limits, 429, &[("retry-after", "10")], ""),
        Classification::RateLimited { .. }
    ));
    assert!(matches!(
        classify_with(&rules, &limits, 429, &[], ""),
        Classification::RateLimited {
            retry_after_s: None,
            ..
        }
    ));
}

#[test]
fn rule_without_matchers_never_matches() {
    let rules = vec![FailureRule {
        class: Some(RuleClass::Failure),
        ..Default::default()
    }];
    assert_eq!(
        classify_with(&rules, &RateLimitRules::default(), 200, &[], ""),
        Classification::Success
    );
}

#[test]
fn rule_class_accepts_both_json_forms_and_rejects_typos() {
    for (json, want) in [
        (serde_json::json!({"success": {}}), RuleClass::Success),
        (
            serde_json::json!("quota_exhausted"),
            RuleClass::QuotaExhausted,
        ),
        (
            serde_json::json!({"degraded": "tier_insufficient"}),
            RuleClass::Degraded(DegradedReason::TierInsufficient),
        ),
        (
            serde_json::json!({"dead": "account_deleted"}),
            RuleClass::Dead(DeadReason::AccountDeleted),
        ),
        (
            serde_json::json!({"provider_degraded": {}}),
            RuleClass::ProviderDegraded,
        ),
    ] {
        let got: RuleClass = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(got, want, "{json}");
        let back: RuleClass = serde_json::from_value(serde_json::to_value(&got).unwrap()).unwrap();
        assert_eq!(back, want);
    }
    let err =
        serde_json::from_value::<RuleClass>(serde_json::json!({"degraded": "tier_insuficient"}))
            .unwrap_err();
    assert!(err.to_string().contains("unknown reason"), "{err}");
    assert!(serde_json::from_value::<RuleClass>(serde_json::json!("quota")).is_err());
}

#[test]
fn labels_name_the_reason() {
    assert_eq!(
        Classification::Degraded {
            reason: DegradedReason::TierInsufficient
        }
        .label(),
        "tier_insufficient"
    );
    assert_eq!(
        Classification::QuotaExhausted { resets_at: None }.label(),
        "quota_exhausted"
    );
}

#[test]
fn add_seconds_saturates() {
    let far = add_seconds(now(), u64::MAX);
    assert_eq!(far.as_second(), Timestamp::MAX.as_second());
}

/// What a probe that got this answer does next (the judgement table).
fn probe_decision(c: &Classification) -> Decision {
    crate::model::judgement::judge(c, crate::model::judgement::Origin::Probe).decision()
}
