//! The real Codex CLI and the real Claude Code CLI through a managed session (library
//! level: `harness::session::run` with an in-memory pool) against the loopback fake
//! provider, with HTTPS_PROXY pointing at a refusing proxy so any off-box attempt shows.

mod harness_support;

use std::sync::Arc;

use harness_support::*;
use oauth_mux::config::builtin;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::harness::claude_env::ClaudeAuthKind;
use oauth_mux::harness::codex_home::CodexAuthKind;
use oauth_mux::harness::session::{self, AuthKind, LaunchPlan};
use oauth_mux::harness::status::{self, HarnessKind, summary};
use oauth_mux::proxy::memory_pool::{MemoryAccount, MemoryPool};
use oauth_mux::proxy::pool::Credential;

fn plan(user: &TempUser, auth: AuthKind, program: std::path::PathBuf, args: &[&str]) -> LaunchPlan {
    let harness_home = match auth {
        AuthKind::Codex(_) => user.path("home/.codex"),
        AuthKind::Claude(_) => user.path("home/.claude"),
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
        sessions_dir: user.state_dir().join("sessions"),
        runtime_dir: user.runtime_dir(),
        user_harness_home: Some(harness_home),
        cwd: user.path("work"),
    }
}

fn read(user: &TempUser, rel: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(user.path(rel)).unwrap_or_default()).into_owned()
}

#[test]
fn real_codex_quota_on_account_1_is_answered_by_account_2() {
    let codex = harness_bin("codex");
    let user = TempUser::new();
    user.plant_codex_files();
    let before = user.snapshot(&["home/.codex/config.toml", "home/.codex/auth.json"]);
    let refusing = RefusingProxy::start();
    let fake = FakeProvider::start(vec![
        (
            CANARY_TOKEN_1.into(),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 3600,
            },
        ),
        (
            CANARY_TOKEN_2.into(),
            Behaviour::Succeed {
                text: "HANDOFF-TEXT-OK".into(),
            },
        ),
    ])
    .unwrap();
    let pool = Arc::new(MemoryPool::new(
        "p",
        builtin::definition("codex").unwrap(),
        vec![
            MemoryAccount {
                label: "acct-1".into(),
                credential: Credential::CodexChatgpt {
                    access_token: CANARY_TOKEN_1.into(),
                    account_id: CANARY_ACCOUNT_ID.into(),
                },
                upstream: None,
            },
            MemoryAccount {
                label: "acct-2".into(),
                credential: Credential::CodexChatgpt {
                    access_token: CANARY_TOKEN_2.into(),
                    account_id: CANARY_ACCOUNT_ID.into(),
                },
                upstream: None,
            },
        ],
        90.0,
    ));
    let wrapper = wrapper_script(&user.path("work"), &codex, &user.env(&refusing));
    let mut plan = plan(
        &user,
        AuthKind::Codex(CodexAuthKind::Chatgpt),
        wrapper,
        &["exec", "--skip-git-repo-check", "say hi"],
    );
    plan.upstream = fake.origin();
    let outcome = session::run(&plan, pool.clone()).unwrap();
    let out = read(&user, "work/child.out");
    let err = read(&user, "work/child.err");
    assert_eq!(
        outcome.exit.code, 0,
        "codex failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        out.contains("HANDOFF-TEXT-OK"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    for text in [&out, &err] {
        assert!(
            !text.to_lowercase().contains("usage limit"),
            "quota leaked:\n{text}"
        );
    }
    assert_eq!(fake.calls(CANARY_TOKEN_1), 1);
    assert_eq!(fake.calls(CANARY_TOKEN_2), 1);
    assert!(pool.state_of("acct-1").benched.is_some());
    assert_eq!(
        refusing.attempts(),
        Vec::<String>::new(),
        "off-box attempts"
    );
    assert_eq!(
        user.snapshot(&["home/.codex/config.toml", "home/.codex/auth.json"]),
        before
    );
    let path = status::latest_artifact(&user.state_dir().join("sessions"), HarnessKind::Codex)
        .unwrap()
        .unwrap();
    let s = summary::summarize(HarnessKind::Codex, &status::read_artifact(&path).unwrap());
    assert_eq!(
        s.verdict,
        summary::Verdict::SuccessfulLiveQuotaHandoff,
        "{s:#?}"
    );
    for canary in [CANARY_TOKEN_1, CANARY_TOKEN_2, CANARY_ACCOUNT_ID] {
        let hits = user.files_containing(canary, &[]);
        assert!(hits.is_empty(), "{canary} found in {hits:?}");
        assert!(!out.contains(canary) && !err.contains(canary));
    }
    // The overlay is gone, the user's session history stayed in their home.
    assert_eq!(
        std::fs::read_dir(user.runtime_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("codex-home-")
            })
            .count(),
        0
    );
    assert!(user.path("home/.codex/sessions").is_dir());
}

