//! The redaction guarantee at the library level: canary secrets planted in every
//! backend that runs here (file, command, age; env and stdin are covered in their own
//! binaries because they need a process of their own) never survive `scrub` or
//! `scrub_json`, never appear in an error message or a `Debug` rendering, and file
//! paths stay out of error messages.

use std::fs;

use age::secrecy::ExposeSecret;
use jiff::Timestamp;
use oauth_mux::secrets::{
    CredentialFormat, SecretBackend, SecretSpec, parse_credential, read_secret, redact,
};

const FIELD: &str = "providers.codex.accounts.canary.secret";

#[test]
fn canaries_from_every_backend_never_survive_scrub() {
    let dir = tempfile::tempdir().unwrap();

    // file: a Codex-shaped auth.json; the nested tokens are scrubbed even before parsing.
    let file_access = "file-access-canary-0a1b2c3d";
    let file_refresh = "file-refresh-canary-4e5f6a7b";
    let file_path = dir.path().join("auth.json");
    fs::write(
        &file_path,
        format!(r#"{{"tokens":{{"access_token":"{file_access}","refresh_token":"{file_refresh}","account_id":"file-acct-canary-99"}}}}"#),
    )
    .unwrap();
    let file_secret = read_secret(
        &SecretSpec {
            path: Some(file_path.to_string_lossy().into_owned()),
            ..SecretSpec::new(SecretBackend::File)
        },
        FIELD,
    )
    .unwrap();

    // command
    let command_canary = "command-canary-8c9d0e1f";
    let command_secret = read_secret(
        &SecretSpec {
            command: Some(vec!["echo".into(), command_canary.into()]),
            ..SecretSpec::new(SecretBackend::Command)
        },
        FIELD,
    )
    .unwrap();

    // age
    let identity = age::x25519::Identity::generate();
    let age_key = identity.to_string().expose_secret().to_string();
    let age_canary = "age-canary-2a3b4c5d6e";
    let age_path = dir.path().join("token.age");
    fs::write(
        &age_path,
        age::encrypt(&identity.to_public(), age_canary.as_bytes()).unwrap(),
    )
    .unwrap();
    let age_secret = read_secret(
        &SecretSpec {
            path: Some(age_path.to_string_lossy().into_owned()),
            identity: Some(age_key.clone()),
            ..SecretSpec::new(SecretBackend::Age)
        },
        FIELD,
    )
    .unwrap();

    let canaries = [
        file_access,
        file_refresh,
        "file-acct-canary-99",
        command_canary,
        age_canary,
        age_key.as_str(),
    ];
    let text = format!(
        "stdout: {file_access} / stderr: Authorization: Bearer {command_canary}\n\
         event {{\"token\":\"{age_canary}\",\"nested\":\"x{file_refresh}x\"}} key={age_key} acct=file-acct-canary-99"
    );
    let scrubbed = redact::scrub(&text);
    for canary in canaries {
        assert!(!scrubbed.contains(canary), "{canary} survived: {scrubbed}");
    }
    assert!(scrubbed.contains("stdout: [REDACTED]"), "{scrubbed}");

    let mut json = serde_json::json!({
        "status": "ok",
        "route": "codex:canary#codex-max",
        "detail": [format!("saw {command_canary}"), {"deep": age_canary}],
        "raw": file_secret.expose(),
    });
    redact::scrub_json(&mut json);
    let rendered = json.to_string();
    for canary in canaries {
        assert!(!rendered.contains(canary), "{canary} survived: {rendered}");
    }
    assert_eq!(
        json["route"], "codex:canary#codex-max",
        "non-secrets are untouched"
    );

    for secret in [&file_secret, &command_secret, &age_secret] {
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    }
    let cred = parse_credential(
        &file_secret,
        &CredentialFormat {
            access_token_path: "tokens.access_token".into(),
            refresh_token_path: "tokens.refresh_token".into(),
            identity_claim_path: Some("tokens.account_id".into()),
            ..CredentialFormat::default()
        },
        Timestamp::UNIX_EPOCH,
    )
    .unwrap();
    let debug = format!("{cred:?}");
    for canary in canaries {
        assert!(!debug.contains(canary), "{canary} in {debug}");
    }
}

#[test]
fn unregistered_token_shapes_are_masked() {
    let samples = [
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3NzIzNzM2MDB9.c2lnbmF0dXJlLWNhbmFyeQ",
        "sk-proj-shapecanary0123456789abcdef",
        "sk-ant-api03-shapecanary0123456789",
        "ghp_shapecanary0123456789abcdefABCD",
        "gho_shapecanary0123456789abcdefABCD",
        "github_pat_11shapecanary0123456789_abcdef",
        "rt_shapecanary0123456789abcdef.more",
        "AGE-SECRET-KEY-1SHAPECANARY0123456789ABCDEFGH",
    ];
    for sample in samples {
        let out = redact::scrub(&format!("value=\"{sample}\""));
        assert!(
            !out.contains("shapecanary") && !out.contains("SHAPECANARY"),
            "{out}"
        );
        assert!(!out.contains("c2lnbmF0dXJl"), "{out}");
    }
    assert_eq!(
        redact::scrub("curl -H 'Authorization: Bearer opaque.shape-canary_123'"),
        "curl -H 'Authorization: Bearer [REDACTED]'"
    );
}

#[test]
fn errors_for_every_backend_hide_values_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("very-private-dir");
    fs::create_dir(&private).unwrap();
    let canary = "error-canary-5f6e7d8c";
    let missing = private.join("missing.json");
    let bad_age = private.join("bad.age");
    fs::write(&bad_age, canary).unwrap();
    let identity = age::x25519::Identity::generate();
    let key = identity.to_string().expose_secret().to_string();

    let specs = [
        SecretSpec {
            path: Some(missing.to_string_lossy().into_owned()),
            ..SecretSpec::new(SecretBackend::File)
        },
        SecretSpec {
            path: Some(private.to_string_lossy().into_owned()),
            ..SecretSpec::new(SecretBackend::File)
        },
        SecretSpec {
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                format!("echo {canary}; echo {canary} >&2; exit 7"),
            ]),
            ..SecretSpec::new(SecretBackend::Command)
        },
        SecretSpec {
            path: Some(bad_age.to_string_lossy().into_owned()),
            identity: Some(key.clone()),
            ..SecretSpec::new(SecretBackend::Age)
        },
        SecretSpec {
            path: Some(bad_age.to_string_lossy().into_owned()),
            identity: Some(missing.to_string_lossy().into_owned()),
            ..SecretSpec::new(SecretBackend::Age)
        },
    ];
    for spec in &specs {
        let err = read_secret(spec, FIELD).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains(FIELD), "{shown}");
        assert!(!shown.contains(canary), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
        assert!(!shown.contains("very-private-dir"), "{shown}");
    }
}
