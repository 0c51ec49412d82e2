//! The test kit's own guarantees, shown to fail when they should: a command sees only the
//! sandbox's environment, a canary in any output or file is caught, and an attempt to
//! leave the machine is refused and recorded.

mod kit;

use std::collections::BTreeSet;

use kit::{Sandbox, canary};

#[test]
fn a_command_sees_only_the_sandbox_environment() {
    let sb = Sandbox::new();
    let out = sb.program("env").run();
    out.ok();
    let seen: BTreeSet<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
        .collect();
    let set: BTreeSet<String> = sb.env_vars().into_iter().map(|(k, _)| k).collect();
    assert_eq!(seen, set, "{out}");
    for dir in ["HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "TMPDIR"] {
        let value = sb.env_var(dir).unwrap();
        assert!(value.starts_with(&sb.root().display().to_string()), "{dir}");
    }
}

#[test]
#[should_panic(expected = "a canary leaked into the output of")]
fn a_canary_in_the_output_of_oauth_mux_fails_the_run() {
    let sb = Sandbox::new();
    // `config path` prints the path it was given.
    sb.oauth_mux()
        .args(["config", "path"])
        .env("OMUX_CONFIG", format!("/{}.json", canary::secret("path")))
        .run();
}

#[test]
fn a_canary_on_disk_is_found_unless_the_user_keeps_it_there() {
    let sb = Sandbox::new();
    sb.plant_secret("secrets/own.json", canary::token("own"));
    sb.assert_no_canary_on_disk();
    sb.plant("state/oauth-mux/leak.txt", canary::token("leak"));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sb.assert_no_canary_on_disk()
    }));
    let message = *caught
        .expect_err("the leak must be found")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("leak.txt"), "{message}");
}

#[test]
fn an_attempt_to_leave_the_machine_is_refused_and_recorded() {
    let mut sb = Sandbox::new();
    sb.refuse_off_box_traffic();
    let proxy = sb.env_var("HTTPS_PROXY").unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(Some(ureq::Proxy::new(&proxy).unwrap()))
        .build()
        .new_agent();
    let refused = agent.get("http://provider.example/v1/models").call();
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(sb.off_box_attempts(), ["CONNECT provider.example:80"]);
}
