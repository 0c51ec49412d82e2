//! The env backend and the backends that call an outside tool (keychain via
//! `secret-tool`, sops). The outside tools are stand-ins: small shell scripts named
//! `secret-tool` and `sops`, placed first on PATH, that check their argv and print a
//! canned answer, so the test runs on any machine without a keyring or sops keys.
//!
//! This file holds exactly one test on purpose: it changes the process environment
//! (PATH and a few variables), which is only sound while no other thread reads it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use oauth_mux::secrets::{SecretBackend, SecretErrorKind, SecretSpec, read_secret, redact};

const FIELD: &str = "providers.claude.accounts.work.secret";

fn write_stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run `f` with PATH holding only `dir`, so a real tool installed on this machine
/// cannot stand in for the one removed from `dir`.
fn only_on_path<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    let saved = std::env::var_os("PATH").unwrap_or_default();
    // SAFETY: the only test in this binary (see the module docs).
    unsafe { std::env::set_var("PATH", dir) };
    let out = f();
    unsafe { std::env::set_var("PATH", saved) };
    out
}

fn env_backend() {
    let spec = |var: &str| SecretSpec {
        variable: Some(var.to_string()),
        ..SecretSpec::new(SecretBackend::Env)
    };
    // SAFETY: this is the only test in this binary, so no other thread touches the
    // environment while it is changed.
    unsafe {
        std::env::set_var("OMUX_TEST_TOKEN", "env-canary-4d2a9e10");
        std::env::set_var("OMUX_TEST_EMPTY", "");
        std::env::remove_var("OMUX_TEST_UNSET");
    }
    let s = read_secret(&spec("OMUX_TEST_TOKEN"), FIELD).unwrap();
    assert_eq!(s.expose(), "env-canary-4d2a9e10");
    assert!(redact::is_registered("env-canary-4d2a9e10"));

    let err = read_secret(&spec("OMUX_TEST_UNSET"), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
    let msg = err.to_string();
    assert!(
        msg.contains("OMUX_TEST_UNSET") && msg.contains("is not set"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{FIELD}.variable")), "{msg}");

    let err = read_secret(&spec("OMUX_TEST_EMPTY"), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
    assert!(err.to_string().contains("is empty"), "{err}");
}

#[cfg(not(target_os = "macos"))]
fn keychain_backend(bin: &Path) {
    // Stand-in for libsecret's `secret-tool lookup service S account A`.
    write_stub(
        bin,
        "secret-tool",
        r#"[ "$1 $2 $4" = "lookup service account" ] || { echo "bad argv: $*" >&2; exit 2; }
if [ "$3/$5" = "omux-test/alice" ]; then printf 'keychain-canary-61f0b2c3\n'; exit 0; fi
exit 1"#,
    );
    let spec = |service: &str| SecretSpec {
        service: Some(service.to_string()),
        account: Some("alice".to_string()),
        ..SecretSpec::new(SecretBackend::Keychain)
    };
    let s = read_secret(&spec("omux-test"), FIELD).unwrap();
    assert_eq!(
        s.expose(),
        "keychain-canary-61f0b2c3",
        "trailing newline stripped"
    );

    let err = read_secret(&spec("other-service"), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
    let msg = err.to_string();
    assert!(msg.contains("was not found"), "{msg}");
    assert!(msg.contains("secret-tool store"), "{msg}");
    assert!(msg.contains(&format!("{FIELD}.service")), "{msg}");

    fs::remove_file(bin.join("secret-tool")).unwrap();
    let err = only_on_path(bin, || read_secret(&spec("omux-test"), FIELD)).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::ToolMissing);
    let msg = err.to_string();
    assert!(msg.contains("`secret-tool` is not installed"), "{msg}");
    assert!(msg.contains("libsecret-tools"), "{msg}");
}

fn sops_backend(bin: &Path, dir: &Path) {
    // Stand-in for `sops --decrypt [--output-type json] PATH`: "decrypts" by
    // printing the file, failing like sops does when the file is missing.
    write_stub(
        bin,
        "sops",
        r#"[ "$1" = "--decrypt" ] || { echo "bad argv: $*" >&2; exit 2; }
shift
[ "$1" = "--output-type" ] && { [ "$2" = json ] || exit 2; shift 2; }
[ -f "$1" ] || { echo "Failed to read $1" >&2; exit 128; }
cat "$1""#,
    );
    let file = dir.join("private-secrets.enc.json");
    fs::write(
        &file,
        r#"{"codex_token":"sops-canary-a1b2c3d4e5","nested":{"k":"sops-nested-canary-77"},"n":5}"#,
    )
    .unwrap();
    let spec = |path: &Path, key_path: Option<&str>| SecretSpec {
        path: Some(path.to_string_lossy().into_owned()),
        key_path: key_path.map(str::to_string),
        ..SecretSpec::new(SecretBackend::Sops)
    };

    let whole = read_secret(&spec(&file, None), FIELD).unwrap();
    assert!(whole.expose().starts_with("{\"codex_token\""));
    let s = read_secret(&spec(&file, Some("codex_token")), FIELD).unwrap();
    assert_eq!(s.expose(), "sops-canary-a1b2c3d4e5");
    let s = read_secret(&spec(&file, Some("nested.k")), FIELD).unwrap();
    assert_eq!(s.expose(), "sops-nested-canary-77");

    for key in ["absent", "n"] {
        let err = read_secret(&spec(&file, Some(key)), FIELD).unwrap_err();
        assert_eq!(err.kind(), SecretErrorKind::NotFound, "{key}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{FIELD}.key_path")), "{msg}");
        assert!(
            !msg.contains("sops-canary") && !msg.contains("private-secrets"),
            "{msg}"
        );
    }

    let missing = dir.join("private-missing.enc.json");
    let err = read_secret(&spec(&missing, None), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::CommandFailed);
    let msg = err.to_string();
    assert!(msg.contains("exited with code 128"), "{msg}");
    assert!(!msg.contains("private-missing"), "path leaked: {msg}");
    assert_eq!(err.path_hint(), Some(missing.as_path()));
    assert!(err.private_detail().unwrap().contains("Failed to read"));

    fs::remove_file(bin.join("sops")).unwrap();
    let err = only_on_path(bin, || read_secret(&spec(&file, None), FIELD)).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::ToolMissing);
    assert!(err.to_string().contains("install sops"), "{err}");
}

#[test]
fn env_keychain_and_sops_backends() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    // SAFETY: the only test in this binary (see the module docs).
    unsafe { std::env::set_var("PATH", format!("{}:{path}", bin.display())) };

    env_backend();
    // macOS reads the keychain through /usr/bin/security, which cannot be stubbed.
    #[cfg(not(target_os = "macos"))]
    keychain_backend(&bin);
    sops_backend(&bin, dir.path());
}
