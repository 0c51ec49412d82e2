//! `init`, `setup`, `enroll` and the Codex Max candidate: nothing changes without the confirm
//! flag (or with `--plan`/`--json`), nothing is overwritten, every write is validated first,
//! backed up and atomic, and a name that exists is refused.

mod kit;

use std::path::{Path, PathBuf};

use kit::files::mode;
use kit::{Sandbox, fake_harness};
use serde_json::{Value, json};

fn config_bytes(sb: &Sandbox) -> Vec<u8> {
    std::fs::read(sb.config_file()).unwrap()
}

/// Files beside the config other than the config itself and its lock.
fn beside_config(sb: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sb.config_file().parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "config.json" && n != "config.json.lock")
        .collect();
    names.sort();
    names
}

fn store(sb: &Sandbox, provider: &str, account: &str) -> PathBuf {
    sb.path(&format!("data/oauth-mux/{provider}/{account}"))
}

fn paths(changes: &Value) -> Vec<String> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect()
}

fn codex_max(sb: &Sandbox) {
    sb.run(&["init", "--codex-max"]).ok();
}

#[test]
fn init_writes_once_with_a_0700_store_per_account_and_never_overwrites() {
    let sb = Sandbox::new();
    let out = sb.run(&["init", "--codex-max", "--claude", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["created"], true);
    assert_eq!(v["template"], "codex-max+claude");
    let logins: Vec<&str> = v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["login_command"].as_str().unwrap())
        .collect();
    assert_eq!(
        logins,
        [
            "oauth-mux codex login-device max-1",
            "oauth-mux codex login-device max-2",
            "oauth-mux codex login-device max-3",
            "oauth-mux claude login personal",
            "oauth-mux claude login work"
        ]
    );
    for (p, a) in [("codex", "max-1"), ("codex", "max-3"), ("claude", "work")] {
        assert_eq!(mode(&store(&sb, p, a)), 0o700, "{p}:{a}");
    }
    assert_eq!(mode(&sb.config_file()), 0o600);
    let before = config_bytes(&sb);
    for args in [
        &["init"][..],
        &["init", "--claude"],
        &["init", "--codex-max"],
    ] {
        let again = sb.run(args);
        again.code(1);
        assert!(again.stdout.contains("never overwrites"), "{again}");
    }
    assert_eq!(config_bytes(&sb), before, "init must not overwrite");
    assert_eq!(
        beside_config(&sb),
        Vec::<String>::new(),
        "no backup, no temp file"
    );
    sb.run(&["config", "validate"]).ok();
}

#[test]
fn enroll_changes_nothing_without_the_confirm_flag() {
    let sb = Sandbox::new();
    codex_max(&sb);
    let before = config_bytes(&sb);
    let plan = sb.run(&["enroll", "plan", "codex", "--account", "max-4", "--json"]);
    plan.ok();
    let v = plan.json();
    assert_eq!(
        (v["action"].clone(), v["mutates"].clone()),
        (json!("plan"), json!(false))
    );
    assert_eq!(
        paths(&v["config_changes"]),
        [
            "providers.codex.accounts.max-4",
            "profiles.codex-max.providers",
            "profiles.codex-mini.providers"
        ]
    );
    assert_eq!(
        v["config_changes"][1]["value"],
        json!(["codex:max-4#codex-max", "codex:max-4#codex-mini"])
    );
    assert!(
        v["store"].as_str().unwrap().ends_with("codex/max-4"),
        "{v:#}"
    );
    let human = sb.run(&["enroll", "plan", "codex", "--account", "max-4"]);
    human.ok();
    assert!(
        human.stdout.contains("+ providers.codex.accounts.max-4"),
        "{human}"
    );
    let unconfirmed = sb.run(&["enroll", "codex", "--account", "max-4", "--json"]);
    unconfirmed.code(1);
    let v = unconfirmed.json();
    assert_eq!(v["confirmation_required"], true);
    assert_eq!(v["requires"], "--confirm-enroll");
    assert_eq!(v["executed"], false);
    assert_eq!(
        v["next_commands"][0],
        "oauth-mux enroll codex --account max-4 --confirm-enroll"
    );
    assert_eq!(config_bytes(&sb), before);
    assert!(!store(&sb, "codex", "max-4").exists());
    assert_eq!(beside_config(&sb), Vec::<String>::new());
    assert!(
        sb.events().is_empty()
            || sb
                .events()
                .iter()
                .all(|e| e["kind"] != "config_edited" || e["action"] == "init")
    );
}

