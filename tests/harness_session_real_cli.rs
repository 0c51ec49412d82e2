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
        env_remove: Vec::new(),
        requests: None,
    }
}

/// The upstream of both tests: account 1 answers the provider's real quota error, account
/// 2 succeeds.
fn quota_then_success() -> FakeProvider {
    FakeProvider::start(vec![
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
    .unwrap()
}

/// Accounts `acct-1` and `acct-2` (carrying the two canary tokens) of a built-in provider.
fn two_accounts(provider: &str, credential: impl Fn(&str) -> Credential) -> Arc<MemoryPool> {
    let account = |label: &str, token: &str| MemoryAccount {
        label: label.into(),
        credential: credential(token),
        upstream: None,
    };
    Arc::new(MemoryPool::new(
        "p",
        builtin::definition(provider).unwrap(),
        vec![
            account("acct-1", CANARY_TOKEN_1),
            account("acct-2", CANARY_TOKEN_2),
        ],
        90.0,
    ))
}

fn read(user: &TempUser, rel: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(user.path(rel)).unwrap_or_default()).into_owned()
}

/// The handoff one level below the CLI: `session::run` launches the real harness (through
/// a wrapper that gives it the temp user's environment) over a two-account in-memory pool.
fn assert_handoff_through_a_session(kind: HarnessKind) {
    let user = TempUser::new();
    let refusing = RefusingProxy::start();
    let mut env = user.env(&refusing);
    let (bin, user_files, auth, args, pool) = match kind {
        HarnessKind::Codex => {
            user.plant_codex_files();
            (
                "codex",
                ["home/.codex/config.toml", "home/.codex/auth.json"],
                AuthKind::Codex(CodexAuthKind::Chatgpt),
                &["exec", "--skip-git-repo-check", "say hi"][..],
                two_accounts("codex", |token| Credential::CodexChatgpt {
                    access_token: token.into(),
                    account_id: CANARY_ACCOUNT_ID.into(),
                }),
            )
        }
        HarnessKind::Claude => {
            user.plant_claude_files();
            env.push((
                "CLAUDE_CONFIG_DIR".into(),
                user.path("home/.claude").to_string_lossy().into_owned(),
            ));
            (
                "claude",
                [
                    "home/.claude/settings.json",
                    "home/.claude/.credentials.json",
                ],
                AuthKind::Claude(ClaudeAuthKind::Oauth),
                &["-p", "say hi"][..],
                two_accounts("claude", |token| Credential::ClaudeOauth {
                    access_token: token.into(),
                }),
            )
        }
    };
    let before = user.snapshot(&user_files);
    let fake = quota_then_success();
    let wrapper = wrapper_script(&user.path("work"), &harness_bin(bin), &env);
    let mut plan = plan(&user, auth, wrapper, args);
    plan.upstream = fake.origin();
    let outcome = session::run(&plan, pool.clone()).unwrap();
    let out = read(&user, "work/child.out");
    let err = read(&user, "work/child.err");
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
    assert_eq!(fake.calls(CANARY_TOKEN_1), 1);
    assert_eq!(fake.calls(CANARY_TOKEN_2), 1);
    assert!(pool.state_of("acct-1").benched.is_some());
    assert_eq!(
        refusing.attempts(),
        Vec::<String>::new(),
        "off-box attempts"
    );
    assert_eq!(user.snapshot(&user_files), before);
    let path = status::latest_artifact(&user.state_dir().join("sessions"), kind)
        .unwrap()
        .unwrap();
    let s = summary::summarize(kind, &status::read_artifact(&path).unwrap());
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
    // Whatever the session wrote for the child is gone (the overlay or the private
    // credential dir sits directly in the runtime dir the plan names).
    let leftovers: Vec<String> = std::fs::read_dir(user.runtime_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("codex-home-") || n.starts_with("claude-session-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    if kind == HarnessKind::Codex {
        assert!(
            user.path("home/.codex/sessions").is_dir(),
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
