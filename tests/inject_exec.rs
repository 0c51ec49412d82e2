//! `oauth-mux exec` and `oauth-mux env` end to end, through the built binary.

mod kit;

use std::time::{Duration, Instant};

use kit::canary;
use kit::toy::{injection_sandbox, live, quota};

/// The child checks everything injected without printing a token.
const CHECK_A1: &str = r#"
test "$TOY_TOKEN" = "$WANT_TOKEN" || { echo "TOY_TOKEN mismatch"; exit 90; }
f="$TOY_HOME/toy-creds.json"
test -f "$f" || { echo "no credential file"; exit 91; }
test "$(stat -c %a "$f")" = 600 || { echo "file mode $(stat -c %a "$f")"; exit 92; }
test "$(stat -c %a "$TOY_HOME")" = 700 || { echo "dir mode"; exit 93; }
grep -q "\"token\":\"$WANT_TOKEN\"" "$f" || { echo "template not rendered"; exit 94; }
echo "account=$OMUX_ACTIVE_ACCOUNT provider=$OMUX_ACTIVE_PROVIDER capability=$OMUX_ACTIVE_CAPABILITY"
echo "dir=$TOY_HOME"
exit 7
"#;

#[test]
fn exec_injects_the_selected_account_writes_a_private_credential_and_passes_the_exit_code() {
    let m = injection_sandbox();
    live(&m, "toy:a1#cheap");
    let out = m
        .oauth_mux()
        .args([
            "exec",
            "--provider",
            "toy",
            "--capability",
            "cheap",
            "--",
            "sh",
            "-c",
            CHECK_A1,
        ])
        .env("WANT_TOKEN", canary::token("a1"))
        .run();
    out.code(7);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("account=a1 provider=toy capability=cheap"),
        "{stdout}"
    );
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("dir="))
        .expect("child printed its TOY_HOME");
    assert!(
        dir.starts_with(&m.path("runtime").display().to_string()),
        "credential dir {dir} is not under the runtime dir"
    );
    assert!(
        !std::path::Path::new(dir).exists(),
        "credential dir {dir} survived the child"
    );
    m.assert_no_canary_on_disk();
}

#[test]
fn exec_uses_the_config_dir_of_an_account_that_has_one() {
    let m = injection_sandbox();
    live(&m, "toy:a2#cheap");
    let script = r#"test "$TOY_TOKEN" = "$WANT_TOKEN" || exit 90; echo "home=$TOY_HOME acct=$OMUX_ACTIVE_ACCOUNT""#;
    let out = m
        .oauth_mux()
        .args([
            "exec",
            "--provider",
            "toy",
            "--account",
            "a2",
            "--capability",
            "cheap",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("WANT_TOKEN", canary::token("a2"))
        .run();
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("home={} acct=a2", m.path("a2home").display())),
        "{out}"
    );
}

#[test]
fn nothing_selectable_exits_201_with_repairs_and_does_not_run_the_target() {
    let m = injection_sandbox();
    let marker = m.path("ran");
    let script = format!("touch {}", marker.display());
    let out = m.run(&["exec", "--provider", "toy", "--", "sh", "-c", &script]);
    out.code(201);
    let stderr = &out.stderr;
    assert!(
        !marker.exists(),
        "the target ran although nothing was selectable"
    );
    assert!(stderr.contains("no selectable route"), "{stderr}");
    assert!(
        stderr.contains("probe_needed"),
        "route table missing: {stderr}"
    );
    assert!(stderr.contains("oauth-mux repair-plan"), "{stderr}");
}

#[test]
fn capability_isolation_quota_on_expensive_still_selects_a1_for_cheap() {
    let m = injection_sandbox();
    quota(&m, "toy:a1#expensive");
    live(&m, "toy:a1#cheap");
    live(&m, "toy:a2#expensive");
    let who = |cap: &str| {
        let out = m.run(&[
            "exec",
            "--provider",
            "toy",
            "--capability",
            cap,
            "--",
            "sh",
            "-c",
            "echo $OMUX_ACTIVE_ACCOUNT",
        ]);
        out.ok();
        out.stdout.trim().to_owned()
    };
    assert_eq!(who("cheap"), "a1");
    assert_eq!(who("expensive"), "a2");
    // `env` skips the exhausted route too.
    let out = m.run(&["env", "--profile", "toy-expensive", "--shell", "bash"]);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("export OMUX_ACTIVE_ACCOUNT='a2'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("export OMUX_ACTIVE_PROFILE='toy-expensive'"),
        "{stdout}"
    );
}

#[test]
fn exit_codes_pass_through_and_a_missing_command_is_127() {
    let m = injection_sandbox();
    live(&m, "toy:a1#cheap");
    m.run(&["exec", "--provider", "toy", "--", "sh", "-c", "exit 0"])
        .ok();
    m.run(&["exec", "--provider", "toy", "--", "sh", "-c", "kill -9 $$"])
        .code(128 + 9);
    let out = m.run(&["exec", "--provider", "toy", "--", "no-such-command-omux"]);
    out.code(127);
    assert!(
        out.stderr
            .contains("command not found: no-such-command-omux"),
        "{out}"
    );
}