#[test]
fn a_confirmed_enroll_is_validated_backed_up_and_written_atomically() {
    let sb = Sandbox::new();
    codex_max(&sb);
    let before = config_bytes(&sb);
    let out = sb.run(&[
        "enroll",
        "codex",
        "--account",
        "max-4",
        "--confirm-enroll",
        "--json",
    ]);
    out.ok();
    let v = out.json();
    assert_eq!(
        (v["executed"].clone(), v["store_created"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(v["next_commands"][0], "oauth-mux codex login-device max-4");
    let backup = PathBuf::from(v["backup_config"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        before,
        "the backup holds the previous bytes"
    );
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&sb.config_file()), 0o600);
    assert_eq!(mode(&store(&sb, "codex", "max-4")), 0o700);
    let names = beside_config(&sb);
    assert_eq!(
        names.len(),
        1,
        "only the backup beside the config: {names:?}"
    );
    sb.run(&["config", "validate"]).ok();
    let config: Value = serde_json::from_slice(&config_bytes(&sb)).unwrap();
    let before_json: Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(
        config["providers"]["codex"]["accounts"]["max-1"],
        before_json["providers"]["codex"]["accounts"]["max-1"]
    );
    assert_eq!(
        config["providers"]["codex"]["accounts"]["max-4"]["priority"],
        0
    );
    let explain = sb.run(&["route", "explain", "--profile", "codex-max", "--json"]);
    let max4 = explain.json()["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account"] == "max-4")
        .count();
    assert_eq!(max4, 2, "max-4 joined codex-max with both capabilities");
    let edited: Vec<Value> = sb
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "config_edited" && e["action"] == "enroll")
        .collect();
    assert_eq!(edited.len(), 1);
    assert_eq!(edited[0]["accounts"], json!(["max-4"]));
    assert_eq!(edited[0]["backup_kept"], true);
}

#[test]
fn enroll_refuses_a_name_that_exists_and_one_that_cannot_name_a_store() {
    let sb = Sandbox::new();
    codex_max(&sb);
    let before = config_bytes(&sb);
    for args in [
        &["enroll", "codex", "--account", "max-1", "--confirm-enroll"][..],
        &["enroll", "plan", "codex", "--account", "max-1"],
    ] {
        let out = sb.run(args);
        out.code(1);
        assert!(out.stderr.contains("exists already"), "{out}");
    }
    let json = sb.run(&[
        "enroll",
        "codex",
        "--account",
        "max-2",
        "--confirm-enroll",
        "--json",
    ]);
    json.code(1);
    assert!(
        json.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exists already")
    );
    for bad in ["../evil", ".hidden", "a b", "x:y"] {
        let out = sb.run(&["enroll", "codex", "--account", bad, "--confirm-enroll"]);
        out.code(2);
    }
    assert_eq!(config_bytes(&sb), before);
    assert_eq!(beside_config(&sb), Vec::<String>::new());
    assert!(!sb.path("data/oauth-mux/evil").exists());
}

#[test]
fn enroll_writes_nothing_when_the_result_would_be_invalid() {
    let sb = Sandbox::new();
    // Valid JSON, invalid config (a route naming an account that does not exist).
    let text = r#"{"version": 1, "providers": {}, "profiles": {"claude": {"providers": ["claude:ghost#messages"]}}}"#;
    sb.write_config_text(text);
    let out = sb.run(&["enroll", "claude", "--account", "work", "--confirm-enroll"]);
    out.code(200);
    assert!(out.stderr.contains("nothing was written"), "{out}");
    assert!(out.stderr.contains("profiles.claude.providers"), "{out}");
    assert_eq!(std::fs::read_to_string(sb.config_file()).unwrap(), text);
    assert!(!store(&sb, "claude", "work").exists());
    // A config that is not JSON is never rewritten either.
    sb.write_config_text("{ not json");
    let out = sb.run(&["enroll", "claude", "--account", "work", "--confirm-enroll"]);
    out.code(200);
    assert_eq!(
        std::fs::read_to_string(sb.config_file()).unwrap(),
        "{ not json"
    );
}

