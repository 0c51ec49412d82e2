//! `oauth-mux probe` over HTTP against loopback fake providers: recorded fixtures
//! for every built-in HTTP capability (and the test providers under
//! `tests/fixtures/probe/`) classify and record what they say; auth modes,
//! placeholders, network failures, the spend gate and redaction canaries.

mod support_fake_provider;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support_fake_provider::{CannedResponse, FakeProvider, Fixture, Sandbox};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
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
    let sb = Sandbox::new();
    let fake = FakeProvider::serve(fx.response());
    let token = "fixture-canary-token-7d3f9e21";
    sb.write_config(&json!({
        "version": 1,
        "provider_definitions": {provider.clone(): def},
        "providers": {provider.clone(): {"kind": provider, "accounts": {
            "acct": {"secret": {"backend": "env", "variable": "FIXTURE_TOKEN"}}
        }}}
    }));
    let url = fake.url("/probe");
    let (code, v, out) = sb.run_json(
        &[
            "probe",
            "--provider",
            &provider,
            "--account",
            "acct",
            "--capability",
            &capability,
            "--confirm-spend",
            "--json",
        ],
        &[("FIXTURE_TOKEN", token), ("FAKE_URL", &url)],
    );
    let ctx = format!(
        "{}/{}: exit {code}, stdout {v}, stderr {}",
        fx.provider,
        fx.case,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.calls(), usize::from(!is_command), "{ctx}");
    let route = &v["routes"][0];
    assert_eq!(route["probe_executed"], true, "{ctx}");
    let key = format!("{provider}:acct#{capability}");
    let health = sb.health();
    let recorded = health
        .get(&key)
        .unwrap_or_else(|| panic!("{ctx}: nothing recorded for {key}"));
    assert_eq!(recorded["last_class"], fx.expect["class"], "{ctx}");
    assert_eq!(recorded["last_status"], fx.status, "{ctx}");
    let source = if is_command {
        "command_probe"
    } else {
        "http_probe"
    };
    assert_eq!(recorded["source"], source, "{ctx}");
    // A stated reset or retry horizon is recorded; an unstated one stays unknown.
    let availability = &recorded["liveness"]["availability"];
    if let Some(resets) = fx.expect.get("resets_in_s") {
        assert_eq!(
            availability["window_resets_at"].is_null(),
            resets.is_null(),
            "{ctx}: resets_in_s"
        );
    }
    if let Some(retry) = fx.expect.get("retry_after_s") {
        assert_eq!(
            availability["retry_after_s"].is_null(),
            retry.is_null(),
            "{ctx}: retry_after_s"
        );
    }
    if let Some(decision) = fx.expect.get("decision") {
        assert_eq!(&route["decision"], decision, "{ctx}");
    }
    // Headers the provider requires of the probe request (API version, beta flags).
    if let Some(wanted) = fx.expect.get("request_headers").and_then(Value::as_object) {
        let seen = fake.requests();
        let sent = &seen
            .first()
            .unwrap_or_else(|| panic!("{ctx}: no request"))
            .headers;
        for (name, value) in wanted {
            assert_eq!(
                sent.get(&name.to_ascii_lowercase()).map(String::as_str),
                value.as_str(),
                "{ctx}: request header {name}"
            );
        }
    }
    let usable = fx.expect["class"] == "success";
    assert_eq!(code, if usable { 0 } else { 201 }, "{ctx}");
    let all = format!(
        "{v}{}{}",
        String::from_utf8_lossy(&out.stderr),
        sb.state_text()
    );
    assert!(!all.contains(token), "{ctx}: token leaked");
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
        fixtures.retain(|f| f.via == "probe");
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
    let fake = FakeProvider::serve(CannedResponse::json(200, "{}"));
    let url = fake.url("/v1/turn");
    let env: &[(&str, &str)] = &[
        ("SPENDY_TOKEN", "spendy-canary-1c2d3e4f"),
        ("FAKE_URL", &url),
    ];
    let secret = json!({"backend": "env", "variable": "SPENDY_TOKEN"});
    let sb = Sandbox::new();
    sb.write_config(&one_route_config(spendy(), secret.clone(), json!({})));

    let (code, v, _) = sb.run_json(&["probe", "--provider", "spendy", "--json"], env);
    assert_ne!(code, 0);
    assert_eq!(fake.calls(), 0, "a spend probe ran without confirmation");
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

    let (code, v, _) = sb.run_json(
        &["probe", "--provider", "spendy", "--confirm-spend", "--json"],
        env,
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(fake.calls(), 1);
    assert_eq!(v["confirmation_required"], false);

    let sb = Sandbox::new();
    sb.write_config(&one_route_config(
        spendy(),
        secret,
        json!({"providers": {"spendy": {"allowed_budgets": ["free_local", "free_command", "spend_provider"]}}}),
    ));
    let (code, v, _) = sb.run_json(&["probe", "--provider", "spendy", "--json"], env);
    assert_eq!(code, 0, "{v}");
    assert_eq!(fake.calls(), 2, "policy admits spend_provider");
}

