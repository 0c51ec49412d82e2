//! Many refreshers, one refresh token: eight `keepalive --once` processes and two managed
//! sessions start at the same moment on the same expiring account. Exactly one refresh
//! request reaches the token endpoint, nobody spends a refresh token twice, and everyone
//! ends up with the new token.

mod kit;

use std::time::Duration;

use kit::harness::{act_as_stub_claude, plant_stub_claude};
use kit::stores::{self, Cli, Place};
use kit::{Sandbox, worker};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider, TokenUse};
use serde_json::{Value, json};

const TEST_NAME: &str = "eight_keepalives_and_two_sessions_make_exactly_one_refresh_request";

#[test]
fn eight_keepalives_and_two_sessions_make_exactly_one_refresh_request() {
    if worker::args().is_some() {
        return act_as_stub_claude();
    }
    let mut sb = Sandbox::new();
    // Expires in ten minutes: inside Claude's 45-minute margin, so every one of them wants
    // to refresh; the slow token endpoint makes their attempts overlap.
    let store = stores::plant(&sb, Cli::Claude, "a1", Place::Owned, 600);
    let ok = Behaviour::Succeed {
        text: "SHARED-OK".into(),
    };
    let fake = FakeProvider::builder()
        .account(store.access_token.clone(), ok.clone())
        .lineage(store.lineage(ok))
        .token_delay(Duration::from_millis(400))
        .start()
        .unwrap();
    sb.write_config(&stores::config(&[&store], json!({})));
    sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
    sb.set_env("OMUX_CLAUDE_TOKEN_URL", fake.url("/v1/oauth/token"));
    plant_stub_claude(&sb, TEST_NAME);

    let mut running: Vec<(&str, kit::command::Running)> = Vec::new();
    for _ in 0..8 {
        running.push((
            "keepalive",
            sb.oauth_mux()
                .args(["keepalive", "--once", "--json"])
                .spawn(),
        ));
    }
    for _ in 0..2 {
        running.push((
            "session",
            sb.oauth_mux().args(["claude", "-p", "hi"]).spawn(),
        ));
    }
    let mut results = Vec::new();
    for (what, child) in running {
        let out = child.wait();
        out.ok();
        if what == "keepalive" {
            results.push(
                out.json()["accounts"][0]["result"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        } else {
            assert!(out.all().contains("stub-claude got 200"), "{out}");
        }
    }
    assert_eq!(
        fake.token_uses(),
        [TokenUse::Granted],
        "exactly one refresh request, no reuse"
    );
    for r in &results {
        assert!(
            ["refreshed", "not_needed", "not_due"].contains(&r.as_str()),
            "{results:?}"
        );
    }
    let events: Vec<Value> = sb
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "token_refresh")
        .collect();
    let refreshed = events
        .iter()
        .filter(|e| e["outcome"] == "refreshed")
        .count();
    assert_eq!(refreshed, 1, "{events:#?}");
    assert!(
        events.iter().all(|e| e["ok"] == true),
        "nobody failed: {events:#?}"
    );
    // Everyone uses the new token: the store holds it, and both sessions sent only it.
    let new = store.current_access_token();
    assert_ne!(new, store.access_token);
    let model: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/v1/messages")
        .filter_map(|r| r.credential())
        .collect();
    assert_eq!(model, [new.clone(), new], "{model:?}");
    assert_eq!(
        Some(store.current_refresh_token()),
        fake.current_refresh_token(&store.refresh_token)
    );
    sb.assert_no_canary_on_disk();
}
