//! `oauth-mux stay-afloat launch` run as a user would: the built binary with the machine's
//! environment, its exit codes and stderr observed.

mod inject_support;

use inject_support::{CANARY_A2, Machine, text};

/// `oauth-mux stay-afloat launch [--profile P] [--provider X] -- ARGV…`.
fn launch(m: &Machine, spec: serde_json::Value) -> std::process::Output {
    let mut args: Vec<String> = vec!["stay-afloat".into(), "launch".into()];
    for flag in ["profile", "provider"] {
        if let Some(v) = spec[flag].as_str() {
            args.push(format!("--{flag}"));
            args.push(v.into());
        }
    }
    args.push("--".into());
    args.extend(serde_json::from_value::<Vec<String>>(spec["argv"].clone()).unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    m.run(&args)
}

#[test]
fn launch_reselects_when_the_first_routes_secret_is_unreadable() {
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
        serde_json::json!({"profile": "toy-expensive", "argv": ["sh", "-c", "exit 5"]}),
    );
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    assert!(!text(&out).1.contains("trying the next route"));
}

#[test]
fn launch_refuses_and_does_not_run_the_target_when_nothing_is_selectable() {
    let m = Machine::new();
    let marker = m.path("ran");
    let argv = serde_json::json!(["sh", "-c", format!("touch {}", marker.display())]);
    // No evidence at all.
    let out = launch(
        &m,
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