#[test]
fn auth_modes_headers_and_body() {
    let fake = FakeProvider::serve(CannedResponse::json(200, "{\"ok\":true}"));
    let url = fake.url("/x");
    let token = "authmode-canary-0f9e8d7c";
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
    let sb = Sandbox::new();
    let mut config = one_route_config(
        def,
        json!({"backend": "env", "variable": "MODES_TOKEN"}),
        json!({}),
    );
    config["profiles"] = json!({"all": {"providers": [
        "modes:acct#bearer", "modes:acct#raw", "modes:acct#header", "modes:acct#none", "modes:acct#post"
    ]}});
    sb.write_config(&config);
    let (code, v, _) = sb.run_json(
        &["probe", "--profile", "all", "--all", "--json"],
        &[
            ("MODES_TOKEN", token),
            ("FAKE_URL", &url),
            ("OMUX_TEST_Q", "viewer"),
        ],
    );
    assert_eq!(code, 0, "{v}");
    let seen = fake.requests();
    assert_eq!(seen.len(), 5);
    for r in &seen {
        assert_eq!(
            r.headers.get("accept").map(String::as_str),
            Some("application/json")
        );
    }
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {token}"));
    assert_eq!(seen[1].headers["authorization"], token);
    assert_eq!(seen[2].headers["x-acme-token"], token);
    assert!(!seen[2].headers.contains_key("authorization"));
    assert!(!seen[3].headers.contains_key("authorization"));
    assert_eq!(seen[4].method, "POST");
    assert_eq!(seen[4].body, "q=viewer");
    assert_eq!(
        seen[4].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(v["routes"].as_array().unwrap().len(), 5);
    assert!(!v.to_string().contains(token));
}

#[test]
fn missing_placeholder_sends_nothing_and_names_the_variable() {
    let fake = FakeProvider::serve(CannedResponse::json(200, "{}"));
    let def = json!({
        "name": "ph",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}"}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let sb = Sandbox::new();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "env", "variable": "PH_TOKEN"}),
        json!({}),
    ));
    let (code, v, _) = sb.run_json(
        &["probe", "--provider", "ph", "--json"],
        &[("PH_TOKEN", "ph-token-x1")],
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(fake.calls(), 0);
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
    let url = format!("http://127.0.0.1:{port}/down");
    let def = json!({
        "name": "netfail",
        "display_name": "Netfail API",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}", "timeout_ms": 2000}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let sb = Sandbox::new();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "env", "variable": "NF_TOKEN"}),
        json!({}),
    ));
    let token = "netfail-canary-2b3c4d5e";
    let (code, v, out) = sb.run_json(
        &["probe", "--provider", "netfail", "--json"],
        &[("NF_TOKEN", token), ("FAKE_URL", &url)],
    );
    assert_eq!(code, 204, "{v}");
    let r = &v["routes"][0];
    assert_eq!(r["outcome"], "network_error");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("Netfail API") && msg.contains("identity"),
        "{msg}"
    );
    assert!(sb.health().is_empty());
    assert!(!format!("{v}{}", String::from_utf8_lossy(&out.stderr)).contains(token));
}

