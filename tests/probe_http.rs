//! `oauth-mux probe` over HTTP against loopback fake providers: recorded fixtures
//! for every built-in HTTP capability (and the test providers under
//! `tests/fixtures/probe/`) classify and record what they say; auth modes,
//! placeholders, network failures, the spend gate and redaction canaries.

mod kit;

use kit::fixture::{self, Fixture, Via};
use kit::{Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use serde_json::{Value, json};

fn fixtures_root() -> std::path::PathBuf {
    fixture::root()
}

/// A user definition copied from `def` (same name, so it stands in for the
/// built-in) with the fixture's capability pointed at the fake: HTTP probes get
/// the URL `{{FAKE_URL}}`, command probes a shell that replays the fixture.
/// Runtime requirements are dropped (the fake needs no local binaries).
fn faked_definition(def: &Value, fx: &Fixture) -> (Value, String) {
    let mut def = def.clone();
    def["runtime"] = json!({});
    let name = def["name"].as_str().unwrap().to_owned();
    let mut canonical = None;
    for cap in def["capabilities"].as_array_mut().unwrap() {
        let matches = cap["name"] == fx.capability.as_str()
            || cap["aliases"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == fx.capability.as_str()));
        if matches {
            canonical = Some(cap["name"].as_str().unwrap().to_owned());
            if cap["probe"]["transport"] == "command" {
                cap["probe"]["command"] = json!(["sh", "-c", fx.replay_script()]);
            } else {
                cap["probe"]["url"] = json!("{{FAKE_URL}}");
            }
        }
    }
    let canonical = canonical.unwrap_or_else(|| {
        panic!(
            "{name}: fixture capability {:?} is not defined",
            fx.capability
        )
    });
    (def, canonical)
}