#[test]
fn sigterm_to_oauth_mux_reaches_the_child_and_its_code_comes_back() {
    let m = injection_sandbox();
    live(&m, "toy:a1#cheap");
    let ready = m.path("ready");
    let script = format!(
        "trap 'exit 42' TERM; echo \"$TOY_HOME\" > {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let child = m
        .oauth_mux()
        .args(["exec", "--provider", "toy", "--", "sh", "-c", &script])
        .spawn();
    let start = Instant::now();
    while std::fs::read_to_string(&ready).map_or(true, |s| s.trim().is_empty()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "child never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let cred_dir = std::fs::read_to_string(&ready).unwrap().trim().to_owned();
    assert!(
        std::path::Path::new(&cred_dir).is_dir(),
        "credential dir missing while child runs"
    );
    child.signal(libc::SIGTERM);
    child.wait().code(42);
    assert!(
        !std::path::Path::new(&cred_dir).exists(),
        "credential dir survived SIGTERM"
    );
}

#[test]
fn the_provider_is_detected_from_the_command_name() {
    let m = injection_sandbox();
    live(&m, "toy:a1#cheap");
    let tool = m.plant_script(
        "toy-cli",
        "echo \"detected=$OMUX_ACTIVE_PROVIDER:$OMUX_ACTIVE_ACCOUNT\"",
    );
    // `sh` is no provider's binary: the only profile (toy-expensive, no evidence) applies.
    m.run(&["exec", "--", "sh", "-c", "true"]).code(201);
    let out = m.run(&["exec", "--", tool.to_str().unwrap()]);
    out.ok();
    assert!(out.stdout.contains("detected=toy:a1"), "{out}");
}

#[test]
fn env_prints_exports_and_breadcrumbs_and_never_a_token() {
    let m = injection_sandbox();
    live(&m, "toy:a1#cheap");
    live(&m, "toy:a2#cheap");
    // a1: no config dir → TOY_HOME and TOY_TOKEN are withheld.
    let out = m.run(&["env", "--provider", "toy", "--shell", "bash"]);
    out.ok();
    let stdout = &out.stdout;
    assert!(
        stdout.contains("export OMUX_ACTIVE_PROVIDER='toy'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("export OMUX_ACTIVE_ACCOUNT='a1'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("export OMUX_ACTIVE_CAPABILITY='cheap'"),
        "{stdout}"
    );
    assert!(stdout.contains("# TOY_TOKEN is not printed"), "{stdout}");
    assert!(stdout.contains("# TOY_HOME is not printed"), "{stdout}");
    assert!(
        stdout.contains("oauth-mux exec --provider toy --account a1 --capability cheap -- CMD"),
        "{stdout}"
    );
    // a2: config dir exported; fish syntax.
    let out = m.run(&[
        "env",
        "--provider",
        "toy",
        "--account",
        "a2",
        "--shell",
        "fish",
    ]);
    let stdout = &out.stdout;
    assert!(
        stdout.contains(&format!(
            "set -gx TOY_HOME '{}';",
            m.path("a2home").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("set -gx OMUX_ACTIVE_ACCOUNT 'a2';"),
        "{stdout}"
    );
    // JSON.
    let v = m
        .run(&["env", "--provider", "toy", "--account", "a2", "--json"])
        .json();
    assert_eq!(v["account"], "a2");
    assert_eq!(v["exports"][0]["name"], "TOY_HOME");
    assert_eq!(v["withheld"][0]["name"], "TOY_TOKEN");
    // $SHELL decides the default syntax.
    let out = m
        .oauth_mux()
        .args(["env", "--provider", "toy"])
        .env("SHELL", "/usr/bin/fish")
        .run();
    assert!(
        out.stdout.contains("set -gx OMUX_ACTIVE_PROVIDER 'toy';"),
        "{out}"
    );
    // Nothing selectable → 201.
    injection_sandbox()
        .run(&["env", "--provider", "toy"])
        .code(201);
    m.assert_no_canary_on_disk();
}

#[test]
fn an_expired_token_fails_closed_with_203() {
    let mut m = injection_sandbox();
    live(&m, "toy:a1#cheap");
    let past = jiff::Timestamp::now().as_second() - 10;
    m.set_env(
        "TOY_SECRET_A1",
        serde_json::json!({"access_token": canary::token("a1"), "expires_at": past}).to_string(),
    );
    let marker = m.path("ran");
    let out = m.run(&[
        "exec",
        "--provider",
        "toy",
        "--",
        "sh",
        "-c",
        &format!("touch {}", marker.display()),
    ]);
    out.code(203);
    assert!(out.stderr.contains("expired"), "{out}");
    assert!(!marker.exists());
}
