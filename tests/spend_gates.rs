//! Spend gates across every routing, probing and injection command: a provider
//! whose probe has a `spend_provider` budget is never contacted without
//! `--confirm-spend` or a policy that admits it. A loopback fake counts the calls.

mod kit;

use kit::{Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use serde_json::{Value, json};

/// A sandbox with the spendy config under `policy`, its token a canary and its probe URL
/// pointing at `fake`.
fn spendy_sandbox(policy: Value, fake: &FakeProvider) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write_config(&config(policy));
    sb.set_env("SPENDY_TOKEN", canary::token("spendy"));
    sb.set_env("FAKE_URL", fake.url("/v1/turn"));
    sb
}

fn config(policy: Value) -> Value {
    json!({
        "version": 1,
        "policy": policy,
        "provider_definitions": {"spendy": {
            "injection": {"config_dir_env": "SPENDY_HOME", "direct_env": [["SPENDY_TOKEN_OUT", "access_token"]]},
            "capabilities": [{"name": "turn", "probe": {"url": "{{FAKE_URL}}", "budget": "spend_provider"}}],
            "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
        }},
        "providers": {"spendy": {"kind": "spendy", "accounts": {
            "a1": {"priority": 2, "secret": {"backend": "env", "variable": "SPENDY_TOKEN"}},
            "a2": {"priority": 1, "secret": {"backend": "env", "variable": "SPENDY_TOKEN"}}
        }}},
        "profiles": {"spend": {"providers": ["spendy:a1#turn", "spendy:a2#turn"]}}
    })
}

/// Every command of the routing, probing and injection families, without flags.
const COMMANDS: &[&[&str]] = &[
    &["route", "select", "--json"],
    &["route", "explain", "--json"],
    &["repair-plan", "--json"],
    &["repair", "run", "--json"],
    &["stay-afloat", "--once", "--json"],
    &["stay-afloat", "--once", "--execute", "--json"],
    &[
        "stay-afloat",
        "--loop",
        "--iterations",
        "2",
        "--interval-ms",
        "10",
        "--execute",
        "--json",
    ],
    &["stay-afloat", "refresh", "--json"],
    &["stay-afloat", "next", "--json"],
    &["stay-afloat", "launch", "--", "true"],
    &["daemon", "tick", "--once", "--execute", "--json"],
    &["probe", "--json"],
    &["probe", "--all", "--json"],
    &["env"],
    &["exec", "--", "true"],
];

#[test]
fn no_command_spends_without_a_flag_or_policy() {
    let fake = FakeProvider::answering(Behaviour::json(200, "{}")).unwrap();
    let sb = spendy_sandbox(json!({}), &fake);
    for args in COMMANDS {
        let mut a = vec!["--profile", "spend"];
        let (head, tail) =
            args.split_at(args.iter().position(|x| *x == "--").unwrap_or(args.len()));
        let mut full: Vec<&str> = head.to_vec();
        full.append(&mut a);
        full.extend_from_slice(tail);
        // Every run's output is checked for the canary token.
        sb.run(&full);
        assert_eq!(
            fake.total_calls(),
            0,
            "`oauth-mux {}` contacted a spend provider without a flag",
            full.join(" ")
        );
    }

    // The explicit flag spends exactly one call (the walk stops at the first usable route).
    sb.run(&["probe", "--profile", "spend", "--confirm-spend", "--json"])
        .ok();
    assert_eq!(fake.total_calls(), 1);
}

#[test]
fn a_written_policy_admits_background_spend() {
    let fake = FakeProvider::answering(Behaviour::json(200, "{}")).unwrap();
    let sb = spendy_sandbox(
        json!({"providers": {"spendy": {"allowed_budgets": ["spend_provider"]}}}),
        &fake,
    );
    let v = sb
        .run(&[
            "stay-afloat",
            "--once",
            "--execute",
            "--profile",
            "spend",
            "--json",
        ])
        .json();
    assert_eq!(v["executed"], true, "{v}");
    assert_eq!(fake.total_calls(), 1, "one admitted action per tick");
}
