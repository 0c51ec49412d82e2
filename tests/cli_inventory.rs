//! End-to-end: the no-spend inventory commands on an empty machine, on a config,
//! and on bad input — through the real binary in a scratch HOME.

mod kit;

use kit::{Sandbox, canary};

/// Every inventory command, human and JSON.
const COMMANDS: &[&[&str]] = &[
    &["version"],
    &["doctor"],
    &["discover"],
    &["report", "--redacted"],
    &["report", "--redacted", "--include-paths"],
    &["providers", "list"],
    &["accounts", "list"],
    &["health"],
    &["config", "path"],
    &["config", "validate"],
];

fn with_json(args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.push("--json".into());
    v
}

#[test]
fn empty_machine_every_command_answers_and_points_to_next_steps() {
    let env = Sandbox::new();
    env.run(&["version"]).ok();
    assert!(env.run(&["version"]).stdout.starts_with("oauth-mux "));
    let v = env.run(&["version", "--json"]).json();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));

    // Nothing configured is a problem: doctor says so, names the fix, and exits 1.
    let d = env.run(&["doctor", "--json"]);
    d.code(1);
    let d = d.json();
    assert_eq!(d["configured"], false);
    assert_eq!(d["problems"][0]["code"], "no_config");
    assert!(
        d["next_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "oauth-mux init --codex-max")
    );

    let disc = env.run(&["discover", "--json"]).json();
    assert_eq!(disc["configured"], false);
    assert!(!disc["agent_safe_commands"].as_array().unwrap().is_empty());

    let rep = env.run(&["report", "--redacted", "--json"]).json();
    assert_eq!(rep["redacted"], true);
    assert_eq!(rep["config"]["configured"], false);

    let prov = env.run(&["providers", "list", "--json"]).json();
    let names: Vec<&str> = prov["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for builtin in oauth_mux::config::builtin::NAMES {
        assert!(names.contains(builtin), "{builtin} missing from {names:?}");
    }

    let acc = env.run(&["accounts", "list", "--json"]).json();
    assert_eq!(acc["configured"], false);
    assert_eq!(acc["accounts"].as_array().unwrap().len(), 0);

    env.run(&["health", "--json"]).ok();
    // Commands that need a config say how to make one, with exit 200.
    for args in [
        &["doctor", "runtime"][..],
        &["route", "explain"],
        &["repair-plan"],
    ] {
        let r = env.run(args);
        r.code(200);
        assert!(r.stderr.contains("oauth-mux init"), "{}", r.stderr);
    }
    let r = env.run(&["config", "validate", "--json"]);
    r.code(200);
    assert_eq!(r.json()["configured"], false);
    // Nothing was written on an empty machine by inspection.
    assert!(!env.config_file().exists());
}

#[test]
fn init_writes_once_and_never_overwrites() {
    let env = Sandbox::new();
    let r = env.run(&["init", "--codex-max", "--json"]);
    r.ok();
    assert_eq!(r.json()["created"], true);
    let before = std::fs::read(env.config_file()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.config_file())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let r = env.run(&["init", "--json"]);
    r.code(1);
    assert_eq!(r.json()["created"], false);
    assert_eq!(
        std::fs::read(env.config_file()).unwrap(),
        before,
        "init must not overwrite"
    );
    env.run(&["config", "validate"]).ok();
    // The starter creates the account stores it names; none is logged in yet.
    let rt = env.run(&["doctor", "runtime", "--json"]).json();
    assert_eq!(rt["accounts"], 3);
    assert!(env.root().join("data/oauth-mux/codex/max-1").is_dir());
    let acc = env.run(&["accounts", "list", "--json"]).json();
    assert_eq!(acc["accounts"].as_array().unwrap().len(), 3);
    let explain = env.run(&["route", "explain", "--json"]);
    explain.code(201);
    let routes = explain.json()["routes"].as_array().unwrap().clone();
    assert!(!routes.is_empty());
    assert!(routes.iter().all(|r| r["selectable"] == false));
}