/// Replay one fixture: serve it (or run it as a command), probe the route,
/// check the recorded health.
fn replay(def: &Value, fx: &Fixture) {
    let (def, capability) = faked_definition(def, fx);
    let provider = def["name"].as_str().unwrap().to_owned();
    let probe = def["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == capability.as_str())
        .unwrap()["probe"]
        .clone();
    let is_command = probe["transport"] == "command";
    let mut sb = Sandbox::new();
    let fake = FakeProvider::answering(fx.behaviour()).unwrap();
    sb.write_config(&json!({
        "version": 1,
        "provider_definitions": {provider.clone(): def},
        "providers": {provider.clone(): {"kind": provider, "accounts": {
            "acct": {"secret": {"backend": "env", "variable": "FIXTURE_TOKEN"}}
        }}}
    }));
    sb.set_env("FIXTURE_TOKEN", canary::token("acct"));
    sb.set_env("FAKE_URL", fake.url("/probe"));
    let out = sb.run(&[
        "probe",
        "--provider",
        &provider,
        "--account",
        "acct",
        "--capability",
        &capability,
        "--confirm-spend",
        "--json",
    ]);
    let v = out.json();
    let code = out.code;
    let ctx = format!("{}/{}: {out}", fx.provider, fx.case);
    assert_eq!(fake.total_calls(), u32::from(!is_command), "{ctx}");
    let route = &v["routes"][0];
    assert_eq!(route["probe_executed"], true, "{ctx}");
    let key = format!("{provider}:acct#{capability}");
    let health = sb.health();
    let recorded = health
        .get(&key)
        .unwrap_or_else(|| panic!("{ctx}: nothing recorded for {key}"));
    assert_eq!(recorded["last_class"], fx.expect.class.as_str(), "{ctx}");
    assert_eq!(recorded["last_status"], fx.status, "{ctx}");
    let source = if is_command {
        "command_probe"
    } else {
        "http_probe"
    };
    assert_eq!(recorded["source"], source, "{ctx}");
    // A stated reset or retry horizon is recorded; an unstated one stays unknown.
    let availability = &recorded["liveness"]["availability"];
    if let Some(resets) = fx.expect.resets_in_s {
        assert_eq!(
            availability["window_resets_at"].is_null(),
            resets.is_none(),
            "{ctx}: resets_in_s"
        );
    }
    if let Some(retry) = fx.expect.retry_after_s {
        assert_eq!(
            availability["retry_after_s"].is_null(),
            retry.is_none(),
            "{ctx}: retry_after_s"
        );
    }
    if let Some(decision) = &fx.expect.decision {
        assert_eq!(route["decision"], decision.as_str(), "{ctx}");
    }
    // Headers the provider requires of the probe request (API version, beta flags).
    if !fx.expect.request_headers.is_empty() {
        let seen = fake.requests();
        let sent = seen.first().unwrap_or_else(|| panic!("{ctx}: no request"));
        for (name, value) in &fx.expect.request_headers {
            assert_eq!(
                sent.header(name),
                Some(value.as_str()),
                "{ctx}: request header {name}"
            );
        }
    }
    let usable = fx.expect.class == "success";
    assert_eq!(code, if usable { 0 } else { 201 }, "{ctx}");
    // The output was checked for the token by the run itself.
    sb.assert_no_canary_on_disk();
}

/// Every probed capability of every built-in has fixtures, and each replays to
/// the recorded class through the real binary: HTTP probes against a loopback
/// fake, command probes through a shell that prints the recorded output and
/// exits as recorded. Fixtures live in `tests/fixtures/providers/<name>/` (the
/// shared recorded set) or `tests/fixtures/probe/<name>/`.
#[test]
fn builtin_capabilities_replay_their_fixtures() {
    let mut missing = Vec::new();
    let mut replayed = 0;
    for def in oauth_mux::config::builtin::all() {
        let probed: Vec<&str> = def
            .capabilities
            .iter()
            .filter(|c| c.probe.is_some())
            .map(|c| c.name.as_str())
            .collect();
        if probed.is_empty() {
            continue;
        }
        let mut fixtures = Fixture::load_dir(
            &def.name,
            &fixtures_root().join("providers").join(&def.name),
        );
        fixtures.extend(Fixture::load_dir(
            &def.name,
            &fixtures_root().join("probe").join(&def.name),
        ));
        fixtures.retain(|f| f.via == Via::Probe);
        let value = serde_json::to_value(def).unwrap();
        for cap in &probed {
            let for_cap: Vec<&Fixture> = fixtures
                .iter()
                .filter(|f| {
                    def.capability(&f.capability)
                        .is_some_and(|c| c.name == *cap)
                })
                .collect();
            if for_cap.is_empty() {
                missing.push(format!("{}#{cap}", def.name));
            }
            for fx in for_cap {
                replay(&value, fx);
                replayed += 1;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "built-in probed capabilities without recorded fixtures (add tests/fixtures/providers/<provider>/<case>.json): {missing:?}"
    );
    eprintln!("replayed {replayed} built-in fixtures");
}

/// The test providers under `tests/fixtures/probe/<name>/definition.json`.
#[test]
fn test_provider_fixtures_replay() {
    let root = fixtures_root().join("probe");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let def_path = dir.join("definition.json");
        if !def_path.exists() {
            continue;
        }
        let def: Value =
            serde_json::from_str(&std::fs::read_to_string(&def_path).unwrap()).unwrap();
        let name = def["name"].as_str().unwrap();
        let fixtures = Fixture::load_dir(name, &dir);
        assert!(
            !fixtures.is_empty(),
            "{} has a definition but no fixtures",
            dir.display()
        );
        for fx in &fixtures {
            replay(&def, fx);
            replayed += 1;
        }
    }
    assert!(
        replayed >= 9,
        "expected the acme and meta fixtures, replayed {replayed}"
    );
}

fn one_route_config(provider_def: Value, secret: Value, policy: Value) -> Value {
    let name = provider_def["name"].as_str().unwrap().to_owned();
    json!({
        "version": 1,
        "policy": policy,
        "provider_definitions": {name.clone(): provider_def},
        "providers": {name.clone(): {"kind": name, "accounts": {"acct": {"secret": secret}}}}
    })
}

fn spendy() -> Value {
    json!({
        "name": "spendy",
        "capabilities": [{"name": "turn", "probe": {"url": "{{FAKE_URL}}", "budget": "spend_provider"}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    })
}

#[test]
fn spend_probes_need_confirmation_or_policy() {
    let fake = FakeProvider::answering(Behaviour::json(200, "{}")).unwrap();
    let secret = json!({"backend": "env", "variable": "SPENDY_TOKEN"});
    let spendy_sandbox = |policy: Value| {
        let mut sb = Sandbox::new();
        sb.write_config(&one_route_config(spendy(), secret.clone(), policy));
        sb.set_env("SPENDY_TOKEN", canary::token("spendy"));
        sb.set_env("FAKE_URL", fake.url("/v1/turn"));
        sb
    };
    let sb = spendy_sandbox(json!({}));

    let out = sb.run(&["probe", "--provider", "spendy", "--json"]);
    assert_ne!(out.code, 0, "{out}");
    let v = out.json();
    assert_eq!(
        fake.total_calls(),
        0,
        "a spend probe ran without confirmation"
    );
    assert_eq!(v["confirmation_required"], true);
    assert_eq!(v["requires"], "--confirm-spend");
    assert_eq!(v["spends_provider_calls"], true);
    let r = &v["routes"][0];
    assert_eq!(r["confirmation_required"], true);
    assert_eq!(r["probe_executed"], false);
    assert_eq!(r["budget"], "spend_provider");
    assert!(
        v["next_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("--confirm-spend"))
    );
    assert!(sb.health().is_empty());

    let v = sb
        .run(&["probe", "--provider", "spendy", "--confirm-spend", "--json"])
        .ok()
        .json();
    assert_eq!(fake.total_calls(), 1);
    assert_eq!(v["confirmation_required"], false);

    let sb = spendy_sandbox(
        json!({"providers": {"spendy": {"allowed_budgets": ["free_local", "free_command", "spend_provider"]}}}),
    );
    sb.run(&["probe", "--provider", "spendy", "--json"]).ok();
    assert_eq!(fake.total_calls(), 2, "policy admits spend_provider");
}

#[test]
fn auth_modes_headers_and_body() {
    let fake = FakeProvider::answering(Behaviour::json(200, "{\"ok\":true}")).unwrap();
    let token = canary::token("modes");
    let def = json!({
        "name": "modes",
        "capabilities": [
            {"name": "bearer", "probe": {"url": "{{FAKE_URL}}"}},
            {"name": "raw", "probe": {"url": "{{FAKE_URL}}", "auth": "authorization_header"}},
            {"name": "header", "probe": {"url": "{{FAKE_URL}}", "auth": "token_header", "auth_header": "X-Acme-Token"}},
            {"name": "none", "probe": {"url": "{{FAKE_URL}}", "auth": "none"}},
            {"name": "post", "probe": {"method": "POST", "url": "{{FAKE_URL}}", "body": "q={{OMUX_TEST_Q}}", "content_type": "application/x-www-form-urlencoded"}}
        ],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let mut sb = Sandbox::new();
    let mut config = one_route_config(
        def,
        json!({"backend": "env", "variable": "MODES_TOKEN"}),
        json!({}),
    );
    config["profiles"] = json!({"all": {"providers": [
        "modes:acct#bearer", "modes:acct#raw", "modes:acct#header", "modes:acct#none", "modes:acct#post"
    ]}});
    sb.write_config(&config);
    sb.set_env("MODES_TOKEN", &token);
    sb.set_env("FAKE_URL", fake.url("/x"));
    sb.set_env("OMUX_TEST_Q", "viewer");
    let v = sb
        .run(&["probe", "--profile", "all", "--all", "--json"])
        .ok()
        .json();
    let seen = fake.requests();
    assert_eq!(seen.len(), 5);
    for r in &seen {
        assert_eq!(r.header("accept"), Some("application/json"));
    }
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(seen[1].header("authorization"), Some(token.as_str()));
    assert_eq!(seen[2].header("x-acme-token"), Some(token.as_str()));
    assert_eq!(seen[2].header("authorization"), None);
    assert_eq!(seen[3].header("authorization"), None);
    assert_eq!(seen[4].method, "POST");
    assert_eq!(seen[4].body_text(), "q=viewer");
    assert_eq!(
        seen[4].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(v["routes"].as_array().unwrap().len(), 5);
}

#[test]
fn missing_placeholder_sends_nothing_and_names_the_variable() {
    let fake = FakeProvider::answering(Behaviour::json(200, "{}")).unwrap();
    let def = json!({
        "name": "ph",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}"}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let mut sb = Sandbox::new();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "env", "variable": "PH_TOKEN"}),
        json!({}),
    ));
    sb.set_env("PH_TOKEN", canary::token("ph"));
    let out = sb.run(&["probe", "--provider", "ph", "--json"]);
    out.code(200);
    let v = out.json();
    assert_eq!(fake.total_calls(), 0);
    let r = &v["routes"][0];
    assert_eq!(r["outcome"], "request_invalid");
    assert!(r["message"].as_str().unwrap().contains("FAKE_URL"), "{r}");
    assert!(sb.health().is_empty());
}

#[test]
fn network_failure_exits_204_and_records_nothing() {
    // A port that was free a moment ago: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let def = json!({
        "name": "netfail",
        "display_name": "Netfail API",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}", "timeout_ms": 2000}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let mut sb = Sandbox::new();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "env", "variable": "NF_TOKEN"}),
        json!({}),
    ));
    sb.set_env("NF_TOKEN", canary::token("netfail"));
    sb.set_env("FAKE_URL", format!("http://127.0.0.1:{port}/down"));
    // The run's output is checked for the token.
    let out = sb.run(&["probe", "--provider", "netfail", "--json"]);
    out.code(204);
    let v = out.json();
    let r = &v["routes"][0];
    assert_eq!(r["outcome"], "network_error");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("Netfail API") && msg.contains("identity"),
        "{msg}"
    );
    assert!(sb.health().is_empty());
}

/// Canary tokens from the env, file and command backends, echoed back by a provider into
/// its response body, appear in no output, event or health file.
#[test]
fn canaries_never_leave_the_process() {
    let (env_token, file_token, cmd_token) = (
        canary::token("env"),
        canary::token("file"),
        canary::token("cmd"),
    );
    // A provider that echoes the credential it was sent: each account's answer carries its
    // own token. (Scripted per credential, so the probe uses a model path.)
    let echo = |token: &str| Behaviour::Raw {
        status: 403,
        headers: vec![],
        body: format!("forbidden for token Bearer {token}").into_bytes(),
    };
    let fake = FakeProvider::builder()
        .account(&env_token, echo(&env_token))
        .account(&file_token, echo(&file_token))
        .account(&cmd_token, echo(&cmd_token))
        .start()
        .unwrap();
    let mut sb = Sandbox::new();
    let file = sb.plant_secret(
        "home/token.json",
        format!(
            r#"{{"access_token":"{file_token}","refresh_token":"{}"}}"#,
            canary::refresh_token("file")
        ),
    );
    let def = json!({
        "name": "echo",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}", "hint_body": true}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    sb.write_config(&json!({
        "version": 1,
        "provider_definitions": {"echo": def},
        "providers": {"echo": {"kind": "echo", "accounts": {
            "env": {"secret": {"backend": "env", "variable": "ECHO_TOKEN"}},
            "file": {"secret": {"backend": "file", "path": file}},
            "cmd": {"secret": {"backend": "command", "command": ["sh", "-c", format!("echo {cmd_token}")]}}
        }}},
        "profiles": {"echo": {"providers": ["echo:env#identity", "echo:file#identity", "echo:cmd#identity"]}}
    }));
    // The user's config holds the command that prints the token.
    sb.mark_secret(&sb.config_file());
    sb.set_env("ECHO_TOKEN", &env_token);
    sb.set_env("FAKE_URL", fake.url("/v1/responses"));
    let mut outputs = String::new();
    for args in [
        vec!["probe", "--profile", "echo", "--all", "--json"],
        vec!["probe", "--profile", "echo", "--all"],
        vec!["health", "--json"],
    ] {
        // Each run fails on a canary in its output.
        outputs.push_str(&sb.run(&args).all());
    }
    // The fake really saw and echoed every token, so the search means something.
    for token in [&env_token, &file_token, &cmd_token] {
        assert_eq!(fake.calls(token), 2, "the fake never saw {token}");
    }
    assert!(
        outputs.contains("scope_insufficient") || outputs.contains("tier_insufficient"),
        "{outputs}"
    );
    sb.assert_no_canary_on_disk();
}

/// An expired token without an admitted refresh fails closed: no request, a
/// `token_refresh` event for the account with `outcome: not_admitted` and the reason, exit
/// 203, nothing recorded.
#[test]
fn expired_token_fails_closed_without_a_request() {
    let fake = FakeProvider::answering(Behaviour::json(200, "{}")).unwrap();
    let def = json!({
        "name": "exp",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}"}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}],
        "credential": {"expires_at_path": "expires_at"}
    });
    let mut sb = Sandbox::new();
    let file = sb.plant_secret(
        "home/exp.json",
        format!(
            r#"{{"access_token":"{}","refresh_token":"{}","expires_at":1700000000}}"#,
            canary::token("exp"),
            canary::refresh_token("exp")
        ),
    );
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "file", "path": file}),
        json!({}),
    ));
    sb.set_env("FAKE_URL", fake.url("/me"));
    let out = sb.run(&["probe", "--provider", "exp", "--json"]);
    out.code(203);
    let v = out.json();
    assert_eq!(fake.total_calls(), 0);
    assert_eq!(v["routes"][0]["outcome"], "token_expired");
    assert!(sb.health().is_empty());
    let events = sb.events();
    assert!(
        events.iter().any(|e| e["kind"] == "token_refresh"
            && e["outcome"] == "not_admitted"
            && e["route"] == "exp:acct"
            && e["reason"] == "provider_repair_is_manual_only"),
        "{events:?}"
    );
    sb.assert_no_canary_on_disk();
}

