//! Running the target command with the injected environment and returning its
//! exit code the way a shell would (signal N → 128 + N).

use crate::child_signals::SignalForwarder;
use crate::exit::{ExitCode, Failure};
use std::ffi::OsString;
use std::process::Command;

/// Spawn `argv` with inherited stdio and `env` added to the inherited environment,
/// forward SIGINT/SIGTERM/SIGHUP to it, and return its shell-style exit code.
/// A command that cannot be found is exit 127; one that cannot be executed, 126.
pub fn run_child(
    argv: &[String],
    env: &[(String, OsString)],
    forwarder: &SignalForwarder,
) -> anyhow::Result<u8> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Failure::new(ExitCode::Usage, "no command given after `--`"))?;
    let mut command = Command::new(program);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::output::warn(&format!(
                "oauth-mux: command not found: {program} (check the name and PATH)"
            ));
            return Ok(127);
        }
        Err(e) => {
            crate::output::warn(&format!("oauth-mux: cannot run {program}: {e}"));
            return Ok(126);
        }
    };
    forwarder.attach(child.id());
    Ok(shell_code(child.wait()?))
}

/// The exit code a shell reports for `status`.
pub fn shell_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return (code & 0xff) as u8;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return (128 + sig).min(255) as u8;
        }
    }
    1
}
