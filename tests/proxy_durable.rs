//! The session proxy over the durable pool: the model's classifier decides, selection
//! orders, and the health store holds what happened once the session has shut down.

mod kit;

use jiff::Timestamp;
use kit::Sandbox;
use kit::proxy_rig::{Rig, durable_pool};
use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::model::health::RouteStatus;
use oauth_mux::proxy::Harness;
use oauth_mux::proxy::durable_pool::DurablePool;
use oauth_mux::proxy::fields::Fields;
use oauth_mux::proxy::frames::Frame;
use oauth_mux::proxy::pool::{AccountId, Pool, ResponseEvidence};

#[test]
fn codex_quota_is_recorded_durably_and_the_second_account_answers() {
    let mut d = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::QuotaExhausted {
                    resets_in_seconds: 5400,
                },
            ),
            (
                "two",
                Behaviour::Succeed {
                    text: "durable two".into(),
                },
            ),
        ],
    );
    let seen = d.turn();
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("durable two"));
    assert!(!seen.body.contains("usage_limit_reached"));
    let again = d.turn();
    assert_eq!(again.status, 200);
    assert_eq!(d.calls("one"), 1, "a spent account is not asked again");
    let store = d.finish();
    let now = Timestamp::now();
    let one = &store[&d.key("one")];
    match one.status_at(now) {
        RouteStatus::QuotaExhausted {
            resets_at,
            reset_known,
        } => {
            assert!(reset_known);
            let secs = resets_at.as_second() - now.as_second();
            assert!((5300..=5400).contains(&secs), "{secs}");
        }
        other => panic!("account one is {other:?}"),
    }
    assert_eq!(one.last_status, Some(429));
    assert_eq!(store[&d.key("two")].status_at(now), RouteStatus::Available);
    let frames = d.frames();
    assert!(frames.contains(&Frame::Handoff {
        from: Some("one".into()),
        to: "two".into(),
        reason: "quota_exhausted".into()
    }));
}

#[test]
fn claude_unified_rejection_is_quota_until_the_unified_reset() {
    let mut d = Rig::new(
        Harness::Claude,
        &[
            (
                "one",
                Behaviour::QuotaExhausted {
                    resets_in_seconds: 1800,
                },
            ),
            (
                "two",
                Behaviour::Succeed {
                    text: "claude two".into(),
                },
            ),
        ],
    );
    let seen = d.turn();
    assert!(seen.body.contains("claude two"), "{seen:?}");
    let store = d.finish();
    assert!(matches!(
        store[&d.key("one")].status_at(Timestamp::now()),
        RouteStatus::QuotaExhausted {
            reset_known: true,
            ..
        }
    ));
}

#[test]
fn spent_pool_error_names_the_profile_and_the_store_reset() {
    let d = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::QuotaExhausted {
                    resets_in_seconds: 7000,
                },
            ),
            (
                "two",
                Behaviour::QuotaExhausted {
                    resets_in_seconds: 900,
                },
            ),
        ],
    );
    let seen = d.turn();
    assert_eq!(seen.status, 429);
    let v: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("oauth-mux route explain --profile test-profile")
    );
    let secs = v["error"]["resets_in_seconds"].as_i64().unwrap();
    assert!((800..=900).contains(&secs), "{secs}");
    // Next request: nothing selectable, the earliest reset comes from the store's view.
    let again = d.turn();
    let v: serde_json::Value = serde_json::from_str(&again.body).unwrap();
    assert!((800..=900).contains(&v["error"]["resets_in_seconds"].as_i64().unwrap()));
    assert_eq!(d.calls("one") + d.calls("two"), 2);
}

#[test]
fn a_short_rate_limit_is_recorded_as_such_and_waited_out_on_a_lone_account() {
    let mut d = Rig::new(
        Harness::Codex,
        &[(
            "one",
            Behaviour::ShortRateLimit {
                retry_after_seconds: 1,
                failures: 1,
            },
        )],
    );
    let seen = d.turn();
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(d.calls("one"), 2);
    let frames = d.frames();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, Frame::RateLimitWait { account, .. } if account == "one")),
        "{frames:?}"
    );
    let store = d.finish();
    let one = &store[&d.key("one")];
    assert_eq!(one.last_class.as_deref(), Some("success"), "{one:?}");
    assert_eq!(one.status_at(Timestamp::now()), RouteStatus::Available);
}

