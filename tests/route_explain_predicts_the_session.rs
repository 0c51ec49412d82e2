//! Issue 12's proof: `route explain` tells the truth about what a managed session does.
//! For each recorded health state, a managed session (`oauth-mux claude` over a stub Claude
//! Code that sends one model request) is started against the loopback fake, and its first
//! upstream request carries the credential of the first account of `route explain --json`'s
//! `session_order`; `route select --json` names the account the one election chose for
//! injection (only routes with live evidence count there, docs/routing.md). When no
//! account can carry the session, nothing starts: exit 201 and no upstream request.

mod kit;

use jiff::{SignedDuration, Timestamp};
use kit::harness::{act_as_stub_claude, plant_stub_claude, stub_claude_marker};
use kit::{Output, Sandbox, canary, worker};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::model::{Classification, DeadReason};
use serde_json::{Value, json};

/// The profile's accounts, highest priority first.
const ACCOUNTS: [&str; 3] = ["a1", "a2", "a3"];

/// What is on record for one account before the session starts.
#[derive(Clone, Copy, Debug)]
enum Evidence {
    /// A successful answer.
    Live,
    /// Live, with a usage gauge of 98 % (above the default threshold of 95 %).
    Hot,
    /// The quota is spent for an hour.
    Spent,
    /// The token was revoked.
    Dead,
    /// Nothing at all.
    Unprobed,
}

struct Case {
    name: &'static str,
    /// Evidence for a1, a2, a3.
    evidence: [Evidence; 3],
    /// The order a managed session tries the accounts in.
    session_order: &'static [&'static str],
    /// The account `route select` injects.
    selected: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "fresh",
        evidence: [Evidence::Live, Evidence::Live, Evidence::Live],
        session_order: &["a1", "a2", "a3"],
        selected: Some("a1"),
    },
    Case {
        name: "one spent",
        evidence: [Evidence::Spent, Evidence::Live, Evidence::Live],
        session_order: &["a2", "a3"],
        selected: Some("a2"),
    },
    Case {
        name: "one hot above the usage threshold",
        evidence: [Evidence::Hot, Evidence::Live, Evidence::Live],
        session_order: &["a2", "a3", "a1"],
        selected: Some("a2"),
    },
    Case {
        name: "one unprobed",
        evidence: [Evidence::Unprobed, Evidence::Live, Evidence::Live],
        session_order: &["a2", "a3", "a1"],
        selected: Some("a2"),
    },
    Case {
        name: "one dead",
        evidence: [Evidence::Dead, Evidence::Live, Evidence::Live],
        session_order: &["a2", "a3"],
        selected: Some("a2"),
    },
    Case {
        name: "none probed: a session may start, nothing may be injected",
        evidence: [Evidence::Unprobed, Evidence::Unprobed, Evidence::Unprobed],
        session_order: &["a1", "a2", "a3"],
        selected: None,
    },
    Case {
        name: "all spent",
        evidence: [Evidence::Spent, Evidence::Spent, Evidence::Spent],
        session_order: &[],
        selected: None,
    },
];

const TEST_NAME: &str = "the_first_upstream_request_uses_the_first_account_of_session_order";

#[test]
fn the_first_upstream_request_uses_the_first_account_of_session_order() {
    if worker::args().is_some() {
        return act_as_stub_claude();
    }
    for case in CASES {
        check(case);
    }
}

