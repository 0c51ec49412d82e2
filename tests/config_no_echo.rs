//! Config errors never echo a config value (issue 17, finding 8): a token typed into the
//! wrong field must not come back in `config validate`, `route explain` or `doctor`. The
//! canary has no known token shape, so output redaction cannot hide an echo.

mod kit;

use kit::{Sandbox, canary};
use serde_json::{Value, json};

/// A credential-like value no token-shape rule recognizes (it carries the canary marker,
/// so the kit's check of every `oauth-mux` output finds it too).
fn misplaced() -> String {
    canary::secret("misplaced-token")
}

/// A config that exercises every part of the schema.
fn base_config() -> Value {
    json!({
        "version": 1,
        "defaults": {"provider": "codex", "profile": "codex-max", "strategy": "health-weighted",
                     "capability": "codex-max", "shell": "fish", "daemon": false},
        "policy": {"daemon": {"allowed_budgets": ["free_local"], "allow_interactive": false,
                              "allow_mutating": false},
                   "providers": {"codex": {"allowed_budgets": ["free_command"]}},
                   "usage_switch_threshold_pct": 90},
        "provider_definitions": {"toy": {
            "credential": {"access_token_path": "token", "expires_at_path": "expires_at"},
            "injection": {"config_dir_env": "TOY_HOME", "credential_filename": "toy.json",
                          "direct_env": [["TOY_TOKEN", "access_token"]]},
            "capabilities": [{"name": "me", "aliases": ["self"], "probe": {
                "url": "https://api.example.com/me", "method": "GET", "timeout_ms": 5000,
                "headers": {"X-Api-Version": "1"}, "auth": "authorization_header"}}],
            "failure_rules": [{"status": 403, "hint_contains": "scope",
                               "class": {"degraded": "scope_insufficient"}}],
            "upstream": {"harness": "claude", "base_url": "https://toy.example.com",
                         "requests": {"methods": ["POST"], "path_prefixes": ["/v1/"]}}
        }},
        "providers": {
            "codex": {"kind": "codex", "upstream": "https://chatgpt.com", "accounts": {
                "max-1": {"priority": 30, "tags": ["subscription"],
                          "secret": {"backend": "env", "variable": "CODEX_MAX_1"}},
                "max-2": {"priority": 20, "secret": {"backend": "command",
                                                     "command": ["pass", "show", "codex/max-2"]}}
            }},
            "toy": {"kind": "toy", "accounts": {
                "a": {"secret": {"backend": "sops", "path": "~/secrets/toy.json", "key_path": "token"}}
            }}
        },
        "profiles": {"codex-max": {"providers": ["codex:max-1#codex-max", "codex:max-2#codex-max"],
                                   "capability_degradation_chain": ["codex-max"],
                                   "strategy": "health-weighted"}},
        "strategies": {"health-weighted": {"kind": "health-weighted", "rate_limit_penalty": -10}}
    })
}

/// Every path to a value inside `v` (objects by key, arrays by index), the root excluded.
fn paths(v: &Value, prefix: &mut Vec<PathPart>, out: &mut Vec<Vec<PathPart>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(PathPart::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(PathPart::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathPart {
    Key(String),
    Index(usize),
}

fn at<'v>(root: &'v mut Value, path: &[PathPart]) -> &'v mut Value {
    path.iter().fold(root, |cursor, part| match part {
        PathPart::Key(k) => &mut cursor[k.as_str()],
        PathPart::Index(i) => &mut cursor[*i],
    })
}

#[test]
fn no_config_problem_quotes_a_value_typed_into_any_field() {
    let canary = misplaced();
    let base = base_config();
    let (_, problems) = oauth_mux::config::check_text(&base.to_string());
    assert!(
        problems.iter().all(|p| !p.is_error()),
        "the base config must be valid: {problems:#?}"
    );
    let mut all = Vec::new();
    paths(&base, &mut Vec::new(), &mut all);
    let plantings = [
        json!(canary),
        json!(format!("{canary}-x.y")),
        json!(format!("a, expected i32 {canary}")),
        json!([canary]),
        json!({"degraded": canary}),
        json!({canary.clone(): 1}),
    ];
    let mut cases = 0;
    let mut with_problems = 0;
    for path in &all {
        for planted in &plantings {
            let mut config = base.clone();
            *at(&mut config, path) = planted.clone();
            let (_, problems) = oauth_mux::config::check_text(&config.to_string());
            cases += 1;
            if problems.iter().any(|p| p.is_error()) {
                with_problems += 1;
            }
            for p in &problems {
                // Keys show in paths; only a value planted as a key may appear there.
                let in_path = canary::found_in(&p.path) && planted.is_object();
                assert!(
                    !canary::found_in(&p.message)
                        && !canary::found_in(&p.hint)
                        && (in_path || !canary::found_in(&p.path)),
                    "{path:?} = {planted}: the problem quotes the value: {p}"
                );
            }
        }
    }
    eprintln!("{cases} plantings checked, {with_problems} of them config errors");
    // The walk reached the schema: most plantings are errors, and every one was checked.
    assert!(cases > 400, "{cases} cases");
    assert!(
        with_problems * 2 > cases,
        "{with_problems} of {cases} gave errors"
    );
}

#[test]
fn config_validate_route_explain_and_doctor_never_print_a_misplaced_token() {
    let canary = misplaced();
    let sb = Sandbox::new();
    let mut config = base_config();
    config["providers"]["codex"]["accounts"]["max-1"]["priority"] = json!(canary);
    config["providers"]["codex"]["accounts"]["max-2"]["secret"]["backend"] = json!(canary);
    config["providers"]["toy"]["accounts"]["a"]["secret"] =
        json!({"backend": "env", "variable": format!("{canary}.sig")});
    config["defaults"]["shell"] = json!(canary);
    config["providers"]["codex"]["upstream"] = json!(canary);
    config["profiles"]["codex-max"]["providers"][1] = json!(canary);
    sb.write_config(&config);
    // The config holds the misplaced token by the user's mistake; no other file may.
    sb.mark_secret(&sb.config_file());
    for args in [
        vec!["config", "validate", "--json"],
        vec!["config", "validate"],
        vec!["route", "explain", "--json"],
        vec!["route", "explain"],
        vec!["doctor", "--json"],
        vec!["doctor"],
    ] {
        // The kit fails any `oauth-mux` run whose output holds a canary; the check is
        // spelled out here too, as it is this test's point.
        let run = sb.run(&args);
        assert!(
            !canary::found_in(&run.all()),
            "`oauth-mux {}` printed the misplaced token:\n{}",
            args.join(" "),
            run.all()
        );
        assert!(
            !run.all().trim().is_empty(),
            "`{}` said nothing",
            args.join(" ")
        );
    }
    sb.assert_no_canary_on_disk();
    let validate = sb.run(&["config", "validate", "--json"]);
    let text = validate.all();
    for must in [
        "providers.codex.accounts.max-1.priority",
        "found a string",
        "providers.codex.accounts.max-2.secret.backend",
        "providers.toy.accounts.a.secret.variable",
        "defaults.shell",
        "providers.codex.upstream",
        "profiles.codex-max.providers[1]",
    ] {
        assert!(
            text.contains(must),
            "config validate does not name {must}:\n{text}"
        );
    }
}
