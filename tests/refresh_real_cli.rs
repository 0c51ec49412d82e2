//! oauth-mux shares its stores with the real CLIs (Codex CLI 0.169.0, Claude Code 2.1.197,
//! installed by `.ci/deps/20-harness.sh`): the real Codex CLI refreshing the same
//! `CODEX_HOME` at the same moment as `oauth-mux keepalive` (its refresh pointed at the fake
//! with `CODEX_REFRESH_TOKEN_URL_OVERRIDE`) — one wins, the other adopts its tokens, nobody
//! is logged out — and the plain CLIs using a store oauth-mux refreshed, with the new token
//! and without refreshing again. Every proxy variable points at a refusing proxy, so any
//! attempt to leave the machine (Claude Code's own refresh, which cannot be redirected)
//! shows.

mod kit;

use std::time::Duration;

use kit::harness::real_cli;
use kit::stores::{self, Cli, Place, Store};
use kit::{Output, Sandbox};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider, TokenUse};
use serde_json::json;

fn answer(text: &str) -> Behaviour {
    Behaviour::Succeed { text: text.into() }
}

/// Plain `codex exec` as the user runs it on the store: `CODEX_HOME=<store>`, its ChatGPT
/// login taken from the store's auth.json (`requires_openai_auth`), its model traffic (a
/// plain-HTTP provider, harness-facts.md) and its token refresh pointed at the fake.
fn plain_codex(
    sb: &Sandbox,
    store: &Store,
    fake: &FakeProvider,
    prompt: &str,
) -> kit::command::Running {
    let origin = fake.origin();
    let overrides = [
        "model_provider=\"fake\"".to_owned(),
        "model_providers.fake.name=\"fake\"".to_owned(),
        format!("model_providers.fake.base_url=\"{origin}/backend-api/codex\""),
        "model_providers.fake.wire_api=\"responses\"".to_owned(),
        "model_providers.fake.requires_openai_auth=true".to_owned(),
        "model_providers.fake.supports_websockets=false".to_owned(),
        format!("chatgpt_base_url=\"{origin}/backend-api/\""),
    ];
    sb.program(real_cli("codex"))
        .env("CODEX_HOME", &store.dir)
        .env("CODEX_REFRESH_TOKEN_URL_OVERRIDE", fake.url("/oauth/token"))
        .arg("--no-daemon")
        .args(overrides.iter().flat_map(|kv| ["-c", kv.as_str()]))
        .args(oauth_mux::harness::session::codex_side_traffic_args())
        .args(["exec", "--skip-git-repo-check", prompt])
        .spawn()
}

/// The credentials of the Codex model requests the fake saw, in order.
fn codex_model_credentials(fake: &FakeProvider) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path() == "/backend-api/codex/responses")
        .filter_map(|r| r.credential())
        .collect()
}

fn assert_answered(out: &Output, text: &str) {
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains(text), "{out}");
}

/// Nothing tried to leave the machine, and no canary is on disk outside the store and the
/// files the real CLI wrote into it.
fn assert_stayed_local_and_leaked_nothing(sb: &Sandbox, store: &Store) {
    let off_box = sb.off_box_attempts();
    assert!(off_box.is_empty(), "{off_box:?}");
    store.exempt_files_the_cli_wrote(sb);
    sb.assert_no_canary_on_disk();
}

/// A sandbox refusing off-box traffic, with one store of `cli` in oauth-mux's data dir.
fn sandbox(cli: Cli, expires_in: i64) -> (Sandbox, Store) {
    let mut sb = Sandbox::new();
    sb.refuse_off_box_traffic();
    let store = stores::plant(&sb, cli, "a1", Place::Owned, expires_in);
    sb.write_config(&stores::config(&[&store], json!({})));
    (sb, store)
}

#[test]
fn the_real_codex_cli_and_keepalive_race_and_oauth_mux_wins() {
    race(Winner::OauthMux);
}

