//! The session proxy's answers that are not a spent quota (SPEC §8): overload and 5xx are
//! retried in place, a short rate limit is waited out when no other account is free,
//! a windowless 429 benches nothing, and a hung upstream is not asked twice.

mod kit;

use jiff::Timestamp;
use kit::proxy_rig::*;
use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::proxy::frames::Frame;
use oauth_mux::proxy::pool::{AccountId, Pool};
use oauth_mux::proxy::{Harness, ProxyConfig};

#[test]
fn overload_529_is_retried_in_place_and_never_benches() {
    let rig = Rig::new(
        Harness::Claude,
        &[
            (
                "one",
                Behaviour::Transient {
                    status: 529,
                    failures: 2,
                },
            ),
            ("two", ok("must not be used")),
        ],
    );
    let seen = claude_turn(&rig);
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("recovered"));
    assert_eq!(rig.calls("one"), 3);
    assert_eq!(rig.calls("two"), 0);
    assert_eq!(rig.benched("one"), None);

    // More overloads than the retry bound: the harness gets the 529 (its own retry loop
    // applies), and the account is still not benched.
    let rig = Rig::new(
        Harness::Claude,
        &[
            (
                "one",
                Behaviour::Transient {
                    status: 529,
                    failures: 10,
                },
            ),
            ("two", ok("no")),
        ],
    );
    let seen = claude_turn(&rig);
    assert_eq!(seen.status, 529);
    assert_eq!(rig.calls("one"), 3);
    assert_eq!(rig.calls("two"), 0);
    assert_eq!(rig.benched("one"), None);
}

#[test]
fn codex_500_is_retried_in_place() {
    let rig = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::Transient {
                    status: 500,
                    failures: 1,
                },
            ),
            ("two", ok("no")),
        ],
    );
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 200);
    assert_eq!(rig.calls("one"), 2);
    assert_eq!(rig.calls("two"), 0);
}

fn short_limit(failures: u32) -> Behaviour {
    Behaviour::ShortRateLimit {
        retry_after_seconds: 1,
        failures,
    }
}

#[test]
fn short_rate_limit_moves_on_when_another_account_is_free() {
    let rig = Rig::new(
        Harness::Codex,
        &[("one", short_limit(1)), ("two", ok("two answers"))],
    );
    let started = std::time::Instant::now();
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 200, "{seen:?}");
    assert!(seen.body.contains("two answers"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "no wait while another account is free"
    );
    assert_eq!(rig.benched("one"), Some("rate_limited"));
    assert!(
        !rig.frames()
            .iter()
            .any(|f| matches!(f, Frame::RateLimitWait { .. }))
    );
}

#[test]
fn short_rate_limit_is_waited_out_when_no_other_account_is_left() {
    for harness in [Harness::Codex, Harness::Claude] {
        let rig = Rig::new(harness, &[("one", short_limit(1)), ("two", short_limit(1))]);
        let seen = match harness {
            Harness::Codex => codex_turn(&rig),
            Harness::Claude => claude_turn(&rig),
        };
        // Neither Codex nor Claude Code on a subscription retries a 429: the proxy waits the
        // stated second and asks again instead of ending the turn.
        assert_eq!(seen.status, 200, "{harness:?}: {seen:?}");
        assert!(
            seen.body.contains("after the wait"),
            "{harness:?}: {seen:?}"
        );
        let turns = rig.turns();
        let statuses: Vec<u16> = turns.iter().map(|t| t.1).collect();
        assert_eq!(statuses, vec![429, 429, 200], "{harness:?}: {turns:?}");
        assert_eq!(
            turns[2].0, "one",
            "the account whose wait ends first is asked again"
        );
        let waits: Vec<u64> = rig
            .frames()
            .iter()
            .filter_map(|f| match f {
                Frame::RateLimitWait { wait_ms, .. } => Some(*wait_ms),
                _ => None,
            })
            .collect();
        assert_eq!(waits.len(), 1, "{harness:?}: one wait per request");
        assert!(waits[0] <= 1000, "{harness:?}: waited {waits:?}");
    }
}

#[test]
fn a_request_arriving_during_a_wait_waits_too_instead_of_getting_the_pool_spent_error() {
    // One account, briefly limited by the first request (retry after 2 s). A second request
    // that arrives while the first waits finds no account electable; it must wait for the
    // same limit, not tell the harness the pool is spent (Claude Code runs calls in parallel).
    let rig = Rig::new(
        Harness::Claude,
        &[(
            "one",
            Behaviour::ShortRateLimit {
                retry_after_seconds: 2,
                failures: 1,
            },
        )],
    );
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| claude_turn(&rig));
        // Until the first request's 429 is recorded, the second would simply be sent.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while rig.benched("one").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "first request never limited"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let second = claude_turn(&rig);
        (first.join().unwrap(), second)
    });
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(second.status, 200, "{second:?}");
    assert!(second.body.contains("after the wait"), "{second:?}");
    assert_waits_without_pool_exhausted(&rig, 2, "each request waited once");
    assert_eq!(rig.calls("one"), 3, "429, then one call per request");
}

