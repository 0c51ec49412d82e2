//! The real Codex CLI and the real Claude Code CLI through a managed session (library
//! level: `harness::session::run` with the production pool over a sandbox's health store)
//! against the loopback fake provider, with HTTPS_PROXY pointing at a refusing proxy so any
//! off-box attempt shows.

mod kit;

use std::sync::Arc;

use kit::harness::{self, real_cli, wrapper_script};
use kit::proxy_rig::{durable_pool, route_key};
use kit::{Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::harness::claude_env::ClaudeAuthKind;
use oauth_mux::harness::codex_home::CodexAuthKind;
use oauth_mux::harness::session::{self, AuthKind, LaunchPlan};
use oauth_mux::harness::status::{self, HarnessKind};
use oauth_mux::model::session_verdict;
use oauth_mux::proxy::Harness;
use oauth_mux::proxy::pool::Pool;

fn plan(sb: &Sandbox, auth: AuthKind, program: std::path::PathBuf, args: &[&str]) -> LaunchPlan {
    let harness_home = match auth {
        AuthKind::Codex(_) => sb.path("home/.codex"),
        AuthKind::Claude(_) => sb.path("home/.claude"),
    };
    LaunchPlan {
        auth,
        profile: "p".into(),
        launch_account: "acct-1".into(),
        pool_labels: vec!["acct-1".into(), "acct-2".into()],
        upstream: String::new(),
        extra_ca_file: None,
        program: program.into_os_string(),
        args: args.iter().map(|a| a.into()).collect(),
        no_side_traffic: true,
        isolated_config: false,
        sessions_dir: sb.state_dir().join("sessions"),
        runtime_dir: sb.runtime_dir(),
        user_harness_home: Some(harness_home),
        cwd: sb.work_dir(),
        env_remove: Vec::new(),
        requests: None,
    }
}

/// The upstream of both tests: account 1 answers the provider's real quota error, account
/// 2 succeeds.
fn quota_then_success() -> FakeProvider {
    FakeProvider::start(vec![
        (
            canary::token("acct-1"),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 3600,
            },
        ),
        (
            canary::token("acct-2"),
            Behaviour::Succeed {
                text: "HANDOFF-TEXT-OK".into(),
            },
        ),
    ])
    .unwrap()
}

fn read(sb: &Sandbox, rel: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(sb.path(rel)).unwrap_or_default()).into_owned()
}

/// The handoff one level below the CLI: `session::run` launches the real harness (through
/// a wrapper that gives it the sandbox's environment) over a two-account production pool.
fn assert_handoff_through_a_session(kind: HarnessKind) {
    let mut sb = Sandbox::new();
    sb.refuse_off_box_traffic();
    let (bin, user_files, auth, args, harness) = match kind {
        HarnessKind::Codex => (
            "codex",
            harness::plant_user_codex_files(&sb),
            AuthKind::Codex(CodexAuthKind::Chatgpt),
            &["exec", "--skip-git-repo-check", "say hi"][..],
            Harness::Codex,
        ),
        HarnessKind::Claude => {
            let files = harness::plant_user_claude_files(&sb);
            let dir = sb.path("home/.claude");
            sb.set_env("CLAUDE_CONFIG_DIR", dir);
            (
                "claude",
                files,
                AuthKind::Claude(ClaudeAuthKind::Oauth),
                &["-p", "say hi"][..],
                Harness::Claude,
            )
        }
    };
    let pool = Arc::new(durable_pool(harness, &["acct-1", "acct-2"], &sb.dirs()));
    let before = harness::snapshot(&sb, &user_files);
    let fake = quota_then_success();
    let wrapper = wrapper_script(&sb, &real_cli(bin));
    let mut plan = plan(&sb, auth, wrapper, args);
    plan.upstream = fake.origin();
    let outcome = session::run(&plan, pool.clone()).unwrap();
    let out = read(&sb, "work/child.out");
    let err = read(&sb, "work/child.err");
    assert_eq!(
        outcome.exit.code, 0,
        "{bin} failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        out.contains("HANDOFF-TEXT-OK"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    for text in [&out, &err] {
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("usage limit") && !lower.contains("rate limit"),
            "quota leaked:\n{text}"
        );
    }
    assert_eq!(fake.calls(&canary::token("acct-1")), 1);
    assert_eq!(fake.calls(&canary::token("acct-2")), 1);
    pool.flush();
    let spent = sb
        .route_health(&route_key(harness, "acct-1").to_string())
        .expect("acct-1 recorded");
    assert_eq!(
        spent.status_at(jiff::Timestamp::now()).label(),
        "quota_exhausted"
    );
    assert_eq!(
        sb.off_box_attempts(),
        Vec::<String>::new(),
        "off-box attempts"
    );
    assert_eq!(harness::snapshot(&sb, &user_files), before);
    let path = status::latest_artifact(&sb.state_dir().join("sessions"), kind)
        .unwrap()
        .unwrap();
    let s = session_verdict::summarize(kind, &status::read_artifact(&path).unwrap());
    assert_eq!(
        s.verdict,
        session_verdict::Verdict::SuccessfulLiveQuotaHandoff,
        "{s:#?}"
    );
    // The harness's output is in work/, so this covers it too.
    sb.assert_no_canary_on_disk();
    // Whatever the session wrote for the child is gone (the overlay or the private
    // credential dir sits directly in the runtime dir the plan names).
    let leftovers: Vec<String> = std::fs::read_dir(sb.runtime_dir())
        .expect("the session used the runtime dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("codex-home-") || n.starts_with("claude-session-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    if kind == HarnessKind::Codex {
        assert!(
            sb.path("home/.codex/sessions").is_dir(),
            "history stays in the user's Codex home"
        );
    }
}

#[test]
fn real_codex_quota_on_account_1_is_answered_by_account_2() {
    assert_handoff_through_a_session(HarnessKind::Codex);
}

#[test]
fn real_claude_quota_on_account_1_is_answered_by_account_2() {
    assert_handoff_through_a_session(HarnessKind::Claude);
}
