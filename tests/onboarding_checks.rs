//! `canary` (no spend), `live-qa` (spend-gated, with capability coverage) and `doctor` on an
//! empty or half-set-up machine.

mod kit;

use kit::{Sandbox, fake_harness};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use serde_json::{Value, json};

fn machine() -> Sandbox {
    let sb = Sandbox::new();
    fake_harness::plant(&sb);
    sb.run(&["init", "--codex-max"]).ok();
    sb
}

fn exec_calls(sb: &Sandbox) -> usize {
    fake_harness::invocations(sb)
        .iter()
        .filter(|c| c.argv[0] == "exec")
        .count()
}

fn account<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == name)
        .unwrap()
}

#[test]
fn canary_checks_every_account_without_a_provider_call() {
    let sb = machine();
    sb.run(&["codex", "login-device", "max-1"]).ok();
    sb.run(&["codex", "login-device", "max-3"]).ok();
    let calls_before = fake_harness::invocations(&sb).len();
    let out = sb.run(&["codex", "canary", "--json"]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["spends_provider_calls"], false);
    assert_eq!(v["session_start_ready"], true);
    assert_eq!(v["launch_account"], "max-1");
    assert_eq!(v["session_order"], json!(["max-1", "max-3"]));
    let max1 = account(&v, "max-1");
    assert_eq!(max1["credentials"]["state"], "usable");
    assert_eq!(max1["credentials"]["plan"], "pro");
    assert_eq!(max1["credentials"]["auth"], "chatgpt");
    let expires: jiff::Timestamp = max1["credentials"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires > jiff::Timestamp::now());
    assert_eq!(max1["session"]["position"], 1);
    assert_eq!(max1["login_command"], Value::Null);
    let max2 = account(&v, "max-2");
    assert_eq!(max2["credentials"]["state"], "missing");
    assert_eq!(max2["store_exists"], true);
    assert_eq!(max2["session"]["used"], false);
    assert_eq!(max2["login_command"], "oauth-mux codex login-device max-2");
    assert_eq!(account(&v, "max-3")["session"]["position"], 2);
    assert_eq!(
        fake_harness::invocations(&sb).len(),
        calls_before,
        "canary runs no harness command"
    );
    // An expired credential is reported with its expiry and its login; as its store is one
    // oauth-mux created, the next session refreshes it at launch and uses it (docs/refresh.md).
    let expired = fake_harness::codex_auth_json("max-3")
        .replace(&fake_harness::codex_token("max-3"), &expired_jwt());
    std::fs::write(sb.path("data/oauth-mux/codex/max-3/auth.json"), expired).unwrap();
    let v = sb.run(&["codex", "canary", "--json"]).json();
    let max3 = account(&v, "max-3");
    assert_eq!(max3["credentials"]["state"], "expired");
    assert_eq!(max3["session"]["position"], 2, "{v:#}");
    assert_eq!(max3["login_command"], "oauth-mux codex login-device max-3");
    // Not admitted to refresh it, the session leaves it out.
    let mut config = sb.config();
    config["providers"]["codex"]["accounts"]["max-3"]["allow_proactive_refresh"] = json!(false);
    sb.write_config(&config);
    let v = sb.run(&["codex", "canary", "--json"]).json();
    assert_eq!(
        account(&v, "max-3")["session"]["reason"],
        "token expired",
        "{v:#}"
    );
    sb.run(&["codex", "login-device", "max-2"]).ok();
    sb.run(&["codex", "login-device", "max-3"]).ok();
    let human = sb.run(&["codex", "canary"]);
    human.ok();
    assert!(
        human.stdout.contains("order: max-1 → max-2 → max-3"),
        "{human}"
    );
    fake_harness::mark_stores_secret(&sb);
    sb.assert_no_canary_on_disk();
}

