//! Backends that run an external program: `command`, `keychain` (`security` on
//! macOS, `secret-tool` elsewhere) and `sops`.

use std::path::Path;

use super::backend::{Ctx, MAX_SECRET_BYTES, strip_trailing_newlines, utf8};
use super::error::SecretErrorKind as Kind;
use super::process::{RunError, ToolOutput, describe_status, run_bounded};
use super::{Secret, SecretBackend, SecretError};
use crate::util::home::expand_tilde;
use crate::util::json_path;

/// How the user installs a tool, for `ToolMissing` errors.
fn install_hint(program: &str) -> &'static str {
    match program {
        "secret-tool" => {
            "install it (Debian/Ubuntu: `apt-get install libsecret-tools`; Fedora: `dnf install libsecret`; Arch: `pacman -S libsecret`)"
        }
        "sops" => {
            "install sops (Nix: `nix profile install nixpkgs#sops`; Homebrew: `brew install sops`; or your package manager) and make sure it is on PATH"
        }
        _ => "install it or put its full path in the config",
    }
}

/// The last path component of a program, so messages name `pass`, not
/// `/home/alice/bin/pass` (paths are private).
fn program_name(program: &str) -> String {
    Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.to_string())
}

/// Run a tool for a backend and turn every way it can fail into a worded error.
/// `subject` starts the message ("secret command", "sops"), `field` is the config
/// field the user would fix.
fn run_tool(
    ctx: &Ctx<'_>,
    subject: &str,
    field: &str,
    program: &str,
    args: &[&str],
) -> Result<ToolOutput, SecretError> {
    let backend = ctx.spec.backend;
    let name = program_name(program);
    let field = ctx.field(field);
    let output = run_bounded(program, args, ctx.options.command_timeout, MAX_SECRET_BYTES)
        .map_err(|err| match err {
            RunError::Spawn(std::io::ErrorKind::NotFound) => SecretError::for_field(
                Kind::ToolMissing,
                backend,
                subject,
                &field,
                &format!("could not start: `{name}` is not installed or not on PATH"),
                install_hint(&name),
            ),
            RunError::Spawn(std::io::ErrorKind::PermissionDenied) => SecretError::for_field(
                Kind::PermissionDenied,
                backend,
                subject,
                &field,
                &format!("could not start: `{name}` is not executable (permission denied)"),
                "fix the program's permissions or the path",
            ),
            RunError::Spawn(kind) => SecretError::for_field(
                Kind::CommandFailed,
                backend,
                subject,
                &field,
                &format!("could not start `{name}` ({kind})"),
                "check the program and try again",
            ),
            RunError::Timeout => SecretError::for_field(
                Kind::Timeout,
                backend,
                subject,
                &field,
                &format!(
                    "did not finish within {} s (`{name}` was stopped)",
                    ctx.options.command_timeout.as_secs()
                ),
                "make sure it does not wait for input (stdin is closed) and can run unattended",
            ),
            RunError::TooLarge => SecretError::for_field(
                Kind::TooLarge,
                backend,
                subject,
                &field,
                &format!(
                    "printed more than {} MiB (`{name}`)",
                    MAX_SECRET_BYTES >> 20
                ),
                "make it print only the credential",
            ),
        })?;
    Ok(output)
}

fn stdout_text(
    ctx: &Ctx<'_>,
    subject: &str,
    field: &str,
    output: &mut ToolOutput,
) -> Result<String, SecretError> {
    let bytes = std::mem::take(&mut output.stdout);
    utf8(bytes).map_err(|()| {
        SecretError::for_field(
            Kind::Invalid,
            ctx.spec.backend,
            subject,
            &ctx.field(field),
            "printed output that is not UTF-8 text",
            "make it print the credential as text",
        )
    })
}

pub(crate) fn read_command(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let argv = ctx.spec.command.clone().unwrap_or_default();
    let (program, rest) = argv.split_first().expect("missing_fields checked command");
    let args: Vec<&str> = rest.iter().map(String::as_str).collect();
    let subject = "secret command";
    let mut output = run_tool(ctx, subject, "command", program, &args)?;
    if !output.status.success() {
        return Err(SecretError::for_field(
            Kind::CommandFailed,
            SecretBackend::Command,
            subject,
            &ctx.field("command"),
            &format!(
                "(`{}`) exited with {}",
                program_name(program),
                describe_status(&output.status)
            ),
            "run it yourself to see why (it may need a login or an unlocked store), or fix the argv",
        )
        .with_detail(output.stderr.clone()));
    }
    let text = strip_trailing_newlines(stdout_text(ctx, subject, "command", &mut output)?);
    if text.trim().is_empty() {
        return Err(SecretError::for_field(
            Kind::NotFound,
            SecretBackend::Command,
            subject,
            &ctx.field("command"),
            &format!("(`{}`) printed nothing", program_name(program)),
            "make it print the credential on stdout",
        )
        .with_detail(output.stderr.clone()));
    }
    Ok(Secret::new(text))
}

