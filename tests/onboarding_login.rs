//! The login handoffs `oauth-mux codex login-device ACCOUNT` and `oauth-mux claude login
//! ACCOUNT`: the harness's own login runs with the account's store as its config dir, under
//! the account's repair lock (seen as `repair_in_progress` by a concurrent `route explain`),
//! refused with `--json`; a `login` event is appended and the store is read again. The repair
//! commands of `route explain`, `repair-plan` and `doctor` name these handoffs.

mod kit;

use std::time::{Duration, Instant};

use jiff::Timestamp;
use kit::files::mode;
use kit::{Sandbox, canary, fake_harness};
use oauth_mux::model::{Classification, DeadReason};
use serde_json::Value;

/// A sandbox with the fakes on `PATH` and the Codex and Claude starters.
fn machine() -> Sandbox {
    let sb = Sandbox::new();
    fake_harness::plant(&sb);
    sb.run(&["init", "--codex-max", "--claude"]).ok();
    sb
}

fn store(sb: &Sandbox, provider: &str, account: &str) -> std::path::PathBuf {
    sb.path(&format!("data/oauth-mux/{provider}/{account}"))
}

fn login_events(sb: &Sandbox) -> Vec<Value> {
    sb.events()
        .into_iter()
        .filter(|e| e["kind"] == "login")
        .collect()
}

fn route_of<'a>(routes: &'a [Value], account: &str) -> &'a Value {
    routes
        .iter()
        .find(|r| r["account"] == account)
        .unwrap_or_else(|| panic!("no route of {account}"))
}

fn explain(sb: &Sandbox, profile: &str) -> Vec<Value> {
    sb.run(&["route", "explain", "--profile", profile, "--json"])
        .json()["routes"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn codex_login_device_runs_the_device_login_in_the_accounts_codex_home() {
    let sb = machine();
    let out = sb.run(&["codex", "login-device", "max-2"]);
    out.ok();
    assert!(
        out.stdout
            .contains("codex:max-2 now holds usable credentials (chatgpt, plan pro"),
        "{out}"
    );
    let calls = fake_harness::invocations(&sb);
    let login: Vec<_> = calls.iter().filter(|c| c.argv[0] == "login").collect();
    assert_eq!(login.len(), 1);
    assert_eq!(login[0].argv, ["login", "--device-auth"]);
    let home = store(&sb, "codex", "max-2");
    assert_eq!(login[0].var("CODEX_HOME"), home.to_str());
    assert!(home.join("auth.json").is_file());
    let events = login_events(&sb);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (
            &e["provider"],
            &e["account"],
            &e["command"],
            &e["credentials"],
            &e["ok"]
        ),
        (
            &Value::from("codex"),
            &Value::from("max-2"),
            &Value::from("codex login --device-auth"),
            &Value::from("usable"),
            &Value::from(true)
        )
    );
    // The account is ready; the others still name their login as the repair.
    let routes = explain(&sb, "codex-max");
    assert_eq!(route_of(&routes, "max-2")["runtime"]["state"], "ready");
    let max1 = route_of(&routes, "max-1");
    assert_eq!(max1["action"]["kind"], "reauth");
    assert_eq!(
        max1["action"]["command"],
        "oauth-mux codex login-device max-1"
    );
    fake_harness::mark_stores_secret(&sb);
    sb.assert_no_canary_on_disk();
}

#[test]
fn claude_login_runs_claude_auth_login_in_the_accounts_config_dir() {
    let sb = machine();
    let out = sb.run(&["claude", "login", "work"]);
    out.ok();
    assert!(
        out.stdout
            .contains("claude:work now holds usable credentials (oauth, plan max"),
        "{out}"
    );
    let calls = fake_harness::invocations(&sb);
    let login = calls.iter().find(|c| c.argv[0] == "auth").unwrap();
    assert_eq!(login.argv, ["auth", "login"]);
    assert_eq!(
        login.var("CLAUDE_CONFIG_DIR"),
        store(&sb, "claude", "work").to_str()
    );
    let canary_out = sb.run(&["claude", "canary", "--json"]);
    let work = canary_out.json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "work")
        .cloned()
        .unwrap();
    assert_eq!(work["credentials"]["state"], "usable");
    assert_eq!(
        work["credentials"]["rate_limit_tier"],
        "default_claude_max_20x"
    );
    fake_harness::mark_stores_secret(&sb);
    sb.assert_no_canary_on_disk();
}

#[test]
fn the_logins_are_interactive_and_refuse_json() {
    let sb = machine();
    for args in [
        &["codex", "login-device", "max-1", "--json"][..],
        &["claude", "login", "personal", "--json"],
    ] {
        let out = sb.run(args);
        out.code(2);
        let err = out.json();
        assert_eq!(err["error"]["code"], "usage");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("interactive"),
            "{out}"
        );
    }
    assert!(fake_harness::invocations(&sb).is_empty(), "no login ran");
    assert!(login_events(&sb).is_empty());
}