#[test]
fn a_side_call_during_a_short_limit_waits_for_it() {
    let rig = Rig::new(Harness::Codex, &[("one", short_limit(1))]);
    let limited = codex_turn(&rig);
    assert_eq!(limited.status, 200, "{limited:?}");
    // Bench the account again by hand, as a concurrent request's 429 would.
    let now = Timestamp::now();
    let evidence = oauth_mux::proxy::pool::ResponseEvidence {
        status: 429,
        headers: oauth_mux::proxy::fields::Fields::new([("retry-after", b"1".as_slice())]).unwrap(),
        body: b"{}".to_vec(),
        from_stream_event: false,
    };
    let judgement = rig.pool.judge(&AccountId("one".into()), &evidence, now);
    assert_eq!(judgement.label, "short_rate_limit");
    rig.pool
        .record(&AccountId("one".into()), &evidence, &judgement, &[], now);
    let seen = send(
        "GET",
        &format!(
            "{}/backend-api/codex/models?client_version=0.169.0",
            rig.base()
        ),
        &[("authorization", "Bearer harness-placeholder")],
        b"",
    );
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(seen.body, r#"{"models":[]}"#);
    assert_waits_without_pool_exhausted(&rig, 2, "the turn's wait and the side call's");
}

/// The session waited `waits` times and never told the harness its pool was spent.
fn assert_waits_without_pool_exhausted(rig: &Rig, waits: usize, why: &str) {
    let frames = rig.frames();
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, Frame::PoolExhausted { .. })),
        "{frames:?}"
    );
    let seen = frames
        .iter()
        .filter(|f| matches!(f, Frame::RateLimitWait { .. }))
        .count();
    assert_eq!(seen, waits, "{why}: {frames:?}");
}

#[test]
fn a_timed_out_upstream_is_not_asked_again() {
    // A hung provider already cost the harness the whole timeout: the proxy answers 502
    // instead of sending the same request to the same account twice more. Before the
    // response head (the response timeout) and inside the body (the idle timeout).
    const SHORT: std::time::Duration = std::time::Duration::from_millis(300);
    type Tune = fn(&mut ProxyConfig);
    let cases: [(Behaviour, Tune); 2] = [
        (Behaviour::Stall { millis: 1500 }, |c| {
            c.upstream_options.response_timeout = SHORT
        }),
        (Behaviour::StallBody { millis: 1500 }, |c| {
            c.upstream_options.read_idle_timeout = SHORT
        }),
    ];
    for (behaviour, tune) in cases {
        let rig = Rig::with(Harness::Codex, &[("one", behaviour.clone())], tune);
        let seen = codex_turn(&rig);
        assert_eq!(seen.status, 502, "{behaviour:?}: {seen:?}");
        assert!(seen.body.contains("timeout"), "{behaviour:?}: {seen:?}");
        assert_eq!(rig.calls("one"), 1, "{behaviour:?}");
    }
}

#[test]
fn a_short_limit_that_lifted_while_the_next_account_answered_is_asked_again() {
    // `retry-after: 0`: by the time the second account has said "spent", the first may be
    // asked again at once; the harness must not get the pool-spent error.
    let rig = Rig::new(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::ShortRateLimit {
                    retry_after_seconds: 0,
                    failures: 1,
                },
            ),
            ("two", quota(3600)),
        ],
    );
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 200, "{seen:?}");
    assert!(seen.body.contains("after the wait"), "{seen:?}");
    let statuses: Vec<u16> = rig.turns().iter().map(|t| t.1).collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    assert_waits_without_pool_exhausted(&rig, 1, "one wait of nothing");
}

#[test]
fn a_short_rate_limit_is_waited_out_once_per_request() {
    // Still limited after the wait: the harness gets the pool-spent error, not a second wait.
    let rig = Rig::new(Harness::Codex, &[("one", short_limit(5))]);
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 429, "{seen:?}");
    assert_eq!(rig.calls("one"), 2);
    let waits = rig
        .frames()
        .iter()
        .filter(|f| matches!(f, Frame::RateLimitWait { .. }))
        .count();
    assert_eq!(waits, 1);
}

#[test]
fn a_held_windowless_429_delivered_after_all_is_reported_as_delivered() {
    let rig = Rig::new(
        Harness::Codex,
        &[
            ("one", Behaviour::WindowlessRateLimit),
            ("two", quota(3600)),
        ],
    );
    let seen = codex_turn(&rig);
    assert_eq!(seen.status, 429, "{seen:?}");
    assert!(seen.body.contains("Rate limit reached"), "{seen:?}");
    let frames = rig.frames();
    let late: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::HeldResponseDelivered {
                account, status, ..
            } => Some((account.as_str(), *status)),
            _ => None,
        })
        .collect();
    assert_eq!(late, vec![("one", 429)], "{frames:?}");
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, Frame::PoolExhausted { .. })),
        "the provider's own answer went out, not the pool-spent error"
    );
}

#[test]
fn windowless_429_moves_on_without_marking_the_first_account_exhausted() {
    let rig = Rig::new(
        Harness::Claude,
        &[
            ("one", Behaviour::WindowlessRateLimit),
            ("two", ok("two answers")),
        ],
    );
    let seen = claude_turn(&rig);
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("two answers"));
    assert_eq!(rig.health("one"), None, "a windowless 429 records nothing");
    assert_eq!(
        rig.turns()[0],
        ("one".into(), 429, "windowless_rate_limit".into(), false)
    );
    // Account one stays in the pool: the next request that finds two busy asks it again.
    let two = AccountId("two".into());
    let elected = rig
        .pool
        .elect(None, std::slice::from_ref(&two), Timestamp::now())
        .unwrap();
    assert_eq!(
        elected.account,
        AccountId("one".into()),
        "account one stays selectable"
    );

    // Alone, a windowless 429 is passed on as the provider sent it (not a "pool spent" error).
    let rig = Rig::new(Harness::Claude, &[("one", Behaviour::WindowlessRateLimit)]);
    let seen = claude_turn(&rig);
    assert_eq!(seen.status, 429);
    assert!(seen.body.contains("temporarily limiting"));
    assert_eq!(seen.header("x-should-retry"), Some("true"));
}