/// HTTP probes go through the proxy named by the environment, and `NO_PROXY`
/// exempts hosts from it.
#[test]
fn proxy_from_the_environment_is_honoured() {
    let proxy = FakeProvider::answering(Behaviour::json(200, "{\"via\":\"proxy\"}")).unwrap();
    // Nothing listens here; only the proxy can answer.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let def = json!({
        "name": "px",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}", "timeout_ms": 3000}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let mut sb = Sandbox::new();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "env", "variable": "PX_TOKEN"}),
        json!({}),
    ));
    sb.set_env("PX_TOKEN", canary::token("px"));
    sb.set_env("FAKE_URL", format!("http://127.0.0.1:{port}/me"));
    sb.set_env("HTTP_PROXY", proxy.origin());
    sb.run(&["probe", "--provider", "px", "--json"]).ok();
    assert_eq!(proxy.total_calls(), 1);
    let first = &proxy.requests()[0];
    assert!(
        first.target.contains(&format!("127.0.0.1:{port}")),
        "the request for the target went to the proxy: {first:?}"
    );

    sb.set_env("NO_PROXY", "127.0.0.1");
    sb.run(&["probe", "--provider", "px", "--json"]).code(204);
    assert_eq!(proxy.total_calls(), 1, "NO_PROXY host bypasses the proxy");
}

