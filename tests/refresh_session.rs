//! Managed sessions keep their accounts' tokens fresh: a 401 from a refreshable account is
//! answered by one refresh and a replay on the same account, a token that expires
//! mid-session is refreshed ahead of time off the request path, and an account that is due
//! at launch is refreshed before it joins. The harness (a stub Claude Code) never sees a 401.

mod kit;

use kit::harness::{STUB_PAUSE_MS_VAR, STUB_TURNS_VAR, act_as_stub_claude, plant_stub_claude};
use kit::stores::{self, Cli, Place, Store};
use kit::{Output, Sandbox, worker};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider, FakeProviderBuilder, TokenUse};
use serde_json::{Value, json};

fn ok() -> Behaviour {
    Behaviour::Succeed {
        text: "SESSION-OK".into(),
    }
}

/// A sandbox with one Claude store (oauth-mux's own, access token expiring in
/// `expires_in` seconds), the fake provider from `fake` honouring its refresh token, the
/// stub Claude Code of `test_name` on `PATH`, and config `extra` for the provider.
fn session_sandbox(
    test_name: &str,
    expires_in: i64,
    fake: impl FnOnce(&Store) -> FakeProviderBuilder,
    provider_extra: Value,
) -> (Sandbox, Store, FakeProvider) {
    let mut sb = Sandbox::new();
    let store = stores::plant(&sb, Cli::Claude, "a1", Place::Owned, expires_in);
    let fake = fake(&store).lineage(store.lineage(ok())).start().unwrap();
    let mut config = stores::config(&[&store], json!({}));
    if let (Some(p), Some(extra)) = (
        config["providers"]["claude"].as_object_mut(),
        provider_extra.as_object(),
    ) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    sb.write_config(&config);
    sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
    sb.set_env("OMUX_CLAUDE_TOKEN_URL", fake.url("/v1/oauth/token"));
    plant_stub_claude(&sb, test_name);
    (sb, store, fake)
}

/// The credentials of the model requests the fake saw, in order.
fn model_credentials(fake: &FakeProvider) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path() == "/v1/messages")
        .filter_map(|r| r.credential())
        .collect()
}

fn status_latest(sb: &Sandbox) -> Value {
    let out = sb.run(&["claude", "status-latest", "--json"]);
    out.ok();
    out.json()
}

fn assert_session_ok(out: &Output) {
    out.ok();
    assert!(out.all().contains("stub-claude got 200"), "{out}");
    assert!(!out.all().contains("got 401"), "{out}");
}

const ON_401: &str =
    "a_401_from_a_refreshable_account_is_refreshed_and_replayed_on_the_same_account";

#[test]
fn a_401_from_a_refreshable_account_is_refreshed_and_replayed_on_the_same_account() {
    if worker::args().is_some() {
        return act_as_stub_claude();
    }
    // The store says the token is good for two hours, but the provider no longer takes it.
    let (sb, store, fake) = session_sandbox(
        ON_401,
        7200,
        |store| {
            FakeProvider::builder()
                .account(store.access_token.clone(), ok())
                .expiring(
                    store.access_token.clone(),
                    jiff::Timestamp::now().as_second() - 1,
                )
        },
        json!({}),
    );
    let out = sb.oauth_mux().args(["claude", "-p", "hi"]).run();
    assert_session_ok(&out);
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    let creds = model_credentials(&fake);
    assert_eq!(creds.len(), 2, "{creds:?}");
    assert_eq!(creds[0], store.access_token, "first the old token");
    assert_eq!(
        creds[1],
        store.current_access_token(),
        "then the refreshed one"
    );
    let s = status_latest(&sb);
    assert_eq!(s["token_refreshes"], 1, "{s:#}");
    assert_eq!(s["accounts_used"], json!(["a1"]), "{s:#}");
    assert!(
        sb.route_health("claude:a1")
            .is_none_or(|h| { !matches!(h.liveness, oauth_mux::model::Liveness::Dead { .. }) })
    );
    sb.assert_no_canary_on_disk();
}

const MID_SESSION: &str = "a_token_that_expires_mid_session_is_refreshed_before_the_next_request";

#[test]
fn a_token_that_expires_mid_session_is_refreshed_before_the_next_request() {
    if worker::args().is_some() {
        return act_as_stub_claude();
    }
    // Valid for 38 s (oauth-mux counts it expired 30 s early, so it joins at launch), a
    // 6 s margin: the session must refresh it about 32 s in, off the request path.
    let expires_in = 38;
    let (mut sb, store, fake) = session_sandbox(
        MID_SESSION,
        expires_in,
        |store| {
            FakeProvider::builder()
                .account(store.access_token.clone(), ok())
                .expiring(
                    store.access_token.clone(),
                    jiff::Timestamp::now().as_second() + expires_in,
                )
        },
        json!({"refresh_margin_seconds": 6}),
    );
    sb.set_env(STUB_TURNS_VAR, "2");
    sb.set_env(STUB_PAUSE_MS_VAR, ((expires_in + 2) * 1000).to_string());
    let out = sb.oauth_mux().args(["claude", "-p", "hi"]).run();
    assert_session_ok(&out);
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    let creds = model_credentials(&fake);
    assert_eq!(
        creds,
        [store.access_token.clone(), store.current_access_token()],
        "the second turn carried the refreshed token"
    );
    let s = status_latest(&sb);
    assert_eq!(
        s["token_refreshes"], 0,
        "refreshed ahead of time, no 401: {s:#}"
    );
    assert_eq!(s["turns_by_status"], json!({"200": 2}), "{s:#}");
    let events: Vec<Value> = sb
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "token_refresh")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["trigger"], "ahead_of_expiry");
    sb.assert_no_canary_on_disk();
}

const AT_LAUNCH: &str = "an_expired_account_is_refreshed_before_it_joins_the_session";

#[test]
fn an_expired_account_is_refreshed_before_it_joins_the_session() {
    if worker::args().is_some() {
        return act_as_stub_claude();
    }
    let (sb, store, fake) =
        session_sandbox(AT_LAUNCH, -600, |_| FakeProvider::builder(), json!({}));
    let out = sb.oauth_mux().args(["claude", "-p", "hi"]).run();
    assert_session_ok(&out);
    assert!(!out.stderr.contains("not using account a1"), "{out}");
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    assert_eq!(model_credentials(&fake), [store.current_access_token()]);
    sb.assert_no_canary_on_disk();
}