#[test]
fn overload_is_not_recorded_and_windowless_is_not_quota() {
    let mut d = Rig::new(
        Harness::Claude,
        &[
            (
                "one",
                Behaviour::Transient {
                    status: 529,
                    failures: 1,
                },
            ),
            ("two", Behaviour::WindowlessRateLimit),
        ],
    );
    assert_eq!(d.turn().status, 200);
    let store = d.finish();
    let one = &store[&d.key("one")];
    assert_eq!(
        one.status_at(Timestamp::now()),
        RouteStatus::Available,
        "529 never benches"
    );
    assert_eq!(one.failures, 0);

    let mut d = Rig::new(
        Harness::Claude,
        &[
            ("one", Behaviour::WindowlessRateLimit),
            ("two", Behaviour::Succeed { text: "ok".into() }),
        ],
    );
    assert!(d.turn().body.contains("ok"));
    let store = d.finish();
    assert!(
        !store.contains_key(&d.key("one")),
        "a windowless 429 benches nothing: {store:?}"
    );
}

#[test]
fn after_a_windowless_429_the_next_request_still_asks_the_provider() {
    let d = Rig::new(Harness::Claude, &[("one", Behaviour::WindowlessRateLimit)]);
    for round in 1..=2 {
        let seen = d.turn();
        assert_eq!(seen.status, 429, "round {round}: {seen:?}");
        assert!(
            seen.body.contains("temporarily limiting"),
            "round {round}: the provider's own answer, not a pool-spent error: {seen:?}"
        );
        assert_eq!(seen.header("x-should-retry"), Some("true"), "round {round}");
        assert_eq!(d.calls("one"), round, "round {round}");
    }
}

#[test]
fn usage_read_from_a_windowless_429_still_steers_the_next_election() {
    // A windowless 429 records nothing lasting, but a usage reading it carries (here 100%
    // of the primary window) moves this session's next request off the account.
    for known_before in [true, false] {
        let sb = Sandbox::new();
        let pool = durable_pool(Harness::Codex, &["one", "two"], &sb.dirs());
        let one = AccountId("one".into());
        let now = Timestamp::now();
        if known_before {
            let success = ResponseEvidence {
                status: 200,
                ..Default::default()
            };
            pool.record(&one, &success, &pool.judge(&one, &success, now), &[], now);
        }
        assert_eq!(pool.elect(Some(&one), &[], now).unwrap().account, one);
        windowless_usage_moves_the_next_election(&pool, &one, now);
    }
}

fn windowless_usage_moves_the_next_election(pool: &DurablePool, one: &AccountId, now: Timestamp) {
    let windowless = ResponseEvidence {
        status: 429,
        headers: Fields::new([("x-codex-primary-used-percent", b"100".as_slice())]).unwrap(),
        body: b"{}".to_vec(),
        from_stream_event: false,
    };
    let judgement = pool.judge(one, &windowless, now);
    assert_eq!(judgement.label, "windowless_rate_limit");
    let usage = pool.observe_usage(&windowless, now);
    assert_eq!(usage.len(), 1);
    pool.record(one, &windowless, &judgement, &usage, now);
    let next = pool.elect(Some(one), &[], now).unwrap();
    assert_eq!(&*next.account.0, "two");
    assert_eq!(next.passed_over.as_deref(), Some("usage_threshold"));
}

/// A 429 with `retry-after: secs` (or the Codex quota error when `None`) recorded on `account`.
fn limit(pool: &dyn Pool, account: &AccountId, retry_after: Option<u64>, now: Timestamp) {
    let evidence = match retry_after {
        Some(secs) => ResponseEvidence {
            status: 429,
            headers: Fields::new([("retry-after", secs.to_string().as_bytes())]).unwrap(),
            body: b"{}".to_vec(),
            from_stream_event: false,
        },
        None => ResponseEvidence {
            status: 429,
            body: br#"{"error":{"type":"usage_limit_reached","resets_in_seconds":3600}}"#.to_vec(),
            ..Default::default()
        },
    };
    let judgement = pool.judge(account, &evidence, now);
    pool.record(account, &evidence, &judgement, &[], now);
}

#[test]
fn what_a_request_may_wait_for_is_the_pools_current_view() {
    let sb = Sandbox::new();
    let durable = durable_pool(Harness::Codex, &["one", "two"], &sb.dirs());
    let (one, two) = (AccountId("one".into()), AccountId("two".into()));
    {
        let pool = &durable as &dyn Pool;
        let now = Timestamp::now();
        limit(pool, &two, None, now);
        let refused = [two.clone()];
        // Limited for 2 s: wait for it.
        limit(pool, &one, Some(2), now);
        let (until, account) = pool.short_limit(&refused, now).unwrap();
        assert_eq!((until.as_second() - now.as_second(), &account), (2, &one));
        // Lifted already: no wait at all.
        let later = now + std::time::Duration::from_secs(3);
        assert_eq!(
            pool.short_limit(&refused, later),
            Some((later, one.clone()))
        );
        // Another request met a 30 s limit on it since: that is the wait.
        limit(pool, &one, Some(30), now);
        let (until, _) = pool.short_limit(&refused, now).unwrap();
        assert_eq!(until.as_second() - now.as_second(), 30);
        // ... or a limit longer than a minute, or a quota: nothing to wait for.
        limit(pool, &one, Some(600), now);
        assert_eq!(pool.short_limit(&refused, now), None);
        limit(pool, &one, None, now);
        assert_eq!(pool.short_limit(&refused, now), None);
    }
}