/// A provider-wide failure (5xx) sends the walk to the next provider instead of
/// the same provider's next account.
#[test]
fn provider_degraded_moves_the_walk_to_the_next_provider() {
    let down = FakeProvider::answering(Behaviour::json(503, "{\"error\":\"overloaded\"}")).unwrap();
    let up = FakeProvider::answering(Behaviour::json(200, "{}")).unwrap();
    let def = |name: &str, var: &str| {
        json!({
            "name": name,
            "capabilities": [{"name": "identity", "probe": {"url": format!("{{{{{var}}}}}")}}],
            "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
        })
    };
    let secret = json!({"backend": "env", "variable": "WALK_TOKEN"});
    let mut sb = Sandbox::new();
    sb.write_config(&json!({
        "version": 1,
        "provider_definitions": {"down": def("down", "DOWN_URL"), "up": def("up", "UP_URL")},
        "providers": {
            "down": {"kind": "down", "accounts": {"d1": {"secret": secret}, "d2": {"secret": secret}}},
            "up": {"kind": "up", "accounts": {"u1": {"secret": secret}}}
        },
        "profiles": {"walk": {"providers": ["down:d1#identity", "down:d2#identity", "up:u1#identity"]}}
    }));
    sb.set_env("WALK_TOKEN", canary::token("walk"));
    sb.set_env("DOWN_URL", down.url("/"));
    sb.set_env("UP_URL", up.url("/"));
    let v = sb
        .run(&["probe", "--profile", "walk", "--json"])
        .ok()
        .json();
    assert_eq!(
        down.total_calls(),
        1,
        "the degraded provider's second account is not probed: {v}"
    );
    assert_eq!(up.total_calls(), 1);
    assert_eq!(
        v["routes"][0]["classification"]["class"],
        "provider_degraded"
    );
    assert_eq!(v["routes"][1]["outcome"], "skipped");
    assert_eq!(v["usable_route"], "up:u1#identity");
}