/// A JWT that expired an hour ago.
fn expired_jwt() -> String {
    let b64 = |s: &str| oauth_mux::util::base64url::encode(s.as_bytes());
    format!(
        "{}.{}.expiredsig",
        b64(r#"{"alg":"none"}"#),
        b64(&format!(
            r#"{{"exp":{}}}"#,
            jiff::Timestamp::now().as_second() - 3600
        ))
    )
}

#[test]
fn live_qa_spends_nothing_without_the_confirm_flag() {
    let sb = machine();
    for a in ["max-1", "max-2", "max-3"] {
        sb.run(&["codex", "login-device", a]).ok();
    }
    let out = sb.run(&["codex", "live-qa", "--json"]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["error"], "confirmation_required");
    assert_eq!(v["requires"], "--confirm-spend");
    assert_eq!(v["plan"].as_array().unwrap().len(), 6);
    assert!(
        v["plan"][0]["call"]
            .as_str()
            .unwrap()
            .starts_with("command: codex exec"),
        "{v:#}"
    );
    assert_eq!(exec_calls(&sb), 0);
    assert!(sb.health().is_empty(), "nothing recorded");
}

#[test]
fn live_qa_coverage_stays_ok_while_another_account_covers_each_capability() {
    let sb = machine();
    for a in ["max-1", "max-2", "max-3"] {
        sb.run(&["codex", "login-device", a]).ok();
    }
    // max-1 is spent for every model: its two routes are unavailable, both capabilities
    // are still covered.
    std::fs::write(sb.work_dir().join("quota-max-1"), "").unwrap();
    let out = sb.run(&["codex", "live-qa", "--confirm-spend", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["routes_available"], 4);
    assert_eq!(v["routes_unavailable"], 2);
    assert_eq!(
        v["capabilities_covered"],
        json!(["codex-max", "codex-mini"])
    );
    assert_eq!(v["capabilities_uncovered"], json!([]));
    assert_eq!(exec_calls(&sb), 6, "one request per route");
    let spent = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["health_key"] == "codex:max-1#codex-max")
        .unwrap();
    assert_eq!(
        spent["classification"]["class"], "quota_exhausted",
        "{spent:#}"
    );
    assert_eq!(
        sb.route_health("codex:max-1#codex-max")
            .unwrap()
            .status_at(jiff::Timestamp::now())
            .label(),
        "quota_exhausted",
        "recorded as evidence"
    );
    // Now the big model is spent everywhere: codex-max is uncovered, exit 1.
    for a in ["max-2", "max-3"] {
        std::fs::write(sb.work_dir().join(format!("quota-{a}-gpt-5.5")), "").unwrap();
    }
    let out = sb.run(&["codex", "live-qa", "--confirm-spend", "--json"]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["capabilities_uncovered"], json!(["codex-max"]));
    assert_eq!(v["capabilities_covered"], json!(["codex-mini"]));
    assert_eq!(v["routes_unavailable"], 4);
}

#[test]
fn claude_live_qa_goes_to_the_sessions_upstream() {
    let mut sb = Sandbox::new();
    fake_harness::plant(&sb);
    sb.run(&["init", "--claude"]).ok();
    for a in ["personal", "work"] {
        sb.run(&["claude", "login", a]).ok();
    }
    let fake = FakeProvider::start(vec![
        (
            fake_harness::claude_token("personal"),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 3600,
            },
        ),
        (
            fake_harness::claude_token("work"),
            Behaviour::Succeed { text: "ok".into() },
        ),
    ])
    .unwrap();
    sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
    let out = sb.run(&["claude", "live-qa", "--confirm-spend", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(
        (
            v["routes_available"].clone(),
            v["routes_unavailable"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(v["capabilities_uncovered"], json!([]));
    assert_eq!(fake.calls(&fake_harness::claude_token("personal")), 1);
    assert_eq!(fake.calls(&fake_harness::claude_token("work")), 1);
    assert_eq!(fake.requests()[0].path(), "/v1/messages");
}

#[test]
fn doctor_tells_the_truth_on_an_empty_and_a_half_set_up_machine() {
    let sb = Sandbox::new();
    let codes = |sb: &Sandbox| -> Vec<(String, String)> {
        let out = sb.run(&["doctor", "--json"]);
        out.code(1);
        out.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["code"].as_str().unwrap().to_owned(),
                    p["next_command"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        codes(&sb),
        [(
            "no_config".to_owned(),
            "oauth-mux init --codex-max".to_owned()
        )]
    );
    sb.run(&["init"]).ok();
    assert_eq!(
        codes(&sb),
        [("no_accounts".to_owned(), "oauth-mux setup codex".to_owned())]
    );
    // After plain init, a managed Claude session names the setup command.
    let claude = sb.run(&["claude", "-p", "hi"]);
    claude.code(200);
    assert!(claude.stderr.contains("oauth-mux setup claude"), "{claude}");
    // Codex accounts without the codex binary, one store gone.
    let sb = Sandbox::new();
    sb.run(&["init", "--codex-max"]).ok();
    std::fs::remove_dir(sb.path("data/oauth-mux/codex/max-2")).unwrap();
    let found = codes(&sb);
    assert_eq!(found[0].0, "missing_binary", "{found:?}");
    assert!(found.contains(&("store_missing".into(), "oauth-mux setup codex".into())));
    assert!(found.contains(&(
        "not_logged_in".into(),
        "oauth-mux codex login-device max-1".into()
    )));
    assert!(found.contains(&(
        "not_logged_in".into(),
        "oauth-mux codex login-device max-3".into()
    )));
    let human = sb.run(&["doctor"]);
    human.code(1);
    assert!(
        human.stdout.contains("npm install -g @openai/codex"),
        "{human}"
    );
    assert!(!human.stdout.contains("<the account"), "{human}");
    let runtime = sb.run(&["doctor", "runtime", "--json"]);
    for cmd in runtime.json()["next_commands"].as_array().unwrap() {
        assert!(!cmd.as_str().unwrap().contains('<'), "a placeholder: {cmd}");
    }
}

#[test]
fn preflight_reaches_the_upstream_through_the_proxy_and_sends_no_request() {
    let mut sb = machine();
    for a in ["max-1", "max-2", "max-3"] {
        sb.run(&["codex", "login-device", a]).ok();
    }
    // The default upstream (chatgpt.com) through a proxy that refuses every tunnel.
    sb.refuse_off_box_traffic();
    let out = sb.run(&["codex", "preflight", "--json"]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["session_start_ready"], true);
    assert_eq!(v["upstream"]["origin"], "https://chatgpt.com");
    assert_eq!(v["upstream"]["reachable"], false);
    assert!(
        v["upstream"]["via_proxy"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        v["upstream"]["problem"]
            .as_str()
            .unwrap()
            .contains("the proxy answered the tunnel request to chatgpt.com:443"),
        "{v:#}"
    );
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["upstream"]);
    assert_eq!(
        sb.off_box_attempts(),
        ["CONNECT chatgpt.com:443"],
        "a tunnel request, and nothing sent through it"
    );
    assert_eq!(exec_calls(&sb), 0, "no harness run beyond --version");
}

#[test]
fn preflight_says_when_no_account_can_start_a_session() {
    let sb = machine();
    let out = sb.run(&["codex", "preflight"]);
    out.code(201);
    assert!(out.stdout.contains("FAIL  session_pool"), "{out}");
    assert!(out.stdout.contains("not using account max-1"), "{out}");
    assert!(
        out.stdout.contains("FAIL  store:max-1"),
        "the missing login shows per account: {out}"
    );
    assert!(
        out.stdout.contains("oauth-mux codex login-device max-1"),
        "{out}"
    );
}