/// The keychain lookup for this OS: program and argv.
fn keychain_argv<'a>(service: &'a str, account: &'a str) -> Option<(&'static str, Vec<&'a str>)> {
    if cfg!(target_os = "macos") {
        Some((
            "/usr/bin/security",
            vec!["find-generic-password", "-s", service, "-a", account, "-w"],
        ))
    } else if cfg!(unix) {
        Some((
            "secret-tool",
            vec!["lookup", "service", service, "account", account],
        ))
    } else {
        None
    }
}

pub(crate) fn read_keychain(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let service = ctx.required(&ctx.spec.service);
    let account = ctx.required(&ctx.spec.account);
    let subject = "keychain item";
    let Some((program, args)) = keychain_argv(&service, &account) else {
        return Err(SecretError::for_field(
            Kind::Unsupported,
            SecretBackend::Keychain,
            subject,
            ctx.field_path,
            "cannot be read: this OS has no supported keychain",
            "use the file, command, sops or age backend instead",
        ));
    };
    let mut output = run_tool(ctx, subject, "service", program, &args)?;
    let store_hint = if program == "secret-tool" {
        "store it with `secret-tool store --label=oauth-mux service <service> account <account>`, or fix secret.service/secret.account"
    } else {
        "store it with `security add-generic-password -s <service> -a <account> -w`, or fix secret.service/secret.account"
    };
    let text = if output.status.success() {
        strip_trailing_newlines(stdout_text(ctx, subject, "service", &mut output)?)
    } else {
        String::new()
    };
    if text.is_empty() {
        let problem = if output.status.success() {
            "is empty".to_string()
        } else {
            format!(
                "was not found (`{}` exited with {})",
                program_name(program),
                describe_status(&output.status)
            )
        };
        let field = format!("{} and {}", ctx.field("service"), ctx.field("account"));
        return Err(SecretError::for_field(
            Kind::NotFound,
            SecretBackend::Keychain,
            subject,
            &field,
            &problem,
            store_hint,
        )
        .with_detail(output.stderr.clone()));
    }
    Ok(Secret::new(text))
}

pub(crate) fn read_sops(ctx: &Ctx<'_>) -> Result<Secret, SecretError> {
    let path = expand_tilde(&ctx.required(&ctx.spec.path));
    let path_arg = path.to_string_lossy().into_owned();
    let key_path = ctx.spec.key_path.as_deref().filter(|k| !k.is_empty());
    let subject = "sops file";
    let mut args = vec!["--decrypt"];
    if key_path.is_some() {
        // YAML, dotenv and INI files decrypt to JSON so the key can be looked up.
        args.extend(["--output-type", "json"]);
    }
    args.push(&path_arg);
    let mut output =
        run_tool(ctx, subject, "path", "sops", &args).map_err(|e| e.with_path(&path))?;
    if !output.status.success() {
        return Err(SecretError::for_field(
            Kind::CommandFailed,
            SecretBackend::Sops,
            subject,
            &ctx.field("path"),
            &format!(
                "could not be decrypted (`sops` exited with {})",
                describe_status(&output.status)
            ),
            "check that the file exists and that your sops key (age, PGP, KMS) can decrypt it",
        )
        .with_path(&path)
        .with_detail(output.stderr.clone()));
    }
    let text = stdout_text(ctx, subject, "path", &mut output)?;
    let Some(key_path) = key_path else {
        return Ok(Secret::new(text));
    };
    let doc = Secret::new(text);
    let missing_key = |problem: &str| {
        SecretError::for_field(
            Kind::NotFound,
            SecretBackend::Sops,
            subject,
            &ctx.field("key_path"),
            problem,
            "set secret.key_path to a top-level key (or dot path) holding a string",
        )
        .with_path(&path)
    };
    let value: serde_json::Value = serde_json::from_str(doc.expose())
        .map_err(|_| missing_key("decrypted to something that is not JSON"))?;
    let found = value
        .get(key_path)
        .or_else(|| json_path::get(&value, key_path));
    match found {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Secret::new(s.clone())),
        Some(_) => Err(missing_key("names a value that is not a non-empty string")),
        None => Err(missing_key("names a key the decrypted file does not have")),
    }
}