#[test]
fn the_repair_lock_is_held_for_the_whole_login() {
    let sb = machine();
    let hold = sb.work_dir().join("hold-login");
    std::fs::write(&hold, "").unwrap();
    let login = sb
        .oauth_mux()
        .args(["codex", "login-device", "max-1"])
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fake_harness::invocations(&sb)
        .iter()
        .any(|c| c.argv[0] == "login")
    {
        assert!(Instant::now() < deadline, "the login never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let routes = explain(&sb, "codex-max");
    for r in routes.iter().filter(|r| r["account"] == "max-1") {
        assert_eq!(r["runtime"]["state"], "repair_in_progress", "{r:#}");
        assert_eq!(r["action"]["kind"], "wait_for_repair");
    }
    assert_eq!(
        route_of(&routes, "max-2")["runtime"]["state"],
        "session_unavailable",
        "other accounts are not locked"
    );
    let second = sb.run(&["codex", "login-device", "max-1"]);
    second.code(1);
    assert!(
        second
            .stderr
            .contains("another oauth-mux process is repairing codex:max-1"),
        "{second}"
    );
    std::fs::remove_file(&hold).unwrap();
    login.wait().ok();
    let routes = explain(&sb, "codex-max");
    assert_eq!(route_of(&routes, "max-1")["runtime"]["state"], "ready");
    assert_eq!(
        login_events(&sb).len(),
        1,
        "the refused second login ran nothing"
    );
}

#[test]
fn a_login_that_leaves_no_credentials_says_so_and_exits_1() {
    let sb = machine();
    // An account the fake cannot log in (its device flow "fails").
    sb.run(&["enroll", "codex", "--account", "max-9", "--confirm-enroll"])
        .ok();
    let out = sb.run(&["codex", "login-device", "max-9"]);
    out.code(1);
    assert!(
        out.stdout
            .contains("codex:max-9 holds no usable credentials"),
        "{out}"
    );
    assert!(
        out.stdout.contains("oauth-mux codex login-device max-9"),
        "{out}"
    );
    let e = login_events(&sb).pop().unwrap();
    assert_eq!(e["outcome"], "login_failed");
    assert_eq!(e["credentials"], "missing");
    assert_eq!(e["ok"], false);
    // An account that is not configured names the enroll command.
    let out = sb.run(&["claude", "login", "nobody"]);
    out.code(2);
    assert!(
        out.stderr
            .contains("oauth-mux enroll claude --account nobody --confirm-enroll"),
        "{out}"
    );
}

#[test]
fn a_missing_store_is_created_and_a_dead_account_is_repaired_by_its_login() {
    let sb = machine();
    let home = store(&sb, "codex", "max-1");
    std::fs::remove_dir(&home).unwrap();
    let routes = explain(&sb, "codex-max");
    let max1 = route_of(&routes, "max-1");
    assert_eq!(max1["runtime"]["what"], "config_dir");
    assert_eq!(
        max1["action"]["command"],
        "oauth-mux codex login-device max-1"
    );
    let doctor = sb.run(&["doctor", "--json"]);
    doctor.code(1);
    assert!(
        doctor.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "store_missing" && p["subject"] == "codex:max-1"),
        "{doctor}"
    );
    sb.run(&["codex", "login-device", "max-1"]).ok();
    assert_eq!(mode(&home), 0o700, "the handoff created the store, private");
    // A revoked token: the repair is the login, and the login clears it.
    sb.record(
        "codex:max-1",
        Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        Timestamp::now(),
    );
    let plan = sb.run(&["repair-plan", "--profile", "codex-max", "--json"]);
    let dead = plan.json()["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["account"] == "max-1")
        .cloned()
        .unwrap();
    assert_eq!(dead["action"]["kind"], "reauth");
    assert_eq!(
        dead["action"]["command"],
        "oauth-mux codex login-device max-1"
    );
    let human = sb.run(&["route", "explain", "--profile", "codex-max"]);
    assert!(
        human.stdout.contains("oauth-mux codex login-device max-1"),
        "{human}"
    );
    let out = sb.run(&["codex", "login-device", "max-1", "--provider", "codex"]);
    out.ok();
    assert!(out.stdout.contains("cleared 1 dead health record"), "{out}");
    let routes = explain(&sb, "codex-max");
    assert_eq!(
        route_of(&routes, "max-1")["status"]["state"],
        "probe_needed"
    );
}

#[test]
fn repair_run_runs_the_login_handoff_which_takes_the_lock_itself() {
    let sb = machine();
    let out = sb.run(&[
        "repair",
        "run",
        "--provider",
        "claude",
        "--account",
        "personal",
        "--confirm-repair",
    ]);
    out.ok();
    assert!(
        out.stdout
            .contains("claude:personal now holds usable credentials"),
        "{out}"
    );
    assert!(
        store(&sb, "claude", "personal")
            .join(".credentials.json")
            .is_file()
    );
    let kinds: Vec<String> = sb
        .events()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"login".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"repair_run".to_owned()), "{kinds:?}");
    assert!(!canary::found_in(
        &std::fs::read_to_string(sb.dirs().events_file()).unwrap()
    ));
}
