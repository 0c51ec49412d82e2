//! `stay-afloat launch` through its library entry point
//! (`oauth_mux::commands::inject::launch`; the lead wires the CLI subcommand).
//!
//! Each test re-runs this test binary as a worker process with the machine's
//! environment, so launch's exit codes and stderr are observed as a user would.

mod inject_support;

use std::process::Command;

use inject_support::{CANARY_A2, Machine, text};
use oauth_mux::cli::Selectors;
use oauth_mux::exit::{Failure, Quiet};

const WORKER_VAR: &str = "OMUX_LAUNCH_TEST_WORKER";

/// In a worker: run launch with the selectors and argv in `WORKER_VAR`, exit with its code.
fn maybe_worker() {
    let Ok(spec) = std::env::var(WORKER_VAR) else {
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let selectors = Selectors {
        profile: spec["profile"].as_str().map(str::to_owned),
        provider: spec["provider"].as_str().map(str::to_owned),
        ..Selectors::default()
    };
    let argv: Vec<String> = serde_json::from_value(spec["argv"].clone()).unwrap();
    let code = match oauth_mux::commands::inject::launch(&selectors, &argv) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(q) = e.downcast_ref::<Quiet>() {
                i32::from(q.0.code())
            } else if let Some(f) = e.downcast_ref::<Failure>() {
                eprintln!("oauth-mux: error: {f}");
                i32::from(f.code.code())
            } else {
                eprintln!("oauth-mux: error: {e:#}");
                1
            }
        }
    };
    std::process::exit(code);
}

fn launch(m: &Machine, test: &str, spec: serde_json::Value) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env_clear()
        .envs(&m.env)
        .env(WORKER_VAR, spec.to_string())
        .output()
        .unwrap()
}

#[test]
fn launch_reselects_when_the_first_routes_secret_is_unreadable() {
    maybe_worker();
    let mut m = Machine::new();
    m.live("toy:a1#expensive");
    m.live("toy:a2#expensive");
    m.env.remove("TOY_SECRET_A1");
    let marker = m.path("launched");
    let script = format!(
        "test \"$TOY_TOKEN\" = \"$WANT\" || exit 90; echo \"$OMUX_ACTIVE_ACCOUNT\" > {}",
        marker.display()
    );
    m.env.insert("WANT".into(), CANARY_A2.into());
    let out = launch(
        &m,
        "launch_reselects_when_the_first_routes_secret_is_unreadable",
        serde_json::json!({"profile": "toy-expensive", "argv": ["sh", "-c", script]}),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "a2");
    assert!(stderr.contains("trying the next route"), "{stderr}");
    // The unreadable secret is recorded as an account-level fact.
    let health: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.dirs().health_file()).unwrap()).unwrap();
    let a1 = health["routes"]["toy:a1"].to_string();
    assert!(a1.contains("credential_unavailable"), "{health}");
    let events = std::fs::read_to_string(m.dirs().events_file()).unwrap();
    assert!(events.contains("launch_reselect"), "{events}");
    m.assert_no_canary("stdout", &stdout);
    m.assert_no_canary("stderr", &stderr);
    m.assert_state_clean();
    // The next launch sees a1 dead and goes straight to a2.
    let out = launch(
        &m,
        "launch_reselects_when_the_first_routes_secret_is_unreadable",
        serde_json::json!({"profile": "toy-expensive", "argv": ["sh", "-c", "exit 5"]}),
    );
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    assert!(!text(&out).1.contains("trying the next route"));
}

#[test]
fn launch_refuses_and_does_not_run_the_target_when_nothing_is_selectable() {
    maybe_worker();
    let m = Machine::new();
    let marker = m.path("ran");
    let argv = serde_json::json!(["sh", "-c", format!("touch {}", marker.display())]);
    // No evidence at all.
    let out = launch(
        &m,
        "launch_refuses_and_does_not_run_the_target_when_nothing_is_selectable",
        serde_json::json!({"profile": "toy-expensive", "argv": argv}),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(201), "{stdout}\n{stderr}");
    assert!(!marker.exists(), "the target ran");
    assert!(stderr.contains("ready_for_exec: false"), "{stderr}");
    assert!(stderr.contains("next_action: probe_needed"), "{stderr}");
    assert!(
        stderr.contains("command: oauth-mux probe --provider toy --account a1"),
        "{stderr}"
    );
    // Evidence says live, but both secrets are unreadable: both become stale, still refused.
    let mut m = m;
    m.live("toy:a1#expensive");
    m.live("toy:a2#expensive");
    m.env.remove("TOY_SECRET_A1");
    m.env.remove("TOY_SECRET_A2");
    let out = launch(
        &m,
        "launch_refuses_and_does_not_run_the_target_when_nothing_is_selectable",
        serde_json::json!({"profile": "toy-expensive", "argv": argv}),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(201), "{stdout}\n{stderr}");
    assert!(!marker.exists(), "the target ran");
    assert!(stderr.contains("ready_for_exec: false"), "{stderr}");
    assert!(
        stderr.contains("stale at launch: toy:a2#expensive"),
        "{stderr}"
    );
    m.assert_no_canary("stderr", &stderr);
}
