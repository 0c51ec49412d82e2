//! `oauth-mux stay-afloat launch` run as a user would: the built binary with the machine's
//! environment, its exit codes and stderr observed.

mod kit;

use kit::toy::{injection_sandbox, live};
use kit::{Output, Sandbox, canary};

/// `oauth-mux stay-afloat launch [--profile P] [--provider X] -- ARGV…`.
fn launch(m: &Sandbox, spec: serde_json::Value) -> Output {
    let mut args: Vec<String> = vec!["stay-afloat".into(), "launch".into()];
    for flag in ["profile", "provider"] {
        if let Some(v) = spec[flag].as_str() {
            args.push(format!("--{flag}"));
            args.push(v.into());
        }
    }
    args.push("--".into());
    args.extend(serde_json::from_value::<Vec<String>>(spec["argv"].clone()).unwrap());
    m.oauth_mux().args(args).run()
}

#[test]
fn launch_reselects_when_the_first_routes_secret_is_unreadable() {
    let mut m = injection_sandbox();
    live(&m, "toy:a1#expensive");
    live(&m, "toy:a2#expensive");
    m.remove_env("TOY_SECRET_A1");
    let marker = m.path("launched");
    let script = format!(
        "test \"$TOY_TOKEN\" = \"$WANT\" || exit 90; echo \"$OMUX_ACTIVE_ACCOUNT\" > {}",
        marker.display()
    );
    m.set_env("WANT", canary::token("a2"));
    let out = launch(
        &m,
        serde_json::json!({"profile": "toy-expensive", "argv": ["sh", "-c", script]}),
    );
    out.ok();
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "a2");
    assert!(out.stderr.contains("trying the next route"), "{out}");
    // The unreadable secret is recorded as an account-level fact.
    let a1 = m.health()["toy:a1"].to_string();
    assert!(a1.contains("credential_unavailable"), "{a1}");
    let events = std::fs::read_to_string(m.dirs().events_file()).unwrap();
    assert!(events.contains("launch_reselect"), "{events}");
    m.assert_no_canary_on_disk();
    // The next launch sees a1 dead and goes straight to a2.
    let out = launch(
        &m,
        serde_json::json!({"profile": "toy-expensive", "argv": ["sh", "-c", "exit 5"]}),
    );
    out.code(5);
    assert!(!out.stderr.contains("trying the next route"), "{out}");
}

#[test]
fn launch_refuses_and_does_not_run_the_target_when_nothing_is_selectable() {
    let mut m = injection_sandbox();
    let marker = m.path("ran");
    let argv = serde_json::json!(["sh", "-c", format!("touch {}", marker.display())]);
    // No evidence at all.
    let out = launch(
        &m,
        serde_json::json!({"profile": "toy-expensive", "argv": argv}),
    );
    out.code(201);
    assert!(!marker.exists(), "the target ran");
    let stderr = &out.stderr;
    assert!(stderr.contains("ready_for_exec: false"), "{stderr}");
    assert!(stderr.contains("next_action: probe_needed"), "{stderr}");
    assert!(
        stderr.contains("command: oauth-mux probe --provider toy --account a1"),
        "{stderr}"
    );
    // Evidence says live, but both secrets are unreadable: both become stale, still refused.
    live(&m, "toy:a1#expensive");
    live(&m, "toy:a2#expensive");
    m.remove_env("TOY_SECRET_A1");
    m.remove_env("TOY_SECRET_A2");
    let out = launch(
        &m,
        serde_json::json!({"profile": "toy-expensive", "argv": argv}),
    );
    out.code(201);
    assert!(!marker.exists(), "the target ran");
    assert!(out.stderr.contains("ready_for_exec: false"), "{out}");
    assert!(
        out.stderr.contains("stale at launch: toy:a2#expensive"),
        "{out}"
    );
}
