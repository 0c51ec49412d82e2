//! Secret backends that run in-process or spawn ordinary programs: file, command and
//! age, with their failure modes. Every error is checked for the fix it names and for
//! what it must never contain (the secret, the file path).

use std::fs;
use std::path::Path;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use oauth_mux::exit::{ExitCode, Failure};
use oauth_mux::secrets::{
    ReadOptions, SecretBackend, SecretError, SecretErrorKind, SecretSpec, read_secret,
    read_secret_with, redact,
};

const FIELD: &str = "providers.codex.accounts.max-1.secret";

fn spec(backend: SecretBackend) -> SecretSpec {
    SecretSpec::new(backend)
}

fn file_spec(path: &Path) -> SecretSpec {
    SecretSpec {
        path: Some(path.to_string_lossy().into_owned()),
        ..spec(SecretBackend::File)
    }
}

fn command_spec(argv: &[&str]) -> SecretSpec {
    SecretSpec {
        command: Some(argv.iter().map(|s| s.to_string()).collect()),
        ..spec(SecretBackend::Command)
    }
}

/// The error must name the field, carry exit code 202, and hide `canaries` and `path`.
fn assert_safe_error(err: &SecretError, field: &str, canaries: &[&str], path: Option<&Path>) {
    let message = err.to_string();
    let debug = format!("{err:?}");
    assert!(
        message.contains(field),
        "message should name {field}: {message}"
    );
    assert!(
        message.contains("; "),
        "message should carry a fix: {message}"
    );
    for canary in canaries {
        assert!(!message.contains(canary), "canary in message: {message}");
        assert!(!debug.contains(canary), "canary in debug: {debug}");
    }
    if let Some(path) = path {
        let path = path.to_string_lossy();
        assert!(
            !message.contains(path.as_ref()),
            "path in message: {message}"
        );
        assert!(!debug.contains(path.as_ref()), "path in debug: {debug}");
    }
    let failure = Failure::from(err.clone());
    assert_eq!(failure.code, ExitCode::SecretRead);
    assert_eq!(failure.message, message);
}

#[test]
fn file_backend_reads_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.json");
    let body = "{\"access_token\":\"file-canary-7c1e93ab\"}\n";
    fs::write(&path, body).unwrap();
    let secret = read_secret(&file_spec(&path), FIELD).unwrap();
    assert_eq!(secret.expose(), body);
    assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    assert!(redact::is_registered(body));
}

#[test]
fn file_backend_missing_file_names_the_field_not_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private-missing-file.json");
    let err = read_secret(&file_spec(&path), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
    assert_safe_error(&err, &format!("{FIELD}.path"), &[], Some(&path));
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert_eq!(err.path_hint(), Some(path.as_path()));
}

#[test]
fn file_backend_rejects_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_secret(&file_spec(dir.path()), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Invalid);
    assert!(err.to_string().contains("is a directory"), "{err}");
    assert_safe_error(&err, &format!("{FIELD}.path"), &[], Some(dir.path()));
}

#[test]
fn file_backend_unreadable_file_says_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.json");
    fs::write(&path, "perm-canary-55d1c0aa").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    let result = read_secret(&file_spec(&path), FIELD);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Root bypasses file permissions; the read must then simply work. The
        // directory and missing-file tests above cover the error path for root.
        assert_eq!(result.unwrap().expose(), "perm-canary-55d1c0aa");
    } else {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), SecretErrorKind::PermissionDenied);
        assert!(err.to_string().contains("not readable (permission denied)"));
        assert!(err.to_string().contains("fix the file's permissions"));
        assert_safe_error(
            &err,
            &format!("{FIELD}.path"),
            &["perm-canary"],
            Some(&path),
        );
    }
}

#[test]
fn file_backend_rejects_empty_and_oversized_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    fs::write(&empty, "\n").unwrap();
    let err = read_secret(&file_spec(&empty), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
    assert!(err.to_string().contains("is empty"), "{err}");

    let big = dir.path().join("big");
    fs::write(&big, vec![b'a'; 4 * 1024 * 1024 + 1]).unwrap();
    let err = read_secret(&file_spec(&big), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::TooLarge);
    assert_safe_error(&err, &format!("{FIELD}.path"), &[], Some(&big));
}

#[test]
fn missing_config_field_is_named() {
    let err = read_secret(&spec(SecretBackend::Age), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotConfigured);
    assert!(err.to_string().contains(&format!("{FIELD}.path")), "{err}");
}

#[test]
fn command_backend_returns_stdout_without_trailing_newline() {
    let s = read_secret(
        &command_spec(&["sh", "-c", "printf 'cmd-canary-0b7f2e91\\n\\n'"]),
        FIELD,
    )
    .unwrap();
    assert_eq!(s.expose(), "cmd-canary-0b7f2e91");
    assert!(redact::is_registered("cmd-canary-0b7f2e91"));
}

#[test]
fn command_backend_passes_argv_without_a_shell() {
    let s = read_secret(&command_spec(&["printf", "%s", "a b;$(x) cmd-arg"]), FIELD).unwrap();
    assert_eq!(s.expose(), "a b;$(x) cmd-arg");
}

