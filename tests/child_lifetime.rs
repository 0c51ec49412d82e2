//! What a child of oauth-mux (`exec`, a managed session's harness) gets and how long it
//! lives: no variable a configured secret backend reads (issue 17, finding 2), and no life
//! after oauth-mux is killed (finding 3). Linux only: the child is observed through /proc.
#![cfg(target_os = "linux")]

mod kit;

use std::path::Path;
use std::time::{Duration, Instant};

use kit::command::Running;
use kit::{Sandbox, canary, toy};
use serde_json::json;

/// The bound for the child to be gone after oauth-mux was killed.
const GONE_WITHIN: Duration = Duration::from_secs(2);
/// Generous bound for the test's own setup steps on a loaded machine.
const SETUP: Duration = Duration::from_secs(30);

/// The age identity the sops backend reads from `SOPS_AGE_KEY`.
fn sops_age_key() -> String {
    format!("AGE-SECRET-KEY-1{}", canary::secret("sops-age-key"))
}

/// The injection tests' machine plus a Claude account whose credential sits in an
/// environment variable (`CLAUDE_SECRET_WORK`), a `claude` profile, a sops-backed account
/// (whose backend reads `SOPS_AGE_KEY`), and a variable no backend reads.
fn machine() -> Sandbox {
    let mut sb = toy::injection_sandbox();
    let mut config = sb.config();
    config["profiles"]["claude"] = json!({"providers": ["claude:work"]});
    config["providers"]["vault"] = json!({"kind": "github", "accounts": {
        "ops": {"secret": {"backend": "sops", "path": sb.path("ops.sops.json")}}
    }});
    sb.write_config(&config);
    sb.set_env(
        "CLAUDE_SECRET_WORK",
        json!({"claudeAiOauth": {"accessToken": canary::claude_token("work"),
                "refreshToken": canary::refresh_token("work"),
                "expiresAt": 4_102_444_800_000_i64, "scopes": ["user:inference"],
                "subscriptionType": "max"}})
        .to_string(),
    );
    sb.set_env("SOPS_AGE_KEY", sops_age_key());
    sb.set_env("OMUX_TEST_UNRELATED", "kept-as-is");
    sb
}

/// A script that records its pid in `pidfile` and runs until killed.
fn sleeper(pidfile: &Path, ignore_term: bool) -> String {
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    format!(
        "{trap}echo $$ > {}; while :; do sleep 0.05; done",
        pidfile.display()
    )
}

