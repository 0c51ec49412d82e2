//! `oauth-mux probe` with command probes: the `toy` provider whose probe reports
//! quota for account a1 and succeeds for a2, timeouts, and missing binaries.

mod kit;

use kit::{Sandbox, canary};
use serde_json::{Value, json};

const TOY_SCRIPT: &str = r#"echo "home=$TOY_HOME acct=$OMUX_ACTIVE_ACCOUNT cap=$OMUX_ACTIVE_CAPABILITY profile=$OMUX_ACTIVE_PROFILE"; if [ "$OMUX_ACTIVE_ACCOUNT" = a1 ]; then echo "quota_exhausted: weekly cap reached" >&2; exit 1; fi; exit 0"#;

fn toy_config(sb: &Sandbox) -> Value {
    for a in ["a1", "a2"] {
        std::fs::create_dir_all(sb.path(&format!("home/toy-{a}"))).unwrap();
    }
    json!({
        "version": 1,
        "provider_definitions": {
            "toy": {
                "name": "toy",
                "injection": {"config_dir_env": "TOY_HOME"},
                "capabilities": [
                    {"name": "expensive", "probe": {"transport": "command", "command": ["sh", "-c", TOY_SCRIPT], "timeout_ms": 10000}},
                    {"name": "slow", "probe": {"transport": "command", "command": ["sh", "-c", "sleep 20"], "timeout_ms": 300}},
                    {"name": "ghost", "probe": {"transport": "command", "command": ["/nonexistent/omux-ghost-binary"], "timeout_ms": 1000}}
                ],
                "failure_rules": [
                    {"status": 400, "hint_contains": "quota_exhausted", "class": "quota_exhausted"}
                ]
            }
        },
        "providers": {
            "toy": {
                "kind": "toy",
                "accounts": {
                    "a1": {"priority": 10, "config_dir": sb.path("home/toy-a1"), "secret": {"backend": "env", "variable": "TOY_A1_TOKEN"}},
                    "a2": {"priority": 5, "config_dir": sb.path("home/toy-a2"), "secret": {"backend": "env", "variable": "TOY_A2_TOKEN"}}
                }
            }
        },
        "profiles": {
            "expensive": {"providers": ["toy:a1#expensive", "toy:a2#expensive"]},
            "slow": {"providers": ["toy:a1#slow"]},
            "ghost": {"providers": ["toy:a1#ghost"]}
        }
    })
}

/// A sandbox with the toy config and both accounts' canary tokens.
fn toy_sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write_config(&toy_config(&sb));
    sb.set_env("TOY_A1_TOKEN", canary::token("a1"));
    sb.set_env("TOY_A2_TOKEN", canary::token("a2"));
    sb
}

