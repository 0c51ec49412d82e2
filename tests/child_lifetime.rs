//! What a child of oauth-mux (`exec`, a managed session's harness) gets and how long it
//! lives: no variable a configured secret backend reads (issue 17, finding 2), and no life
//! after oauth-mux is killed (finding 3). Linux only: the child is observed through /proc.
#![cfg(target_os = "linux")]

mod inject_support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use inject_support::*;
use serde_json::json;

/// The bound for the child to be gone after oauth-mux was killed.
const GONE_WITHIN: Duration = Duration::from_secs(2);
/// Generous bound for the test's own setup steps on a loaded machine.
const SETUP: Duration = Duration::from_secs(30);

/// A Claude credential held in an `env`-backed account: the secret the harness must not see.
const CLAUDE_CANARY: &str = "sk-ant-oat01-omux-canary-claude-env-9Fq2";
const CLAUDE_REFRESH_CANARY: &str = "sk-ant-ort01-omux-canary-claude-refresh-3Lw8";

/// The machine of the injection tests plus a Claude account whose credential sits in an
/// environment variable, a `claude` profile, and a sops-backed account (whose backend reads
/// `SOPS_AGE_KEY`).
fn machine() -> Machine {
    let mut m = Machine::new();
    let mut config = m.config_json();
    config["profiles"]["claude"] = json!({"providers": ["claude:work"]});
    config["providers"]["vault"] = json!({"kind": "github", "accounts": {
        "ops": {"secret": {"backend": "sops", "path": m.path("ops.sops.json").display().to_string()}}
    }});
    m.write_config(&config);
    m.env.insert(
        "CLAUDE_SECRET_WORK".into(),
        json!({"claudeAiOauth": {"accessToken": CLAUDE_CANARY, "refreshToken": CLAUDE_REFRESH_CANARY,
                "expiresAt": 4_102_444_800_000_i64, "scopes": ["user:inference"],
                "subscriptionType": "max"}})
        .to_string(),
    );
    m.env.insert(
        "SOPS_AGE_KEY".into(),
        "AGE-SECRET-KEY-1OMUXCANARYSOPS".into(),
    );
    m.env
        .insert("OMUX_TEST_UNRELATED".into(), "kept-as-is".into());
    m
}

/// A script that records its pid in `pidfile` and runs until killed.
fn sleeper(pidfile: &Path, ignore_term: bool) -> String {
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    format!(
        "{trap}echo $$ > {}; while :; do sleep 0.05; done",
        pidfile.display()
    )
}

