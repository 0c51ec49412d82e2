//! `oauth-mux keepalive` against the fake token endpoint (real rotation rules): what is
//! refreshed, what is written back and what is kept, what is refused and why, and what a
//! rejection or an outage leaves behind.

mod kit;

use kit::files::mode;
use kit::stores::{self, Cli, Place, Store};
use kit::{Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider, TokenUse};
use serde_json::{Value, json};

fn ok() -> Behaviour {
    Behaviour::Succeed { text: "ok".into() }
}

/// A sandbox with one store of `cli` for account `a1`, a fake token endpoint honouring it,
/// and the endpoint override pointing at the fake.
fn setup(cli: Cli, place: Place, expires_in: i64, extra: Value) -> (Sandbox, Store, FakeProvider) {
    let mut sb = Sandbox::new();
    // The runtime check wants the CLI on PATH; the refresh never runs it.
    sb.plant_script(cli.provider(), "exit 0");
    let store = stores::plant(&sb, cli, "a1", place, expires_in);
    let fake = FakeProvider::builder()
        .lineage(store.lineage(ok()))
        .start()
        .unwrap();
    sb.write_config(&stores::config(&[&store], extra));
    sb.set_env(cli.token_url_env(), fake.url(cli.token_path()));
    (sb, store, fake)
}

fn keepalive(sb: &Sandbox, args: &[&str]) -> kit::Output {
    let mut all = vec!["keepalive"];
    all.extend_from_slice(args);
    sb.run(&all)
}

fn token_events(sb: &Sandbox) -> Vec<Value> {
    sb.events()
        .into_iter()
        .filter(|e| e["kind"] == "token_refresh")
        .collect()
}

