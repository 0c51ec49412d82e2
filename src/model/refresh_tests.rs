use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn facts(capability: &str, policy: WritebackPolicy, owned: bool) -> WritebackFacts<'_> {
    WritebackFacts {
        owner: RepairOwner::OauthMuxRefresh,
        capability,
        provider_refreshes: true,
        policy,
        store_owned_by_oauth_mux: owned,
    }
}

#[test]
fn writeback_is_on_for_stores_oauth_mux_created_and_off_otherwise_until_turned_on() {
    let cases = [
        (
            facts("replace_file", WritebackPolicy::Auto, true),
            true,
            "store_created_by_oauth_mux",
        ),
        (
            facts("replace_file", WritebackPolicy::Auto, false),
            false,
            "store_not_created_by_oauth_mux",
        ),
        (
            facts("replace_file", WritebackPolicy::On, false),
            true,
            "writeback_turned_on_in_config",
        ),
        (
            facts("replace_file", WritebackPolicy::Off, true),
            false,
            "writeback_turned_off_in_config",
        ),
        (
            facts("readonly", WritebackPolicy::On, true),
            false,
            "secret_backend_is_readonly",
        ),
        (
            facts("command_write", WritebackPolicy::On, true),
            false,
            "command_write_contract_missing",
        ),
        (
            facts("keychain_write", WritebackPolicy::On, true),
            false,
            "keychain_write_not_implemented",
        ),
        (
            facts("sops_write", WritebackPolicy::On, true),
            false,
            "sops_write_not_implemented",
        ),
        (
            facts("unsupported", WritebackPolicy::On, true),
            false,
            "secret_backend_writeback_unsupported",
        ),
        (
            WritebackFacts {
                provider_refreshes: false,
                ..facts("replace_file", WritebackPolicy::On, true)
            },
            false,
            "provider_defines_no_refresh",
        ),
        (
            WritebackFacts {
                owner: RepairOwner::UpstreamCliLogin,
                ..facts("replace_file", WritebackPolicy::On, true)
            },
            false,
            "provider_repair_owned_by_upstream_cli",
        ),
        (
            WritebackFacts {
                owner: RepairOwner::ExternalSecretOwner,
                ..facts("replace_file", WritebackPolicy::On, true)
            },
            false,
            "provider_repair_owned_by_external_secret",
        ),
        (
            WritebackFacts {
                owner: RepairOwner::ManualOnly,
                ..facts("replace_file", WritebackPolicy::On, true)
            },
            false,
            "provider_repair_is_manual_only",
        ),
    ];
    for (f, admitted, reason) in cases {
        let w = writeback(&f);
        assert_eq!(
            (w.automatic_refresh_admitted, w.reason.as_str()),
            (admitted, reason),
            "{f:?}"
        );
        assert_eq!(w.capability, f.capability);
    }
    assert_eq!(WritebackPolicy::from_config(None), WritebackPolicy::Auto);
    assert_eq!(
        WritebackPolicy::from_config(Some(true)),
        WritebackPolicy::On
    );
    assert_eq!(
        WritebackPolicy::from_config(Some(false)),
        WritebackPolicy::Off
    );
}

fn admitted() -> Writeback {
    writeback(&facts("replace_file", WritebackPolicy::On, false))
}

fn token(expires_at: Option<&str>, refresh: bool) -> TokenFacts {
    TokenFacts {
        bearer: true,
        expires_at: expires_at.map(t),
        has_refresh_token: refresh,
    }
}

const HOUR: SignedDuration = SignedDuration::from_hours(1);

#[test]
fn outlook_states_follow_the_clock_and_the_margin() {
    let now = t("2026-06-01T12:00:00Z");
    let state = |at: &str| outlook(Some(&token(Some(at), true)), &admitted(), HOUR, now).state;
    assert_eq!(state("2026-06-01T14:00:00Z"), TokenState::Valid);
    assert_eq!(state("2026-06-01T12:59:00Z"), TokenState::Due);
    assert_eq!(state("2026-06-01T12:00:29Z"), TokenState::Expired);
    assert_eq!(state("2026-06-01T11:00:00Z"), TokenState::Expired);
    let o = outlook(
        Some(&token(Some("2026-06-01T13:00:00Z"), true)),
        &admitted(),
        HOUR,
        now,
    );
    assert_eq!(o.expires_in_s, Some(3600));
    assert!(o.refresh.admitted);
    assert_eq!(o.warning, None);
    let none = outlook(Some(&token(None, true)), &admitted(), HOUR, now);
    assert_eq!(none.state, TokenState::NoExpiry);
    let unread = outlook(None, &admitted(), HOUR, now);
    assert_eq!(unread.state, TokenState::NotInspected);
    assert!(unread.refresh.admitted);
}

