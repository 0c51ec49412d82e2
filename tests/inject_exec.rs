//! `oauth-mux exec` and `oauth-mux env` end to end, through the built binary.

mod inject_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use inject_support::{CANARY_A1, CANARY_A2, Machine, text};

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
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let out = m
        .cmd(&[
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
        .env("WANT_TOKEN", CANARY_A1)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("account=a1 provider=toy capability=cheap"),
        "{stdout}"
    );
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("dir="))
        .expect("child printed its TOY_HOME");
    assert!(
        dir.starts_with(&m.path("run").display().to_string()),
        "credential dir {dir} is not under the runtime dir"
    );
    assert!(
        !std::path::Path::new(dir).exists(),
        "credential dir {dir} survived the child"
    );
    m.assert_no_canary("stdout", &stdout);
    m.assert_no_canary("stderr", &stderr);
    m.assert_state_clean();
}

#[test]
fn exec_uses_the_config_dir_of_an_account_that_has_one() {
    let m = Machine::new();
    m.live("toy:a2#cheap");
    let script = r#"test "$TOY_TOKEN" = "$WANT_TOKEN" || exit 90; echo "home=$TOY_HOME acct=$OMUX_ACTIVE_ACCOUNT""#;
    let out = m
        .cmd(&[
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
        .env("WANT_TOKEN", CANARY_A2)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("home={} acct=a2", m.path("a2home").display())),
        "{stdout}"
    );
    m.assert_no_canary("stdout", &stdout);
}

#[test]
fn nothing_selectable_exits_201_with_repairs_and_does_not_run_the_target() {
    let m = Machine::new();
    let marker = m.path("ran");
    let script = format!("touch {}", marker.display());
    let out = m.run(&["exec", "--provider", "toy", "--", "sh", "-c", &script]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(201), "{stdout}\n{stderr}");
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
    let m = Machine::new();
    m.quota("toy:a1#expensive");
    m.live("toy:a1#cheap");
    m.live("toy:a2#expensive");
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
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        text(&out).0.trim().to_owned()
    };
    assert_eq!(who("cheap"), "a1");
    assert_eq!(who("expensive"), "a2");
    // `env` skips the exhausted route too.
    let out = m.run(&["env", "--profile", "toy-expensive", "--shell", "bash"]);
    let (stdout, _) = text(&out);
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
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let out = m.run(&["exec", "--provider", "toy", "--", "sh", "-c", "exit 0"]);
    assert_eq!(out.status.code(), Some(0));
    let out = m.run(&["exec", "--provider", "toy", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(128 + 9));
    let out = m.run(&["exec", "--provider", "toy", "--", "no-such-command-omux"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out)
            .1
            .contains("command not found: no-such-command-omux")
    );
}

#[test]
fn sigterm_to_oauth_mux_reaches_the_child_and_its_code_comes_back() {
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let ready = m.path("ready");
    let script = format!(
        "trap 'exit 42' TERM; echo \"$TOY_HOME\" > {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let mut child = m
        .cmd(&["exec", "--provider", "toy", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    assert!(
        !std::path::Path::new(&cred_dir).exists(),
        "credential dir survived SIGTERM"
    );
}

#[test]
fn the_provider_is_detected_from_the_command_name() {
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let bin = m.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("toy-cli");
    std::fs::write(
        &tool,
        "#!/bin/sh\necho \"detected=$OMUX_ACTIVE_PROVIDER:$OMUX_ACTIVE_ACCOUNT\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    // `sh` is no provider's binary: the only profile (toy-expensive, no evidence) applies.
    let out = m.run(&["exec", "--", "sh", "-c", "true"]);
    assert_eq!(out.status.code(), Some(201), "{:?}", text(&out));
    let out = m.run(&["exec", "--", tool.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("detected=toy:a1"), "{stdout}");
}

#[test]
fn env_prints_exports_and_breadcrumbs_and_never_a_token() {
    let m = Machine::new();
    m.live("toy:a1#cheap");
    m.live("toy:a2#cheap");
    // a1: no config dir → TOY_HOME and TOY_TOKEN are withheld.
    let out = m.run(&["env", "--provider", "toy", "--shell", "bash"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
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
    m.assert_no_canary("env stdout", &stdout);
    m.assert_no_canary("env stderr", &stderr);
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
    let (stdout, _) = text(&out);
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
    m.assert_no_canary("env fish", &stdout);
    // JSON.
    let out = m.run(&["env", "--provider", "toy", "--account", "a2", "--json"]);
    let (stdout, _) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["account"], "a2");
    assert_eq!(v["exports"][0]["name"], "TOY_HOME");
    assert_eq!(v["withheld"][0]["name"], "TOY_TOKEN");
    m.assert_no_canary("env json", &stdout);
    // $SHELL decides the default syntax.
    let out = m
        .cmd(&["env", "--provider", "toy"])
        .env("SHELL", "/usr/bin/fish")
        .output()
        .unwrap();
    assert!(text(&out).0.contains("set -gx OMUX_ACTIVE_PROVIDER 'toy';"));
    // Nothing selectable → 201.
    let m2 = Machine::new();
    assert_eq!(
        m2.run(&["env", "--provider", "toy"]).status.code(),
        Some(201)
    );
    m.assert_state_clean();
}

#[test]
fn an_expired_token_fails_closed_with_203() {
    let mut m = Machine::new();
    m.live("toy:a1#cheap");
    let past = jiff::Timestamp::now().as_second() - 10;
    m.env.insert(
        "TOY_SECRET_A1".into(),
        serde_json::json!({"access_token": CANARY_A1, "expires_at": past}).to_string(),
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
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(203), "{stdout}\n{stderr}");
    assert!(stderr.contains("expired"), "{stderr}");
    assert!(!marker.exists());
    m.assert_no_canary("stderr", &stderr);
}