/// A sandbox with the three Claude accounts (file secrets holding canary tokens), the fake
/// answering each of them, and the stub Claude Code on `PATH`.
fn claude_sandbox(fake: &FakeProvider) -> Sandbox {
    let mut sb = Sandbox::new();
    let mut accounts = serde_json::Map::new();
    for (i, label) in ACCOUNTS.into_iter().enumerate() {
        let secret = json!({"claudeAiOauth": {
            "accessToken": canary::claude_token(label),
            "refreshToken": canary::refresh_token(label),
            "expiresAt": 4_102_444_800_000_i64,
            "scopes": ["user:inference"], "subscriptionType": "max"}});
        let path = sb.plant_secret(&format!("secrets/{label}.json"), secret.to_string());
        accounts.insert(
            label.into(),
            json!({"priority": 30 - 10 * i as i32, "secret": {"backend": "file", "path": path}}),
        );
    }
    sb.write_config(&json!({
        "version": 1,
        "providers": {"claude": {"kind": "claude", "accounts": accounts}},
        "profiles": {"claude": {"providers": ACCOUNTS.map(|a| format!("claude:{a}#messages"))}}
    }));
    plant_stub_claude(&sb, TEST_NAME);
    sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
    sb
}

fn record(sb: &Sandbox, account: &str, evidence: Evidence, now: Timestamp) {
    let key = format!("claude:{account}#messages");
    let in_an_hour = now + SignedDuration::from_hours(1);
    match evidence {
        Evidence::Live => sb.record(&key, Classification::Success, now),
        Evidence::Hot => {
            sb.record(&key, Classification::Success, now);
            sb.record_usage(&key, 98.0, in_an_hour, now);
        }
        Evidence::Spent => sb.record(
            &key,
            Classification::QuotaExhausted {
                resets_at: Some(in_an_hour),
            },
            now,
        ),
        Evidence::Dead => sb.record(
            &key,
            Classification::Dead {
                reason: DeadReason::TokenRevoked,
            },
            now,
        ),
        Evidence::Unprobed => {}
    }
}

/// The accounts of a list of route ids (`session_order`).
fn accounts(routes: &Value) -> Vec<String> {
    routes
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {routes}"))
        .iter()
        .map(|r| r["account"].as_str().unwrap().to_owned())
        .collect()
}

/// The account a `route select|explain --json` output selected, if any.
fn selected(out: &Output) -> Option<String> {
    out.json()["selected"]["account"]
        .as_str()
        .map(str::to_owned)
}

fn check(case: &Case) {
    let name = case.name;
    let fake = FakeProvider::start(
        ACCOUNTS
            .iter()
            .map(|a| {
                (
                    canary::claude_token(a),
                    Behaviour::Succeed {
                        text: format!("answer from {a}"),
                    },
                )
            })
            .collect(),
    )
    .unwrap();
    let sb = claude_sandbox(&fake);
    let now = Timestamp::now();
    for (account, evidence) in ACCOUNTS.iter().zip(case.evidence) {
        record(&sb, account, evidence, now);
    }

    let explain = sb.run(&["route", "explain", "--profile", "claude", "--json"]);
    let session_order = accounts(&explain.json()["session_order"]);
    assert_eq!(session_order, case.session_order, "{name}: {explain}");
    let select = sb.run(&["route", "select", "--profile", "claude", "--json"]);
    assert_eq!(
        selected(&select).as_deref(),
        case.selected,
        "{name}: {select}"
    );
    assert_eq!(selected(&explain), selected(&select), "{name}");
    select.code(if case.selected.is_some() { 0 } else { 201 });

    let session = sb.run(&["claude", "-p", "say hi"]);
    let requests = fake.requests();
    match session_order.first() {
        Some(first) => {
            assert_eq!(session.code, 0, "{name}: {session}");
            assert_eq!(
                requests.len(),
                1,
                "{name}: one model request, answered by a healthy account: {requests:?}"
            );
            assert_eq!(
                requests[0].credential(),
                Some(canary::claude_token(first)),
                "{name}: the first upstream request carries the first account of session_order"
            );
        }
        None => {
            assert_eq!(session.code, 201, "{name}: {session}");
            assert!(
                !stub_claude_marker(&sb).exists(),
                "{name}: the harness started"
            );
            assert!(requests.is_empty(), "{name}: {requests:?}");
        }
    }
    sb.assert_no_canary_on_disk();
}