#[test]
fn api_keys_and_tokens_without_refresh_token_are_never_refreshed() {
    let now = t("2026-06-01T12:00:00Z");
    let key = TokenFacts {
        bearer: false,
        expires_at: None,
        has_refresh_token: false,
    };
    let o = outlook(Some(&key), &admitted(), HOUR, now);
    assert_eq!(
        (
            o.state,
            o.refresh.admitted,
            o.refresh.reason.as_str(),
            o.long_lived
        ),
        (
            TokenState::NoExpiry,
            false,
            "credential_is_an_api_key",
            false
        )
    );
    let setup = token(Some("2027-05-01T00:00:00Z"), false);
    let o = outlook(Some(&setup), &admitted(), HOUR, now);
    assert_eq!(
        (o.refresh.admitted, o.refresh.reason.as_str()),
        (false, "no_refresh_token")
    );
    assert!(o.long_lived);
    assert_eq!(o.warning, None, "eleven months left: no warning yet");
    let raw = outlook(Some(&token(None, false)), &admitted(), HOUR, now);
    assert_eq!((raw.state, raw.long_lived), (TokenState::NoExpiry, true));
    assert!(raw.warning.unwrap().contains("expiresAt"));
}

#[test]
fn a_long_lived_token_warns_a_few_weeks_before_it_ends() {
    let end = "2026-07-01T00:00:00Z";
    let o = |now: &str| outlook(Some(&token(Some(end), false)), &admitted(), HOUR, t(now));
    assert_eq!(o("2026-06-02T00:00:00Z").warning, None);
    let w = o("2026-06-04T00:00:00Z").warning.unwrap();
    assert!(w.contains("claude setup-token"), "{w}");
    let expired = o("2026-07-02T00:00:00Z");
    assert_eq!(expired.state, TokenState::Expired);
    assert!(expired.warning.unwrap().contains("log in again"));
}

#[test]
fn an_expired_token_that_may_not_be_refreshed_says_why() {
    let refused = writeback(&facts("replace_file", WritebackPolicy::Auto, false));
    let o = outlook(
        Some(&token(Some("2026-01-01T00:00:00Z"), true)),
        &refused,
        HOUR,
        t("2026-06-01T00:00:00Z"),
    );
    assert!(!o.refresh.admitted);
    assert_eq!(o.refresh.reason, "store_not_created_by_oauth_mux");
    assert!(
        o.warning
            .unwrap()
            .contains("store_not_created_by_oauth_mux")
    );
}

#[test]
fn under_the_lock_a_changed_token_is_adopted_and_a_fresh_one_left_alone() {
    let now = t("2026-06-01T12:00:00Z");
    let soon = Some(t("2026-06-01T12:10:00Z"));
    let later = Some(t("2026-06-01T20:00:00Z"));
    let keep = RefreshTrigger::Keepalive;
    assert_eq!(
        decide_under_lock("a", "b", soon, HOUR, keep, now),
        UnderLock::AdoptNewer
    );
    assert_eq!(
        decide_under_lock("a", "a", soon, HOUR, keep, now),
        UnderLock::Refresh
    );
    assert_eq!(
        decide_under_lock("a", "a", later, HOUR, keep, now),
        UnderLock::NotNeeded
    );
    let forced = RefreshTrigger::Unauthorized;
    assert_eq!(
        decide_under_lock("a", "a", later, HOUR, forced, now),
        UnderLock::Refresh
    );
    assert_eq!(
        decide_under_lock("a", "b", later, HOUR, forced, now),
        UnderLock::AdoptNewer
    );
}

#[test]
fn rejections_adopt_a_newer_store_and_otherwise_need_a_login() {
    assert_eq!(
        after_rejection("rt1", Some("rt2")),
        AfterRejection::AdoptNewer
    );
    assert_eq!(
        after_rejection("rt1", Some("rt1")),
        AfterRejection::LoginNeeded
    );
    assert_eq!(after_rejection("rt1", None), AfterRejection::LoginNeeded);
    assert!(may_write("rt1", Some("rt1")));
    assert!(!may_write("rt1", Some("rt2")));
    assert!(!may_write("rt1", None));
}

#[test]
fn backoff_doubles_from_thirty_seconds_to_half_an_hour() {
    let secs: Vec<i64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
    assert_eq!(backoff(0).as_secs(), 30);
    assert_eq!(backoff(u32::MAX).as_secs(), 1800);
}

#[test]
fn triggers_map_to_codex_refresh_reasons() {
    assert_eq!(
        RefreshTrigger::AheadOfExpiry.oauth_reason(),
        "proactive_expiry"
    );
    assert_eq!(
        RefreshTrigger::Unauthorized.oauth_reason(),
        "unauthorized_recovery"
    );
    assert_eq!(RefreshTrigger::Keepalive.oauth_reason(), "scheduled");
    assert!(RefreshTrigger::Unauthorized.forced());
    assert!(!RefreshTrigger::Keepalive.forced());
}

#[test]
fn outcomes_serialize_to_their_labels() {
    for o in [
        RefreshOutcome::Refreshed,
        RefreshOutcome::Adopted,
        RefreshOutcome::NotNeeded,
        RefreshOutcome::NotAdmitted,
        RefreshOutcome::Rejected,
        RefreshOutcome::Failed,
        RefreshOutcome::Recovered,
    ] {
        assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
    }
    assert!(RefreshOutcome::Adopted.ok() && !RefreshOutcome::Rejected.ok());
}
