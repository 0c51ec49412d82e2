//! `oauth-mux demo` end to end: the real binary, a private HOME and TMPDIR, no network.

use std::process::Command;

#[test]
fn demo_hands_the_spent_quota_to_the_second_account_and_leaves_nothing_behind() {
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oauth-mux"))
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TMPDIR", tmp.path())
        // A refusing proxy: any off-box attempt would fail the run.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("work      429 quota_exhausted  held back"),
        "{stdout}"
    );
    assert!(
        stdout.contains("handoff   work -> personal (quota_exhausted)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("client got     200 with 9 SSE events: \"Hello from account personal"),
        "{stdout}"
    );
    assert!(
        stdout.contains("$ oauth-mux route explain --profile demo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("selected: demo:personal#codex-max"),
        "{stdout}"
    );
    assert!(stdout.contains("quota_exhausted until"), "{stdout}");
    for secretish in ["demo-token-", "demo-account-"] {
        assert!(
            !stdout.contains(secretish) && !stderr.contains(secretish),
            "{secretish} leaked"
        );
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "demo left files in TMPDIR: {left:?}");
    let home_left: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(home_left.is_empty(), "demo wrote into HOME: {home_left:?}");
}