#[test]
fn config_locations_follow_the_env_precedence() {
    let env = Sandbox::new();
    let p = env.run(&["config", "path"]).stdout;
    assert!(p.trim().ends_with("config/oauth-mux/config.json"), "{p}");
    let custom = env.root().join("custom-dir");
    let v = env
        .oauth_mux()
        .args(["config", "path", "--json"])
        .env("OMUX_CONFIG_DIR", &custom)
        .run()
        .json();
    assert_eq!(
        v["config_path"],
        custom.join("config.json").display().to_string()
    );
    assert_eq!(v["source"], "OMUX_CONFIG_DIR");
    let file = env.root().join("exact.json");
    let v = env
        .oauth_mux()
        .args(["config", "path", "--json"])
        .env("OMUX_CONFIG", &file)
        .env("OMUX_CONFIG_DIR", &custom)
        .run()
        .json();
    assert_eq!(v["config_path"], file.display().to_string());
}

#[test]
fn malformed_json_names_line_and_column_and_exits_200() {
    let env = Sandbox::new();
    let text = "{\n  \"version\": 1,\n  \"providers\": {,}\n}";
    env.write_config_text(text);
    let r = env.run(&["config", "validate"]);
    r.code(200);
    assert!(r.stdout.contains("line 3, column"), "{}", r.stdout);
    for args in [
        &["doctor", "runtime"][..],
        &["accounts", "list"],
        &["route", "explain"],
    ] {
        let r = env.run(args);
        r.code(200);
        assert!(r.stderr.contains("line 3"), "{}", r.stderr);
    }
    // doctor reports it without failing.
    let d = env.run(&["doctor", "--json"]).json();
    assert_eq!(d["config_valid"], false);
    assert_eq!(
        std::fs::read_to_string(env.config_file()).unwrap(),
        text,
        "a bad config is never rewritten"
    );
}

#[test]
fn bad_input_every_problem_with_path_and_hint() {
    let env = Sandbox::new();
    env.write_config_text(
        r#"{"version": 1,
          "provider_definitions": {"toy": {"capabilities": [{"name": "me", "probe": {"url": "https://api.example.com/me?access_token=x"}}]}},
          "providers": {"codex": {"kind": "codex", "accounts": {
              "a": {"priority": "high", "secret": {"backend": "vault"}},
              "b": {"secret": {"backend": "file"}}}}},
          "profiles": {"p": {"providers": ["codex:a#codex-max", "codex-b"]}}}"#,
    );
    let r = env.run(&["config", "validate", "--json"]);
    r.code(200);
    let v = r.json();
    let errors = v["errors"].as_array().unwrap();
    let paths: Vec<&str> = errors.iter().map(|e| e["path"].as_str().unwrap()).collect();
    for want in [
        "providers.codex.accounts.a.priority",
        "providers.codex.accounts.a.secret.backend",
        "providers.codex.accounts.b.secret.path",
        "profiles.p.providers[1]",
        "provider_definitions.toy.capabilities[0].probe.url",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:?}");
    }
    assert!(
        errors
            .iter()
            .all(|e| !e["hint"].as_str().unwrap().is_empty())
    );
    // Human form lists them too.
    let human = env.run(&["config", "validate"]);
    human.code(200);
    assert!(human.stdout.contains("hint:"));
}