#[test]
fn the_real_codex_cli_and_keepalive_race_and_codex_wins() {
    race(Winner::Codex);
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Winner {
    OauthMux,
    Codex,
}

/// The real Codex CLI and `oauth-mux keepalive` refresh the same `CODEX_HOME` at the same
/// moment (the token endpoint holds every answer for 3 s so both requests are in flight
/// together): one refresh token, two requests. The winner's request is granted, the
/// loser's refused as reuse; the loser adopts the winner's tokens; nobody is logged out.
fn race(winner: Winner) {
    // Codex refreshes a token whose `exp` is within five minutes; oauth-mux within a day.
    let (mut sb, store) = sandbox(Cli::Codex, 120);
    let fake = FakeProvider::builder()
        .account(store.access_token.clone(), answer("OLD-TOKEN-ANSWER"))
        .lineage(store.lineage(answer("NEW-TOKEN-ANSWER")))
        .token_delay(Duration::from_secs(3))
        .start()
        .unwrap();
    sb.set_env("OMUX_CODEX_TOKEN_URL", fake.url("/oauth/token"));
    let keepalive_cmd = || sb.oauth_mux().args(["keepalive", "--once", "--json"]);
    // The first starts; once its refresh request is in flight (held by the fake), the
    // second starts and sends its own with the same refresh token.
    let asked = || fake.requests().iter().any(|r| r.path() == "/oauth/token");
    let wait_until_asked = || {
        for _ in 0..500 {
            if asked() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the first refresher never asked the token endpoint");
    };
    let (codex, keepalive) = match winner {
        Winner::OauthMux => {
            let keepalive = keepalive_cmd().spawn();
            wait_until_asked();
            (plain_codex(&sb, &store, &fake, "race"), keepalive)
        }
        Winner::Codex => {
            let codex = plain_codex(&sb, &store, &fake, "race");
            wait_until_asked();
            (codex, keepalive_cmd().spawn())
        }
    };
    let codex = codex.wait();
    let keepalive = keepalive.wait();
    assert_eq!(codex.code, 0, "codex was not logged out:\n{codex}");
    keepalive.ok();
    let result = keepalive.json()["accounts"][0]["result"].clone();
    let uses = fake.token_uses();
    assert_eq!(
        uses,
        [TokenUse::Granted, TokenUse::Reused],
        "both asked with the one refresh token; the second was refused"
    );
    assert_eq!(
        result,
        match winner {
            Winner::OauthMux => "refreshed",
            Winner::Codex => "adopted",
        },
        "{keepalive}"
    );
    assert_eq!(
        Some(store.current_refresh_token()),
        fake.current_refresh_token(&store.refresh_token),
        "the store holds the one valid refresh token"
    );
    // Both go on working with the store: oauth-mux finds nothing due, codex answers with
    // the new token and asks the token endpoint nothing more.
    let before = fake.token_uses().len();
    let again = sb.oauth_mux().args(["keepalive", "--once", "--json"]).run();
    again.ok();
    assert_eq!(again.json()["accounts"][0]["result"], "not_due", "{again}");
    let next = plain_codex(&sb, &store, &fake, "after").wait();
    assert_answered(&next, "NEW-TOKEN-ANSWER");
    assert_eq!(fake.token_uses().len(), before);
    assert_eq!(
        codex_model_credentials(&fake).last(),
        Some(&store.current_access_token())
    );
    assert_stayed_local_and_leaked_nothing(&sb, &store);
}

#[test]
fn plain_codex_uses_a_store_oauth_mux_refreshed_and_does_not_refresh_again() {
    // Due for oauth-mux (inside a day), not for Codex (more than five minutes left).
    let (mut sb, store) = sandbox(Cli::Codex, 3 * 3600);
    let fake = FakeProvider::builder()
        .lineage(store.lineage(answer("REFRESHED-BY-OAUTH-MUX")))
        .start()
        .unwrap();
    sb.set_env("OMUX_CODEX_TOKEN_URL", fake.url("/oauth/token"));
    sb.oauth_mux().args(["keepalive", "--once"]).run().ok();
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    let out = plain_codex(&sb, &store, &fake, "hello").wait();
    assert_answered(&out, "REFRESHED-BY-OAUTH-MUX");
    assert_eq!(
        fake.token_uses(),
        [TokenUse::Granted],
        "codex did not refresh again"
    );
    assert_eq!(
        codex_model_credentials(&fake),
        [store.current_access_token()]
    );
    assert_stayed_local_and_leaked_nothing(&sb, &store);
}

#[test]
fn plain_claude_uses_a_store_oauth_mux_refreshed_and_does_not_refresh_again() {
    // Ten minutes left: due for oauth-mux (45 minutes), not yet for Claude Code (5).
    let (mut sb, store) = sandbox(Cli::Claude, 600);
    let fake = FakeProvider::builder()
        .lineage(store.lineage(answer("CLAUDE-AFTER-REFRESH")))
        .start()
        .unwrap();
    sb.set_env("OMUX_CLAUDE_TOKEN_URL", fake.url("/v1/oauth/token"));
    sb.oauth_mux().args(["keepalive", "--once"]).run().ok();
    assert_eq!(fake.token_uses(), [TokenUse::Granted]);
    let out = sb
        .program(real_cli("claude"))
        .env("CLAUDE_CONFIG_DIR", &store.dir)
        .env("ANTHROPIC_BASE_URL", fake.origin())
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .args(["-p", "hello"])
        .run();
    assert_answered(&out, "CLAUDE-AFTER-REFRESH");
    assert_eq!(
        fake.token_uses(),
        [TokenUse::Granted],
        "claude did not refresh again"
    );
    let creds: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/v1/messages")
        .filter_map(|r| r.credential())
        .collect();
    assert!(
        !creds.is_empty(),
        "claude sent its model request to the fake"
    );
    assert!(
        creds.iter().all(|c| *c == store.current_access_token()),
        "{creds:?}"
    );
    // Claude Code's own refresh cannot be redirected: had it tried, the refusing proxy would
    // show a tunnel to its token host. (With OAuth credentials it also reaches
    // api.anthropic.com directly for the account's profile; that is refused and harmless.)
    let off_box = sb.off_box_attempts();
    assert!(
        !off_box
            .iter()
            .any(|a| a.contains("platform.claude.com") || a.contains("console.anthropic.com")),
        "{off_box:?}"
    );
    store.exempt_files_the_cli_wrote(&sb);
    sb.assert_no_canary_on_disk();
}
