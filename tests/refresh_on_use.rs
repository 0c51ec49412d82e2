//! Commands that use an account refresh its expired token first when its writeback admits
//! it: a probe (then probes with the new token), `exec` (then injects it), and
//! `stay-afloat --execute` (the route's `refresh_token` action, when the policy admits
//! `cheap_provider`). The provider here is a user definition with an RFC 6749 form refresh,
//! so the generic path is proven too.

mod kit;

use kit::stores::plant_secret_file;
use kit::{Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider, TokenLineage, TokenStyle, TokenUse};
use serde_json::{Value, json};

/// A sandbox with provider `toyoauth` (refresh block: form body, `expires_in`), account `a1`
/// whose store (in oauth-mux's data dir) holds an access token that expired a minute ago,
/// and a fake provider honouring its refresh token (or not, when `honoured` is false).
fn sandbox(honoured: bool, policy: Value) -> (Sandbox, std::path::PathBuf, FakeProvider) {
    let mut sb = Sandbox::new();
    let refresh_token = canary::refresh_token("a1");
    let lineage_root = if honoured {
        refresh_token.clone()
    } else {
        canary::refresh_token("someone-else")
    };
    let fake = FakeProvider::builder()
        .lineage(TokenLineage::new(
            lineage_root,
            TokenStyle::Claude,
            Behaviour::json(200, r#"{"ok":true}"#),
        ))
        .start()
        .unwrap();
    let store = sb.dirs().data_dir.join("toyoauth/a1/creds.json");
    plant_secret_file(
        &sb,
        &store,
        json!({"access_token": canary::token("a1"), "refresh_token": refresh_token,
               "expires_at": jiff::Timestamp::now().as_second() - 60, "user": "kept"})
        .to_string(),
    );
    sb.write_config(&json!({
        "version": 1,
        "policy": policy,
        "provider_definitions": {"toyoauth": {
            "auth": {"token_endpoint": fake.url("/oauth/token"), "client_id": "toy-client"},
            "credential": {"expires_at_path": "expires_at"},
            "injection": {"direct_env": [["TOY_TOKEN", "access_token"]]},
            "repair": {"owner": "oauth_mux_refresh", "login_command": "toy login {account}"},
            "refresh": {"expiry": "expires_in", "margin_seconds": 300},
            "capabilities": [{"name": "identity", "probe": {
                "method": "POST", "url": "{{FAKE_URL}}", "body": "{}",
                "auth": "bearer", "budget": "cheap_provider"}}]
        }},
        "providers": {"toyoauth": {"kind": "toyoauth", "accounts": {
            "a1": {"secret": {"backend": "file", "path": store}}}}},
        "profiles": {"toy": {"providers": ["toyoauth:a1#identity"]}}
    }));
    sb.set_env("FAKE_URL", fake.url("/v1/messages"));
    (sb, store, fake)
}

fn stored(store: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(store).unwrap()).unwrap()
}

/// The access token the fake issues first for `a1`'s refresh token.
fn issued_token() -> String {
    format!("sk-ant-oat01-{}-a1", canary::refresh_token("a1"))
}

#[test]
fn a_probe_refreshes_an_expired_token_first_and_probes_with_the_new_one() {
    let (sb, store, fake) = sandbox(true, json!({}));
    let out = sb.run(&["probe", "--provider", "toyoauth", "--json"]);
    out.ok();
    let route = &out.json()["routes"][0];
    assert_eq!(route["outcome"], "usable", "{route:#}");
    assert_eq!(route["token_refresh"]["outcome"], "refreshed", "{route:#}");
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    let token_request = fake.token_requests().remove(0);
    assert_eq!(
        token_request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        token_request
            .body_text()
            .starts_with("grant_type=refresh_token&refresh_token="),
        "RFC 6749 form body"
    );
    assert!(token_request.body_text().ends_with("&client_id=toy-client"));
    let probe = fake
        .requests()
        .into_iter()
        .find(|r| r.path() == "/v1/messages")
        .unwrap();
    assert_eq!(probe.credential(), Some(issued_token()));
    let after = stored(&store);
    assert_eq!(after["access_token"], issued_token());
    assert!(after["expires_at"].as_i64().unwrap() > jiff::Timestamp::now().as_second() + 3600);
    assert_eq!(after["user"], "kept");
    sb.assert_no_canary_on_disk();
}

#[test]
fn a_probe_whose_refresh_is_rejected_exits_203_and_names_the_login() {
    let (sb, store, fake) = sandbox(false, json!({}));
    let before = std::fs::read(&store).unwrap();
    let out = sb.run(&["probe", "--provider", "toyoauth", "--json"]);
    out.code(203);
    assert_eq!(
        out.json()["routes"][0]["outcome"],
        "refresh_rejected",
        "{out}"
    );
    assert_eq!(fake.token_uses(), [TokenUse::Unknown]);
    assert!(
        fake.requests().iter().all(|r| r.path() != "/v1/messages"),
        "nothing probed with a dead token"
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);
    let plan = sb.run(&["repair-plan", "--provider", "toyoauth", "--json"]);
    let action = &plan.json()["routes"][0]["action"];
    assert_eq!(action["kind"], "reauth", "{action:#}");
    assert_eq!(action["command"], "toy login a1");
    sb.assert_no_canary_on_disk();
}

#[test]
fn exec_refreshes_an_expired_token_before_it_injects_it() {
    let (sb, _store, fake) = sandbox(true, json!({}));
    sb.record(
        "toyoauth:a1#identity",
        oauth_mux::model::Classification::Success,
        jiff::Timestamp::now(),
    );
    // The child checks it got the refreshed token, without printing it.
    let check = format!(
        "case \"$TOY_TOKEN\" in {}) exit 0;; *) exit 7;; esac",
        issued_token()
    );
    let out = sb.run(&["exec", "--provider", "toyoauth", "--", "sh", "-c", &check]);
    out.ok();
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    sb.assert_no_canary_on_disk();
}

#[test]
fn stay_afloat_execute_runs_an_admitted_refresh_and_only_then() {
    // Default policy: the refresh (cheap_provider) is planned, not run.
    let (sb, _store, fake) = sandbox(true, json!({}));
    let out = sb.run(&["stay-afloat", "--execute", "--profile", "toy", "--json"]);
    let v = out.json();
    assert_eq!(v["routes"][0]["action"]["kind"], "refresh_token", "{v:#}");
    assert_eq!(fake.token_uses(), Vec::<TokenUse>::new(), "{v:#}");

    let (sb, store, fake) = sandbox(
        true,
        json!({"providers": {"toyoauth": {"allowed_budgets": ["free_local", "free_command", "cheap_provider"]}}}),
    );
    let out = sb.run(&["stay-afloat", "--execute", "--profile", "toy", "--json"]);
    let v = out.json();
    let ran = &v["executions"][0];
    assert_eq!(ran["phase"], "refresh", "{v:#}");
    assert_eq!(ran["ok"], true, "{v:#}");
    assert_eq!(ran["token_refresh"]["outcome"], "refreshed", "{v:#}");
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    assert_eq!(stored(&store)["access_token"], issued_token());
    sb.assert_no_canary_on_disk();
}