/// Canary tokens from the env, file and command backends, echoed back by a
/// provider into its response body, appear in no output, event or health file.
#[test]
fn canaries_never_leave_the_process() {
    let fake = FakeProvider::serve(CannedResponse {
        status: 403,
        headers: vec![],
        body: "forbidden for token ".into(),
        echo_header: Some("authorization".into()),
    });
    let url = fake.url("/me");
    let sb = Sandbox::new();
    let env_canary = "env-canary-a1b2c3d4e5";
    let file_canary = "file-canary-f6a7b8c9d0";
    let cmd_canary = "cmd-canary-e1f2a3b4c5";
    let file = sb.path("home/token.json");
    std::fs::write(
        &file,
        format!(r#"{{"access_token":"{file_canary}","refresh_token":"file-refresh-canary-77aa"}}"#),
    )
    .unwrap();
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
            "cmd": {"secret": {"backend": "command", "command": ["sh", "-c", format!("echo {cmd_canary}")]}}
        }}},
        "profiles": {"echo": {"providers": ["echo:env#identity", "echo:file#identity", "echo:cmd#identity"]}}
    }));
    let env: &[(&str, &str)] = &[("ECHO_TOKEN", env_canary), ("FAKE_URL", &url)];
    let mut outputs = String::new();
    for args in [
        vec!["probe", "--profile", "echo", "--all", "--json"],
        vec!["probe", "--profile", "echo", "--all"],
        vec!["health", "--json"],
    ] {
        let out = sb.run(&args, env);
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
        outputs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    // The fake really saw every token, so the search below means something.
    let seen: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    for canary in [env_canary, file_canary, cmd_canary] {
        assert!(
            seen.iter().any(|h| h.contains(canary)),
            "fake never saw {canary}"
        );
    }
    assert!(
        outputs.contains("scope_insufficient") || outputs.contains("tier_insufficient"),
        "{outputs}"
    );
    let everything = format!("{outputs}{}", sb.state_text());
    for canary in [
        env_canary,
        file_canary,
        cmd_canary,
        "file-refresh-canary-77aa",
    ] {
        assert!(
            !everything.contains(canary),
            "canary {canary} leaked:\n{everything}"
        );
    }
}

/// An expired token without an admitted refresh fails closed: no request, a
/// `token_refresh` event with `outcome: not_admitted`, exit 203, nothing recorded.
#[test]
fn expired_token_fails_closed_without_a_request() {
    let fake = FakeProvider::serve(CannedResponse::json(200, "{}"));
    let url = fake.url("/me");
    let def = json!({
        "name": "exp",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}"}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}],
        "credential": {"expires_at_path": "expires_at"}
    });
    let sb = Sandbox::new();
    let file = sb.path("home/exp.json");
    std::fs::write(
        &file,
        r#"{"access_token":"expired-canary-3a4b5c6d","refresh_token":"exp-refresh-canary-8e9f","expires_at":1700000000}"#,
    )
    .unwrap();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "file", "path": file}),
        json!({}),
    ));
    let (code, v, out) = sb.run_json(
        &["probe", "--provider", "exp", "--json"],
        &[("FAKE_URL", &url)],
    );
    assert_eq!(code, 203, "{v}");
    assert_eq!(fake.calls(), 0);
    assert_eq!(v["routes"][0]["outcome"], "token_expired");
    assert!(sb.health().is_empty());
    let events = sb.events();
    assert!(
        events.iter().any(|e| e["kind"] == "token_refresh"
            && e["outcome"] == "not_admitted"
            && e["route"] == "exp:acct#identity"),
        "{events:?}"
    );
    let all = format!(
        "{v}{}{}",
        String::from_utf8_lossy(&out.stderr),
        sb.state_text()
    );
    assert!(!all.contains("expired-canary-3a4b5c6d") && !all.contains("exp-refresh-canary-8e9f"));
}