/// The pid the child wrote to `pidfile`, once it runs.
fn wait_for_pid(pidfile: &Path, oauth_mux: &mut Running) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        if !oauth_mux.is_running() {
            let mut err = String::new();
            if let Some(mut e) = oauth_mux.child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).unwrap();
            }
            panic!("oauth-mux ended before its child started:\n{err}");
        }
        if start.elapsed() > SETUP {
            let _ = oauth_mux.child.kill();
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

fn exec_sleeper(sb: &Sandbox, pidfile: &Path, ignore_term: bool) -> Running {
    sb.oauth_mux()
        .args(["exec", "--provider", "toy", "--", "sh", "-c"])
        .arg(sleeper(pidfile, ignore_term))
        .spawn()
}

/// A managed Claude session whose `claude` (first on `PATH`) records its pid and runs
/// until killed.
fn managed_claude(sb: &Sandbox, pidfile: &Path) -> Running {
    sb.plant_script("claude", &sleeper(pidfile, false));
    sb.oauth_mux()
        .args(["claude", "--profile", "claude"])
        .spawn()
}

/// No variable a configured secret backend reads reached the child, and no canary but
/// `injected` (what the chosen route injects on purpose); unrelated variables are kept.
#[track_caller]
fn assert_no_backend_variable(env: &[(String, String)], what: &str, injected: &[(&str, &str)]) {
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
    for (k, v) in env {
        if canary::found_in(v) || canary::found_in(k) {
            assert!(
                injected.contains(&(k.as_str(), v.as_str())),
                "{what}: a secret reached the child's environment in {k}:\n{all}"
            );
        }
    }
    assert!(
        !all.contains(&sops_age_key()),
        "{what}: the sops key reached the child's environment:\n{all}"
    );
    assert!(
        env.iter()
            .any(|(k, v)| k == "OMUX_TEST_UNRELATED" && v == "kept-as-is"),
        "{what}: an unrelated variable was dropped"
    );
}

#[test]
fn an_exec_child_gets_no_variable_a_secret_backend_reads_only_its_route_injection() {
    let sb = machine();
    toy::live(&sb, "toy:a1#cheap");
    let pidfile = sb.path("exec.pid");
    let mut oauth_mux = exec_sleeper(&sb, &pidfile, false);
    let pid = wait_for_pid(&pidfile, &mut oauth_mux);
    let env = environ(pid);
    oauth_mux.signal(libc::SIGTERM);
    oauth_mux.wait();
    let injected = canary::token("a1");
    assert_no_backend_variable(&env, "exec", &[("TOY_TOKEN", &injected)]);
    // What the chosen route injects on purpose is still there.
    assert!(
        env.iter().any(|(k, v)| k == "TOY_TOKEN" && *v == injected),
        "the route's own injection is missing"
    );
}

#[test]
fn a_managed_harness_gets_no_variable_a_secret_backend_reads() {
    let sb = machine();
    let pidfile = sb.path("claude.pid");
    let mut oauth_mux = managed_claude(&sb, &pidfile);
    let pid = wait_for_pid(&pidfile, &mut oauth_mux);
    let env = environ(pid);
    oauth_mux.signal(libc::SIGTERM);
    oauth_mux.wait();
    assert_no_backend_variable(&env, "managed claude session", &[]);
    assert!(
        env.iter().any(|(k, _)| k == "ANTHROPIC_BASE_URL"),
        "the harness was not pointed at the session proxy: {env:?}"
    );
}

/// Kill oauth-mux with SIGKILL once its child runs; the child must be gone within 2 s.
fn assert_child_dies_with_oauth_mux(mut oauth_mux: Running, pidfile: &Path, what: &str) {
    let pid = wait_for_pid(pidfile, &mut oauth_mux);
    assert!(!gone(pid));
    oauth_mux.signal(libc::SIGKILL);
    oauth_mux.wait_for_exit();
    let took = time_to_gone(pid, GONE_WITHIN);
    if took.is_none() {
        clean_up(pid);
    }
    // The child is gone: what oauth-mux printed can be collected (and checked).
    oauth_mux.wait();
    assert!(
        took.is_some(),
        "{what} outlived oauth-mux by more than {GONE_WITHIN:?}"
    );
}

#[test]
fn killing_oauth_mux_exec_with_sigkill_ends_the_child_within_two_seconds() {
    let sb = machine();
    toy::live(&sb, "toy:a1#cheap");
    let pidfile = sb.path("exec.pid");
    let oauth_mux = exec_sleeper(&sb, &pidfile, false);
    assert_child_dies_with_oauth_mux(oauth_mux, &pidfile, "the exec child");
}

#[test]
fn killing_oauth_mux_with_sigkill_ends_a_managed_harness_within_two_seconds() {
    let sb = machine();
    let pidfile = sb.path("claude.pid");
    let oauth_mux = managed_claude(&sb, &pidfile);
    assert_child_dies_with_oauth_mux(oauth_mux, &pidfile, "the harness");
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let sb = machine();
    toy::live(&sb, "toy:a1#cheap");
    let pidfile = sb.path("stubborn.pid");
    let mut oauth_mux = exec_sleeper(&sb, &pidfile, true);
    let pid = wait_for_pid(&pidfile, &mut oauth_mux);
    oauth_mux.signal(libc::SIGKILL);
    oauth_mux.wait_for_exit();
    // Still there just after SIGTERM (it ignores it) ...
    std::thread::sleep(Duration::from_millis(200));
    let survived_term = !gone(pid);
    // ... and gone once the grace period (1 s) is over; the bound is generous for a
    // loaded machine, it proves the SIGKILL, not a speed.
    let took = time_to_gone(pid, Duration::from_secs(1) + SETUP);
    if took.is_none() {
        clean_up(pid);
    }
    oauth_mux.wait();
    assert!(
        survived_term,
        "the child did not ignore SIGTERM; the test proves nothing"
    );
    assert!(took.is_some(), "a child ignoring SIGTERM was never killed");
}