fn wait_for_pid(pidfile: &Path, parent: &mut Child) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        if let Ok(Some(status)) = parent.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = parent.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).unwrap();
            }
            panic!("oauth-mux ended ({status}) before its child started:\n{err}");
        }
        if start.elapsed() > SETUP {
            let _ = parent.kill();
            panic!("the child never started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child's environment, as the kernel holds it.
fn environ(pid: i32) -> Vec<(String, String)> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let text = String::from_utf8_lossy(e);
            let (k, v) = text.split_once('=').unwrap_or((&text, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Dead: no such process, or a zombie nobody reaped yet.
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn kill(pid: i32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A failed test leaves nothing running: the child's group, or the child alone.
fn clean_up(pid: i32) {
    kill(-pid, libc::SIGKILL);
    kill(pid, libc::SIGKILL);
}

/// How long `pid` took to be gone, if it went within `limit`.
fn time_to_gone(pid: i32, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if gone(pid) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    gone(pid).then(|| start.elapsed())
}

fn exec_sleeper(m: &Machine, pidfile: &Path, ignore_term: bool) -> Child {
    m.cmd(&[
        "exec",
        "--provider",
        "toy",
        "--",
        "sh",
        "-c",
        &sleeper(pidfile, ignore_term),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// A fake `claude` that records its pid and runs until killed.
fn fake_claude(m: &Machine, pidfile: &Path) -> std::path::PathBuf {
    let script = m.path("fake-claude.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{}\n", sleeper(pidfile, false))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn managed_claude(m: &Machine, pidfile: &Path) -> Child {
    let script = fake_claude(m, pidfile);
    m.cmd(&["claude", "--profile", "claude"])
        .env("OMUX_CLAUDE_BIN", &script)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[track_caller]
fn assert_no_backend_variable(env: &[(String, String)], what: &str) {
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for secret_var in [
        "TOY_SECRET_A1",
        "TOY_SECRET_A2",
        "CLAUDE_SECRET_WORK",
        "SOPS_AGE_KEY",
    ] {
        assert!(
            !names.contains(&secret_var),
            "{what}: the child inherited {secret_var}, which a configured secret backend reads"
        );
    }
    let all: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    for canary in [
        CANARY_A2,
        REFRESH_A1,
        REFRESH_A2,
        CLAUDE_CANARY,
        CLAUDE_REFRESH_CANARY,
        "OMUXCANARYSOPS",
    ] {
        assert!(
            !all.contains(canary),
            "{what}: a secret reached the child's environment:\n{all}"
        );
    }
    assert!(
        env.iter()
            .any(|(k, v)| k == "OMUX_TEST_UNRELATED" && v == "kept-as-is"),
        "{what}: an unrelated variable was dropped"
    );
}

#[test]
fn an_exec_child_gets_no_variable_a_secret_backend_reads_only_its_route_injection() {
    let m = machine();
    m.live("toy:a1#cheap");
    let pidfile = m.path("exec.pid");
    let mut oauth_mux = exec_sleeper(&m, &pidfile, false);
    let pid = wait_for_pid(&pidfile, &mut oauth_mux);
    let env = environ(pid);
    kill(oauth_mux.id() as i32, libc::SIGTERM);
    oauth_mux.wait().unwrap();
    assert_no_backend_variable(&env, "exec");
    // What the chosen route injects on purpose is still there.
    assert!(
        env.iter().any(|(k, v)| k == "TOY_TOKEN" && v == CANARY_A1),
        "the route's own injection is missing"
    );
}

#[test]
fn a_managed_harness_gets_no_variable_a_secret_backend_reads() {
    let m = machine();
    let pidfile = m.path("claude.pid");
    let mut oauth_mux = managed_claude(&m, &pidfile);
    let pid = wait_for_pid(&pidfile, &mut oauth_mux);
    let env = environ(pid);
    kill(oauth_mux.id() as i32, libc::SIGTERM);
    oauth_mux.wait().unwrap();
    assert_no_backend_variable(&env, "managed claude session");
    assert!(
        env.iter().any(|(k, _)| k == "ANTHROPIC_BASE_URL"),
        "the harness was not pointed at the session proxy: {env:?}"
    );
}

/// Kill oauth-mux with SIGKILL once its child runs; the child must be gone within 2 s.
fn assert_child_dies_with_oauth_mux(mut oauth_mux: Child, pidfile: &Path, what: &str) {
    let pid = wait_for_pid(pidfile, &mut oauth_mux);
    assert!(!gone(pid));
    kill(oauth_mux.id() as i32, libc::SIGKILL);
    oauth_mux.wait().unwrap();
    let took = time_to_gone(pid, GONE_WITHIN);
    if took.is_none() {
        clean_up(pid);
    }
    assert!(
        took.is_some(),
        "{what} outlived oauth-mux by more than {GONE_WITHIN:?}"
    );
}

#[test]
fn killing_oauth_mux_exec_with_sigkill_ends_the_child_within_two_seconds() {
    let m = machine();
    m.live("toy:a1#cheap");
    let pidfile = m.path("exec.pid");
    let oauth_mux = exec_sleeper(&m, &pidfile, false);
    assert_child_dies_with_oauth_mux(oauth_mux, &pidfile, "the exec child");
}

#[test]
fn killing_oauth_mux_with_sigkill_ends_a_managed_harness_within_two_seconds() {
    let m = machine();
    let pidfile = m.path("claude.pid");
    let oauth_mux = managed_claude(&m, &pidfile);
    assert_child_dies_with_oauth_mux(oauth_mux, &pidfile, "the harness");
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let m = machine();
    m.live("toy:a1#cheap");
    let pidfile = m.path("stubborn.pid");
    let mut oauth_mux = exec_sleeper(&m, &pidfile, true);
    let pid = wait_for_pid(&pidfile, &mut oauth_mux);
    kill(oauth_mux.id() as i32, libc::SIGKILL);
    oauth_mux.wait().unwrap();
    // Still there just after SIGTERM (it ignores it) ...
    std::thread::sleep(Duration::from_millis(200));
    let survived_term = !gone(pid);
    // ... and gone once the grace period (1 s) is over; the bound is generous for a
    // loaded machine, it proves the SIGKILL, not a speed.
    let took = time_to_gone(pid, Duration::from_secs(1) + SETUP);
    if took.is_none() {
        clean_up(pid);
    }
    assert!(
        survived_term,
        "the child did not ignore SIGTERM; the test proves nothing"
    );
    assert!(took.is_some(), "a child ignoring SIGTERM was never killed");
}
