//! Issue 14's proof: the README's Quick start runs as written, line by line through `sh`, in a
//! fresh sandbox whose `codex` and `claude` are the kit's fakes (they record argv and
//! environment and write credentials in the real CLIs' formats), and ends with `route explain`
//! showing every account's routes ready and available.

mod kit;

use std::path::Path;

use kit::{Output, Sandbox, canary, fake_harness};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use serde_json::Value;

/// The `oauth-mux …` lines of the code blocks under README's "## Quick start", in order.
fn quick_start_lines() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## Quick start")
        .nth(1)
        .expect("README has a Quick start")
        .split("\n## ")
        .next()
        .unwrap();
    let mut lines = Vec::new();
    let mut fenced = false;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced && line.trim_start().starts_with("oauth-mux ") {
            lines.push(line.trim().to_owned());
        }
    }
    lines
}

/// A sandbox with the fakes and the built binary on `PATH`, a loopback fake provider for the
/// model requests (live-qa's Claude probes, the sessions), and every other route off-box
/// refused.
fn machine() -> (Sandbox, FakeProvider) {
    let mut sb = Sandbox::new();
    sb.refuse_off_box_traffic();
    fake_harness::plant(&sb);
    std::os::unix::fs::symlink(kit::sandbox::BIN, sb.path("bin/oauth-mux")).unwrap();
    let fake = FakeProvider::start(
        ["personal", "work"]
            .iter()
            .map(|a| {
                (
                    fake_harness::claude_token(a),
                    Behaviour::Succeed {
                        text: format!("hello from {a}"),
                    },
                )
            })
            .collect(),
    )
    .unwrap();
    sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
    sb.set_env("OMUX_CODEX_UPSTREAM", fake.origin());
    (sb, fake)
}

fn shell(sb: &Sandbox, line: &str) -> Output {
    let out = sb.program("sh").args(["-c", line]).run();
    out.assert_no_canaries();
    out
}

/// `route explain --json` routes of a profile.
fn routes(sb: &Sandbox, profile: &str) -> Vec<Value> {
    let out = sb.run(&["route", "explain", "--profile", profile, "--json"]);
    out.ok();
    out.json()["routes"].as_array().unwrap().clone()
}

#[test]
fn the_readme_quick_start_runs_as_written_and_ends_with_every_account_ready() {
    let lines = quick_start_lines();
    assert!(lines.len() >= 10, "{lines:?}");
    let (sb, fake) = machine();
    let mut doctors = 0;
    for line in &lines {
        let out = shell(&sb, line);
        let first_doctor = line.starts_with("oauth-mux doctor") && {
            doctors += 1;
            doctors == 1
        };
        if first_doctor {
            // Before any login, doctor lists what is missing and exits 1.
            out.code(1);
            assert!(
                out.stdout.contains(
                    "not logged in (no auth.json in its store) → oauth-mux codex login-device max-1"
                ),
                "{out}"
            );
        } else {
            out.ok();
        }
        if line.starts_with("oauth-mux init --codex-max") {
            for a in ["max-1", "max-2", "max-3"] {
                let store = sb.path(&format!("data/oauth-mux/codex/{a}"));
                assert_eq!(kit::files::mode(&store), 0o700, "{a}");
                assert!(
                    out.stdout
                        .contains(&format!("oauth-mux codex login-device {a}"))
                );
            }
        }
    }
    for profile in ["codex-max", "claude"] {
        let routes = routes(&sb, profile);
        assert!(!routes.is_empty());
        for r in &routes {
            assert_eq!(r["runtime"]["state"], "ready", "{r:#}");
            assert_eq!(r["status"]["state"], "available", "{r:#}");
        }
    }
    let accounts: Vec<String> = routes(&sb, "codex-max")
        .iter()
        .chain(routes(&sb, "claude").iter())
        .map(|r| r["account"].as_str().unwrap().to_owned())
        .collect();
    for a in ["max-1", "max-2", "max-3", "personal", "work"] {
        assert!(accounts.iter().any(|x| x == a), "{a} in {accounts:?}");
    }
    // The logins ran the harnesses' own commands with each account's store.
    let calls = fake_harness::invocations(&sb);
    for (cmd, var, account) in [
        ("login --device-auth", "CODEX_HOME", "max-1"),
        ("login --device-auth", "CODEX_HOME", "max-3"),
        ("auth login", "CLAUDE_CONFIG_DIR", "work"),
    ] {
        let store = sb.path(&format!(
            "data/oauth-mux/{}/{account}",
            if var == "CODEX_HOME" {
                "codex"
            } else {
                "claude"
            }
        ));
        assert!(
            calls
                .iter()
                .any(|c| c.argv.join(" ") == cmd && c.var(var) == Some(store.to_str().unwrap())),
            "no `{cmd}` with {var}={}",
            store.display()
        );
    }
    // Claude's live-qa went to the loopback provider, one request per account; nothing left
    // the machine.
    assert_eq!(fake.calls(&fake_harness::claude_token("personal")), 1);
    assert_eq!(fake.calls(&fake_harness::claude_token("work")), 1);
    assert_eq!(sb.off_box_attempts(), Vec::<String>::new());
    fake_harness::mark_stores_secret(&sb);
    sb.assert_no_canary_on_disk();
    // The canaries really were in the stores: the search above had something to find.
    assert!(canary::found_in(
        &std::fs::read_to_string(sb.path("data/oauth-mux/codex/max-2/auth.json")).unwrap()
    ));
}