#[test]
fn concurrent_enrollments_lose_no_account() {
    let sb = Sandbox::new();
    codex_max(&sb);
    let names: Vec<String> = (4..10).map(|i| format!("max-{i}")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|n| {
            sb.oauth_mux()
                .args(["enroll", "codex", "--account", n, "--confirm-enroll"])
                .spawn()
        })
        .collect();
    for c in children {
        c.wait().ok();
    }
    let config: Value = serde_json::from_slice(&config_bytes(&sb)).unwrap();
    for n in &names {
        assert!(
            config["providers"]["codex"]["accounts"].get(n).is_some(),
            "{n} lost:\n{config:#}"
        );
    }
    sb.run(&["config", "validate"]).ok();
    assert_eq!(
        beside_config(&sb).len(),
        names.len(),
        "one backup per write"
    );
}

#[test]
fn setup_is_idempotent_and_only_reports_with_plan_or_json() {
    let sb = Sandbox::new();
    fake_harness::plant(&sb);
    // On an empty machine --json writes nothing.
    let plan = sb.run(&["setup", "codex", "--json"]);
    plan.ok();
    let v = plan.json();
    assert_eq!(
        (v["applied"].clone(), v["changes_needed"].clone()),
        (json!(false), json!(true))
    );
    assert!(!sb.config_file().exists());
    assert!(!store(&sb, "codex", "max-1").exists());
    // Applied: config, stores, and the login command of every account.
    let out = sb.run(&["setup", "codex"]);
    out.ok();
    for a in ["max-1", "max-2", "max-3"] {
        assert_eq!(mode(&store(&sb, "codex", a)), 0o700);
        assert!(
            out.stdout
                .contains(&format!("oauth-mux codex login-device {a}")),
            "{out}"
        );
    }
    assert!(out.stdout.contains("codex-cli 0.169.0"), "{out}");
    let once = config_bytes(&sb);
    let again = sb.run(&["setup", "codex", "--json"]);
    again.ok();
    let v = again.json();
    assert_eq!(v["changes_needed"], false, "{v:#}");
    assert_eq!(v["accounts"][0]["credentials"]["state"], "missing");
    assert_eq!(
        v["accounts"][0]["login_command"],
        "oauth-mux codex login-device max-1"
    );
    sb.run(&["setup", "codex"]).ok();
    assert_eq!(config_bytes(&sb), once, "a second setup changes nothing");
    assert_eq!(beside_config(&sb), Vec::<String>::new());
    // Claude into the same config: --plan first (nothing), then applied with a backup.
    let plan = sb.run(&["setup", "claude", "--plan"]);
    plan.ok();
    assert!(plan.stdout.contains("would change the config"), "{plan}");
    assert_eq!(config_bytes(&sb), once);
    assert!(!store(&sb, "claude", "personal").exists());
    let out = sb.run(&[
        "setup",
        "claude",
        "--accounts",
        "personal,work,team",
        "--json",
    ]);
    out.ok();
    assert_eq!(config_bytes(&sb), once, "--json only reports");
    sb.run(&["setup", "claude", "--accounts", "personal,work,team"])
        .ok();
    let config: Value = serde_json::from_slice(&config_bytes(&sb)).unwrap();
    let before: Value = serde_json::from_slice(&once).unwrap();
    assert_eq!(config["providers"]["codex"], before["providers"]["codex"]);
    assert_eq!(
        config["profiles"]["codex-max"],
        before["profiles"]["codex-max"]
    );
    assert_eq!(
        config["profiles"]["claude"]["providers"],
        json!([
            "claude:personal#messages",
            "claude:work#messages",
            "claude:team#messages"
        ])
    );
    assert_eq!(beside_config(&sb).len(), 1, "one backup");
    assert_eq!(mode(&store(&sb, "claude", "team")), 0o700);
    let doctor = sb.run(&["doctor", "--json"]);
    doctor.code(1);
    let codes: Vec<String> = doctor.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(codes.iter().all(|c| c == "not_logged_in"), "{codes:?}");
    assert_eq!(codes.len(), 6);
}

/// A config of the user's own: one Codex account in `~/.codex` and a GitHub account.
fn single_codex_account(sb: &Sandbox) -> Value {
    let config = json!({
        "version": 1,
        "defaults": {"profile": "mine"},
        "providers": {
            "codex": {"kind": "codex", "accounts": {"main": {"priority": 5,
                "config_dir": sb.home().join(".codex"),
                "secret": {"backend": "file", "path": sb.home().join(".codex/auth.json")}}}},
            "github": {"kind": "github", "accounts": {"me": {"secret": {"backend": "env", "variable": "GH_TOKEN"}}}}
        },
        "profiles": {"mine": {"providers": ["codex:main#codex-max"]},
                     "gh": {"providers": ["github:me#identity"]}}
    });
    sb.write_config(&config);
    config
}