#[test]
fn quota_on_a1_falls_back_to_a2_and_is_recorded_route_scoped() {
    let sb = toy_sandbox();
    let out = sb.run(&["probe", "--profile", "expensive", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["usable_route"], "toy:a2#expensive");
    let routes = v["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0]["health_key"], "toy:a1#expensive");
    assert_eq!(routes[0]["status"], 400);
    assert_eq!(routes[0]["classification"]["class"], "quota_exhausted");
    assert_eq!(routes[0]["decision"], "try_next_account");
    assert_eq!(routes[0]["budget"], "free_command");
    assert_eq!(routes[1]["outcome"], "usable");
    // The account's config dir and the breadcrumbs reached the command.
    let hint = routes[1]["evidence"]["hint_excerpt"].as_str().unwrap();
    let a2_home = sb.path("home/toy-a2");
    assert!(
        hint.contains(&format!("home={}", a2_home.display())),
        "{hint}"
    );
    assert!(
        hint.contains("acct=a2 cap=expensive profile=expensive"),
        "{hint}"
    );

    let health = sb.health();
    let a1 = &health["toy:a1#expensive"];
    assert_eq!(a1["last_class"], "quota_exhausted");
    assert_eq!(a1["liveness"]["availability"]["state"], "quota_exhausted");
    assert_eq!(a1["source"], "command_probe");
    assert_eq!(health["toy:a2#expensive"]["last_class"], "success");
    // Route-scoped: the quota does not touch the account key.
    assert!(!health.contains_key("toy:a1"));

    let events = sb.events();
    let probes: Vec<&Value> = events.iter().filter(|e| e["kind"] == "probe").collect();
    assert_eq!(probes.len(), 2);
    assert_eq!(probes[0]["route"], "toy:a1#expensive");
    assert_eq!(probes[0]["class"], "quota_exhausted");
    assert_eq!(probes[0]["spends_provider_calls"], false);

    // A second walk skips a1 (quota not reset) without running it.
    let v = sb
        .run(&["probe", "--profile", "expensive", "--json"])
        .ok()
        .json();
    assert_eq!(v["routes"][0]["outcome"], "skipped");
    assert_eq!(v["routes"][0]["probe_executed"], false);
    assert_eq!(v["routes"][1]["outcome"], "usable");

    // Canaries never leave the process (every run's output is checked too).
    sb.assert_no_canary_on_disk();
}

#[test]
fn human_output_is_a_table() {
    let sb = toy_sandbox();
    let out = sb.run(&["probe", "-p", "expensive"]);
    out.ok();
    let text = &out.stdout;
    assert!(text.contains("ROUTE"), "{text}");
    assert!(text.contains("toy:a1#expensive"), "{text}");
    assert!(text.contains("quota_exhausted"), "{text}");
    assert!(text.contains("Usable: toy:a2#expensive"), "{text}");
}

#[test]
fn a_probe_that_times_out_is_a_network_error_and_records_nothing() {
    let sb = toy_sandbox();
    let out = sb.run(&["probe", "--profile", "slow", "--json"]);
    out.code(204);
    let v = out.json();
    let r = &v["routes"][0];
    assert_eq!(r["outcome"], "network_error");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within"),
        "{r}"
    );
    assert!(
        !sb.health().contains_key("toy:a1#slow"),
        "a timeout is no evidence about the account"
    );
    // One progress line per route that runs, on stderr.
    assert!(
        out.stderr.contains("probing toy:a1#slow") && out.stderr.contains("network_error in"),
        "{}",
        out.stderr
    );
}

/// What the real Codex CLI 0.169 printed with no route to its provider.
const CODEX_OFFLINE: &str = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 5/5 (workspace routing discovery failed)"}
{"type":"error","message":"workspace routing discovery failed"}
{"type":"turn.failed","error":{"message":"workspace routing discovery failed"}}"#;

#[test]
fn codex_offline_is_a_network_error_not_an_account_verdict() {
    let sb = Sandbox::new();
    let home = sb.path("codex-homes/max-1");
    sb.plant("codex-homes/max-1/auth.json", "{}");
    sb.plant_script(
        "codex",
        &format!("cat <<'JSONL'\n{CODEX_OFFLINE}\nJSONL\nexit 1"),
    );
    sb.write_config(&json!({
        "version": 1,
        "providers": {"codex": {"kind": "codex", "accounts": {
            "max-1": {"config_dir": home.display().to_string(),
                      "secret": {"backend": "file", "path": home.join("auth.json").display().to_string()}}
        }}},
        "profiles": {"codex-max": {"providers": ["codex:max-1#codex-max"]}}
    }));
    let out = sb.run(&[
        "probe",
        "--profile",
        "codex-max",
        "--confirm-spend",
        "--json",
    ]);
    out.code(204);
    let v = out.json();
    assert_eq!(v["routes"][0]["outcome"], "network_error", "{v}");
    assert!(
        v["routes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("could not reach the provider")
    );
    assert!(
        sb.health().is_empty(),
        "nothing recorded: {:?}",
        sb.health()
    );
    // A managed session may still start on it (no verdict was recorded against it).
    let explain = sb.run(&["route", "explain", "--profile", "codex-max", "--json"]);
    assert_eq!(explain.json()["session_order"][0]["account"], "max-1");
}

#[test]
fn missing_binary_is_a_runtime_problem_and_records_no_liveness() {
    let sb = toy_sandbox();
    let out = sb.run(&["probe", "--profile", "ghost", "--json"]);
    out.code(201);
    let v = out.json();
    let r = &v["routes"][0];
    assert_eq!(r["outcome"], "runtime_problem");
    assert_eq!(r["runtime"]["state"], "missing_binary");
    assert_eq!(r["probe_executed"], false);
    assert!(
        sb.health().is_empty(),
        "no liveness may be recorded: {:?}",
        sb.health()
    );
    assert!(
        v["next_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("oauth-mux doctor runtime"))
    );
}

#[test]
fn unreadable_secret_records_the_account_dead_and_exits_202() {
    let mut sb = toy_sandbox();
    sb.remove_env("TOY_A1_TOKEN");
    sb.remove_env("TOY_A2_TOKEN");
    let out = sb.run(&[
        "probe",
        "--profile",
        "expensive",
        "--account",
        "a1",
        "--json",
    ]);
    out.code(202);
    let v = out.json();
    assert_eq!(v["routes"][0]["outcome"], "secret_unavailable");
    let health = sb.health();
    assert_eq!(health["toy:a1"]["liveness"]["state"], "dead");
    assert_eq!(
        health["toy:a1"]["liveness"]["reason"],
        "credential_unavailable"
    );
    assert!(!health.contains_key("toy:a1#expensive"));
}