#[test]
fn unknown_keys_warn_but_validate() {
    let env = Sandbox::new();
    env.write_config_text(r#"{"version": 1, "defautls": {}, "providers": {}}"#);
    let r = env.run(&["config", "validate", "--json"]);
    r.ok();
    let v = r.json();
    assert_eq!(v["warnings"][0]["path"], "defautls");
}

#[test]
fn garbage_health_store_is_reported_and_never_rewritten() {
    let env = Sandbox::new();
    env.run(&["init", "--codex-max"]).ok();
    let store = env.state_dir().join("health.json");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, b"{ this is not json").unwrap();
    for args in [
        &["health"][..],
        &["route", "explain"],
        &["accounts", "list"],
        &["health", "--reset", "codex:max-1"],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(r.stderr.contains("health.json"), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("oauth-mux health --reset all"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(std::fs::read(&store).unwrap(), b"{ this is not json");
    }
    let d = env.run(&["doctor", "--json"]);
    d.code(1);
    assert_eq!(d.json()["health_store_readable"], false);
    assert!(
        d.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "health_store_unreadable")
    );
    // `--reset all` moves it aside (nothing is deleted) and starts fresh.
    let r = env.run(&["health", "--reset", "all", "--json"]);
    r.ok();
    let aside = r.json()["moved_aside"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read(&aside).unwrap(), b"{ this is not json");
    env.run(&["health"]).ok();
}

#[test]
fn health_reset_rejects_bad_keys_with_usage_exit() {
    let env = Sandbox::new();
    env.run(&["init"]).ok();
    let r = env.run(&["health", "--reset", "not-a-key"]);
    r.code(2);
    assert!(
        r.stderr.contains("expected provider:account"),
        "{}",
        r.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    let env = Sandbox::new();
    env.run(&["no-such-command"]).code(2);
    env.run(&["doctor", "--bogus"]).code(2);
    let h = env.run(&["route", "explain", "--help"]);
    h.ok();
    assert!(h.stdout.contains("Examples:"));
    let top = env.run(&["--help"]);
    assert!(top.stdout.contains("Exit codes"));
    let man = env.run(&["man"]);
    man.ok();
    assert!(man.stdout.contains(".TH"));
    env.run(&["completions", "bash"]).ok();
}

/// An inline age identity in the config itself (no canary marker: searched for by itself).
const AGE_IDENTITY: &str =
    "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";

/// A config with a secret in every backend that can run here, each holding a canary, plus
/// an inline age identity: no command prints any of them (every run checks its output)
/// and no file but the user's own config and secret file holds one.
#[test]
fn canaries_never_reach_any_output_or_state_file() {
    let mut env = Sandbox::new();
    env.set_env("OMUX_CANARY_TOKEN", canary::secret("env"));
    let secret_file = env.plant_secret(
        "secret.json",
        format!("{{\"access_token\":\"{}\"}}", canary::secret("file")),
    );
    env.write_config_text(&format!(
        r#"{{"version": 1,
          "providers": {{"claude": {{"kind": "claude", "accounts": {{
              "env": {{"secret": {{"backend": "env", "variable": "OMUX_CANARY_TOKEN"}}}},
              "file": {{"secret": {{"backend": "file", "path": "{}"}}}},
              "cmd": {{"secret": {{"backend": "command", "command": ["printf", "{}"]}}}},
              "stdin": {{"secret": {{"backend": "stdin"}}}},
              "age": {{"secret": {{"backend": "age", "path": "/nonexistent.age", "identity": "{AGE_IDENTITY}"}}}}
          }}}}}},
          "profiles": {{"claude": {{"providers": ["claude:env#auth-status", "claude:file#auth-status", "claude:cmd#auth-status", "claude:stdin", "claude:age"]}}}}}}"#,
        secret_file.display(),
        canary::secret("cmd"),
    ));
    // The user's own config holds the command's secret and the identity by their choice.
    env.mark_secret(&env.config_file());
    env.run(&["config", "validate"]).ok();
    let mut commands: Vec<Vec<String>> = COMMANDS
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    commands.extend(COMMANDS.iter().map(|c| with_json(c)));
    for extra in [
        vec!["doctor", "runtime"],
        vec!["route", "explain"],
        vec!["repair-plan"],
        vec!["route", "select"],
    ] {
        commands.push(extra.iter().map(|s| s.to_string()).collect());
        commands.push(with_json(&extra));
    }
    for args in &commands {
        let out = env
            .oauth_mux()
            .args(args)
            .run()
            .assert_no_canaries()
            .clone();
        assert!(!out.all().contains(AGE_IDENTITY), "identity leaked:\n{out}");
    }
    env.assert_no_canary_on_disk();
    for (path, text) in env.files_as_text() {
        if path != env.config_file() {
            assert!(
                !text.contains(AGE_IDENTITY),
                "identity leaked into {}",
                path.display()
            );
        }
    }
}

/// Every command's `--help` shows examples.
#[test]
fn every_command_help_has_examples() {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() || (!cmd.is_subcommand_required_set() && !path.is_empty()) {
            out.push(path.clone());
        }
        for s in subs {
            let mut p = path.clone();
            p.push(s.get_name().to_owned());
            walk(s, p, out);
        }
    }
    let mut leaves = Vec::new();
    walk(&oauth_mux::cli::command(), Vec::new(), &mut leaves);
    let env = Sandbox::new();
    for path in leaves.into_iter().filter(|p| !p.is_empty()) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let r = env.run(&args);
        r.ok();
        assert!(
            r.stdout.contains("Examples:"),
            "`oauth-mux {}` has no examples in --help",
            path.join(" ")
        );
    }
}
