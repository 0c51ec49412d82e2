//! The stdin backend, through a child process: this test re-runs its own test binary
//! (filtered to itself) with a canary piped to stdin. The child reads the secret
//! twice (stdin is read once per process and cached) and reports what it saw.

use std::io::Write;
use std::process::{Command, Stdio};

use oauth_mux::secrets::{SecretBackend, SecretSpec, read_secret, redact};

const CHILD_ENV: &str = "OMUX_STDIN_TEST_CHILD";
const CANARY: &str = "stdin-canary-2e8f4b61";

#[test]
fn stdin_backend_reads_once_and_caches() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // Child role: stdin is the pipe the parent wrote to.
        let spec = SecretSpec::new(SecretBackend::Stdin);
        let first = read_secret(&spec, "providers.x.accounts.piped.secret").unwrap();
        let second = read_secret(&spec, "providers.x.accounts.piped.secret").unwrap();
        assert_eq!(first.expose(), second.expose());
        assert!(redact::is_registered(first.expose()));
        // Report without printing the secret itself.
        let ok = first.expose().trim() == CANARY;
        println!("CHILD-RESULT same={} matches={ok}", first == second);
        assert!(ok);
        return;
    }

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "stdin_backend_reads_once_and_caches",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{CANARY}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("CHILD-RESULT same=true matches=true"),
        "{stdout}"
    );
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
}

#[test]
fn stdin_backend_empty_input_is_a_clear_error() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // Child role: stdin is /dev/null.
        let spec = SecretSpec::new(SecretBackend::Stdin);
        let err = read_secret(&spec, "providers.x.accounts.piped.secret").unwrap_err();
        println!("CHILD-ERROR {err}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "stdin_backend_empty_input_is_a_clear_error",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let want = "CHILD-ERROR standard input for providers.x.accounts.piped.secret was empty; pipe the credential in";
    assert!(stdout.contains(want), "{stdout}");
}