#[test]
fn real_claude_quota_on_account_1_is_answered_by_account_2() {
    let claude = harness_bin("claude");
    let user = TempUser::new();
    user.plant_claude_files();
    let before = user.snapshot(&[
        "home/.claude/settings.json",
        "home/.claude/.credentials.json",
    ]);
    let refusing = RefusingProxy::start();
    let fake = FakeProvider::start(vec![
        (
            CANARY_TOKEN_1.into(),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 3600,
            },
        ),
        (
            CANARY_TOKEN_2.into(),
            Behaviour::Succeed {
                text: "HANDOFF-TEXT-OK".into(),
            },
        ),
    ])
    .unwrap();
    let pool = Arc::new(MemoryPool::new(
        "p",
        builtin::definition("claude").unwrap(),
        vec![
            MemoryAccount {
                label: "acct-1".into(),
                credential: Credential::ClaudeOauth {
                    access_token: CANARY_TOKEN_1.into(),
                },
                upstream: None,
            },
            MemoryAccount {
                label: "acct-2".into(),
                credential: Credential::ClaudeOauth {
                    access_token: CANARY_TOKEN_2.into(),
                },
                upstream: None,
            },
        ],
        90.0,
    ));
    let mut env = user.env(&refusing);
    env.push((
        "CLAUDE_CONFIG_DIR".into(),
        user.path("home/.claude").to_string_lossy().into_owned(),
    ));
    let wrapper = wrapper_script(&user.path("work"), &claude, &env);
    let mut plan = plan(
        &user,
        AuthKind::Claude(ClaudeAuthKind::Oauth),
        wrapper,
        &["-p", "say hi"],
    );
    plan.upstream = fake.origin();
    let outcome = session::run(&plan, pool.clone()).unwrap();
    let out = read(&user, "work/child.out");
    let err = read(&user, "work/child.err");
    assert_eq!(
        outcome.exit.code, 0,
        "claude failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        out.contains("HANDOFF-TEXT-OK"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    for text in [&out, &err] {
        assert!(!text.contains("limit"), "quota leaked:\n{text}");
    }
    assert_eq!(fake.calls(CANARY_TOKEN_1), 1);
    assert_eq!(fake.calls(CANARY_TOKEN_2), 1);
    assert!(pool.state_of("acct-1").benched.is_some());
    assert_eq!(
        refusing.attempts(),
        Vec::<String>::new(),
        "off-box attempts"
    );
    assert_eq!(
        user.snapshot(&[
            "home/.claude/settings.json",
            "home/.claude/.credentials.json"
        ]),
        before
    );
    let path = status::latest_artifact(&user.state_dir().join("sessions"), HarnessKind::Claude)
        .unwrap()
        .unwrap();
    let s = summary::summarize(HarnessKind::Claude, &status::read_artifact(&path).unwrap());
    assert_eq!(
        s.verdict,
        summary::Verdict::SuccessfulLiveQuotaHandoff,
        "{s:#?}"
    );
    for canary in [CANARY_TOKEN_1, CANARY_TOKEN_2] {
        let hits = user.files_containing(canary, &[]);
        assert!(hits.is_empty(), "{canary} found in {hits:?}");
    }
}