#[test]
fn the_codex_max_candidate_is_written_once_and_merged_without_touching_the_rest() {
    let sb = Sandbox::new();
    let original = single_codex_account(&sb);
    let before = config_bytes(&sb);
    let doctor = sb.run(&["doctor", "--json"]).json();
    assert_eq!(doctor["codex_max_configured"], false);
    assert!(
        doctor["next_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "oauth-mux codex config-candidate --json")
    );
    let discover = sb.run(&["discover", "--json"]).json();
    assert_eq!(discover["codex_max_configured"], false);
    assert!(
        discover["agent_safe_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "oauth-mux codex config-candidate --json")
    );

    let out = sb.run(&["codex", "config-candidate", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(
        (v["created"].clone(), v["reason"].clone()),
        (json!(true), json!("written"))
    );
    assert_eq!(
        v["codex_accounts"],
        json!(["main", "max-1", "max-2", "max-3"])
    );
    let candidate = PathBuf::from(v["candidate_config"].as_str().unwrap());
    assert_eq!(candidate.parent(), sb.config_file().parent());
    assert_eq!(config_bytes(&sb), before, "the active config is untouched");
    let written = std::fs::read(&candidate).unwrap();
    let again = sb.run(&["codex", "config-candidate", "--json"]);
    again.ok();
    assert_eq!(again.json()["created"], false);
    assert_eq!(again.json()["reason"], "candidate_exists");
    assert_eq!(
        std::fs::read(&candidate).unwrap(),
        written,
        "never overwritten"
    );
    sb.program(kit::sandbox::BIN)
        .env("OMUX_CONFIG", &candidate)
        .args(["config", "validate"])
        .run()
        .ok();

    let merged = sb.run(&[
        "codex",
        "config-merge",
        "--candidate",
        candidate.to_str().unwrap(),
        "--json",
    ]);
    merged.ok();
    let m = merged.json();
    assert_eq!(m["merged"], true);
    assert_eq!(m["reason"], "merged_codex_max_candidate");
    assert_eq!(
        paths(&m["config_changes"]),
        [
            "providers.codex",
            "profiles.codex-max",
            "profiles.codex-mini"
        ]
    );
    assert_eq!(
        std::fs::read(m["backup_config"].as_str().unwrap()).unwrap(),
        before
    );
    let config: Value = serde_json::from_slice(&config_bytes(&sb)).unwrap();
    for keep in [
        "/providers/github",
        "/profiles/mine",
        "/profiles/gh",
        "/defaults",
    ] {
        assert_eq!(config.pointer(keep), original.pointer(keep), "{keep}");
    }
    assert_eq!(
        config["providers"]["codex"]["accounts"]["main"],
        original["providers"]["codex"]["accounts"]["main"]
    );
    assert_eq!(
        sb.run(&["doctor", "--json"]).json()["codex_max_configured"],
        true
    );
    assert_eq!(
        sb.run(&["discover", "--json"]).json()["codex_max_configured"],
        true
    );
    // Merging again changes nothing; a candidate for a Codex Max config is not written.
    let twice = sb.run(&[
        "codex",
        "config-merge",
        "--candidate",
        candidate.to_str().unwrap(),
        "--json",
    ]);
    twice.ok();
    assert_eq!(twice.json()["merged"], false);
    std::fs::remove_file(&candidate).unwrap();
    let none = sb.run(&["codex", "config-candidate", "--json"]);
    none.ok();
    assert_eq!(none.json()["reason"], "codex_max_configured");
    assert!(!candidate.exists());
}

#[test]
fn config_merge_refuses_an_invalid_candidate_and_changes_nothing() {
    let sb = Sandbox::new();
    single_codex_account(&sb);
    let before = config_bytes(&sb);
    let bad = sb.plant("work/bad.json", r#"{"version": 1, "providers": {"codex": {"kind": "codex", "accounts": {"x": {"secret": {"backend": "vault"}}}}}}"#);
    let out = sb.run(&[
        "codex",
        "config-merge",
        "--candidate",
        bad.to_str().unwrap(),
    ]);
    out.code(200);
    assert!(out.stderr.contains("secret.backend"), "{out}");
    let missing = sb.run(&[
        "codex",
        "config-merge",
        "--candidate",
        "/nonexistent/c.json",
    ]);
    missing.code(200);
    assert_eq!(config_bytes(&sb), before);
    assert_eq!(beside_config(&sb), Vec::<String>::new());
    let _ = Path::new("");
}