#[test]
fn a_due_claude_token_is_refreshed_once_and_only_its_token_fields_change() {
    let (sb, store, fake) = setup(Cli::Claude, Place::Owned, 600, json!({}));
    stores::set_mode(&store.file, 0o640);
    let before = store.json();
    let out = keepalive(&sb, &["--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["accounts"][0]["result"], "refreshed", "{v:#}");
    assert_eq!(
        v["accounts"][0]["refresh"]["reason"],
        "store_created_by_oauth_mux"
    );
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    // The request is the one Claude Code sends.
    let request = fake.token_requests().remove(0);
    let body: Value = serde_json::from_str(&request.body_text()).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["client_id"], "9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    assert_eq!(body["refresh_token"], store.refresh_token);
    assert!(body["scope"].as_str().unwrap().contains("user:inference"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    // Only the token fields changed; every other key (known or not) and the mode stayed.
    let after = store.json();
    let (b, a) = (&before["claudeAiOauth"], &after["claudeAiOauth"]);
    assert_ne!(a["accessToken"], b["accessToken"]);
    assert_eq!(
        a["refreshToken"].as_str(),
        fake.current_refresh_token(&store.refresh_token).as_deref()
    );
    assert!(a["expiresAt"].as_i64().unwrap() > b["expiresAt"].as_i64().unwrap() + 3_600_000);
    assert_eq!(
        a["scopes"],
        json!([
            "user:inference",
            "user:profile",
            "user:sessions:claude_code"
        ])
    );
    assert_eq!(a["subscriptionType"], "max");
    assert_eq!(a["rateLimitTier"], b["rateLimitTier"]);
    assert_eq!(after["mcpOAuth"], before["mcpOAuth"]);
    assert_eq!(mode(&store.file), 0o640);
    let text = std::fs::read_to_string(&store.file).unwrap();
    assert!(
        text.starts_with("{\n  \"claudeAiOauth\"") && text.ends_with("}\n"),
        "{text}"
    );
    // The event says what happened, with a fingerprint of the refresh token used.
    let events = token_events(&sb);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (
            e["route"].as_str(),
            e["outcome"].as_str(),
            e["trigger"].as_str()
        ),
        (Some("claude:a1"), Some("refreshed"), Some("keepalive"))
    );
    assert_eq!(e["admitted"], true);
    assert_eq!(e["refresh_token_hash"].as_str().unwrap().len(), 12);
    assert!(e["new_expires_at"].is_string());
    // A second pass finds nothing due and asks nothing.
    let again = keepalive(&sb, &["--json"]);
    again.ok();
    assert_eq!(again.json()["accounts"][0]["result"], "not_due");
    assert_eq!(fake.token_uses().len(), 1);
    sb.assert_no_canary_on_disk();
}

#[test]
fn a_codex_store_gets_new_jwt_tokens_and_last_refresh_and_keeps_its_account_id() {
    let (sb, store, fake) = setup(Cli::Codex, Place::Owned, 3600, json!({}));
    let before = store.json();
    keepalive(&sb, &[]).ok();
    assert_eq!(fake.grants(), 1);
    let request = fake.token_requests().remove(0);
    let body: Value = serde_json::from_str(&request.body_text()).unwrap();
    assert_eq!(
        body,
        json!({"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "grant_type": "refresh_token",
               "refresh_reason": "scheduled", "refresh_token": store.refresh_token})
    );
    assert_eq!(request.header("originator"), Some("codex_exec"));
    assert_eq!(request.header("user-agent"), Some("codex_exec/0.169.0"));
    let after = store.json();
    let t = &after["tokens"];
    let exp = oauth_mux::util::jwt::exp(t["access_token"].as_str().unwrap()).unwrap();
    assert!(exp.as_second() > jiff::Timestamp::now().as_second() + 7 * 3600);
    assert_ne!(t["id_token"], before["tokens"]["id_token"]);
    assert_eq!(t["account_id"], before["tokens"]["account_id"]);
    assert_ne!(after["last_refresh"], before["last_refresh"]);
    assert_eq!(after["a_future_codex_field"], json!({"kept": true}));
    assert_eq!(after["OPENAI_API_KEY"], Value::Null);
    sb.assert_no_canary_on_disk();
}

#[test]
fn the_users_own_store_is_left_alone_until_refresh_is_turned_on() {
    let (sb, store, fake) = setup(Cli::Claude, Place::UsersOwn, -60, json!({}));
    let before = std::fs::read(&store.file).unwrap();
    let out = keepalive(&sb, &["--json"]);
    out.ok();
    let a = &out.json()["accounts"][0];
    assert_eq!(a["result"], "not_admitted", "{a:#}");
    assert_eq!(a["refresh"]["reason"], "store_not_created_by_oauth_mux");
    assert_eq!(a["token"], "expired");
    assert_eq!(fake.token_uses().len(), 0);
    assert_eq!(std::fs::read(&store.file).unwrap(), before);
    // The inventory says the same, and repair-plan names the login command.
    let accounts = sb.run(&["accounts", "list", "--json"]);
    accounts.ok();
    let token = &accounts.json()["accounts"][0]["token"];
    assert_eq!(token["state"], "expired", "{token:#}");
    assert_eq!(token["refresh"]["admitted"], false);
    let plan = sb.run(&["repair-plan", "--provider", "claude", "--json"]);
    let route = &plan.json()["routes"][0];
    assert_eq!(route["action"]["kind"], "reauth", "{route:#}");
    assert_eq!(
        route["action"]["command"], "oauth-mux claude login a1",
        "{route:#}"
    );
    let refused = token_events(&sb);
    assert!(
        refused
            .iter()
            .any(|e| e["outcome"] == "not_admitted"
                && e["reason"] == "store_not_created_by_oauth_mux"),
        "{refused:?}"
    );

    // Turned on in config: refreshed.
    sb.write_config(&stores::config(
        &[&store],
        json!({"allow_proactive_refresh": true}),
    ));
    let out = keepalive(&sb, &["--json"]);
    out.ok();
    assert_eq!(out.json()["accounts"][0]["result"], "refreshed");
    assert_eq!(
        out.json()["accounts"][0]["refresh"]["reason"],
        "writeback_turned_on_in_config"
    );
    assert_eq!(fake.grants(), 1);
    sb.assert_no_canary_on_disk();
}

#[test]
fn a_rejected_refresh_token_leaves_the_store_alone_and_makes_the_login_the_repair() {
    let mut sb = Sandbox::new();
    sb.plant_script("codex", "exit 0");
    let store = stores::plant(&sb, Cli::Codex, "a1", Place::Owned, -60);
    // The endpoint knows another chain only: this refresh token is not honoured.
    let fake = FakeProvider::builder()
        .lineage(oauth_mux::demo::fake_provider::TokenLineage::new(
            canary::refresh_token("other"),
            oauth_mux::demo::fake_provider::TokenStyle::Codex,
            ok(),
        ))
        .start()
        .unwrap();
    sb.write_config(&stores::config(&[&store], json!({})));
    sb.set_env("OMUX_CODEX_TOKEN_URL", fake.url("/oauth/token"));
    let before = std::fs::read(&store.file).unwrap();
    let out = keepalive(&sb, &["--json"]);
    out.code(203);
    let a = &out.json()["accounts"][0];
    assert_eq!(a["result"], "rejected", "{a:#}");
    assert_eq!(a["oauth_error"], "invalid_grant");
    assert_eq!(std::fs::read(&store.file).unwrap(), before);
    let dead = sb
        .route_health("codex:a1")
        .expect("the account is recorded");
    assert_eq!(
        serde_json::to_value(&dead.liveness).unwrap()["reason"],
        "refresh_rejected"
    );
    let plan = sb.run(&["repair-plan", "--provider", "codex", "--json"]);
    let route = &plan.json()["routes"][0];
    assert_eq!(route["action"]["kind"], "reauth", "{route:#}");
    assert_eq!(
        route["action"]["command"],
        "oauth-mux codex login-device a1"
    );
    let e = token_events(&sb).pop().unwrap();
    assert_eq!(
        (e["outcome"].as_str(), e["oauth_error"].as_str()),
        (Some("rejected"), Some("invalid_grant"))
    );
    sb.assert_no_canary_on_disk();
}

#[test]
fn an_outage_changes_nothing_and_exits_204() {
    let mut sb = Sandbox::new();
    let store = stores::plant(&sb, Cli::Claude, "a1", Place::Owned, 600);
    let fake = FakeProvider::builder()
        .lineage(store.lineage(ok()))
        .token_failure(503)
        .start()
        .unwrap();
    sb.write_config(&stores::config(&[&store], json!({})));
    sb.set_env("OMUX_CLAUDE_TOKEN_URL", fake.url("/v1/oauth/token"));
    let before = std::fs::read(&store.file).unwrap();
    let out = keepalive(&sb, &["--json"]);
    out.code(204);
    let a = &out.json()["accounts"][0];
    assert_eq!(
        (a["result"].as_str(), a["failure"].as_str()),
        (Some("failed"), Some("provider"))
    );
    assert!(a["retry_at"].is_string());
    assert_eq!(std::fs::read(&store.file).unwrap(), before);
    assert!(sb.health().is_empty(), "an outage records nothing");
    // Nothing listens: a network error, also 204.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sb = sb;
    sb.set_env(
        "OMUX_CLAUDE_TOKEN_URL",
        format!("http://127.0.0.1:{port}/v1/oauth/token"),
    );
    let out = keepalive(&sb, &["--json"]);
    out.code(204);
    assert_eq!(out.json()["accounts"][0]["failure"], "network");
    sb.assert_no_canary_on_disk();
}

#[test]
fn the_token_url_can_be_set_per_provider_and_per_account() {
    let sb = Sandbox::new();
    let store = stores::plant(&sb, Cli::Claude, "a1", Place::Owned, 600);
    let fake = FakeProvider::builder()
        .lineage(store.lineage(ok()))
        .start()
        .unwrap();
    let mut config = stores::config(&[&store], json!({}));
    config["providers"]["claude"]["token_url"] = json!("http://127.0.0.1:9/nowhere");
    config["providers"]["claude"]["accounts"]["a1"]["token_url"] =
        json!(fake.url("/v1/oauth/token"));
    sb.write_config(&config);
    keepalive(&sb, &[]).ok();
    assert_eq!(fake.grants(), 1);
    sb.assert_no_canary_on_disk();
}

#[test]
fn a_long_lived_token_is_shown_with_its_expiry_and_never_refreshed() {
    let sb = Sandbox::new();
    let dir = sb.dirs().data_dir.join("claude/setup");
    let at = jiff::Timestamp::now().as_second() + 20 * 86_400;
    let file = dir.join(".credentials.json");
    stores::plant_secret_file(
        &sb,
        &file,
        json!({"claudeAiOauth": {"accessToken": canary::claude_token("setup"),
            "expiresAt": at * 1000, "scopes": ["user:inference"]}})
        .to_string(),
    );
    sb.write_config(
        &json!({"version": 1, "providers": {"claude": {"kind": "claude",
        "accounts": {"setup": {"secret": {"backend": "file", "path": file}}}}}}),
    );
    let out = sb.run(&["accounts", "list", "--json"]);
    out.ok();
    let token = &out.json()["accounts"][0]["token"];
    assert_eq!(token["long_lived"], true, "{token:#}");
    assert_eq!(token["refresh"]["reason"], "no_refresh_token");
    assert!(token["expires_at"].is_string());
    assert!(
        token["warning"].as_str().unwrap().contains("setup-token"),
        "{token:#}"
    );
    let human = sb.run(&["accounts", "list"]);
    assert!(human.stdout.contains("setup-token"), "{human}");
    let keep = keepalive(&sb, &["--json"]);
    keep.ok();
    assert_eq!(keep.json()["accounts"][0]["result"], "not_admitted");
    sb.assert_no_canary_on_disk();
}

#[test]
fn a_raw_setup_token_is_an_oauth_token_whose_end_is_not_recorded() {
    let mut sb = Sandbox::new();
    sb.set_env("CLAUDE_SETUP_TOKEN", canary::claude_token("setup"));
    sb.write_config(
        &json!({"version": 1, "providers": {"claude": {"kind": "claude",
        "accounts": {"setup": {"secret": {"backend": "env", "variable": "CLAUDE_SETUP_TOKEN"}}}}}}),
    );
    let out = sb.run(&["accounts", "list", "--json"]);
    out.ok();
    let token = &out.json()["accounts"][0]["token"];
    assert_eq!(token["state"], "no_expiry", "{token:#}");
    assert_eq!(token["long_lived"], true, "{token:#}");
    // The writeback's reason comes first (an environment variable cannot be written).
    assert_eq!(token["refresh"]["admitted"], false, "{token:#}");
    assert_eq!(
        token["refresh"]["reason"], "secret_backend_is_readonly",
        "{token:#}"
    );
    assert!(
        token["warning"].as_str().unwrap().contains("expiresAt"),
        "{token:#}"
    );
}

#[test]
fn a_capability_is_refused_because_tokens_belong_to_accounts() {
    let (sb, _store, fake) = setup(Cli::Claude, Place::Owned, 600, json!({}));
    let out = keepalive(&sb, &["--capability", "claude-max"]);
    out.code(2);
    assert!(out.stderr.contains("--account"), "{out}");
    let out = keepalive(&sb, &["--capability", "claude-max", "--json"]);
    out.code(2);
    assert_eq!(out.json()["error"]["code"], "usage", "{out}");
    assert!(fake.token_uses().is_empty(), "nothing was refreshed");
}

#[test]
fn units_are_printed_never_installed() {
    let sb = Sandbox::new();
    let out = keepalive(&sb, &["--print-unit", "systemd", "--interval", "600"]);
    out.ok();
    assert!(out.stdout.contains("keepalive --once"), "{out}");
    assert!(out.stdout.contains("OnUnitActiveSec=600s"), "{out}");
    assert!(
        out.stdout
            .contains(&format!("OMUX_CONFIG={}", sb.config_file().display()))
    );
    let out = keepalive(&sb, &["--print-unit", "launchd"]);
    out.ok();
    assert!(out.stdout.contains("<key>StartInterval</key>"), "{out}");
    assert!(
        kit::files::files_under(&sb.home()).is_empty(),
        "nothing was installed"
    );
}

#[test]
fn route_explain_and_doctor_runtime_show_each_tokens_expiry_and_refresh_admission() {
    let mut sb = Sandbox::new();
    sb.plant_script("claude", "exit 0");
    let owned = stores::plant(&sb, Cli::Claude, "mine", Place::Owned, 7200);
    let users = stores::plant(&sb, Cli::Claude, "theirs", Place::UsersOwn, 7200);
    sb.write_config(&stores::config(&[&owned, &users], json!({})));
    sb.set_env("COLUMNS", "200");
    // Nothing is probed yet: nothing is selectable (201), and the tokens show all the same.
    let explain = sb.run(&["route", "explain", "--profile", "claude", "--json"]);
    explain.code(201);
    let routes = explain.json()["routes"].clone();
    let token = |account: &str| {
        routes
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == account)
            .unwrap()["token"]
            .clone()
    };
    assert_eq!(token("mine")["state"], "valid");
    assert!(token("mine")["expires_at"].is_string());
    assert_eq!(token("mine")["refresh"]["admitted"], true);
    assert_eq!(token("theirs")["refresh"]["admitted"], false);
    assert_eq!(
        token("theirs")["refresh"]["reason"],
        "store_not_created_by_oauth_mux"
    );
    let human = sb.run(&["route", "explain", "--profile", "claude"]);
    human.code(201);
    assert!(human.stdout.contains("tokens:"), "{human}");
    assert!(
        human.stdout.contains(
            "claude:theirs  token expires in 1h 59m, no refresh: store_not_created_by_oauth_mux"
        ),
        "{human}"
    );
    let doctor = sb.run(&["doctor", "runtime", "--json"]);
    let reports = doctor.json()["account_reports"].clone();
    assert!(
        reports
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["token"]["expires_at"].is_string()),
        "{reports:#}"
    );
    let human = sb.run(&["doctor", "runtime"]);
    assert!(human.stdout.contains("TOKEN"), "{human}");
    assert!(human.stdout.contains("refresh admitted"), "{human}");
    sb.assert_no_canary_on_disk();
}

#[test]
fn a_loop_prints_one_json_line_per_pass() {
    let (sb, _store, fake) = setup(Cli::Claude, Place::Owned, 600, json!({}));
    let out = keepalive(
        &sb,
        &["--loop", "--iterations", "2", "--interval", "1", "--json"],
    );
    out.ok();
    let passes: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(passes.len(), 2, "{out}");
    assert_eq!(passes[0]["mode"], "loop");
    assert_eq!(passes[0]["accounts"][0]["result"], "refreshed");
    assert_eq!(passes[1]["pass"], 2);
    assert_eq!(passes[1]["accounts"][0]["result"], "not_due");
    assert_eq!(fake.grants(), 1);
    sb.assert_no_canary_on_disk();
}