#[test]
fn usage_gauge_is_stored_and_moves_the_next_request() {
    let mut d = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::SucceedWithUsage {
                    text: "hot".into(),
                    used_percent: 98.0,
                },
            ),
            (
                "two",
                Behaviour::Succeed {
                    text: "cool".into(),
                },
            ),
        ],
    );
    assert!(d.turn().body.contains("hot"));
    assert!(d.turn().body.contains("cool"));
    let store = d.finish();
    let gauge = store[&d.key("one")].usage.clone().expect("usage recorded");
    assert_eq!(gauge.used_pct, 98.0);
    assert!(gauge.resets_at.is_some());
    // Every window the provider reported is kept (for `status`), the fullest steers.
    let primary = gauge
        .windows
        .iter()
        .find(|w| w.window == "primary")
        .expect("the primary window is recorded");
    assert_eq!(primary.used_pct, 98.0);
}

#[test]
fn dead_token_is_an_account_level_fact() {
    let mut d = Rig::new(
        Harness::Codex,
        &[
            ("one", Behaviour::Unauthorized),
            (
                "two",
                Behaviour::Succeed {
                    text: "alive".into(),
                },
            ),
        ],
    );
    assert!(d.turn().body.contains("alive"));
    let store = d.finish();
    assert!(matches!(
        store["codex:one"].status_at(Timestamp::now()),
        RouteStatus::Dead { .. }
    ));
}

/// The pool keeps an election between requests (they each ask for one) only while it stands:
/// what the pool learns, a limit lifting with time, and a clock stepping back each end it.
#[test]
fn a_kept_election_ends_with_new_evidence_with_time_and_with_a_clock_stepping_back() {
    let sb = Sandbox::new();
    let pool = durable_pool(Harness::Codex, &["one", "two"], &sb.dirs());
    let (one, two) = (AccountId("one".into()), AccountId("two".into()));
    let now = Timestamp::now();
    let success = ResponseEvidence {
        status: 200,
        ..Default::default()
    };
    for account in [&one, &two] {
        pool.record(
            account,
            &success,
            &pool.judge(account, &success, now),
            &[],
            now,
        );
    }
    let elect = |at: Timestamp| pool.elect(Some(&one), &[], at).unwrap();
    assert_eq!(elect(now).account, one);
    assert_eq!(elect(now).account, one, "asked again, unchanged");
    // New evidence: a 30 s limit on "one" moves the very next election.
    limit(&pool, &one, Some(30), now);
    let moved = elect(now);
    assert_eq!(moved.account, two);
    assert_eq!(moved.passed_over.as_deref(), Some("rate_limited"));
    let secs = std::time::Duration::from_secs;
    assert_eq!(elect(now + secs(29)).account, two, "still limited");
    // Time alone: the limit lifts at 30 s, and the preferred account is back.
    assert_eq!(elect(now + secs(30)).account, one, "the limit has lifted");
    // Quotas on both that reset in an hour: after the reset they may carry traffic again
    // (to confirm the reset). Asked after the reset, then with the clock stepped back before
    // it, the pool must not answer from the later election.
    limit(&pool, &one, None, now);
    limit(&pool, &two, None, now);
    let account_at = |at: Timestamp| pool.elect(Some(&one), &[], at).map(|e| e.account);
    assert_eq!(
        account_at(now + secs(7200)),
        Some(one.clone()),
        "reset: revalidate"
    );
    assert_eq!(
        account_at(now + secs(600)),
        None,
        "the clock stepped back: still spent"
    );
    assert_eq!(account_at(now + secs(7200)), Some(one.clone()));
    // An election with accounts excluded (a replay) is its own, and keeps none.
    let excluded = pool.elect(Some(&one), std::slice::from_ref(&one), now + secs(7200));
    assert_eq!(excluded.map(|e| e.account), Some(two.clone()));
    assert_eq!(account_at(now + secs(7200)), Some(one.clone()));
}
