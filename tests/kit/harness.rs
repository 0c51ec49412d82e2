//! Harnesses for managed sessions: the pinned real CLIs (installed by
//! `.ci/deps/20-harness.sh`), the user's own harness files, and a stub harness that sends
//! one model request, for tests that only care which account the session uses.

use std::path::{Path, PathBuf};

use super::files;
use super::sandbox::Sandbox;
use super::{canary, worker};

/// Absolute path of a pinned harness CLI (`codex`, `claude`), or a panic that names the fix.
pub fn real_cli(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = root.join(".ci/.tools/npm/bin").join(name);
    if local.exists() {
        return local;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the real `{name}` CLI is missing: run `bash .ci/deps/20-harness.sh` (installs the pinned \
         @openai/codex and @anthropic-ai/claude-code into .ci/.tools/npm) — this test never skips"
    );
}

/// The user's own Codex files (a config.toml and a ChatGPT auth.json carrying the canary
/// token of account `user-own`); returns their paths relative to the sandbox.
pub fn plant_user_codex_files(sb: &Sandbox) -> Vec<&'static str> {
    let token = canary::token("user-own");
    sb.plant(
        "home/.codex/config.toml",
        "# the user's own settings\nmodel_reasoning_effort = \"low\"\n\n[analytics]\nenabled = true\n",
    );
    sb.plant_secret(
        "home/.codex/auth.json",
        format!(
            "{{\"auth_mode\":\"chatgpt\",\"OPENAI_API_KEY\":null,\"tokens\":{{\"id_token\":\"{token}\",\"access_token\":\"{token}\",\"refresh_token\":\"rt_{token}\",\"account_id\":\"user-own-account\"}}}}\n"
        ),
    );
    vec!["home/.codex/config.toml", "home/.codex/auth.json"]
}

/// The user's own Claude files (settings.json and a .credentials.json carrying the canary
/// token of account `user-own`); returns their paths relative to the sandbox.
pub fn plant_user_claude_files(sb: &Sandbox) -> Vec<&'static str> {
    let token = canary::token("user-own");
    sb.plant("home/.claude/settings.json", "{\"theme\":\"dark\"}\n");
    sb.plant_secret(
        "home/.claude/.credentials.json",
        format!(
            "{{\"claudeAiOauth\":{{\"accessToken\":\"{token}\",\"refreshToken\":\"rt-{token}\",\"expiresAt\":4102444800000,\"scopes\":[\"user:inference\"],\"subscriptionType\":\"max\"}}}}\n"
        ),
    );
    vec![
        "home/.claude/settings.json",
        "home/.claude/.credentials.json",
    ]
}

/// Byte snapshot of files (relative to the sandbox).
pub fn snapshot(sb: &Sandbox, files: &[&str]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|f| (f.to_string(), std::fs::read(sb.path(f)).unwrap()))
        .collect()
}

/// A script in `work/` that runs `real` with the sandbox's environment and its stdio in
/// `work/child.out` and `work/child.err` (a launcher gives its child inherited stdio;
/// tests read it back from the files).
pub fn wrapper_script(sb: &Sandbox, real: &Path) -> PathBuf {
    let work = sb.work_dir();
    let name = real.file_name().unwrap().to_string_lossy();
    let mut body = String::new();
    for (k, v) in sb.env_vars() {
        body.push_str(&format!("export {k}='{v}'\n"));
    }
    body.push_str(&format!(
        "exec '{}' \"$@\" </dev/null >'{}/child.out' 2>'{}/child.err'",
        real.display(),
        work.display(),
        work.display()
    ));
    let path = work.join(format!("{name}-wrapper.sh"));
    files::write_script(&path, &body);
    path
}

/// A stand-in harness script in `work/` (for checks that need the session, not the CLI).
pub fn script_harness(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    let path = sb.work_dir().join(format!("{name}.sh"));
    files::write_script(&path, &format!("set -u\n{body}"));
    path
}

/// A stub Claude Code, planted as `claude` first on the sandbox's `PATH`: it touches
/// `work/stub-claude-ran`, then re-runs this test binary as a worker of `test_name`, which
/// sends one model request to `ANTHROPIC_BASE_URL` (see [`act_as_stub_claude`]).
pub fn plant_stub_claude(sb: &Sandbox, test_name: &str) -> PathBuf {
    sb.plant_script(
        "claude",
        &format!(
            "touch '{ran}'\nexport {var}=stub-claude\nexec '{bin}' --exact {test_name} --nocapture --test-threads=1",
            ran = stub_claude_marker(sb).display(),
            var = worker::WORKER_VAR,
            bin = worker::this_test_binary().display(),
        ),
    )
}

/// The file the stub Claude Code touches when it starts.
pub fn stub_claude_marker(sb: &Sandbox) -> PathBuf {
    sb.work_dir().join("stub-claude-ran")
}

/// Environment variables that shape the stub's session: how many turns it sends
/// (default 1) and how long it pauses between them (milliseconds, default 0).
pub const STUB_TURNS_VAR: &str = "OMUX_TEST_STUB_TURNS";
pub const STUB_PAUSE_MS_VAR: &str = "OMUX_TEST_STUB_PAUSE_MS";

/// The stub's part: `/v1/messages` requests through the session, as Claude Code sends
/// them (one, or as [`STUB_TURNS_VAR`] says); the process exits 1 when an answer is no
/// success.
pub fn act_as_stub_claude() {
    let base = std::env::var("ANTHROPIC_BASE_URL").expect("the session sets ANTHROPIC_BASE_URL");
    let number = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let turns = number(STUB_TURNS_VAR, 1);
    let pause = std::time::Duration::from_millis(number(STUB_PAUSE_MS_VAR, 0));
    for turn in 1..=turns {
        if turn > 1 {
            std::thread::sleep(pause);
        }
        let answer = super::proxy_rig::send(
            "POST",
            &format!("{base}/v1/messages?beta=true"),
            &[
                ("x-api-key", "harness-placeholder"),
                ("anthropic-version", "2023-06-01"),
                ("content-type", "application/json"),
            ],
            br#"{"model":"claude-sonnet-5","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#,
        );
        println!("stub-claude got {}", answer.status);
        if answer.status != 200 {
            std::process::exit(1);
        }
    }
}