/// HTTP probes go through the proxy named by the environment, and `NO_PROXY`
/// exempts hosts from it.
#[test]
fn proxy_from_the_environment_is_honoured() {
    let proxy = FakeProvider::serve(CannedResponse::json(200, "{\"via\":\"proxy\"}"));
    // Nothing listens here; only the proxy can answer.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("http://127.0.0.1:{port}/me");
    let def = json!({
        "name": "px",
        "capabilities": [{"name": "identity", "probe": {"url": "{{FAKE_URL}}", "timeout_ms": 3000}}],
        "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
    });
    let sb = Sandbox::new();
    sb.write_config(&one_route_config(
        def,
        json!({"backend": "env", "variable": "PX_TOKEN"}),
        json!({}),
    ));
    let proxy_url = proxy.url("");
    let base: Vec<(&str, &str)> = vec![
        ("PX_TOKEN", "px-token-5e6f"),
        ("FAKE_URL", &target),
        ("HTTP_PROXY", &proxy_url),
    ];
    let (code, v, _) = sb.run_json(&["probe", "--provider", "px", "--json"], &base);
    assert_eq!(code, 0, "{v}");
    assert_eq!(proxy.calls(), 1);
    let first = &proxy.requests()[0];
    assert!(
        first.path.contains(&format!("127.0.0.1:{port}")),
        "the request for the target went to the proxy: {first:?}"
    );

    let mut no_proxy = base.clone();
    no_proxy.push(("NO_PROXY", "127.0.0.1"));
    let (code, v, _) = sb.run_json(&["probe", "--provider", "px", "--json"], &no_proxy);
    assert_eq!(code, 204, "{v}");
    assert_eq!(proxy.calls(), 1, "NO_PROXY host bypasses the proxy");
}

/// A provider-wide failure (5xx) sends the walk to the next provider instead of
/// the same provider's next account.
#[test]
fn provider_degraded_moves_the_walk_to_the_next_provider() {
    let down = FakeProvider::serve(CannedResponse::json(503, "{\"error\":\"overloaded\"}"));
    let up = FakeProvider::serve(CannedResponse::json(200, "{}"));
    let def = |name: &str, var: &str| {
        json!({
            "name": name,
            "capabilities": [{"name": "identity", "probe": {"url": format!("{{{{{var}}}}}")}}],
            "failure_rules": [{"status_min": 500, "status_max": 599, "class": "provider_degraded"}]
        })
    };
    let secret = json!({"backend": "env", "variable": "WALK_TOKEN"});
    let sb = Sandbox::new();
    sb.write_config(&json!({
        "version": 1,
        "provider_definitions": {"down": def("down", "DOWN_URL"), "up": def("up", "UP_URL")},
        "providers": {
            "down": {"kind": "down", "accounts": {"d1": {"secret": secret}, "d2": {"secret": secret}}},
            "up": {"kind": "up", "accounts": {"u1": {"secret": secret}}}
        },
        "profiles": {"walk": {"providers": ["down:d1#identity", "down:d2#identity", "up:u1#identity"]}}
    }));
    let (down_url, up_url) = (down.url("/"), up.url("/"));
    let (code, v, _) = sb.run_json(
        &["probe", "--profile", "walk", "--json"],
        &[
            ("WALK_TOKEN", "walk-token-1a"),
            ("DOWN_URL", &down_url),
            ("UP_URL", &up_url),
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        down.calls(),
        1,
        "the degraded provider's second account is not probed: {v}"
    );
    assert_eq!(up.calls(), 1);
    assert_eq!(
        v["routes"][0]["classification"]["class"],
        "provider_degraded"
    );
    assert_eq!(v["routes"][1]["outcome"], "skipped");
    assert_eq!(v["usable_route"], "up:u1#identity");
}