#[test]
fn command_backend_non_zero_exit_names_the_code() {
    let argv = [
        "sh",
        "-c",
        "echo cmd-stderr-canary-91ab >&2; echo out-canary-19ba; exit 3",
    ];
    let err = read_secret(&command_spec(&argv), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::CommandFailed);
    assert!(err.to_string().contains("exited with code 3"), "{err}");
    assert!(err.to_string().contains("(`sh`)"), "{err}");
    assert_safe_error(
        &err,
        &format!("{FIELD}.command"),
        &["cmd-stderr-canary", "out-canary"],
        None,
    );
    // The tool's stderr is kept apart for --include-paths diagnostics.
    assert_eq!(err.private_detail(), Some("cmd-stderr-canary-91ab"));
}

#[test]
fn command_backend_missing_program_is_a_missing_tool() {
    let err = read_secret(&command_spec(&["/nonexistent-dir/get-token-xyz"]), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::ToolMissing);
    assert!(
        err.to_string().contains("`get-token-xyz` is not installed"),
        "{err}"
    );
    assert!(!err.to_string().contains("nonexistent-dir"), "{err}");
}

#[test]
fn command_backend_empty_output_and_timeout() {
    let err = read_secret(&command_spec(&["true"]), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::NotFound);
    assert!(err.to_string().contains("printed nothing"), "{err}");

    let options = ReadOptions {
        command_timeout: Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let err = read_secret_with(&command_spec(&["sleep", "20"]), FIELD, &options).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Timeout);
    assert!(err.to_string().contains("did not finish"), "{err}");
    // Not a timing assertion on performance: only that the child was not waited out.
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn command_backend_bounds_output() {
    let argv = ["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' a"];
    let err = read_secret(&command_spec(&argv), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::TooLarge);
}

fn age_spec(path: &Path, identity: &str) -> SecretSpec {
    SecretSpec {
        path: Some(path.to_string_lossy().into_owned()),
        identity: Some(identity.to_string()),
        ..spec(SecretBackend::Age)
    }
}

#[test]
fn age_backend_decrypts_binary_and_armored_with_inline_or_file_identity() {
    let dir = tempfile::tempdir().unwrap();
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let key = identity.to_string().expose_secret().to_string();
    let plaintext = "{\"access_token\":\"age-canary-3f9d1c77\"}";

    let binary = dir.path().join("cred.age");
    fs::write(
        &binary,
        age::encrypt(&recipient, plaintext.as_bytes()).unwrap(),
    )
    .unwrap();
    let armored = dir.path().join("cred.age.asc");
    fs::write(
        &armored,
        age::encrypt_and_armor(&recipient, plaintext.as_bytes()).unwrap(),
    )
    .unwrap();
    let id_file = dir.path().join("keys.txt");
    fs::write(
        &id_file,
        format!("# created: now\n# public key: {recipient}\n{key}\n"),
    )
    .unwrap();

    for file in [&binary, &armored] {
        for id in [key.clone(), id_file.to_string_lossy().into_owned()] {
            let s = read_secret(&age_spec(file, &id), FIELD).unwrap();
            assert_eq!(s.expose(), plaintext);
        }
    }
    assert!(redact::is_registered(&key), "identity must be registered");
    assert!(!redact::scrub(&format!("id={key}")).contains(&key));
}

#[test]
fn age_backend_wrong_identity_and_bad_identity_file() {
    let dir = tempfile::tempdir().unwrap();
    let right = age::x25519::Identity::generate();
    let wrong = age::x25519::Identity::generate();
    let wrong_key = wrong.to_string().expose_secret().to_string();
    let file = dir.path().join("private-cred.age");
    let plaintext = "age-wrong-canary-88aa11";
    fs::write(
        &file,
        age::encrypt(&right.to_public(), plaintext.as_bytes()).unwrap(),
    )
    .unwrap();

    let err = read_secret(&age_spec(&file, &wrong_key), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Decrypt);
    assert!(
        err.to_string()
            .contains("not encrypted to the configured identity")
    );
    assert_safe_error(
        &err,
        &format!("{FIELD}.path"),
        &[plaintext, &wrong_key],
        Some(&file),
    );

    let no_key = dir.path().join("private-not-keys.txt");
    fs::write(&no_key, "# just a comment\n").unwrap();
    let err = read_secret(&age_spec(&file, &no_key.to_string_lossy()), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Invalid);
    assert_safe_error(&err, &format!("{FIELD}.identity"), &[], Some(&no_key));

    let err = read_secret(&age_spec(&file, "AGE-SECRET-KEY-1NOTAKEY"), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Invalid);
    assert_safe_error(&err, &format!("{FIELD}.identity"), &["NOTAKEY"], None);

    let garbage = dir.path().join("private-garbage.age");
    fs::write(&garbage, "not an age file at all").unwrap();
    let err = read_secret(&age_spec(&garbage, &wrong_key), FIELD).unwrap_err();
    assert_eq!(err.kind(), SecretErrorKind::Decrypt);
    assert_safe_error(
        &err,
        &format!("{FIELD}.path"),
        &[&wrong_key],
        Some(&garbage),
    );
}
