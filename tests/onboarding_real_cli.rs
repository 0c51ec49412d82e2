//! With the real Codex CLI and the real Claude Code (installed by `.ci/deps/20-harness.sh`):
//! `setup` creates the config and the stores, the accounts get credentials in the CLIs' own
//! formats, and `preflight` against the loopback fake reports the accounts in the order that
//! the following managed session then uses. The order is made non-trivial: the first
//! account is above the usage threshold (so it goes last), and the fake spends the next two,
//! so the session walks the whole order and the fake's request log shows it.

mod kit;

use jiff::{SignedDuration, Timestamp};
use kit::harness::{self, real_cli};
use kit::{Sandbox, fake_harness};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::model::Classification;
use serde_json::json;

#[derive(Clone, Copy)]
enum Kind {
    Codex,
    Claude,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Codex => "codex",
            Kind::Claude => "claude",
        }
    }

    fn accounts(self) -> [&'static str; 3] {
        match self {
            Kind::Codex => ["max-1", "max-2", "max-3"],
            Kind::Claude => ["personal", "work", "team"],
        }
    }

    fn token(self, account: &str) -> String {
        match self {
            Kind::Codex => fake_harness::codex_token(account),
            Kind::Claude => fake_harness::claude_token(account),
        }
    }

    /// The route whose usage is recorded hot.
    fn first_route(self) -> String {
        match self {
            Kind::Codex => "codex:max-1#codex-max".into(),
            Kind::Claude => "claude:personal#messages".into(),
        }
    }

    fn model_path(self) -> &'static str {
        match self {
            Kind::Codex => "/backend-api/codex/responses",
            Kind::Claude => "/v1/messages",
        }
    }
}

fn setup_then_preflight_predicts_the_session_order(kind: Kind) {
    let mut sb = Sandbox::new();
    sb.refuse_off_box_traffic();
    let cli = real_cli(kind.name());
    sb.prepend_path(cli.parent().unwrap());
    match kind {
        Kind::Codex => harness::plant_user_codex_files(&sb),
        Kind::Claude => harness::plant_user_claude_files(&sb),
    };
    let [first, second, third] = kind.accounts();
    let setup = sb.run(&[
        "setup",
        kind.name(),
        "--accounts",
        &kind.accounts().join(","),
    ]);
    setup.ok();
    let report = sb.run(&["setup", kind.name(), "--json"]).json();
    assert_eq!(report["changes_needed"], false, "{report:#}");
    let version = report["harness_binary"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        version.contains("0.169.0") || version.contains("2.1.197"),
        "{version}"
    );
    // The logins' result, in the CLIs' own formats, in each account's store.
    for account in kind.accounts() {
        let (file, text) = match kind {
            Kind::Codex => ("auth.json", fake_harness::codex_auth_json(account)),
            Kind::Claude => (
                ".credentials.json",
                fake_harness::claude_credentials_json(account),
            ),
        };
        sb.plant_secret(
            &format!("data/oauth-mux/{}/{account}/{file}", kind.name()),
            text,
        );
    }
    let now = Timestamp::now();
    sb.record(&kind.first_route(), Classification::Success, now);
    sb.record_usage(
        &kind.first_route(),
        98.0,
        now + SignedDuration::from_hours(1),
        now,
    );
    let quota = || Behaviour::QuotaExhausted {
        resets_in_seconds: 3600,
    };
    let fake = FakeProvider::start(vec![
        (kind.token(second), quota()),
        (kind.token(third), quota()),
        (
            kind.token(first),
            Behaviour::Succeed {
                text: "ANSWERED-AFTER-TWO-HANDOFFS".into(),
            },
        ),
    ])
    .unwrap();
    let upstream_var = match kind {
        Kind::Codex => "OMUX_CODEX_UPSTREAM",
        Kind::Claude => "OMUX_CLAUDE_UPSTREAM",
    };
    sb.set_env(upstream_var, fake.origin());

    let preflight = sb.run(&[kind.name(), "preflight", "--no-side-traffic", "--json"]);
    preflight.ok();
    let p = preflight.json();
    assert_eq!(p["session_order"], json!([second, third, first]), "{p:#}");
    assert_eq!(p["launch_account"], second);
    assert_eq!(p["upstream"]["reachable"], true, "{p:#}");
    assert_eq!(p["harness_binary"]["version"], version);
    assert_eq!(p["side_traffic"]["disabled"], true);
    assert_eq!(fake.total_calls(), 0, "preflight sends no request");

    let session = match kind {
        Kind::Codex => sb.run(&[
            "codex",
            "--no-side-traffic",
            "exec",
            "--skip-git-repo-check",
            "say hi",
        ]),
        Kind::Claude => sb.run(&["claude", "--no-side-traffic", "-p", "say hi"]),
    };
    session.ok();
    assert!(
        session.stdout.contains("ANSWERED-AFTER-TWO-HANDOFFS"),
        "{session}"
    );
    let used: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path() == kind.model_path())
        .map(|r| r.credential().unwrap_or_default())
        .collect();
    let order: Vec<String> = [second, third, first]
        .iter()
        .map(|a| kind.token(a))
        .collect();
    assert_eq!(
        used, order,
        "the session tried the accounts in the order preflight reported"
    );
    assert_eq!(sb.off_box_attempts(), Vec::<String>::new());
    sb.assert_no_canary_on_disk();
}

#[test]
fn real_codex_setup_then_preflight_reports_the_order_the_session_uses() {
    setup_then_preflight_predicts_the_session_order(Kind::Codex);
}

#[test]
fn real_claude_setup_then_preflight_reports_the_order_the_session_uses() {
    setup_then_preflight_predicts_the_session_order(Kind::Claude);
}
